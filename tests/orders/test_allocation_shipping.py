from datetime import timedelta
from decimal import Decimal

import pytest

from erp.api.exceptions import Conflict
from orders import services
from orders.allocation import choose_carrier
from orders.models import CarrierRule, Order, OrderEvent, OrderKind, OrderLine, OrderStatus, Waybill

from .conftest import T0, address, line, norder

pytestmark = pytest.mark.django_db


def ingest(shop, *orders):
    return services.orders_ingest_normalized(shop=shop, normalized=list(orders))


def test_region_then_priority(world, inv):
    inv.stock(1, "A", 5)
    inv.stock(2, "A", 5)
    ingest(world, norder("ZJ"), norder("BJ", buyer="b2", receiver=address(province="北京", address="长安街 1 号")))
    assert Order.objects.get(platform_order_id="ZJ").warehouse_id == 1  # east serves Zhejiang, first by priority
    assert Order.objects.get(platform_order_id="BJ").warehouse_id == 2  # east does not serve Beijing


def test_one_parcel_preferred_over_priority(world, inv):
    inv.stock(1, "A", 5)
    inv.stock(2, "A", 5)
    inv.stock(2, "B", 5)
    ingest(world, norder("P1", lines=[line("A"), line("B")]))
    order = Order.objects.get()
    assert order.warehouse_id == 2 and order.status == OrderStatus.ALLOCATED
    assert "one parcel" in OrderEvent.objects.get(order=order, code="allocated").message


def test_split_by_warehouse_stock(world, inv):
    inv.stock(1, "A", 5)
    inv.stock(2, "B", 5)
    ingest(world, norder("P1", lines=[line("A", 2), line("B", 3)]))
    orders = list(Order.objects.order_by("pk"))
    assert len(orders) == 2 and orders[1].kind == OrderKind.SPLIT
    assert {(o.warehouse_id, o.status) for o in orders} == {(1, OrderStatus.ALLOCATED), (2, OrderStatus.ALLOCATED)}
    assert sum(ln.quantity for ln in OrderLine.objects.all()) == 5
    assert {r[:3] for r in inv.reservations.values()} == {(1, 1, 2), (2, 2, 3)}


def test_quantity_split_across_warehouses(world, inv):
    inv.stock(1, "A", 2)
    inv.stock(2, "A", 3)
    ingest(world, norder("P1", lines=[line("A", 5)]))
    assert sorted(OrderLine.objects.values_list("quantity", flat=True)) == [2, 3]
    assert sum(q for _w, _s, q in inv.reservations.values()) == 5


def test_out_of_stock_waits_and_is_retried_in_priority(world, inv):
    s = services.order_settings()
    s.split_by_stock = False
    s.save()
    late = norder("LATE", buyer="b1", receiver=address(address="a1"), ship_by=T0 + timedelta(days=2))
    urgent = norder("URGENT", buyer="b2", receiver=address(address="a2"), ship_by=T0 + timedelta(hours=6))
    ingest(world, late, urgent)
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.APPROVED}
    assert Order.objects.filter(out_of_stock_since__isnull=False).count() == 2
    inv.stock(2, "A", 1)  # one unit arrives: the urgent one gets it
    outcome = services.orders_retry_out_of_stock()
    assert Order.objects.get(platform_order_id="URGENT").status == OrderStatus.ALLOCATED
    late_order = Order.objects.get(platform_order_id="LATE")
    assert late_order.status == OrderStatus.APPROVED and late_order.out_of_stock_since is not None
    assert len(outcome.allocated) == 1
    assert OrderEvent.objects.filter(order=late_order, code="out_of_stock").count() == 1  # retries add no noise


def test_members_level_fills_buyer_level_and_wins_scarce_stock(world, inv, monkeypatch):
    """Same ship-by deadline: the higher member level (members.selectors.buyer_levels) goes first."""
    import importlib

    seen = []

    def buyer_levels(*, platform, buyer_ids):
        seen.append((platform, list(buyer_ids)))
        return {"gold": 3}

    monkeypatch.setattr(importlib.import_module("members.selectors"), "buyer_levels", buyer_levels, raising=False)
    s = services.order_settings()
    s.split_by_stock = False
    s.save()
    deadline = T0 + timedelta(days=1)
    ingest(world, norder("PLAIN", buyer="nobody", receiver=address(address="a1"), ship_by=deadline),
           norder("GOLD", buyer="gold", receiver=address(address="a2"), ship_by=deadline))
    assert seen == [("taobao", ["gold", "nobody"])]  # one call per page
    assert dict(Order.objects.values_list("platform_order_id", "buyer_level")) == {"PLAIN": 0, "GOLD": 3}
    inv.stock(2, "A", 1)
    services.orders_retry_out_of_stock()
    assert Order.objects.get(platform_order_id="GOLD").status == OrderStatus.ALLOCATED
    assert Order.objects.get(platform_order_id="PLAIN").status == OrderStatus.APPROVED


def test_allocation_never_over_reserves(world, inv):
    inv.stock(1, "A", 3)
    ingest(world, *[norder(f"P{i}", buyer=f"b{i}", receiver=address(address=f"r{i}"), lines=[line("A", 2)]) for i in range(4)])
    assert sum(q for _w, _s, q in inv.reservations.values()) <= 3
    assert Order.objects.filter(status=OrderStatus.ALLOCATED).count() == 1


def test_member_level_then_age_break_ties():
    from types import SimpleNamespace as NS

    from orders.allocation import priority_key

    old = NS(ship_by=None, buyer_level=0, paid_at=T0, platform_created_at=T0, created_at=T0, pk=1)
    vip = NS(ship_by=None, buyer_level=3, paid_at=T0 + timedelta(hours=1), platform_created_at=T0, created_at=T0, pk=2)
    due = NS(ship_by=T0 + timedelta(days=1), buyer_level=0, paid_at=T0 + timedelta(hours=2), platform_created_at=T0,
             created_at=T0, pk=3)
    assert sorted([old, vip, due], key=priority_key) == [due, vip, old]


def test_carrier_rules_region_weight_cost(in_tenant_a):
    rules = [
        CarrierRule(name="SF", carrier_code="SF", first_cost=Decimal("12"), extra_cost_per_kg=Decimal("5"), priority=1),
        CarrierRule(name="ZTO east", carrier_code="ZTO", provinces=["浙江省"], first_cost=Decimal("5"),
                    extra_cost_per_kg=Decimal("2"), max_weight_g=3000, priority=2),
        CarrierRule(name="YTO", carrier_code="YTO", first_cost=Decimal("6"), extra_cost_per_kg=Decimal("1"), priority=3),
    ]
    assert choose_carrier(rules=rules, province="浙江省", warehouse_id=1, weight_g=800, default_code="X")[0] == "ZTO"
    assert choose_carrier(rules=rules, province="北京", warehouse_id=1, weight_g=800, default_code="X")[0] == "YTO"
    assert choose_carrier(rules=rules, province="浙江省", warehouse_id=1, weight_g=5000, default_code="X")[0] == "YTO"
    assert choose_carrier(rules=[], province="浙江省", warehouse_id=1, weight_g=5000, default_code="X")[0] == "X"


def test_ship_commits_stock_pushes_and_publishes(world, inv, integ, published):
    inv.stock(1, "A", 5)
    CarrierRule.objects.create(name="ZTO", carrier_code="ZTO", first_cost=Decimal("5"))
    ingest(world, norder("P1", lines=[line("A", 2)]))
    order = Order.objects.get()
    services.order_pick(order_id=order.pk)
    services.order_ship(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.carrier_code == "ZTO"
    waybill = Waybill.objects.get(order=order)
    assert waybill.tracking_no == order.tracking_no and waybill.tracking_no.startswith("ZTO")
    assert inv.on_hand[(1, 1)] == 3 and not inv.reservations
    assert integ.pushes == [(world.pk, "P1", "ZTO", order.tracking_no, None)]
    assert published == [("order.shipped", {"order_id": order.pk})]
    with pytest.raises(Conflict):
        services.order_ship(order_id=order.pk)
    assert len(integ.pushes) == 1


def test_merged_shipment_pushes_each_platform_order(world, inv, integ):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1"))
    ingest(world, norder("P2"))
    merged = Order.objects.get(kind=OrderKind.MERGED)
    services.order_ship(order_id=merged.pk)
    assert sorted(p[1] for p in integ.pushes) == ["P1", "P2"]
    assert len({p[3] for p in integ.pushes}) == 1
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.SHIPPED}


def test_split_parts_push_their_lines(world, inv, integ):
    inv.stock(1, "A", 5)
    inv.stock(2, "B", 5)
    ingest(world, norder("P1", lines=[line("A", lid="oid-a"), line("B", lid="oid-b")]))
    for order in Order.objects.order_by("pk"):
        services.order_ship(order_id=order.pk)
    assert sorted(p[4] for p in integ.pushes) == [["oid-a"], ["oid-b"]]


def test_a_reservation_refused_meanwhile_waits_in_the_queue(world, inv):
    """Planned against a stale availability read, inventory refuses two of four: those wait in the
    out-of-stock queue (with the reason on their timeline); the others are allocated."""
    inv.stock(1, "A", 5)
    real_available = inv.available
    inv.available = lambda *, sku_ids: {k: v + 10 for k, v in real_available(sku_ids=sku_ids).items()}
    ingest(world, *[norder(f"P{i}", buyer=f"b{i}", receiver=address(address=f"r{i}"), lines=[line("A", 2)])
                     for i in range(4)])
    assert list(Order.objects.order_by("pk").values_list("status", flat=True)) == [
        OrderStatus.ALLOCATED, OrderStatus.ALLOCATED, OrderStatus.APPROVED, OrderStatus.APPROVED]
    waiting = Order.objects.filter(out_of_stock_since__isnull=False)
    assert sorted(waiting.values_list("platform_order_id", flat=True)) == ["P2", "P3"]
    assert OrderEvent.objects.filter(order__in=waiting, code="out_of_stock",
                                     message__startswith="out of stock while reserving").count() == 2
    assert sum(q for _w, _s, q in inv.reservations.values()) == 4
    assert not OrderLine.objects.filter(order__in=waiting, is_reserved=True).exists()
