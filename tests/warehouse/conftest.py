"""A tenant with a shop, an own warehouse with stock and bins, a simulated SF carrier account, and
helpers to make allocated orders through the real orders and inventory services."""

from decimal import Decimal

import pytest

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
