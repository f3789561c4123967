"""What orders offers other apps (docs/INTERFACES.md): snapshots, daily sales, reshipments, events."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from erp import events
from orders import selectors, services
from orders.models import Order, OrderKind, OrderLine, OrderStatus

from .conftest import T0, address, line, norder

pytestmark = pytest.mark.django_db


def ingest(shop, *orders):
    return services.orders_ingest_normalized(shop=shop, normalized=list(orders))


def shipped_order(world, inv, poid="S1", **kw):
    inv.stock(1, "A", 10)
    inv.stock(1, "B", 10)
    ingest(world, norder(poid, **kw))
    order = Order.objects.get(platform_order_id=poid, kind=OrderKind.PLATFORM)
    return services.order_ship(order_id=order.pk)


def test_snapshots_carry_amounts_and_lines(world, inv):
    order = shipped_order(world, inv, lines=[line("A", qty=2, price="12.50"), line("B", price="3.00")])
    (snap,) = selectors.order_snapshots(order_ids=[order.pk, 999_999])
    assert (snap.id, snap.status, snap.platform_order_id, snap.paid_amount) == (order.pk, OrderStatus.SHIPPED, "S1",
                                                                                 Decimal("28.00"))
    assert snap.tracking_no and snap.shipped_at is not None
    assert [(ln.sku_code, ln.quantity, ln.paid) for ln in snap.lines] == [("A", 2, Decimal("25.00")),
                                                                          ("B", 1, Decimal("3.00"))]
    by_poid = selectors.order_snapshots_by_platform_ids(shop_id=world.pk, platform_order_ids=["S1", "nope"])
    assert list(by_poid) == ["S1"] and by_poid["S1"].lines == snap.lines


def test_snapshot_by_platform_id_follows_lines_into_a_merged_shipment(world, inv):
    s = services.order_settings()
    s.auto_allocate = False
    s.save()
    ingest(world, norder("M1", lines=[line("A")]), norder("M2", lines=[line("B")]))
    merged = Order.objects.get(kind=OrderKind.MERGED)
    snaps = selectors.order_snapshots_by_platform_ids(shop_id=world.pk, platform_order_ids=["M1", "M2"])
    assert snaps["M1"].kind == OrderKind.PLATFORM and snaps["M1"].status == OrderStatus.CLOSED
    assert [ln.order_id for ln in snaps["M1"].lines] == [merged.pk]
    assert [ln.sku_code for ln in snaps["M2"].lines] == ["B"]


def test_daily_sales_counts_sold_lines_once_by_paid_day(world, inv):
    inv.stock(1, "A", 100)
    day2 = T0 + timedelta(days=1)
    ingest(world,
           norder("D1", buyer="b1", receiver=address(address="x1"), lines=[line("A", qty=2, price="10.00")]),
           norder("D2", buyer="b2", receiver=address(address="x2"), lines=[line("A", qty=1, price="10.00")], created=day2),
           norder("D3", buyer="b3", receiver=address(address="x3"), lines=[line("A", qty=5, price="10.00")], created=day2))
    services.order_cancel(order_id=Order.objects.get(platform_order_id="D3").pk, why="test")
    sku_a = inv.skus["A"].id
    rows = selectors.daily_sales(since=T0.date(), until=day2.date())
    assert [(r.day, r.sku_id, r.quantity, r.amount) for r in rows] == [
        (date(2026, 11, 1), sku_a, 2, Decimal("20.00")), (date(2026, 11, 2), sku_a, 1, Decimal("10.00"))]
    assert selectors.daily_sales(since=day2.date(), sku_ids=[sku_a])[0].quantity == 1
    assert selectors.daily_sales(since=T0.date(), sku_ids=[424242]) == []


def test_reship_is_a_free_approved_order_made_once_per_reference(world, inv, integ):
    original = shipped_order(world, inv, lines=[line("A", qty=1, price="99.00")])
    sku_b = inv.skus["B"].id
    reship = services.order_create_reship(order_id=original.pk, lines=[(sku_b, 2)], why="damaged in transit",
                                          source_ref="aftersales:1")
    again = services.order_create_reship(order_id=original.pk, lines=[(sku_b, 2)], why="retry", source_ref="aftersales:1")
    assert again.pk == reship.pk and Order.objects.filter(kind=OrderKind.RESHIP).count() == 1
    assert reship.status == OrderStatus.ALLOCATED and reship.paid_amount == Decimal("0.00")
    assert (reship.receiver_address, reship.buyer_id) == (original.receiver_address, original.buyer_id)
    assert [(ln.sku_id, ln.quantity, ln.paid) for ln in OrderLine.objects.filter(order=reship)] == [(sku_b, 2, Decimal("0.00"))]
    pushes_before = len(integ.pushes)
    services.order_ship(order_id=reship.pk)
    assert len(integ.pushes) == pushes_before  # nothing goes to the platform for a reshipment
    assert original.events.filter(code="reship.opened").exists()


@pytest.mark.parametrize("lines, field", [([], "lines"), ([(1, 0)], "lines"), ([("x", 1)], "lines"), ([(424242, 1)], "lines")])
def test_reship_refuses_bad_lines(world, inv, lines, field):
    original = shipped_order(world, inv)
    with pytest.raises(ValidationError) as exc:
        services.order_create_reship(order_id=original.pk, lines=lines, why="x", source_ref="aftersales:9")
    assert field in exc.value.message_dict
    assert not Order.objects.filter(kind=OrderKind.RESHIP).exists()


def test_reship_of_an_unshipped_order_is_refused(world, inv):
    ingest(world, norder("U1"))
    order = Order.objects.get(platform_order_id="U1")
    with pytest.raises(ValidationError):
        services.order_create_reship(order_id=order.pk, lines=[(inv.skus["A"].id, 1)], why="x", source_ref="aftersales:2")


def test_cancellation_is_announced_after_commit(world, inv, django_capture_on_commit_callbacks):
    seen = []

    def handler(**kw):
        seen.append(kw)

    events.subscribe("order.cancelled", handler)
    try:
        ingest(world, norder("C1"))
        order = Order.objects.get(platform_order_id="C1")
        with django_capture_on_commit_callbacks(execute=True):
            services.order_cancel(order_id=order.pk, why="buyer asked")
        assert seen == [{"order_id": order.pk}]
    finally:
        events._handlers["order.cancelled"].remove(handler)
