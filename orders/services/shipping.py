"""Shipping: waybill, stock committed through inventory, the shipment pushed to each platform order."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from erp import events
from erp.api.exceptions import Conflict

from .. import ports
from ..allocation import shipping_cost
from ..models import CarrierRule, EventKind, Order, OrderEvent, OrderKind, OrderLine, Waybill
from ._common import WORKFLOW, S, order_settings


# --- shipping ---------------------------------------------------------------------------------------
def mock_tracking_no(*, carrier_code: str, tenant_id: int, order_id: int) -> str:
    body = f"{tenant_id % 10000:04d}{order_id:010d}"
    check = sum((i % 2 + 1) * int(d) for i, d in enumerate(body)) % 10
    prefix = "".join(ch for ch in carrier_code.upper() if ch.isalnum())[:4] or "MOCK"
    return f"{prefix}{body}{check}"


@transaction.atomic
def order_ship(*, order_id: int, actor=None, tracking_no: str = "", carrier_code: str = "") -> Order:
    """Waybill, stock committed through inventory, shipment pushed to each platform order (outbox)."""
    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "ship")
    lines = list(OrderLine.objects.filter(order=order, is_stopped=False).order_by("pk"))
    if not lines:
        raise Conflict(f"Order {order.display_no} has no line left to ship.")
    unreserved = [ln for ln in lines if not ln.is_reserved]
    if unreserved:
        raise Conflict(f"Order {order.display_no} has lines without reserved stock; allocate it again.")
    settings = order_settings()
    carrier = carrier_code or order.carrier_code or settings.default_carrier_code
    tracking = tracking_no or mock_tracking_no(carrier_code=carrier, tenant_id=order.tenant_id, order_id=order.pk)
    rules = list(CarrierRule.objects.filter(is_active=True, carrier_code=carrier))
    cost = Decimal("0.00")
    if rules:
        cost = min(shipping_cost(r, order.weight_g) for r in rules)
    Waybill.objects.create(order=order, carrier_code=carrier, tracking_no=tracking, warehouse_id=order.warehouse_id,
                           weight_g=order.weight_g, cost=cost)
    inv = ports.inventory()
    source_doc = f"order:{order.pk}"
    for ln in lines:
        inv.commit(ref_id=str(ln.pk), source_doc=source_doc)
        ln.is_committed, ln.is_reserved = True, False
    OrderLine.objects.bulk_update(lines, ["is_committed", "is_reserved"])
    # one push per platform order in this parcel; lines named when the parcel carries only part of it
    origins = {o.pk: o for o in Order.objects.select_related("shop").filter(pk__in={ln.origin_order_id for ln in lines})}
    origin_line_counts = dict(OrderLine.objects.filter(origin_order_id__in=list(origins)).values_list("origin_order_id")
                              .order_by().annotate(n=Count("id")))
    pushes = []
    by_origin: dict[int, list[OrderLine]] = defaultdict(list)
    for ln in lines:
        by_origin[ln.origin_order_id].append(ln)
    integ = ports.integrations()
    for origin_id, its in sorted(by_origin.items()):
        origin = origins[origin_id]
        if origin.kind == OrderKind.RESHIP:
            continue  # the platform order shipped long ago: a reshipment is ours alone
        partial = len(its) < origin_line_counts.get(origin_id, 0) or order.kind == OrderKind.SPLIT
        push_lines = sorted({ln.platform_line_id for ln in its if not ln.is_gift}) if partial else None
        if partial and not push_lines:
            continue  # a parcel of gift lines only: nothing of the platform order ships in it
        integ.shipment_push_enqueue(shop=origin.shop, platform_order_id=origin.platform_order_id, carrier_code=carrier,
                                    tracking_no=tracking, lines=push_lines)
        pushes.append(origin.platform_order_id)
    order.carrier_code = carrier
    order.tracking_no = tracking
    order.shipped_at = timezone.now()
    evs = [WORKFLOW.set_status(order, S.SHIPPED, why=f"shipped with {carrier} {tracking}", code="shipped",
                               actor=actor, kind=EventKind.ACTION if actor else EventKind.SYSTEM,
                               data={"tracking_no": tracking, "carrier": carrier, "pushed": pushes}, save=False)]
    order.save()
    if order.kind == OrderKind.MERGED:
        for source in WORKFLOW.lock_many(Order.objects.filter(merged_into=order).values_list("pk", flat=True)):
            evs.append(WORKFLOW.set_status(source, S.SHIPPED, why=f"shipped in M{order.pk} with {carrier} {tracking}",
                                           code="shipped", actor=actor, kind=EventKind.SYSTEM, save=False))
            source.carrier_code, source.tracking_no, source.shipped_at = carrier, tracking, order.shipped_at
            source.save()
    OrderEvent.objects.bulk_create([e for e in evs if e])
    events.publish("order.shipped", order_id=order.pk)
    return order
