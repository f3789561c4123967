"""State machine and operator actions: every refused action is a 409 with a reason and changes nothing."""

import pytest

from erp.api.exceptions import Conflict
from orders import services
from orders.models import HoldReason, Order, OrderEvent, OrderLine, OrderStatus
from orders.services import ACTION_STATES, TRANSITIONS, orders_ingest_normalized

from .conftest import line, norder

pytestmark = pytest.mark.django_db


def make(shop, poid="P1", **kw):
    orders_ingest_normalized(shop=shop, normalized=[norder(poid, **kw)])
    return Order.objects.get(platform_order_id=poid)


def test_transition_table_covers_every_status():
    assert set(TRANSITIONS) == set(OrderStatus.values)
    for action, states in ACTION_STATES.items():
        assert states <= set(OrderStatus.values), action


def test_hold_release_approve_with_timeline(world, tenant_a, inv):
    user = tenant_a.members["operator"].user
    order = make(world, buyer_message="gift wrap")
    assert order.status == OrderStatus.ON_HOLD
    services.order_hold(order_id=order.pk, actor=user, why="check the stock photo")
    order.refresh_from_db()
    assert set(order.hold_reason_list) == {HoldReason.BUYER_MESSAGE, HoldReason.MANUAL}
    services.order_release(order_id=order.pk, actor=user, reasons=[HoldReason.MANUAL])
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD and order.hold_reason_list == [HoldReason.BUYER_MESSAGE]
    services.order_approve(order_id=order.pk, actor=user, why="remark is harmless")
    order.refresh_from_db()
    assert order.status == OrderStatus.APPROVED and order.hold_reasons == ""
    last = OrderEvent.objects.filter(order=order).last()
    assert (last.actor, last.from_status, last.to_status, last.message) == (user, "on_hold", "approved", "remark is harmless")


def test_hold_after_allocation_releases_stock(world, inv):
    inv.stock(1, "A", 3)
    order = make(world)
    assert order.status == OrderStatus.ALLOCATED and inv.reservations
    services.order_hold(order_id=order.pk, why="customer called")
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD and not inv.reservations
    assert not OrderLine.objects.filter(order=order, is_reserved=True).exists()


@pytest.mark.parametrize("action", ["approve", "release", "allocate", "ship", "pick", "split", "unmerge"])
def test_wrong_state_is_a_conflict_and_changes_nothing(world, inv, action):
    inv.stock(1, "A", 3)
    order = make(world)
    services.order_cancel(order_id=order.pk, why="test")
    before = (Order.objects.filter(pk=order.pk).values().get(), OrderEvent.objects.count())
    call = {
        "approve": lambda: services.order_approve(order_id=order.pk),
        "release": lambda: services.order_release(order_id=order.pk),
        "allocate": lambda: services.order_allocate(order_id=order.pk),
        "ship": lambda: services.order_ship(order_id=order.pk),
        "pick": lambda: services.order_pick(order_id=order.pk),
        "split": lambda: services.order_split(order_id=order.pk, lines={1: 1}),
        "unmerge": lambda: services.order_unmerge(order_id=order.pk),
    }[action]
    with pytest.raises(Conflict) as exc:
        call()
    assert "cancelled" in str(exc.value.detail).lower() or "not a merged" in str(exc.value.detail)
    assert (Order.objects.filter(pk=order.pk).values().get(), OrderEvent.objects.count()) == before


def test_platform_holds_cannot_be_released_by_hand(world):
    order = make(world, is_presale=True, presale_fully_paid=False)
    with pytest.raises(Conflict):
        services.order_approve(order_id=order.pk)
    with pytest.raises(Conflict):
        services.order_release(order_id=order.pk, reasons=[HoldReason.PRESALE_UNPAID])


def test_unmatched_sku_blocks_approval_until_mapped(world, inv):
    order = make(world, lines=[line("NEW")])
    with pytest.raises(Conflict):
        services.order_release(order_id=order.pk)
    inv.add_sku("NEW", 77)
    services.order_release(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.APPROVED
    assert OrderLine.objects.get(order=order).sku_id == 77


def test_bulk_action_reports_per_order(world, inv):
    held = make(world, "H", buyer_message="x")
    cancelled = make(world, "C", buyer_message="y")
    services.order_cancel(order_id=cancelled.pk)
    results = services.orders_bulk_action(action="approve", order_ids=[held.pk, cancelled.pk, 999999])
    assert results[held.pk] == "ok" and "Cancelled" in results[cancelled.pk] and results[999999] == "not found"


def test_cancel_releases_stock(world, inv):
    inv.stock(1, "A", 3)
    order = make(world)
    services.order_cancel(order_id=order.pk, why="buyer asked")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and not inv.reservations
