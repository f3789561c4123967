"""End to end with the simulated platforms (HTTP): a simulated day of Taobao, JD and Pinduoduo orders
is pulled, reviewed, merged and allocated against real inventory, shipped, pushed back; then the
platforms' shipment records, the ERP's order states and the stock all agree."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from integrations.mock_platforms.catalog import DEFAULT_CATALOG
from integrations.mock_platforms.client import control
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Job, PlatformOrder, SyncRun
from integrations.services import shop_create
from integrations.sync import run_job
from inventory.models import SKU, Warehouse
from inventory.selectors import sku_stock
from inventory.services import stock_receive
from orders import services
from orders.models import CarrierRule, Order, OrderKind, OrderLine, OrderStatus, Waybill
from warehouse.models import CarrierAccount

pytestmark = pytest.mark.django_db

PATHS = {"taobao": "/taobao/router/rest", "jd": "/jd/routerjson", "pdd": "/pdd/api/router"}
CREDS = {
    "tb-main": ("taobao", {"app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-main"}),
    "jd-main": ("jd", {"app_key": "jd-app-key", "app_secret": "jd-app-secret", "access_token": "jd-token-main"}),
    "pdd-main": ("pdd", {"app_key": "pdd-client-id", "app_secret": "pdd-client-secret", "access_token": "pdd-token-main"}),
}
STOCK = 10_000


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.001, "backoff_max": 0.01, "max_attempts": 8, "timeout": 5}


def _levels():
    out = {}
    for sku in SKU.objects.all():
        for row in sku_stock(sku=sku):
            out[sku.pk] = (row["on_hand"], row["reserved"])
    return out


def _pull(shops, job=Job.PULL_ORDERS):
    for shop in shops:
        run = run_job(shop=shop, job=job, trigger="test")
        assert run.status == SyncRun.Status.SUCCESS, (shop.code, job, run.error)


def test_a_simulated_day(in_tenant_a, django_capture_on_commit_callbacks):
    with running_mock_platforms(seed=21) as url:
        start = datetime.now(UTC) - timedelta(hours=24, seconds=30)
        control(url, "reset", {"seed": 21, "start_time": start.isoformat().replace("+00:00", "Z")})
        control(url, "config", {"orders_per_hour": 6, "fault_rate": 0.05,
                                "fault_kinds": ["rate_limit", "server_error", "duplicate"]})
        control(url, "advance", {"seconds": (datetime.now(UTC) - start).total_seconds() - 5})
        shops = []
        for code, (platform, creds) in CREDS.items():
            shop, _ = shop_create(code=code, name=code, platform=platform, api_base_url=url + PATHS[platform],
                                  credentials=creds, initial_lookback_hours=26, sync_lag_seconds=0)
            shops.append(shop)
        warehouse = Warehouse.objects.create(code="MAIN", name="Main")
        for item in DEFAULT_CATALOG:
            stock_receive(warehouse=warehouse, sku=SKU.objects.create(code=item["outer_id"], name=item["title"]),
                          quantity=STOCK, reason="e2e")
        CarrierRule.objects.create(name="ZTO", carrier_code="ZTO")
        CarrierAccount.objects.create(code="ZTO1", name="ZTO e-waybills", carrier_code="ZTO", warehouse=warehouse)

        # pull -> review -> merge -> allocate (the orders app reacts to integrations' events)
        _pull(shops)
        _pull(shops, Job.PULL_REFUNDS)
        for shop in shops:
            stored = set(PlatformOrder.objects.filter(shop=shop).values_list("platform_order_id", flat=True))
            ours = set(Order.objects.filter(shop=shop, kind=OrderKind.PLATFORM).values_list("platform_order_id", flat=True))
            assert stored and stored == ours, shop.code
        statuses = Counter(Order.objects.values_list("status", flat=True))
        assert statuses[OrderStatus.ALLOCATED] > 10, statuses

        # ship everything allocated, push back through the outbox
        allocated = list(Order.objects.filter(status=OrderStatus.ALLOCATED).values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            results = services.orders_bulk_action(action="ship", order_ids=allocated)
        assert set(results.values()) == {"ok"}, results
        control(url, "config", {"fault_rate": 0})
        _pull(shops, Job.PUSH_SHIPMENTS)

        # the platforms accepted exactly our shipments, with our tracking numbers
        accepted = {(s["shop"], str(s["order_id"])): s["tracking_no"]
                    for s in control(url, "shipments")["shipments"] if s["accepted"]}
        expected = {}
        for line in OrderLine.objects.filter(is_committed=True).select_related("order", "origin_order__shop"):
            expected[(line.origin_order.shop.code, line.platform_order_id)] = line.order.tracking_no
        assert accepted == expected

        # stock: every shipped unit left, every allocated unit is reserved, nothing else moved
        shipped_units, reserved_units = Counter(), Counter()
        for line in OrderLine.objects.filter(is_committed=True):
            shipped_units[line.sku_id] += line.quantity
        for line in OrderLine.objects.filter(is_reserved=True):
            reserved_units[line.sku_id] += line.quantity
        levels = _levels()
        for sku in SKU.objects.all():
            assert levels[sku.pk] == (STOCK - shipped_units[sku.pk], reserved_units[sku.pk]), sku.code
        assert Waybill.objects.count() == len(allocated)

        # the platforms now say shipped: pulling again changes no status we decided, no stock
        before = dict(Order.objects.values_list("pk", "status"))
        control(url, "advance", {"seconds": 60})
        _pull(shops)
        _pull(shops, Job.PULL_REFUNDS)
        after = dict(Order.objects.values_list("pk", "status"))
        for pk, status in before.items():
            if status == OrderStatus.SHIPPED:
                assert after[pk] in (OrderStatus.SHIPPED, OrderStatus.COMPLETED), pk
        assert _levels() == levels or all(
            _levels()[k][0] == levels[k][0] for k in levels)  # late refunds may release reservations only
        for row in PlatformOrder.objects.filter(state="cancelled"):
            order = Order.objects.get(shop=row.shop, platform_order_id=row.platform_order_id, kind=OrderKind.PLATFORM)
            assert order.status in (OrderStatus.CANCELLED, OrderStatus.SHIPPED, OrderStatus.COMPLETED), order.status
