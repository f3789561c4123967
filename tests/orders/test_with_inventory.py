"""The same flows against the real inventory services (no fakes): reservations, releases and
commits land in inventory's ledger and never oversell."""

from datetime import timedelta

import pytest

from integrations.normalized import NormalizedRefund, OrderState
from inventory import services as inv_services
from inventory.models import SKU, Warehouse
from inventory.selectors import available_by_warehouse, sku_stock
from orders import services
from orders.models import Order, OrderStatus

from .conftest import T0, address, line, norder

pytestmark = pytest.mark.django_db


@pytest.fixture
def real(shop, integ):
    a = SKU.objects.create(code="A", name="Item A", weight_grams=400)
    b = SKU.objects.create(code="B", name="Item B")
    east = Warehouse.objects.create(code="EAST", name="East", regions=["浙江省"], priority=1)
    west = Warehouse.objects.create(code="WEST", name="West", priority=2)
    return {"A": a, "B": b, "east": east, "west": west}


def level(sku, warehouse):
    row = next((r for r in sku_stock(sku=sku) if r["warehouse"].pk == warehouse.pk), None)
    return (row["on_hand"], row["reserved"]) if row else (0, 0)


def ingest(shop, *orders):
    return services.orders_ingest_normalized(shop=shop, normalized=list(orders))


def test_reserve_ship_commit_through_inventory(shop, real):
    inv_services.stock_receive(warehouse=real["east"], sku=real["A"], quantity=5, reason="test")
    ingest(shop, norder("P1", lines=[line("A", 2)]))
    order = Order.objects.get()
    assert order.status == OrderStatus.ALLOCATED and order.warehouse_id == real["east"].pk
    assert order.weight_g == 800  # the SKU's weight came through the mapping
    assert level(real["A"], real["east"]) == (5, 2)
    services.order_ship(order_id=order.pk)
    assert level(real["A"], real["east"]) == (3, 0)


def test_never_over_reserves_and_waits_for_stock(shop, real):
    inv_services.stock_receive(warehouse=real["east"], sku=real["A"], quantity=3, reason="test")
    ingest(shop, *[norder(f"P{i}", buyer=f"b{i}", receiver=address(address=f"r{i}"), lines=[line("A", 2)])
                   for i in range(4)])
    assert level(real["A"], real["east"]) == (3, 2)
    assert Order.objects.filter(status=OrderStatus.ALLOCATED).count() == 1
    assert Order.objects.filter(out_of_stock_since__isnull=False).count() == 3
    inv_services.stock_receive(warehouse=real["west"], sku=real["A"], quantity=4, reason="test")
    services.orders_retry_out_of_stock()
    assert Order.objects.filter(status=OrderStatus.ALLOCATED).count() == 3
    assert level(real["A"], real["west"]) == (4, 4)
    assert all(v >= 0 for v in available_by_warehouse(sku_ids=[real["A"].pk]).values())


def test_interception_releases_inventory(shop, real):
    inv_services.stock_receive(warehouse=real["east"], sku=real["A"], quantity=5, reason="test")
    ingest(shop, norder("P1", lines=[line("A", 2, lid="a")]))
    assert level(real["A"], real["east"]) == (5, 2)
    refund = NormalizedRefund(platform="taobao", platform_refund_id="R1", platform_order_id="P1", platform_line_id="a",
                              status="requested", platform_status="WAIT_SELLER_AGREE", amount=20, reason="x",
                              has_goods_return=False, phase="before_shipment", modified_at=T0, version=1)
    services.orders_intercept_refunds(shop=shop, refunds=[refund])
    assert level(real["A"], real["east"]) == (5, 0)
    ingest(shop, norder("P1", lines=[line("A", 2, lid="a")], state=OrderState.CANCELLED, platform_status="TRADE_CLOSED",
                        modified=T0 + timedelta(hours=1)))
    assert Order.objects.get().status == OrderStatus.CANCELLED and level(real["A"], real["east"]) == (5, 0)


def test_unmatched_lines_appear_in_inventory_queue(shop, real):
    from inventory.selectors import unmatched_mappings

    ingest(shop, norder("P1", lines=[line("ZZZ")]))
    assert Order.objects.get().hold_reason_list == ["unmatched_sku"]
    assert unmatched_mappings(shop=shop).filter(outer_id="ZZZ").exists()


def test_a_receipt_retries_the_out_of_stock_queue_once(shop, real, django_capture_on_commit_callbacks):
    ingest(shop, norder("P1", lines=[line("A", 2)]))
    assert Order.objects.get().out_of_stock_since is not None
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        inv_services.stock_receive(warehouse=real["east"], sku=real["A"], quantity=1, reason="partial")
        inv_services.stock_receive(warehouse=real["east"], sku=real["A"], quantity=1, reason="rest")
    assert len([c for c in callbacks if getattr(c, "oos_retry_tenant", None)]) == 1  # one retry per transaction
    assert Order.objects.get().status == OrderStatus.ALLOCATED
