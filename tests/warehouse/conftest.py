"""A tenant with a shop, an own warehouse with stock and bins, a simulated SF carrier account, and
helpers to make allocated orders through the real orders and inventory services."""

from decimal import Decimal

import pytest

from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Shop
from inventory.models import SKU, Warehouse
from inventory.services import stock_receive
from orders import services as order_services
from orders.models import Order, OrderStatus
from tests.orders.conftest import address, line, norder  # noqa: F401 - the normalised-order builders
from warehouse.models import CarrierAccount, CarrierRate
from warehouse.services import bin_assign


class World:
    def __init__(self):
        self.shop = Shop.objects.create(code="tb1", name="TB shop", platform="taobao")
        self.warehouse = Warehouse.objects.create(code="MAIN", name="Main")
        self.skus = {}
        for n, code in enumerate(["A", "B", "C"]):
            sku = SKU.objects.create(code=code, name=f"Item {code}", barcode=f"69000000{n}", weight_grams=300)
            stock_receive(warehouse=self.warehouse, sku=sku, quantity=50, reason="test")
            bin_assign(warehouse_id=self.warehouse.pk, sku_id=sku.pk, bin_code=f"A-0{3 - n}", sort_key=3 - n)
            self.skus[code] = sku
        self.account = CarrierAccount.objects.create(
            code="SF1", name="SF", carrier_code="SF", warehouse=self.warehouse, range_start=5000, range_end=5002,
            next_number=5000, first_weight_g=1000, first_cost=Decimal("12.00"), extra_cost_per_kg=Decimal("3.00"))
        CarrierRate.objects.create(account=self.account, provinces=["浙江"], first_weight_g=1000,
                                   first_cost=Decimal("8.00"), extra_cost_per_kg=Decimal("1.00"))

    def order(self, *lines_) -> Order:
        self.count = getattr(self, "count", 0) + 1
        n = norder(lines=list(lines_) or [line("A")], buyer=f"buyer{self.count}",
                   receiver=address(name=f"收件人{self.count}", phone=f"1380000{self.count:04d}",
                                    address=f"文三路 {self.count} 号"))
        order_services.orders_ingest_normalized(shop=self.shop, normalized=[n])
        order = Order.objects.get(platform_order_id=n.platform_order_id)
        if order.status in (OrderStatus.PENDING_REVIEW, OrderStatus.ON_HOLD):
            order_services.order_approve(order_id=order.pk)
            order.refresh_from_db()
        if order.status == OrderStatus.APPROVED:
            order_services.order_allocate(order_id=order.pk)
            order.refresh_from_db()
        assert order.status == OrderStatus.ALLOCATED, (order.status, order.hold_reasons)
        assert order.warehouse_id == self.warehouse.pk
        return order


@pytest.fixture
def world(in_tenant_a):
    return World()


@pytest.fixture
def carrier(world, settings):
    """The world's carrier account on the simulated Cainiao / SF service of the mock server (range 880000..880002)."""
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.0, "backoff_max": 0.0}
    with running_mock_platforms(seed=5) as url:
        url.mock.carrier.set_account({"app_key": "sf-acct", "app_secret": "sf-secret", "carrier_code": "SF",
                                      "range_start": 880000, "range_end": 880002})
        world.account.api_base_url = str(url)
        world.account.credentials = {"app_key": "sf-acct", "app_secret": "sf-secret"}
        world.account.save()
        yield url


class PlatformShop:
    """A Taobao shop on the mock platforms server selling the world's SKUs A, B, C: orders are made
    on the platform, pulled and allocated through the real services; shipments pushed back and read
    from the platform's record (``shipped()``: {platform order id: tracking number accepted})."""

    def __init__(self, world: World, url: str):
        from integrations.mock_platforms.client import control
        from integrations.services import shop_create

        self.world, self.url, self.control = world, str(url), control
        control(self.url, "config", {"orders_per_hour": 0, "fault_rate": 0})
        control(self.url, "catalog", {"shop": "tb-main", "skus": [{"outer_id": c, "title": f"Item {c}"}
                                                                   for c in world.skus]})
        self.shop, _secret = shop_create(
            code="tb-main", name="tb-main", platform="taobao", api_base_url=self.url + "/taobao/router/rest",
            credentials={"app_key": "tb-app-key", "app_secret": "tb-app-secret", "access_token": "tb-session-main"},
            initial_lookback_hours=2, sync_lag_seconds=0)

    def _run(self, job):
        from integrations.models import SyncRun
        from integrations.sync import run_job

        run = run_job(shop=self.shop, job=job, trigger="test")
        assert run.status == SyncRun.Status.SUCCESS, (job, run.error)

    def order(self, *lines_: tuple[str, int]) -> Order:
        from integrations.models import Job

        created = self.control(self.url, "generate", {"count": 1, "shop": "tb-main", "kind": "normal",
                                                      "lines": [{"outer_id": c, "qty": q} for c, q in lines_]})
        poid = str(created["created"][0]["order_id"])
        self._run(Job.PULL_ORDERS)
        order = Order.objects.get(shop=self.shop, platform_order_id=poid)
        if order.status in (OrderStatus.PENDING_REVIEW, OrderStatus.ON_HOLD):
            order_services.order_approve(order_id=order.pk)
            order.refresh_from_db()
        if order.status == OrderStatus.APPROVED:
            order_services.order_allocate(order_id=order.pk)
            order.refresh_from_db()
        assert order.status == OrderStatus.ALLOCATED, (order.status, order.hold_reasons)
        return order

    def shipped(self) -> dict[str, str]:
        from integrations.models import Job

        self._run(Job.PUSH_SHIPMENTS)
        return {str(s["order_id"]): s["tracking_no"]
                for s in self.control(self.url, "shipments")["shipments"] if s["accepted"]}
