from datetime import timedelta
from decimal import Decimal

import pytest

from integrations.normalized import NormalizedRefund, OrderState
from orders import services
from orders.models import HoldReason, Order, OrderEvent, OrderKind, OrderLine, OrderStatus, RefundState

from .conftest import T0, line, norder

pytestmark = pytest.mark.django_db


def ingest(shop, *orders):
    return services.orders_ingest_normalized(shop=shop, normalized=list(orders))


def refund(poid, lid="", status="requested", version=1, phase="before_shipment", rid="R1"):
    return NormalizedRefund(platform="taobao", platform_refund_id=rid, platform_order_id=poid, platform_line_id=lid,
                            status=status, platform_status=status.upper(), amount=Decimal("10.00"), reason="changed mind",
                            has_goods_return=False, phase=phase, modified_at=T0 + timedelta(hours=version), version=version)


def test_platform_cancellation_before_shipment_releases_stock(world, inv):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1", lines=[line("A", 2)]))
    assert inv.reservations
    ingest(world, norder("P1", lines=[line("A", 2)], state=OrderState.CANCELLED, platform_status="TRADE_CLOSED",
                         modified=T0 + timedelta(hours=2)))
    order = Order.objects.get()
    assert order.status == OrderStatus.CANCELLED and not inv.reservations
    assert OrderLine.objects.get().is_stopped


def test_refund_of_one_line_stops_it_and_holds_the_order(world, inv):
    inv.stock(1, "A", 5)
    inv.stock(1, "B", 5)
    ingest(world, norder("P1", lines=[line("A", lid="a"), line("B", lid="b")]))
    services.orders_intercept_refunds(shop=world, refunds=[refund("P1", "a")])
    order = Order.objects.get()
    assert order.status == OrderStatus.ON_HOLD and order.hold_reason_list == [HoldReason.REFUND]
    assert not inv.reservations  # held orders keep no stock
    a = OrderLine.objects.get(platform_line_id="a")
    assert a.is_stopped and a.refund_state == RefundState.REQUESTED
    # the refund succeeds: the line stays stopped, the rest ships
    services.orders_intercept_refunds(shop=world, refunds=[refund("P1", "a", "success", version=2)])
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and list(inv.reservations) == [str(OrderLine.objects.get(platform_line_id="b").pk)]


def test_refused_refund_lets_the_line_ship(world, inv):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1", lines=[line("A", lid="a")]))
    services.orders_intercept_refunds(shop=world, refunds=[refund("P1", "a")])
    assert Order.objects.get().status == OrderStatus.ON_HOLD
    services.orders_intercept_refunds(shop=world, refunds=[refund("P1", "a", "refused", version=2)])
    order = Order.objects.get()
    assert order.status == OrderStatus.ALLOCATED and not OrderLine.objects.get().is_stopped


def test_whole_order_refund_success_cancels(world, inv):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1"))
    services.orders_intercept_refunds(shop=world, refunds=[refund("P1", "", "success")])
    assert Order.objects.get().status == OrderStatus.CANCELLED and not inv.reservations


def test_older_refund_versions_change_nothing(world, inv):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1", lines=[line("A", lid="a")]))
    services.orders_intercept_refunds(shop=world, refunds=[refund("P1", "a", "success", version=3)])
    n = OrderEvent.objects.count()
    services.orders_intercept_refunds(shop=world, refunds=[refund("P1", "a", "refused", version=2),
                                                           refund("P1", "a", "success", version=3)])
    assert OrderEvent.objects.count() == n and OrderLine.objects.get().refund_state == RefundState.REFUNDED


def test_refund_after_shipment_opens_after_sales_once(world, inv, integ, published):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1", lines=[line("A", lid="a")]))
    services.order_ship(order_id=Order.objects.get().pk)
    published.clear()
    for _ in range(2):
        services.orders_intercept_refunds(shop=world, refunds=[refund("P1", "a", phase="after_shipment")])
    order = Order.objects.get()
    assert published == [("order.after_sale_opened", {"order_id": order.pk, "platform_refund_id": "R1"})]
    assert order.status == OrderStatus.SHIPPED and inv.on_hand[(1, 1)] == 4


def test_cancel_of_one_merged_source_keeps_the_other(world, inv):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1"))
    ingest(world, norder("P2"))
    merged = Order.objects.get(kind=OrderKind.MERGED)
    assert merged.status == OrderStatus.ALLOCATED and len(inv.reservations) == 2
    ingest(world, norder("P1", state=OrderState.CANCELLED, platform_status="TRADE_CLOSED", modified=T0 + timedelta(hours=3)))
    merged.refresh_from_db()
    assert Order.objects.get(platform_order_id="P1").status == OrderStatus.CANCELLED
    assert merged.status == OrderStatus.ALLOCATED and merged.total_quantity == 1 and len(inv.reservations) == 1


def test_refund_events_via_the_event_bus(world, inv, integ):
    from erp import events

    inv.stock(1, "A", 5)
    integ.orders["P9"] = norder("P9", lines=[line("A", lid="x")])
    events.publish("platform_orders.changed", shop_id=world.pk, platform_order_ids=["P9"])
    assert Order.objects.get(platform_order_id="P9").status == OrderStatus.ALLOCATED
    integ.refunds["R9"] = refund("P9", "x", rid="R9")
    events.publish("platform_refunds.changed", shop_id=world.pk, platform_refund_ids=["R9"])
    assert Order.objects.get(platform_order_id="P9").status == OrderStatus.ON_HOLD and not inv.reservations
