"""The after-sales loop with a platform, end to end over HTTP against the simulated Taobao: an order is
pulled, allocated, shipped and pushed; the buyer asks for a refund after shipment; the refunds pull
opens a ticket; the operator approves it through the API; the outbox relay tells Taobao; the next
refunds pull shows Taobao refunded the buyer; the ticket completes and finance books the refund once."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from aftersales.models import Ticket, TicketEvent, TicketStatus
from finance.models import SourceType, Voucher
from integrations.mock_platforms.catalog import DEFAULT_CATALOG
from integrations.mock_platforms.client import control
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Job, Outbox, SyncRun
from integrations.services import shop_create
from integrations.sync import run_job
from inventory.models import SKU, Warehouse
from inventory.services import stock_receive
from orders import services as order_services
from orders.models import CarrierRule, Order, OrderStatus
from warehouse.models import CarrierAccount

pytestmark = pytest.mark.django_db

CREDS = {"app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-main"}


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.001, "backoff_max": 0.01, "max_attempts": 8, "timeout": 5}


def _run(shop, *jobs):
    for job in jobs:
        run = run_job(shop=shop, job=job, trigger="test")
        assert run.status == SyncRun.Status.SUCCESS, (job, run.error)


def test_operator_approval_reaches_taobao_and_the_refund_comes_back(tenant_a, in_tenant_a,
                                                                    django_capture_on_commit_callbacks):
    with running_mock_platforms(seed=5) as url:
        start = datetime.now(UTC) - timedelta(seconds=30)
        control(url, "reset", {"seed": 5, "start_time": start.isoformat().replace("+00:00", "Z")})
        control(url, "config", {"orders_per_hour": 0, "promotions": False, "fault_rate": 0})
        shop, _ = shop_create(code="tb-main", name="Taobao", platform="taobao", api_base_url=url + "/taobao/router/rest",
                              credentials=CREDS, initial_lookback_hours=2, sync_lag_seconds=0)
        warehouse = Warehouse.objects.create(code="MAIN", name="Main", address="杭州市余杭区仓前街道 1 号")
        for item in DEFAULT_CATALOG:
            sku = SKU.objects.create(code=item["outer_id"], name=item["title"], unit_cost=Decimal("12.50"))
            stock_receive(warehouse=warehouse, sku=sku, quantity=100, reason="opening stock")
        CarrierRule.objects.create(name="ZTO", carrier_code="ZTO")
        CarrierAccount.objects.create(code="ZTO1", name="ZTO e-waybills", carrier_code="ZTO", warehouse=warehouse)
        tid = url.mock.generate(1, shop="tb-main", kind="normal")[0]["order_id"]
        url.mock.advance(seconds=2)

        # pull -> allocate -> ship -> the shipment goes back to Taobao
        with django_capture_on_commit_callbacks(execute=True):
            _run(shop, Job.PULL_ORDERS)
            order = Order.objects.get(shop=shop, platform_order_id=tid)
            assert order.status == OrderStatus.ALLOCATED, order.status
            assert order_services.orders_bulk_action(action="ship", order_ids=[order.pk]) == {order.pk: "ok"}
        _run(shop, Job.PUSH_SHIPMENTS)
        assert [s["order_id"] for s in control(url, "shipments")["shipments"] if s["accepted"]] == [tid]

        # the buyer asks for a refund (refund only); the next refunds pull opens a ticket
        rid = url.mock.act("refund", platform="taobao", order_id=tid, line=0)["refund_ids"][0]
        url.mock.advance(seconds=2)
        with django_capture_on_commit_callbacks(execute=True):
            _run(shop, Job.PULL_REFUNDS)
        ticket = Ticket.objects.get(shop=shop, platform_refund_id=rid)
        assert ticket.status == TicketStatus.OPEN and ticket.order_id is not None

        # the operator approves in the ERP; the relay sends it to Taobao on commit
        api = tenant_a.api("operator")
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(f"/api/v1/aftersales/tickets/{ticket.pk}/approve/", {"why": "质量问题, 同意"},
                                format="json")
        assert response.status_code == 200, response.content
        row = Outbox.objects.get(kind=Outbox.Kind.REFUND)
        assert row.status == Outbox.Status.SENT, row.last_error
        decisions = control(url, "refund_decisions")["refund_decisions"]
        assert [(d["method"], d["refund_id"], d["accepted"]) for d in decisions] == [
            ("taobao.rp.refunds.agree", rid, True)]
        assert url.mock.world.refunds[("taobao", rid)].status == "success"
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.APPROVED  # the ERP waits for the platform to say so

        # the next refunds pull: Taobao refunded the buyer, the ticket completes, finance books it once
        url.mock.advance(seconds=2)
        with django_capture_on_commit_callbacks(execute=True):
            _run(shop, Job.PULL_REFUNDS)
        ticket.refresh_from_db()
        assert ticket.status == TicketStatus.COMPLETED and ticket.platform_refund_state == "success"
        codes = list(TicketEvent.objects.filter(ticket=ticket).order_by("pk").values_list("code", flat=True))
        assert [c for c in codes if c.startswith("platform.decision")] == [
            "platform.decision.queued", "platform.decision.sent", "platform.decision.confirmed"]
        refunds = Voucher.objects.filter(source_type=SourceType.AFTERSALES_REFUNDED)
        assert list(refunds.values_list("source_ref", flat=True)) == [str(ticket.pk)]

        # pulling again and relaying again change nothing
        url.mock.advance(seconds=2)
        with django_capture_on_commit_callbacks(execute=True):
            _run(shop, Job.PULL_REFUNDS, Job.PUSH_SHIPMENTS)
        assert refunds.count() == 1 and len(control(url, "refund_decisions")["refund_decisions"]) == 1
        assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.COMPLETED
