"""End to end against the simulated platforms (HTTP): pulls with faults, pushes of stock and shipments."""

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.adapters import adapter_class
from integrations.mock_platforms.client import control
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Job, Outbox, PlatformOrder, SyncCursor, SyncRun
from integrations.services import shipment_push_enqueue, shop_create
from integrations.sync import run_job

pytestmark = pytest.mark.django_db

PATHS = {"taobao": "/taobao/router/rest", "jd": "/jd/routerjson", "pdd": "/pdd/api/router"}
CREDS = {
    "tb-main": ("taobao", {"app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-main"}),
    "jd-main": ("jd", {"app_key": "jd-app-key", "app_secret": "jd-app-secret", "access_token": "jd-token-main"}),
    "pdd-main": ("pdd", {"app_key": "pdd-client-id", "app_secret": "pdd-client-secret",
                         "access_token": "pdd-token-main"}),
}
FAULTS = ["rate_limit", "server_error", "duplicate", "page_shift", "out_of_order"]


@pytest.fixture(scope="module")
def mock_url():
    with running_mock_platforms(seed=11) as url:
        yield url


@pytest.fixture(autouse=True)
def integrations_only(monkeypatch):
    """These tests are about the platform side: other apps' subscribers (orders) are switched off
    (a failing subscriber is covered in test_store)."""
    from erp import events

    for name in ("platform_orders.changed", "platform_refunds.changed", "platform_bills.changed"):
        monkeypatch.setitem(events._handlers, name, [])


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.001, "backoff_max": 0.01, "max_attempts": 8, "timeout": 5}


def _reset(url, *, hours: float = 0, orders_per_hour: float = 60, seed: int = 11):
    """Reset the platforms with their clock ``hours`` in the past, then let it run up to now (so the
    simulated clock and ours agree)."""
    start = datetime.now(UTC) - timedelta(hours=hours, seconds=30)
    control(url, "reset", {"seed": seed, "start_time": start.isoformat().replace("+00:00", "Z")})
    control(url, "config", {"orders_per_hour": orders_per_hour, "fault_rate": 0})
    if hours:
        control(url, "advance", {"seconds": (datetime.now(UTC) - start).total_seconds() - 5})


def _shops(url, codes=("tb-main", "jd-main", "pdd-main"), lag: int = 1):
    shops = []
    for code in codes:
        platform, creds = CREDS[code]
        shop, _ = shop_create(code=code, name=code, platform=platform, api_base_url=url + PATHS[platform],
                              credentials=creds, initial_lookback_hours=6, sync_lag_seconds=lag)
        shops.append(shop)
    return shops


def _platform_orders(url, shop):
    rows = control(url, "orders", platform=shop.platform, shop=shop.code)["orders"]
    adapter = adapter_class(shop.platform)(shop)
    mapped = [adapter.map_order(row["order"]) for row in rows]
    return {o.platform_order_id: (o.state, o.modified_at, o.paid_amount) for o in mapped}


def _stored(shop):
    out = {}
    for row in PlatformOrder.objects.filter(shop=shop):
        out[row.platform_order_id] = (row.state, row.platform_modified_at, row.normalized["paid_amount"])
    return {k: (s, m, Decimal(p)) for k, (s, m, p) in out.items()}


def test_pull_many_pages_with_faults_ends_with_exactly_the_platforms_orders(in_tenant_a, mock_url):
    _reset(mock_url, hours=3, orders_per_hour=60)
    # The simulated clock stands still between advances, so a lag would keep the last second's
    # changes (page_shift touches orders at "now") out of every window: pull up to "now" itself.
    shops = _shops(mock_url, lag=0)
    control(mock_url, "config", {"fault_rate": 0.25, "fault_kinds": FAULTS})
    for shop in shops:
        for _ in range(40):
            run = run_job(shop=shop, job=Job.PULL_ORDERS, trigger="test")
            if run.status == SyncRun.Status.SUCCESS:
                break
        assert run.status == SyncRun.Status.SUCCESS, run.error
    control(mock_url, "config", {"fault_rate": 0})
    for shop in shops:  # picks up what changed on the platform during the last run (page_shift)
        assert run_job(shop=shop, job=Job.PULL_ORDERS, trigger="test").status == SyncRun.Status.SUCCESS
    requests = control(mock_url, "requests")
    assert "429" in str(requests) or "rate_limit" in str(requests)
    for shop in shops:
        expected = _platform_orders(mock_url, shop)
        assert len(expected) > 120, shop.code  # several pages per window
        assert _stored(shop) == expected, shop.code
    # replaying everything changes nothing, and older versions served late (out_of_order) are ignored
    SyncCursor.objects.update(watermark=None)
    for shop in shops:
        control(mock_url, "faults", {"kind": "out_of_order", "count": 6, "shop": shop.code})
        run = run_job(shop=shop, job=Job.PULL_ORDERS, trigger="test")
        assert (run.created, run.updated) == (0, 0) and run.fetched >= len(_platform_orders(mock_url, shop))
        assert _stored(shop) == _platform_orders(mock_url, shop)


def test_refunds_and_bills_are_pulled(in_tenant_a, mock_url):
    _reset(mock_url, hours=3, orders_per_hour=40, seed=5)
    shops = _shops(mock_url)
    # ship some orders so that the scenario completes them (bills) and buyers open refunds
    for shop in shops:
        assert run_job(shop=shop, job=Job.PULL_ORDERS).status == SyncRun.Status.SUCCESS
        for n, row in enumerate(PlatformOrder.objects.filter(shop=shop, state="paid")[:15]):
            shipment_push_enqueue(shop=shop, platform_order_id=row.platform_order_id, carrier_code="ZTO",
                                  tracking_no=f"ZT{shop.pk}{n:06d}")
        assert run_job(shop=shop, job=Job.PUSH_SHIPMENTS).status in (SyncRun.Status.SUCCESS, SyncRun.Status.FAILED)
    control(mock_url, "advance", {"hours": 0})
    for shop in shops:
        for job in (Job.PULL_REFUNDS, Job.PULL_BILLS):
            run = run_job(shop=shop, job=job)
            assert run.status == SyncRun.Status.SUCCESS, (shop.code, job, run.error)


def test_shipments_go_out_once_through_the_outbox(in_tenant_a, mock_url, django_capture_on_commit_callbacks):
    _reset(mock_url, hours=1, orders_per_hour=60, seed=7)
    shops = _shops(mock_url)
    sent = {}
    for shop in shops:
        assert run_job(shop=shop, job=Job.PULL_ORDERS).status == SyncRun.Status.SUCCESS
        shippable = [o for o in PlatformOrder.objects.filter(shop=shop, state="paid")
                     if not o.normalized["ship_blocked_reason"] and o.normalized["presale_fully_paid"]
                     and not any(line["refund_status"] for line in o.normalized["lines"])][:5]
        assert shippable, shop.code
        control(mock_url, "faults", {"kind": "server_error", "count": 2, "shop": shop.code})
        with django_capture_on_commit_callbacks(execute=True):
            for n, order in enumerate(shippable):
                row = shipment_push_enqueue(shop=shop, platform_order_id=order.platform_order_id, carrier_code="SF",
                                            tracking_no=f"SF{shop.pk}{n:08d}")
                again = shipment_push_enqueue(shop=shop, platform_order_id=order.platform_order_id, carrier_code="SF",
                                              tracking_no=f"SF{shop.pk}{n:08d}")
                assert again.pk == row.pk
        sent[shop.code] = {o.platform_order_id for o in shippable}
    assert not Outbox.objects.exclude(status=Outbox.Status.SENT).exists(), list(
        Outbox.objects.exclude(status=Outbox.Status.SENT).values_list("last_error", flat=True))
    # a relay that runs again (say after a crash) sends nothing twice
    for shop in shops:
        run_job(shop=shop, job=Job.PUSH_SHIPMENTS)
    shipments = control(mock_url, "shipments")["shipments"]
    accepted = [s for s in shipments if s["accepted"]]
    for shop in shops:
        mine = [s["order_id"] for s in accepted if s["shop"] == shop.code]
        assert sorted(mine) == sorted(sent[shop.code]), shop.code


def test_after_a_burst_every_platform_shows_the_erps_sellable_stock(in_tenant_a, mock_url):
    from inventory import selectors as inv
    from inventory.models import SKU, Warehouse
    from inventory.services import sku_mapping_create, stock_adjust, stock_receive

    _reset(mock_url, hours=0, seed=3)  # no orders: the platforms show exactly what was pushed
    shops = _shops(mock_url)
    state = control(mock_url, "state")
    warehouse = Warehouse.objects.create(code="WH1", name="Main")
    skus = {}
    for shop in shops:
        listings = [s for s in state["shops"] if s["code"] == shop.code][0]["listings"]
        for listing in listings:
            if not listing["sku_id"]:
                continue  # an item without SKUs (gift card): no stock sync
            sku = skus.get(listing["outer_id"]) or SKU.objects.create(code=listing["outer_id"], name=listing["title"])
            skus[sku.code] = sku
            sku_mapping_create(shop=shop, platform_item_id=str(listing["item_id"]),
                               platform_sku_id=str(listing["sku_id"]), outer_id=listing["outer_id"], sku=sku)
    rng = random.Random(4)
    control(mock_url, "config", {"fault_rate": 0.2, "fault_kinds": ["rate_limit", "server_error"]})
    for step in range(60):  # the burst: stock changes interleaved with pushes that sometimes fail
        sku = rng.choice(list(skus.values()))
        if rng.random() < 0.7:
            stock_receive(warehouse=warehouse, sku=sku, quantity=rng.randint(1, 20), reason="burst")
        else:
            stock_adjust(warehouse=warehouse, sku=sku, quantity=-1, reason="burst") if inv.available_by_warehouse(
                sku_ids=[sku.pk]).get((warehouse.pk, sku.pk), 0) > 0 else None
        if step % 7 == 0:
            run_job(shop=rng.choice(shops), job=Job.PUSH_STOCK)
    control(mock_url, "config", {"fault_rate": 0})
    for shop in shops:
        assert run_job(shop=shop, job=Job.PUSH_STOCK).status == SyncRun.Status.SUCCESS
        assert inv.dirty_stock_claim(shop=shop) == []
    for shop in shops:
        shown = {s["outer_id"]: s["quantity"] for s in control(mock_url, "stock", shop=shop.code)["stock"]
                 if s["outer_id"] in skus}
        wanted = {line.outer_id: line.quantity for line in inv.sellable_stock_for_shop(shop=shop)}
        assert shown == wanted, shop.code
    # the nightly full push agrees too
    for shop in shops:
        run = run_job(shop=shop, job=Job.PUSH_STOCK_FULL)
        assert run.status == SyncRun.Status.SUCCESS and run.updated == len(skus)
    assert timezone.now()
