"""Review: the rules' verdict on an order (hold reasons or approval), re-review when its inputs
change, and the operator actions approve, hold, release and cancel."""

from __future__ import annotations

from django.db import transaction

from erp.api.exceptions import Conflict

from .. import ports
from ..models import (
    PLATFORM_HOLDS,
    BenefitKind,
    EventKind,
    HoldReason,
    Order,
    OrderBenefit,
    OrderEvent,
    OrderKind,
    OrderLine,
    OrderSettings,
    RefundState,
)
from ..rules import ReviewContext, review
from ._common import (
    RESERVED_STATES,
    WORKFLOW,
    S,
    _recount,
    _release_order,
    _SkuResolver,
)
from .benefits import apply_benefits


def _decide(order: Order, lines, platform_holds: set, ctx: ReviewContext | None, *, keep: set | frozenset = frozenset(),
            actor=None) -> list[OrderEvent]:
    """Run the review rules (when auto review is on) and set status + hold reasons. Returns events."""
    evs = []
    holds = set(platform_holds) | set(keep)
    if ctx is None:
        if holds:
            order.set_hold_reasons(holds)
            order.status = S.ON_HOLD
            evs.append(WORKFLOW.event(order, EventKind.RULE, "hold", "on hold: " + ", ".join(sorted(holds)),
                                      to_status=S.ON_HOLD))
        else:
            order.set_hold_reasons(())
            order.status = S.PENDING_REVIEW
            evs.append(WORKFLOW.event(order, EventKind.RULE, "review.manual",
                                      "auto review is off: waiting for an operator", to_status=S.PENDING_REVIEW))
        return evs
    found = review(order, lines, ctx)
    for reason, why in found:
        holds.add(reason)
        evs.append(WORKFLOW.event(order, EventKind.RULE, f"hold.{reason}", why, actor=actor, data={"reason": reason}))
    for reason in sorted(set(platform_holds)):
        evs.append(WORKFLOW.event(order, EventKind.RULE, f"hold.{reason}", f"platform hold: {reason}",
                                  data={"reason": reason}))
    order.set_hold_reasons(holds)
    order.status = S.ON_HOLD if holds else S.APPROVED
    if not holds:
        evs.append(WORKFLOW.event(order, EventKind.RULE, "approved.auto", "auto review: every rule passed",
                                  to_status=S.APPROVED))
    return evs


def _rereview(order: Order, settings: OrderSettings, *, platform_holds: set, why: str, actor=None) -> None:
    """Run the rules again for an unshipped order (an allocated one releases its stock first)."""
    lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    _recount(order, lines, settings)
    evs = []
    before = order.status
    if order.status in RESERVED_STATES:
        ev = _release_order(order, why)
        evs += [ev] if ev else []
        order.status = S.APPROVED
    active = [ln for ln in lines if not ln.is_stopped]
    if not active and HoldReason.REFUND not in platform_holds:
        ev = WORKFLOW.set_status(order, S.CANCELLED, why=f"no line left to ship ({why})", code="cancelled.no_lines",
                                 save=False)
        evs += [ev] if ev else []
        order.set_hold_reasons(())
    else:
        keep = {HoldReason.MANUAL} & set(order.hold_reason_list)
        ctx = ReviewContext.load(settings=settings, orders=[order]) if settings.auto_review else None
        if ctx is not None:
            ctx.place_counts[order.place_hash] += 1
        for ev in _decide(order, lines, platform_holds, ctx, keep=keep, actor=actor):
            if ev.to_status:
                if ev.to_status == before:
                    continue
                ev.from_status = before
            evs.append(ev)
    if order.status == S.APPROVED:  # member benefits (gift lines, free shipping), once per order
        _changed, benefit_evs = apply_benefits([order], {order.pk: [ln for ln in lines if not ln.is_stopped]},
                                               settings=settings)
        evs += benefit_evs
    if order.status != S.APPROVED:
        order.out_of_stock_since = None
    order.save()
    OrderEvent.objects.bulk_create(evs)


def _platform_holds_for(owner: Order) -> set:
    """Platform holds of a merged shipment or split part: those of the platform orders behind it."""
    root = owner
    seen = set()
    while root.kind == OrderKind.SPLIT and root.split_from_id and root.pk not in seen:
        seen.add(root.pk)
        root = Order.objects.get(pk=root.split_from_id)
    if root.kind == OrderKind.MERGED:
        holds = set()
        for reasons in Order.objects.filter(merged_into=root).values_list("hold_reasons", flat=True):
            holds |= {r for r in reasons.split(",") if r}
    else:
        holds = set(root.hold_reason_list)
    return (holds & PLATFORM_HOLDS) - {HoldReason.REFUND}


def _recheck_owner(owner: Order, settings: OrderSettings) -> None:
    """A merged shipment or split part (or any order) whose lines or platform holds changed."""
    holds = _platform_holds_for(owner)
    if OrderLine.objects.filter(order=owner, refund_state=RefundState.REQUESTED).exists():
        holds.add(HoldReason.REFUND)
    _rereview(owner, settings, platform_holds=holds, why="lines changed")


# --- operator actions: review -----------------------------------------------------------------------
@transaction.atomic
def order_approve(*, order_id: int, actor=None, why: str = "") -> Order:
    """An operator approves: a held order is released past its rule holds (platform holds stay)."""
    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "approve")
    platform = set(order.hold_reason_list) & PLATFORM_HOLDS
    if platform:
        raise Conflict(f"Order {order.display_no} waits for the platform ({', '.join(sorted(platform))}); "
                       "it cannot be approved by hand.")
    _require_matched(order)
    ev = WORKFLOW.set_status(order, S.APPROVED, why=why or "approved by an operator", code="approved.manual",
                             actor=actor, kind=EventKind.ACTION, data={"released": order.hold_reason_list}, save=False)
    order.set_hold_reasons(())
    order.save()
    ev.save()
    return order


def _require_matched(order: Order) -> None:
    """Unmatched lines are resolved again (the mapping may exist now); still none: 409."""
    missing = list(OrderLine.objects.filter(order=order, sku_id__isnull=True, is_stopped=False))
    if not missing:
        return
    resolve = _SkuResolver(order.shop)
    still = []
    for line in missing:
        sku = resolve(line.platform_item_id, line.platform_sku_id, line.outer_id)
        if sku is None:
            still.append(line.outer_id or line.platform_sku_id or str(line.pk))
        else:
            line.sku_id, line.sku_code, line.weight_g = sku.id, sku.code[:128], sku.weight_g
            line.save(update_fields=["sku_id", "sku_code", "weight_g"])
    if still:
        raise Conflict(f"Order {order.display_no} has lines without a SKU ({', '.join(still[:5])}): map them first.")


@transaction.atomic
def order_hold(*, order_id: int, actor=None, why: str = "", reason: str = HoldReason.MANUAL) -> Order:
    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "hold")
    if reason not in HoldReason.values or reason in PLATFORM_HOLDS:
        from django.core.exceptions import ValidationError

        raise ValidationError({"reason": f"not a hold reason an operator may set: {reason}"})
    evs = []
    if order.status in RESERVED_STATES:
        ev = _release_order(order, "held by an operator")
        evs += [ev] if ev else []
    order.set_hold_reasons(set(order.hold_reason_list) | {reason})
    ev = WORKFLOW.set_status(order, S.ON_HOLD, why=why or "held by an operator", code=f"hold.{reason}", actor=actor,
                             kind=EventKind.ACTION, data={"reason": reason}, save=False)
    evs += [ev] if ev else [WORKFLOW.event(order, EventKind.ACTION, f"hold.{reason}", why or "hold reason added",
                                           actor=actor, data={"reason": reason})]
    order.out_of_stock_since = None
    order.save()
    OrderEvent.objects.bulk_create(evs)
    return order


@transaction.atomic
def order_release(*, order_id: int, actor=None, why: str = "", reasons: list[str] | None = None) -> Order:
    """Clear hold reasons (all an operator may clear by default); with none left, the order is approved."""
    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "release")
    current = set(order.hold_reason_list)
    wanted = set(reasons) if reasons else current - PLATFORM_HOLDS
    blocked = wanted & PLATFORM_HOLDS
    if blocked:
        raise Conflict(f"Only the platform can clear {', '.join(sorted(blocked))} on order {order.display_no}.")
    left = current - wanted
    if not left:
        _require_matched(order)
    order.set_hold_reasons(left)
    evs = [WORKFLOW.event(order, EventKind.ACTION, "released",
                          why or f"released {', '.join(sorted(wanted & current)) or '-'}",
                          actor=actor, data={"released": sorted(wanted & current)})]
    if not left:
        ev = WORKFLOW.set_status(order, S.APPROVED, why="no hold reason left", code="approved.released", actor=actor,
                                 kind=EventKind.ACTION, save=False)
        evs.append(ev)
    order.save()
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return order


@transaction.atomic
def order_cancel(*, order_id: int, actor=None, why: str = "") -> Order:
    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "cancel")
    evs = []
    if order.status in RESERVED_STATES:
        ev = _release_order(order, "cancelled")
        evs += [ev] if ev else []
    OrderLine.objects.filter(order=order).update(is_stopped=True)
    ev = WORKFLOW.set_status(order, S.CANCELLED, why=why or "cancelled by an operator", code="cancelled.manual",
                             actor=actor, kind=EventKind.ACTION, save=False)
    evs.append(ev)
    order.set_hold_reasons(())
    order.out_of_stock_since = None
    order.save()
    if OrderBenefit.objects.filter(order=order, kind=BenefitKind.POINTS_GIFT).exists():
        released = ports.gifts_release(order_id=order.pk)  # points gifts go to the member's next order
        if released:
            evs.append(WORKFLOW.event(order, EventKind.RULE, "benefit.released",
                                      f"points gifts {', '.join(map(str, released))} wait for the next order",
                                      data={"entitlements": released}))
    if order.kind == OrderKind.MERGED:
        for source in WORKFLOW.lock_many(Order.objects.filter(merged_into=order).values_list("pk", flat=True)):
            e = WORKFLOW.set_status(source, S.CANCELLED, why=f"its merged shipment M{order.pk} was cancelled",
                                    actor=actor, kind=EventKind.ACTION, save=False)
            source.save()
            evs.append(e)
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return order
