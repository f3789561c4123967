import pytest

from erp.tenancy.context import get_current_tenant, system_reason
from tests.tenantapp.models import Widget
from tests.tenantapp.tasks import census_tick, widget_census

pytestmark = pytest.mark.django_db


def _widgets(tenant_a, tenant_b):
    with tenant_a.context():
        Widget.objects.create(code="a1")
        Widget.objects.create(code="a2")
    with tenant_b.context():
        Widget.objects.create(code="b1")


def test_task_runs_under_its_tenant_only(tenant_a, tenant_b):
    _widgets(tenant_a, tenant_b)
    result = widget_census.delay(tenant_id=tenant_b.tenant.pk).get()
    assert result == {"tenant": "beta", "codes": ["b1"]}
    assert get_current_tenant() is None  # the task's context did not leak out


def test_task_without_tenant_is_refused(db):
    with pytest.raises((TypeError, ValueError), match="tenant_id"):
        widget_census.delay().get()


def test_task_for_unknown_tenant_does_nothing(db):
    assert widget_census.delay(tenant_id=999999).get() is None


def test_system_tick_fans_out_one_task_per_tenant(tenant_a, tenant_b):
    _widgets(tenant_a, tenant_b)
    assert census_tick.delay().get() == {
        "alpha": {"tenant": "alpha", "codes": ["a1", "a2"]},
        "beta": {"tenant": "beta", "codes": ["b1"]},
    }
    assert system_reason() is None


def test_tenant_task_inside_a_system_tick_loses_the_bypass(tenant_a, tenant_b):
    from django.db import connection

    from erp.tenancy.context import system_context, tenant_context

    _widgets(tenant_a, tenant_b)
    with system_context("test"), tenant_context(tenant_b.tenant):
        assert system_reason() is None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM tenantapp_widget")
                assert cursor.fetchone()[0] == 1


def test_every_scheduled_task_is_registered(db):
    """Each beat schedule row (created by the apps' migrations) names a task a worker knows, so the
    in-process scheduler runs it instead of sending it nowhere."""
    from django_celery_beat.models import PeriodicTask

    from erp.celery import app

    app.loader.import_default_modules()
    names = set(PeriodicTask.objects.exclude(task="celery.backend_cleanup").values_list("task", flat=True))
    assert names, "the apps' migrations schedule no periodic task"
    assert names <= set(app.tasks), names - set(app.tasks)
