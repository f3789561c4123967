"""Operator pages, admin, the sync command, the demo seed and the beat schedule."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from erp.tenancy.roles import Role
from integrations.models import Job, Shop, SyncRun

pytestmark = pytest.mark.django_db


def _login(world, role=Role.OWNER):
    client = Client()
    client.force_login(world.members[role].user)
    return client


def test_pages_render_and_run_now(tenant_a, shop, fake_platform):
    client = _login(tenant_a)
    assert client.get(reverse("integrations:shops")).status_code == 200
    page = client.get(reverse("integrations:shop", args=[shop.pk]))
    assert page.status_code == 200 and b"Run now" in page.content
    response = client.post(reverse("integrations:shop-run", args=[shop.pk]), {"job": Job.PULL_ORDERS})
    assert response.status_code == 302
    with tenant_a.context():
        assert SyncRun.objects.filter(shop=shop, job=Job.PULL_ORDERS, trigger="manual").count() == 1
    runs = client.get(reverse("integrations:runs"), {"shop": shop.pk, "job": Job.PULL_ORDERS})
    assert runs.status_code == 200 and b"sync-runs" in runs.content
    assert client.get(reverse("dashboard")).status_code == 200


def test_operator_reads_but_cannot_run(tenant_a, shop):
    client = _login(tenant_a, Role.OPERATOR)
    assert client.get(reverse("integrations:shop", args=[shop.pk])).status_code == 200
    assert client.post(reverse("integrations:shop-run", args=[shop.pk]), {"job": Job.PULL_ORDERS}).status_code == 403
    assert _login(tenant_a, Role.WAREHOUSE).get(reverse("integrations:shops")).status_code == 403


def test_admin_pages(tenant_a, shop):
    client = _login(tenant_a)
    for name in ("shop", "syncrun", "synccursor", "platformorder", "platformrefund", "platformbillline", "outbox",
                 "inboundmessage"):
        assert client.get(reverse(f"admin:integrations_{name}_changelist")).status_code == 200, name
    change = client.get(reverse("admin:integrations_shop_change", args=[shop.pk]))
    assert change.status_code == 200


def test_sync_command_prints_the_run(tenant_a, shop, fake_platform, capsys):
    call_command("sync", tenant="alpha", shop="tb1", job="pull_orders")
    out = capsys.readouterr().out
    assert "tb1: pull_orders" in out and "status=success" in out


def test_seed_demo_is_idempotent(tenant_a, settings):
    from integrations.seed import seed_demo

    settings.MOCK_PLATFORMS_URL = "http://127.0.0.1:9999"
    with tenant_a.context():
        first = seed_demo(tenant=tenant_a.tenant)
        assert "tb-main" in first and "channel secret" in first
        assert seed_demo(tenant=tenant_a.tenant) == "shops already there"
        shops = {s.code: s for s in Shop.objects.all()}
        assert set(shops) == {"tb-main", "jd-main", "pdd-main", "web"}
        assert shops["pdd-main"].api_base_url == "http://127.0.0.1:9999/pdd/api/router"
        assert shops["jd-main"].credentials["access_token"] == "jd-token-main"
        assert not shops["web"].pull_orders_enabled


def test_beat_schedule_is_in_the_database():
    from importlib import import_module

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    # a transactional test elsewhere may have flushed the migration's rows: the migration is idempotent
    import_module("integrations.migrations.0003_beat_schedule").create(apps, None)

    names = set(PeriodicTask.objects.filter(name__startswith="integrations.").values_list("name", flat=True))
    assert {"integrations.pull_orders_tick", "integrations.pull_refunds_tick", "integrations.push_stock_tick",
            "integrations.push_stock_full_tick", "integrations.push_shipments_tick",
            "integrations.pull_bills_tick"} <= names
    tick = PeriodicTask.objects.get(name="integrations.pull_orders_tick")
    assert tick.interval.every == 60 and tick.expire_seconds == 60
