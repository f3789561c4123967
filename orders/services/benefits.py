"""Member benefits applied by the order review, once per order: free and priority shipping of the
member's level (recorded on the order and used by the carrier choice), the level's discount
(recorded), the level's gift and the gifts the member bought with points (gift lines, price 0,
reserving stock like any line; a points gift is consumed once, by the first order that takes it).

Every benefit applied is an ``OrderBenefit`` row whose ``key`` is unique per order, so a second
review (or a second allocation attempt) adds nothing. Members is read and written only through
orders.ports (members.selectors.buyer_benefits, members.services.rewards.gifts_consume)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from .. import bulk, ports
from ..models import BenefitKind, EventKind, Order, OrderBenefit, OrderEvent, OrderKind, OrderLine
from ._common import WORKFLOW, S

if TYPE_CHECKING:
    from .ingest import _Pending

CENT = Decimal("0.01")
_OPEN = frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED})


def _gift_line(order: Order, origin_id: int, origin_poid: str, gift, key: str, weight_g: int) -> OrderLine:
    line = OrderLine(
        tenant_id=order.tenant_id, order_id=order.pk, origin_order_id=origin_id, platform_order_id=origin_poid,
        platform_line_id=key[:64], outer_id=(gift.sku_code or "")[:128],
        title=f"[gift] {gift.title or gift.sku_code}"[:300], sku_id=gift.sku_id, sku_code=(gift.sku_code or "")[:128],
        quantity=gift.quantity, price=Decimal("0.00"), discount=Decimal("0.00"), paid=Decimal("0.00"),
        weight_g=weight_g, is_gift=True)
    return line


def apply_benefits(orders: list[Order], lines_by: dict[int, list[OrderLine]], *, settings,
                   pending: _Pending | None = None) -> tuple[list[Order], list[OrderEvent]]:
    """Apply the benefits of each order's member (platform orders and merged shipments still open,
    with a buyer); gift lines join ``lines_by`` (so allocation reserves them) and the order's counts.
    Returns (stored orders whose fields changed, timeline events to write). Constant queries for a
    batch without members: one read of the benefits already applied, one of the buyers' members."""
    wanted = [o for o in orders if o.pk and o.buyer_id and o.status in _OPEN
              and o.kind in (OrderKind.PLATFORM, OrderKind.MERGED)]
    if not wanted:
        return [], []
    by_platform: dict[str, set] = {}
    for o in wanted:
        by_platform.setdefault(o.platform, set()).add(o.buyer_id)
    found = {}
    for platform, buyers in by_platform.items():
        for buyer, b in ports.buyer_benefits(platform=platform, buyer_ids=buyers).items():
            found[(platform, buyer)] = b
    wanted = [o for o in wanted if (o.platform, o.buyer_id) in found]
    if not wanted:
        return [], []
    stored = [o.pk for o in wanted if pending is None or not pending.is_pending(o)]
    done: dict[int, set] = {}
    if stored:
        for order_id, key in OrderBenefit.objects.filter(order_id__in=stored).values_list("order_id", "key"):
            done.setdefault(order_id, set()).add(key)
        merged = [o.pk for o in wanted if o.kind == OrderKind.MERGED]
        if merged:  # a merged shipment carries the benefits its platform orders already got
            for into, key in OrderBenefit.objects.filter(order__merged_into_id__in=merged).values_list(
                    "order__merged_into_id", "key"):
                done.setdefault(into, set()).add(key)
    gift_skus = sorted({g.sku_id for o in wanted for g in found[(o.platform, o.buyer_id)].gifts})
    weights = {pk: s.weight_g for pk, s in ports.inventory().skus_by_id(sku_ids=gift_skus).items()} if gift_skus else {}
    taken: set[int] = set()  # points gifts given in this batch (each goes to one order only)
    benefits, new_lines, evs, changed = [], [], [], []
    for order in wanted:
        b = found[(order.platform, order.buyer_id)]
        have = done.get(order.pk, set())
        order._priority_shipping = b.priority_shipping or "priority_shipping" in have
        lines = lines_by.setdefault(order.pk, [])
        rows: list[tuple[OrderBenefit, OrderLine | None]] = []
        level = {"member_id": b.member_id, "level_rank": b.level_rank, "level_name": b.level_name[:50]}
        if b.free_shipping and "free_shipping" not in have:
            order.free_shipping = True
            rows.append((OrderBenefit(order=order, kind=BenefitKind.FREE_SHIPPING, key="free_shipping", **level,
                                      detail=f"level {b.level_name}: free shipping, the seller bears the freight"), None))
        if b.priority_shipping and "priority_shipping" not in have:
            rows.append((OrderBenefit(order=order, kind=BenefitKind.PRIORITY_SHIPPING, key="priority_shipping", **level,
                                      detail=f"level {b.level_name}: priority shipping, fastest carrier"), None))
        if b.discount_percent and b.discount_percent > 0 and "level_discount" not in have:
            value = (order.goods_amount * b.discount_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            rows.append((OrderBenefit(order=order, kind=BenefitKind.LEVEL_DISCOUNT, key="level_discount", amount=value,
                                      **level, detail=f"level {b.level_name}: {b.discount_percent}% off goods "
                                                      f"{order.goods_amount} = {value}"), None))
        origin = lines[0] if lines else None
        origin_id = origin.origin_order_id if origin is not None else order.pk
        origin_poid = origin.platform_order_id if origin is not None else order.platform_order_id
        points_gifts = [g for g in b.gifts if g.entitlement_id and g.entitlement_id not in taken
                        and f"points_gift:{g.entitlement_id}" not in have]
        consumed = set(ports.gifts_consume(order_id=order.pk, entitlement_ids=[g.entitlement_id for g in points_gifts]))
        for g in b.gifts:
            if g.entitlement_id is None:
                key, kind, why = "level_gift", BenefitKind.LEVEL_GIFT, f"level {b.level_name}: gift"
            elif g.entitlement_id in consumed:
                key, kind, why = f"points_gift:{g.entitlement_id}", BenefitKind.POINTS_GIFT, f"bought with points: {g.title}"
                taken.add(g.entitlement_id)
            else:
                continue
            if key in have:
                continue
            line = _gift_line(order, origin_id, origin_poid, g, f"gift:{key}", weights.get(g.sku_id, 0))
            rows.append((OrderBenefit(order=order, kind=kind, key=key, entitlement_id=g.entitlement_id, **level,
                                      detail=f"{why}, {g.sku_code} × {g.quantity}"[:300]), line))
        if not rows:
            continue
        for benefit, line in rows:
            benefit.tenant_id = order.tenant_id
            if line is not None:
                line._state.fields_cache["order"] = order
                lines.append(line)
                new_lines.append(line)
                order.line_count += 1
                order.total_quantity += line.quantity
                order.weight_g += (line.weight_g or settings.default_weight_g) * line.quantity
            benefits.append((benefit, line))
            evs.append(WORKFLOW.event(order, EventKind.RULE, f"benefit.{benefit.kind}", benefit.detail,
                                      data={"member_id": b.member_id, "key": benefit.key}))
        if pending is None or not pending.is_pending(order):
            changed.append(order)
    if pending is not None:
        fresh = [ln for ln in new_lines if pending.is_pending(ln.order)]
        bulk.assign_ids(OrderLine, fresh)
        pending.lines += fresh
        bulk.insert(OrderLine, [ln for ln in new_lines if not pending.is_pending(ln.order)], with_ids=True)
    else:
        bulk.insert(OrderLine, new_lines, with_ids=True)
    for benefit, line in benefits:
        benefit.order_id = benefit.order.pk
        benefit.line_id = line.pk if line is not None else None
    OrderBenefit.objects.bulk_create([bf for bf, _ in benefits])
    return changed, evs
