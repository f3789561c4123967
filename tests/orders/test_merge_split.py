from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erp.api.exceptions import Conflict
from orders import services
from orders.models import Order, OrderKind, OrderLine, OrderStatus

from .conftest import address, line, norder

pytestmark = pytest.mark.django_db


def ingest(shop, *orders):
    services.orders_ingest_normalized(shop=shop, normalized=list(orders))


def no_auto(**kw):
    s = services.order_settings()
    s.auto_merge = False
    s.auto_allocate = False
    for k, v in kw.items():
        setattr(s, k, v)
    s.save()


def test_auto_merge_same_buyer_and_address(world, inv):
    inv.stock(1, "A", 10)
    inv.stock(1, "B", 10)
    ingest(world, norder("P1", lines=[line("A")]))
    ingest(world, norder("P2", lines=[line("B", 2)]))
    merged = Order.objects.get(kind=OrderKind.MERGED)
    assert merged.status == OrderStatus.ALLOCATED and merged.total_quantity == 3
    assert set(Order.objects.filter(merged_into=merged).values_list("platform_order_id", flat=True)) == {"P1", "P2"}
    assert set(Order.objects.filter(merged_into=merged).values_list("status", flat=True)) == {OrderStatus.CLOSED}
    assert len(inv.reservations) == 2  # the merged shipment holds every line's reservation


def test_never_merge_different_addresses(world):
    no_auto()
    ingest(world, norder("P1"), norder("P2", receiver=address(address="文三路 2 号")))
    a, b = Order.objects.order_by("pk")
    with pytest.raises(Conflict) as exc:
        services.orders_merge(order_ids=[a.pk, b.pk])
    assert "different receiver or address" in str(exc.value.detail)
    assert Order.objects.filter(kind=OrderKind.MERGED).count() == 0
    verdicts = services.orders_merge_dry_run(order_ids=[a.pk, b.pk])
    assert verdicts[1].mergeable is False and "different receiver or address" in verdicts[1].reasons


def test_auto_merge_never_crosses_addresses_or_shops(world, inv):
    from integrations.models import Shop

    inv.stock(1, "A", 10)
    other = Shop.objects.create(code="tb2", name="TB 2", platform="taobao")
    ingest(world, norder("P1"), norder("P2", receiver=address(phone="13911111111")))
    ingest(other, norder("P3"))
    assert not Order.objects.filter(kind=OrderKind.MERGED).exists()


def test_merge_across_shops_of_one_platform_when_enabled(world, inv):
    from integrations.models import Shop

    no_auto(merge_across_shops=True)
    other = Shop.objects.create(code="tb2", name="TB 2", platform="taobao")
    ingest(world, norder("P1"))
    ingest(other, norder("P2"))
    ids = list(Order.objects.values_list("pk", flat=True))
    assert all(v.mergeable for v in services.orders_merge_dry_run(order_ids=ids))
    target = services.orders_merge(order_ids=ids)
    assert target.kind == OrderKind.MERGED


def test_dry_run_explains(world):
    no_auto()
    ingest(world, norder("P1"), norder("P2"), norder("P3", buyer="someone-else"))
    ids = list(Order.objects.order_by("pk").values_list("pk", flat=True))
    verdicts = services.orders_merge_dry_run(order_ids=ids)
    assert [v.mergeable for v in verdicts] == [True, True, False]
    assert "different buyer" in verdicts[2].reasons
    assert "same receiver hash" in verdicts[1].reasons[0]


def test_unmerge_restores_the_originals(world, inv):
    no_auto()
    ingest(world, norder("P1", lines=[line("A", 2)]), norder("P2", lines=[line("B")]))
    a, b = Order.objects.order_by("pk")
    before = {o.pk: (o.status, o.total_quantity, o.paid_amount) for o in (a, b)}
    target = services.orders_merge(order_ids=[a.pk, b.pk])
    assert OrderLine.objects.filter(order=target).count() == 2
    services.order_allocate(order_id=target.pk) if False else None
    services.order_unmerge(order_id=target.pk, why="buyer wants two parcels")
    for o in Order.objects.filter(pk__in=[a.pk, b.pk]):
        assert (o.status, o.total_quantity, o.paid_amount) == before[o.pk]
        assert o.merged_into_id is None and OrderLine.objects.filter(order=o).count() == 1
    target.refresh_from_db()
    assert target.status == OrderStatus.CLOSED


def test_split_by_hand_keeps_quantities_and_amounts(world):
    no_auto()
    ingest(world, norder("P1", lines=[line("A", 5, "10.00", discount=Decimal("3.00")), line("B", 1)]))
    order = Order.objects.get()
    a_line = OrderLine.objects.get(order=order, outer_id="A")
    a_line.paid = Decimal("47.00")
    a_line.save()
    parent, part = services.order_split(order_id=order.pk, lines={a_line.pk: 2})
    lines = OrderLine.objects.filter(origin_order=order)
    assert sum(ln.quantity for ln in lines if ln.outer_id == "A") == 5
    assert sum(ln.discount for ln in lines if ln.outer_id == "A") == Decimal("3.00")
    assert sum(ln.paid for ln in lines if ln.outer_id == "A") == Decimal("47.00")
    assert part.kind == OrderKind.SPLIT and part.split_from_id == order.pk and part.total_quantity == 2
    parent.refresh_from_db()
    assert parent.total_quantity == 4


def test_split_everything_or_nonsense_is_refused(world):
    no_auto()
    ingest(world, norder("P1", lines=[line("A", 2)]))
    order = Order.objects.get()
    ln = OrderLine.objects.get()
    with pytest.raises(Conflict):
        services.order_split(order_id=order.pk, lines={ln.pk: 2})
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.order_split(order_id=order.pk, lines={ln.pk: 3})
    with pytest.raises(Conflict):
        services.order_split(order_id=order.pk, mode="presale")


def test_split_presale_lines(world):
    no_auto()
    ingest(world, norder("P1", lines=[line("A")]), norder("P2", lines=[line("B")], is_presale=True))
    a, b = Order.objects.order_by("pk")
    b.is_presale = False  # pretend the presale was paid and merged with an in-stock order
    b.save()
    target = services.orders_merge(order_ids=[a.pk, b.pk])
    parent, part = services.order_split(order_id=target.pk, mode="presale")
    assert [ln.outer_id for ln in OrderLine.objects.filter(order=part)] == ["B"]


def test_mixed_presale_order_is_split_on_arrival_and_the_in_stock_part_ships_first(world, inv):
    inv.stock(1, "A", 5)  # B (the presale item) has no stock yet
    ingest(world, norder("MIX", lines=[line("A", qty=2, price="10.00"), line("B", qty=1, price="30.00", is_presale=True)]))
    origin = Order.objects.get(kind=OrderKind.PLATFORM)
    part = Order.objects.get(kind=OrderKind.SPLIT)
    assert part.split_from_id == origin.pk and part.is_presale and not origin.is_presale
    assert [(ln.outer_id, ln.quantity) for ln in OrderLine.objects.filter(order=origin)] == [("A", 2)]
    assert [(ln.outer_id, ln.quantity) for ln in OrderLine.objects.filter(order=part)] == [("B", 1)]
    assert origin.status == OrderStatus.ALLOCATED  # the in-stock lines go now
    assert part.status == OrderStatus.APPROVED and part.out_of_stock_since is not None  # waits for its stock
    assert origin.paid_amount + part.paid_amount == Decimal("50.00")
    assert origin.events.filter(code="split.presale").exists()
    inv.stock(1, "B", 1)
    services.orders_retry_out_of_stock()
    part.refresh_from_db()
    assert part.status == OrderStatus.ALLOCATED


def test_presale_split_can_be_turned_off(world, inv):
    no_auto(split_presale=False)
    ingest(world, norder("MIX2", lines=[line("A"), line("B", is_presale=True)]))
    assert Order.objects.count() == 1
    assert sorted(OrderLine.objects.values_list("is_presale", flat=True)) == [False, True]


def test_an_all_presale_order_is_not_split(world, inv):
    ingest(world, norder("PRE", lines=[line("A", is_presale=True), line("B", is_presale=True)]))
    assert Order.objects.count() == 1


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(quantities=st.lists(st.integers(1, 6), min_size=1, max_size=4), data=st.data())
def test_split_never_changes_totals(world, quantities, data):
    no_auto()
    Order.objects.all().delete()
    ingest(world, norder(lines=[line("A", q, "9.99", discount=Decimal("1.01")) for q in quantities]))
    order = Order.objects.get()
    lines = list(OrderLine.objects.filter(order=order))
    take = {ln.pk: data.draw(st.integers(0, ln.quantity)) for ln in lines}
    take = {k: v for k, v in take.items() if v}
    total = sum(quantities)
    if not take or sum(take.values()) == total:
        return
    services.order_split(order_id=order.pk, lines=take)
    after = OrderLine.objects.filter(origin_order=order)
    assert sum(ln.quantity for ln in after) == total
    assert sum(ln.discount for ln in after) == Decimal("1.01") * len(quantities)
