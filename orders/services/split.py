"""Splitting an order into parts (by hand, presale vs in-stock lines, by warehouse stock): lines
and amounts are carved off into a split part, keeping every sum."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction

from erp.api.exceptions import Conflict
from erp.money import CENT

from ..models import EventKind, Order, OrderEvent, OrderKind, OrderLine, OrderSettings
from ._common import WORKFLOW, _recount, order_settings


# --- split ------------------------------------------------------------------------------------------
def _share(amount: Decimal, part: int, whole: int) -> Decimal:
    return (amount * part / whole).quantize(CENT, rounding=ROUND_HALF_UP) if whole else Decimal("0.00")


def _carve(order: Order, items: list[tuple[OrderLine, int]], *, why: str, code: str, actor=None,
           settings: OrderSettings | None = None) -> Order:
    """Move (line, quantity) pairs into a new split part of ``order``. Quantities are kept: a line
    split in two keeps the sum of its quantity, discount and paid amount."""
    settings = settings or order_settings()
    part = Order(tenant_id=order.tenant_id, shop_id=order.shop_id, kind=OrderKind.SPLIT, split_from=order)
    for f in Order._meta.concrete_fields:
        if f.name in ("id", "kind", "split_from", "merged_into", "created_at", "updated_at", "tenant", "shop",
                      "warehouse_id", "carrier_code", "tracking_no", "allocated_at", "shipped_at", "out_of_stock_since",
                      "freight_amount"):
            continue
        setattr(part, f.attname, getattr(order, f.attname))
    part.freight_amount = Decimal("0.00")
    if code == "split.presale":
        part.is_presale = True
    part.save()
    moved, new_lines = [], []
    for line, qty in items:
        if qty == line.quantity:
            line.order = part
            moved.append(line)
            continue
        piece = OrderLine(tenant_id=line.tenant_id, order=part, quantity=qty,
                          discount=_share(line.discount, qty, line.quantity), paid=_share(line.paid, qty, line.quantity))
        for f in ("origin_order_id", "platform_order_id", "platform_line_id", "platform_item_id", "platform_sku_id",
                  "outer_id", "title", "sku_properties", "sku_id", "sku_code", "price", "is_presale", "weight_g",
                  "refund_state", "refund_version", "platform_refund_id"):
            setattr(piece, f, getattr(line, f))
        line.quantity -= qty
        line.discount -= piece.discount
        line.paid -= piece.paid
        moved.append(line)
        new_lines.append(piece)
    OrderLine.objects.bulk_update(moved, ["order", "quantity", "discount", "paid"])
    OrderLine.objects.bulk_create(new_lines)
    for o in (order, part):
        lines = list(OrderLine.objects.filter(order=o))
        _recount(o, lines, settings)
        active = [ln for ln in lines if not ln.is_stopped]
        o.goods_amount = sum((ln.price * ln.quantity for ln in active), Decimal("0.00"))
        o.discount_amount = sum((ln.discount for ln in active), Decimal("0.00"))
        o.paid_amount = sum((ln.paid for ln in active), Decimal("0.00")) + (o.freight_amount if o is order else 0)
    order.save()
    part.save()
    kind = EventKind.ACTION if actor else EventKind.RULE
    OrderEvent.objects.bulk_create([
        WORKFLOW.event(order, kind, code, f"split off {part.display_no}: {why}", actor=actor, data={"part": part.pk}),
        WORKFLOW.event(part, kind, code, f"split from {order.display_no}: {why}", actor=actor, to_status=part.status,
                       data={"split_from": order.pk}),
    ])
    return part


@transaction.atomic
def order_split(*, order_id: int, mode: str = "manual", lines: dict[int, int] | None = None, actor=None,
                why: str = "") -> list[Order]:
    """Split by hand ({line id: quantity} moves to a new part) or by presale vs in-stock lines."""
    from django.core.exceptions import ValidationError

    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "split")
    current = list(OrderLine.objects.filter(order=order, is_stopped=False).order_by("pk"))
    if mode == "presale":
        items = [(ln, ln.quantity) for ln in current if ln.is_presale]
        if not items or len(items) == len(current):
            raise Conflict(f"Order {order.display_no} does not mix presale and in-stock lines.")
        return [order, _carve(order, items, why=why or "presale lines ship when the presale ships", code="split.presale",
                              actor=actor)]
    if mode != "manual":
        raise ValidationError({"mode": "manual or presale (stock splits happen at allocation)"})
    by_id = {ln.pk: ln for ln in current}
    items = []
    for raw_id, raw_qty in (lines or {}).items():
        try:
            line_id, qty = int(raw_id), int(raw_qty)
        except (TypeError, ValueError):
            raise ValidationError({"lines": f"not a line id and quantity: {raw_id!r}: {raw_qty!r}"})
        line = by_id.get(line_id)
        if line is None:
            raise ValidationError({"lines": f"line {line_id} is not an open line of this order"})
        if not 0 < qty <= line.quantity:
            raise ValidationError({"lines": f"line {line_id}: quantity must be 1..{line.quantity}"})
        if qty:
            items.append((line, qty))
    if not items:
        raise ValidationError({"lines": "pick at least one line and quantity to split off"})
    if sum(q for _, q in items) == sum(ln.quantity for ln in current):
        raise Conflict("Splitting off everything leaves nothing behind; pick fewer lines or units.")
    return [order, _carve(order, items, why=why or "split by an operator", code="split.manual", actor=actor)]
