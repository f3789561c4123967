"""What the warehouse app writes on an order: timeline entries from the warehouse floor and the
carrier (parcel packed, tracking events), what a warehouse actually shipped; and the ship action of
the order's page and API, which takes the carrier's electronic waybill through the warehouse app."""

from __future__ import annotations

from django.db import transaction

from ..models import EventKind, Order
from ._common import WORKFLOW


@transaction.atomic
def order_timeline_note(*, order_id: int, code: str, message: str, data: dict | None = None, actor=None) -> None:
    """Add one entry to the order's timeline (no status change). Unknown order: nothing."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return
    WORKFLOW.event(order, EventKind.ACTION if actor else EventKind.SYSTEM, code, message, actor=actor,
                   data=data or {}).save()


@transaction.atomic
def order_waybill_weighed(*, order_id: int, tracking_no: str, weight_g: int, cost) -> int:
    """The warehouse weighed the parcel: the order's waybill of this tracking number gets the real
    weight and the carrier's freight (instead of the estimate made when it shipped). Returns rows changed."""
    from ..models import Waybill

    return Waybill.objects.filter(order_id=order_id, tracking_no=tracking_no).update(weight_g=int(weight_g), cost=cost)


@transaction.atomic
def order_ship_with_waybill(*, order_id: int, actor=None, tracking_no: str = "", carrier_code: str = "") -> Order:
    """The ship action of the order's page, the orders API and the bulk action. With a tracking
    number (a waybill written elsewhere) the order ships with it; without one the carrier of the
    order's warehouse issues the electronic waybill (orders.ports.carrier_ship) and the order ships
    with the carrier's tracking number, which the platform receives. A carrier refusal is a Conflict
    (409 / the page's error) and nothing is stored."""
    from .shipping import order_ship

    if (tracking_no or "").strip():
        return order_ship(order_id=order_id, actor=actor, tracking_no=tracking_no.strip(), carrier_code=carrier_code)
    from .. import ports

    WORKFLOW.check(WORKFLOW.lock(order_id), "ship")  # refused before the carrier is asked
    ports.carrier_ship(order_id=order_id, actor=actor)
    return Order.objects.get(pk=order_id)


@transaction.atomic
def order_ship_partial(*, order_id: int, shipped: dict[int, int], tracking_no: str, carrier_code: str,
                       why: str = "", actor=None) -> tuple[Order, Order | None]:
    """Ship what a warehouse actually shipped ({line id: units}, e.g. a third-party warehouse's
    confirmation): the shipped units are committed (order_ship), the unshipped ones are carved off
    into a split part whose reservation is released and which is put on hold for an operator to
    look at (the order's timeline says why). Returns (the shipped order, the held part or None).
    Nothing shipped at all: the order's stock is released and the order is held; nothing ships."""
    from django.core.exceptions import ValidationError

    from .. import ports
    from ..models import EventKind, HoldReason, OrderEvent, OrderLine
    from ..ports import WarehouseInfo
    from ._common import S, _release_order
    from .shipping import order_ship
    from .split import _carve

    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "ship")
    lines = list(OrderLine.objects.filter(order=order, is_stopped=False).order_by("pk"))
    short = []
    for ln in lines:
        units = int(shipped.get(ln.pk, 0) or 0)
        if not 0 <= units <= ln.quantity:
            raise ValidationError({"shipped": [f"line {ln.pk}: 0..{ln.quantity} units"]})
        if units < ln.quantity:
            short.append((ln, ln.quantity - units))
    if not short:
        return order_ship(order_id=order.pk, actor=actor, tracking_no=tracking_no, carrier_code=carrier_code), None
    why = why or "the warehouse shipped fewer units than ordered"
    if sum(q for _, q in short) == sum(ln.quantity for ln in lines):
        evs = [_release_order(order, why)]
        order.set_hold_reasons(set(order.hold_reason_list) | {HoldReason.MANUAL})
        evs.append(WORKFLOW.set_status(order, S.ON_HOLD, why=f"nothing shipped: {why}", code="ship.short",
                                       actor=actor, kind=EventKind.SYSTEM, data={"shipped": {}}, save=False))
        order.save()
        OrderEvent.objects.bulk_create([e for e in evs if e])
        return order, None
    inv = ports.inventory()
    warehouse_id = order.warehouse_id
    for ln, _missing in short:
        if ln.is_reserved:
            inv.release(ref_id=str(ln.pk))
            ln.is_reserved = False
    OrderLine.objects.bulk_update([ln for ln, _ in short], ["is_reserved"])
    part = _carve(order, short, why=why, code="split.short_ship", actor=actor)
    # the lines that keep some units hold a reservation of exactly what left the warehouse again
    kept = [ln for ln, _missing in short if ln.order_id == order.pk]
    if kept:
        inv.reserve_many(warehouse=WarehouseInfo(id=warehouse_id), shop=order.shop,
                         items=[(ln.sku_id, ln.quantity, str(ln.pk)) for ln in kept])
        OrderLine.objects.filter(pk__in=[ln.pk for ln in kept]).update(is_reserved=True, warehouse_id=warehouse_id)
    OrderLine.objects.filter(order=part).update(is_reserved=False, warehouse_id=None)
    part.warehouse_id, part.allocated_at = None, None
    part.set_hold_reasons(set(part.hold_reason_list) | {HoldReason.MANUAL})
    ev = WORKFLOW.set_status(part, S.ON_HOLD, why=f"not shipped: {why}", code="ship.short", actor=actor,
                             kind=EventKind.SYSTEM, save=False)
    part.save()
    OrderEvent.objects.bulk_create([e for e in (ev, WORKFLOW.event(
        order, EventKind.SYSTEM, "ship.short", f"short-shipped: {why}; the missing units wait in {part.display_no}",
        data={"part": part.pk, "missing": {str(ln.pk): q for ln, q in short}})) if e])
    shipped_order = order_ship(order_id=order.pk, actor=actor, tracking_no=tracking_no, carrier_code=carrier_code)
    return shipped_order, part
