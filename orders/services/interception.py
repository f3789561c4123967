"""The platform changes an order we have: a newer version (holds, review inputs, line refunds),
a cancellation, a shipment outside the ERP, platform refunds (before shipment the line stops and its
stock is released; after shipment an after-sales case opens). Handler of ``platform_refunds.changed``."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from erp import events
from integrations.ports import NormalizedOrder, NormalizedRefund, OrderState
from integrations.selectors import shop_get

from .. import ports
from ..models import (
    PLATFORM_HOLDS,
    EventKind,
    HoldReason,
    Order,
    OrderEvent,
    OrderKind,
    OrderLine,
    OrderSettings,
    RefundState,
)
from ..status_mapping import PRE_SHIPMENT, map_order
from ._common import (
    RESERVED_STATES,
    WORKFLOW,
    S,
    _fill_from_normalized,
    _recount,
    _release_lines,
    _release_order,
    order_settings,
)
from .allocation import _allocate
from .review import _recheck_owner, _rereview


def _apply_update(order: Order, n: NormalizedOrder, settings: OrderSettings) -> list[int]:
    """A newer platform version of an order we have. Returns ids of orders now approved."""
    before_inputs = (order.buyer_message, order.seller_memo, order.seller_flag, order.address_hash, order.paid_amount)
    before_holds = set(order.hold_reason_list) & PLATFORM_HOLDS
    _fill_from_normalized(order, n)
    m = map_order(n)
    old_state = order.platform_state
    order.platform_state = m.state
    lines = list(OrderLine.objects.filter(origin_order=order).order_by("pk"))
    lines_changed = _sync_line_refunds(lines, n)
    order.save()
    WORKFLOW.log(order, EventKind.PLATFORM, "platform.update",
                 f"platform update: {old_state or '-'} -> {m.state} ({order.platform_status})")

    if m.state == OrderState.CANCELLED:
        return _stop_origin_lines(order, lines, why=f"cancelled on the platform ({order.platform_status})",
                                  refund_id=f"cancel:{order.platform_order_id}")
    if m.state in (OrderState.SHIPPED, OrderState.COMPLETED):
        _platform_shipped(order, lines, completed=m.state == OrderState.COMPLETED)
        return []
    if m.state == OrderState.PART_SHIPPED:
        return []
    # unpaid / paid: platform holds may have changed, or the inputs of the review rules
    inputs_changed = before_inputs != (order.buyer_message, order.seller_memo, order.seller_flag, order.address_hash,
                                       order.paid_amount)
    refund_requested = any(ln.refund_state == RefundState.REQUESTED for ln in lines)
    new_platform = set(m.platform_holds) | ({HoldReason.REFUND} if refund_requested else set())
    if not (new_platform != before_holds or inputs_changed or lines_changed):
        return []
    if order.status == S.CLOSED:  # merged away: keep its platform holds for the merged shipment to see
        order.set_hold_reasons(new_platform)
        order.save(update_fields=["hold_reasons"])
    approved = []
    for owner in _owners(order, lines):
        if owner.pk == order.pk:
            owner = order
        if owner.status not in PRE_SHIPMENT:
            continue
        if owner.kind == OrderKind.PLATFORM:
            _rereview(owner, settings, platform_holds=new_platform, why="platform update")
        else:
            _recheck_owner(owner, settings)
        if owner.status == S.APPROVED:
            approved.append(owner.pk)
    return approved


def _owners(origin: Order, lines: list[OrderLine]) -> list[Order]:
    """The orders currently holding the origin's lines (itself, its split parts, a merged shipment)."""
    ids = sorted({ln.order_id for ln in lines} | ({origin.pk} if origin.merged_into_id is None else set()))
    return WORKFLOW.lock_many(ids) if ids else []


def _sync_line_refunds(lines: list[OrderLine], n: NormalizedOrder) -> bool:
    """Refund flags that arrive on the order itself (PDD refund_status, Taobao sub-order refund_status)."""
    by_id = {nl.platform_line_id: nl for nl in n.lines}
    changed = []
    for line in lines:
        nl = by_id.get(line.platform_line_id)
        if nl is None or nl.refund_status == line.refund_state or nl.refund_status not in RefundState.values:
            continue
        if line.is_committed:
            continue  # after shipment: the refund channel opens an after-sales case
        line.refund_state = nl.refund_status
        line.is_stopped = nl.refund_status in (RefundState.REQUESTED, RefundState.REFUNDED)
        changed.append(line)
    if changed:
        _release_lines([ln for ln in changed if ln.is_stopped])
        OrderLine.objects.bulk_update(changed, ["refund_state", "is_stopped"])
    return bool(changed)


def _stop_origin_lines(origin: Order, lines: list[OrderLine], *, why: str, refund_id: str) -> list[int]:
    """Platform cancellation: before shipment the lines stop and release their stock; after
    shipment an after-sales case opens."""
    shipped = [ln for ln in lines if ln.is_committed]
    if shipped:
        _after_sale(origin, refund_id=refund_id, why=why)
    todo = [ln for ln in lines if not ln.is_committed and not ln.is_stopped]
    if todo:
        _release_lines(todo)
        for ln in todo:
            ln.is_stopped = True
        OrderLine.objects.bulk_update(todo, ["is_stopped"])
    settings = order_settings()
    approved: list[int] = []
    for owner in _owners(origin, lines):
        if owner.pk == origin.pk:
            owner = origin
        if owner.status not in PRE_SHIPMENT:
            continue
        if owner.kind == OrderKind.PLATFORM and not OrderLine.objects.filter(order=owner, is_stopped=False).exists():
            evs = []
            if owner.status in RESERVED_STATES:
                ev = _release_order(owner, why)
                evs += [ev] if ev else []
            _recount(owner, [], settings)
            ev = WORKFLOW.set_status(owner, S.CANCELLED, why=why, code="cancelled.platform", kind=EventKind.PLATFORM,
                                     save=False)
            evs += [ev] if ev else []
            owner.set_hold_reasons(())
            owner.out_of_stock_since = None
            owner.save()
            OrderEvent.objects.bulk_create(evs)
        else:
            if todo:
                WORKFLOW.log(owner, EventKind.PLATFORM, "lines.stopped", f"{origin.platform_order_id}: {why}")
            _recheck_owner(owner, settings)
            if owner.status == S.APPROVED:
                approved.append(owner.pk)
    if origin.status == S.CLOSED and not shipped:
        ev = WORKFLOW.set_status(origin, S.CANCELLED, why=why, code="cancelled.platform", kind=EventKind.PLATFORM,
                                 save=False)
        origin.save()
        ev.save()
    return approved


def _platform_shipped(order: Order, lines: list[OrderLine], *, completed: bool) -> None:
    """The platform says shipped (or completed). Our own shipment: follow to completed. Shipped
    outside the ERP: stop waiting and release any reservation."""
    settings = order_settings()
    for owner in _owners(order, lines):
        if owner.pk == order.pk:
            owner = order
        evs = []
        if owner.status in PRE_SHIPMENT:
            if owner.kind == OrderKind.MERGED:  # this platform order's part left without us
                mine = [ln for ln in lines if ln.order_id == owner.pk and not ln.is_stopped]
                _release_lines(mine)
                OrderLine.objects.filter(pk__in=[ln.pk for ln in mine]).update(is_stopped=True)
                WORKFLOW.log(owner, EventKind.PLATFORM, "lines.shipped_outside",
                             f"{order.platform_order_id} was shipped outside the ERP")
                _recheck_owner(owner, settings)
                continue
            ev = _release_order(owner, "shipped outside the ERP")
            evs += [ev] if ev else []
            ev = WORKFLOW.set_status(owner, S.SHIPPED, why="the platform reports it shipped outside the ERP",
                                     code="shipped.outside", kind=EventKind.PLATFORM, save=False)
            evs += [ev] if ev else []
            owner.set_hold_reasons(())
            owner.out_of_stock_since = None
            owner.shipped_at = owner.shipped_at or timezone.now()
        if completed and owner.status == S.SHIPPED:
            others_done = owner.kind != OrderKind.MERGED or not Order.objects.filter(merged_into=owner).exclude(
                pk=order.pk).exclude(platform_state=OrderState.COMPLETED).exists()
            if others_done:
                ev = WORKFLOW.set_status(owner, S.COMPLETED, why="received by the buyer", code="completed",
                                         kind=EventKind.PLATFORM, save=False)
                evs += [ev] if ev else []
        owner.save()
        OrderEvent.objects.bulk_create(evs)
    if order.merged_into_id:
        evs = []
        if order.status == S.CLOSED:
            evs.append(WORKFLOW.set_status(order, S.SHIPPED, why="the platform reports it shipped",
                                           code="shipped.outside", kind=EventKind.PLATFORM, save=False))
        if completed and order.status == S.SHIPPED:
            evs.append(WORKFLOW.set_status(order, S.COMPLETED, why="received by the buyer", code="completed",
                                           kind=EventKind.PLATFORM, save=False))
        order.save()
        OrderEvent.objects.bulk_create([e for e in evs if e])


def _after_sale(order: Order, *, refund_id: str, why: str) -> bool:
    """Open an after-sales case once per platform refund (the after-sales app subscribes)."""
    if OrderEvent.objects.filter(order=order, code="after_sale.opened", data__refund_id=refund_id).exists():
        return False
    WORKFLOW.log(order, EventKind.PLATFORM, "after_sale.opened", f"after shipment: {why}",
                 data={"refund_id": refund_id})
    events.publish("order.after_sale_opened", order_id=order.pk, platform_refund_id=refund_id)
    return True


# --- refunds (interception) ---------------------------------------------------------------------------
STOPPING_REFUND = {"requested", "agreed", "wait_return"}


@transaction.atomic
def orders_intercept_refunds(*, shop, refunds: list[NormalizedRefund]) -> int:
    """Apply platform refunds: before shipment the line stops (stock released, order held or
    cancelled); after shipment an after-sales case opens. Older refund versions change nothing."""
    settings = order_settings()
    touched = 0
    approved: list[int] = []
    by_order: dict[str, list[NormalizedRefund]] = defaultdict(list)
    for r in refunds:
        by_order[r.platform_order_id].append(r)
    origins = {o.platform_order_id: o for o in Order.objects.filter(
        shop=shop, kind=OrderKind.PLATFORM, platform_order_id__in=list(by_order)).order_by("pk")}
    for poid, items in by_order.items():
        origin = origins.get(poid)
        if origin is None:
            continue
        WORKFLOW.lock_many([origin.pk])
        lines = list(OrderLine.objects.filter(origin_order=origin).order_by("pk"))
        changed = False
        for r in sorted(items, key=lambda r: (r.version, r.modified_at)):
            target = [ln for ln in lines if not r.platform_line_id or ln.platform_line_id == r.platform_line_id]
            shipped = [ln for ln in target if ln.is_committed]
            if shipped or r.phase == "after_shipment" and origin.status in (S.SHIPPED, S.COMPLETED):
                if r.status not in ("refused", "closed"):
                    changed |= _after_sale(origin, refund_id=r.platform_refund_id, why=f"refund {r.status}: {r.reason}")
                continue
            for ln in target:
                if ln.refund_version > r.version or (ln.refund_version == r.version and ln.platform_refund_id == r.platform_refund_id):
                    continue
                ln.refund_version = r.version
                ln.platform_refund_id = r.platform_refund_id[:64]
                if r.status in STOPPING_REFUND:
                    ln.refund_state, ln.is_stopped = RefundState.REQUESTED, True
                elif r.status == "success":
                    ln.refund_state, ln.is_stopped = RefundState.REFUNDED, True
                else:  # refused / closed: the line ships after all
                    ln.refund_state, ln.is_stopped = RefundState.CLOSED, False
                changed = True
                _release_lines([ln]) if ln.is_stopped else None
                ln.save(update_fields=["refund_version", "platform_refund_id", "refund_state", "is_stopped"])
                WORKFLOW.log(ln.order, EventKind.PLATFORM, f"refund.{r.status}",
                             f"refund {r.platform_refund_id} {r.status} on line {ln.platform_line_id or ln.pk}: {r.reason}"[:1000],
                             data={"refund_id": r.platform_refund_id, "line_id": ln.pk})
        if changed:
            touched += 1
            for owner in _owners(origin, lines):
                if owner.status in PRE_SHIPMENT:
                    _recheck_owner(owner, settings)
                    if owner.status == S.APPROVED:
                        approved.append(owner.pk)
    if approved and settings.auto_allocate:
        _allocate(Order.objects.filter(pk__in=approved, status=S.APPROVED), settings=settings, strict=False)
    return touched


def on_platform_refunds_changed(*, shop_id, platform_refund_ids, **_):
    shop = shop_get(shop_id=shop_id)
    refunds = ports.integrations().normalized_refunds(shop_id=shop_id, platform_refund_ids=list(platform_refund_ids))
    if refunds:
        orders_intercept_refunds(shop=shop, refunds=refunds)
