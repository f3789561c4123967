"""A business day across every app, against the simulated platforms over HTTP.

Orders are pulled from Taobao, JD and Pinduoduo, reviewed, merged, allocated and shipped; the
shipments go back to the platforms, which later confirm receipt, settle (bills) and sometimes open
refunds after shipment. At the end, the books balance with one revenue voucher per parcel, every
shipped order earned its buyer points once, every refund after shipment has an after-sales ticket,
every settled order is reconciled, and pulling everything again changes none of it."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from aftersales.models import Ticket
from finance.models import Reconciliation, ReconStatus, SourceType, Voucher, VoucherStatus
from finance.selectors import books_verify
from integrations.mock_platforms.catalog import DEFAULT_CATALOG
from integrations.mock_platforms.client import control
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Job, PlatformBillLine, PlatformRefund, SyncRun
from integrations.services import shop_create
from integrations.sync import run_job
from inventory.models import SKU, Warehouse
from inventory.services import stock_receive
from members.models import PointsEntry
from orders import services as order_services
from orders.models import CarrierRule, Order, OrderLine, OrderStatus, Waybill
from warehouse.models import CarrierAccount

pytestmark = pytest.mark.django_db

PATHS = {"taobao": "/taobao/router/rest", "jd": "/jd/routerjson", "pdd": "/pdd/api/router"}
CREDS = {
    "tb-main": ("taobao", {"app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-main"}),
    "jd-main": ("jd", {"app_key": "jd-app-key", "app_secret": "jd-app-secret", "access_token": "jd-token-main"}),
    "pdd-main": ("pdd", {"app_key": "pdd-client-id", "app_secret": "pdd-client-secret", "access_token": "pdd-token-main"}),
}


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.001, "backoff_max": 0.01, "max_attempts": 8, "timeout": 5}


def _run(shops, *jobs):
    for job in jobs:
        for shop in shops:
            run = run_job(shop=shop, job=job, trigger="test")
            assert run.status == SyncRun.Status.SUCCESS, (shop.code, job, run.error)


def _state() -> dict:
    """Everything a repeated pull must leave alone."""
    return {
        "statuses": Counter(Order.objects.values_list("status", flat=True)),
        "vouchers": Counter(Voucher.objects.values_list("source_type", flat=True)),
        "points": sorted(PointsEntry.objects.values_list("reference", "amount")),
        "tickets": sorted(Ticket.objects.values_list("platform_refund_id", "status")),
        "reconciliation": sorted(Reconciliation.objects.values_list("platform_order_id", "status", "settled_amount")),
    }


def test_a_business_day_across_every_app(in_tenant_a, django_capture_on_commit_callbacks):
    with running_mock_platforms(seed=33) as url:
        start = datetime.now(UTC) - timedelta(hours=26)
        control(url, "reset", {"seed": 33, "start_time": start.isoformat().replace("+00:00", "Z")})
        # durations_scale: what takes the platforms days (receipt, settlement, refunds) takes minutes here
        control(url, "config", {"orders_per_hour": 5, "fault_rate": 0.03, "fault_kinds": ["rate_limit", "duplicate"],
                                "durations_scale": 0.003})
        # most of the day happens before we ship; the rest (receipts, settlement, late refunds) after
        control(url, "advance", {"seconds": (datetime.now(UTC) - start).total_seconds() - 40 * 60})
        shops = [shop_create(code=code, name=code, platform=platform, api_base_url=url + PATHS[platform],
                             credentials=creds, initial_lookback_hours=28, sync_lag_seconds=0)[0]
                 for code, (platform, creds) in CREDS.items()]
        warehouse = Warehouse.objects.create(code="MAIN", name="Main")
        for item in DEFAULT_CATALOG:
            sku = SKU.objects.create(code=item["outer_id"], name=item["title"], unit_cost=Decimal("12.50"))
            stock_receive(warehouse=warehouse, sku=sku, quantity=5_000, reason="opening stock")
        CarrierRule.objects.create(name="ZTO", carrier_code="ZTO")
        CarrierAccount.objects.create(code="ZTO1", name="ZTO e-waybills", carrier_code="ZTO", warehouse=warehouse)

        with django_capture_on_commit_callbacks(execute=True):
            _run(shops, Job.PULL_ORDERS, Job.PULL_REFUNDS)
            allocated = list(Order.objects.filter(status=OrderStatus.ALLOCATED).values_list("pk", flat=True))
            assert len(allocated) > 10
            results = order_services.orders_bulk_action(action="ship", order_ids=allocated)
            assert set(results.values()) == {"ok"}, results
        # the shipments went out on commit; receipts, settlement and refunds come in the next half hour
        control(url, "config", {"fault_rate": 0})
        _run(shops, Job.PUSH_SHIPMENTS)
        control(url, "advance", {"seconds": 35 * 60})
        with django_capture_on_commit_callbacks(execute=True):
            _run(shops, Job.PULL_ORDERS, Job.PULL_REFUNDS, Job.PULL_BILLS)

        parcels = Waybill.objects.count()
        assert parcels == len(allocated)
        # finance: the books balance, one revenue voucher per parcel, every settled order reconciled
        assert books_verify() == []
        posted = Voucher.objects.filter(status=VoucherStatus.POSTED)
        assert posted.filter(source_type=SourceType.ORDER_SHIPPED).count() == parcels
        settled = set(PlatformBillLine.objects.values_list("shop_id", "platform_order_id"))
        assert settled, "the platforms settled nothing: the scenario did not run long enough"
        recon = {(r.shop_id, r.platform_order_id): r for r in Reconciliation.objects.all()}
        for key in settled:
            assert key in recon and recon[key].status != ReconStatus.AWAITING, key
        assert all(r.difference == 0 for r in recon.values() if r.status == ReconStatus.MATCHED)
        assert posted.filter(source_type=SourceType.PLATFORM_BILL).exists()

        # members: each shipped parcel with money and a buyer earned points exactly once
        earned = Counter(PointsEntry.objects.filter(kind="earn", order_id__isnull=False).values_list("order_id", flat=True))
        assert earned and max(earned.values()) == 1
        shipped_ids = set(Waybill.objects.values_list("order_id", flat=True))
        assert set(earned) <= shipped_ids
        call_command("verify_points")  # exits non-zero on any drift between ledger and balances

        # after-sales: every live or paid refund the platform opened after our shipment has its ticket
        # (one already refused or closed when first seen needs nothing; if it had a ticket, it ended)
        committed = set(OrderLine.objects.filter(is_committed=True).values_list("origin_order__shop_id", "platform_order_id"))
        after_shipment = [r for r in PlatformRefund.objects.all() if (r.shop_id, r.platform_order_id) in committed
                          and r.normalized.get("phase") == "after_shipment"]
        assert after_shipment, "no refund after shipment: the scenario did not run long enough"
        tickets = {(t.shop_id, t.platform_refund_id): t for t in Ticket.objects.all()}
        for refund in after_shipment:
            ticket = tickets.get((refund.shop_id, refund.platform_refund_id))
            if refund.status in ("refused", "closed"):
                assert ticket is None or ticket.status in ("rejected", "cancelled"), refund.platform_refund_id
            else:
                assert ticket is not None, refund.platform_refund_id
                assert (ticket.status == "completed") == (refund.status == "success"), (refund.status, ticket.status)

        # pulling everything again (duplicates, overlaps, late pages) changes nothing anywhere
        before = _state()
        with django_capture_on_commit_callbacks(execute=True):
            _run(shops, Job.PULL_ORDERS, Job.PULL_REFUNDS, Job.PULL_BILLS)
        assert _state() == before
