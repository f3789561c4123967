"""Order writes: ingestion of normalised platform orders, the status machine, review, merge, split,
allocation, shipping and interception. Every decision is written to the order's timeline.

Wrong-state actions raise ``erp.api.exceptions.Conflict`` (409) with the reason; nothing changes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.db.models.base import ModelState
from django.utils import timezone

from erp import events
from erp.api.exceptions import Conflict
from erp.money import CENT, to_money
from erp.tenancy.context import get_current_tenant, tenant_context
from integrations.normalized import NormalizedOrder, NormalizedRefund, OrderState

from . import bulk, ports
from .addressing import address_hash, place_hash
from .allocation import choose_carrier, consume, plan_allocation, priority_key
from .models import (
    PLATFORM_HOLDS,
    CarrierRule,
    EventKind,
    HoldReason,
    Order,
    OrderEvent,
    OrderKind,
    OrderLine,
    OrderSettings,
    OrderStatus,
    RefundState,
    Waybill,
)
from .rules import ReviewContext, review
from .status_mapping import PRE_SHIPMENT, map_order

logger = logging.getLogger("orders")
S = OrderStatus

# The status machine: which status may follow which. Every change goes through _set_status().
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_REVIEW: frozenset({S.ON_HOLD, S.APPROVED, S.CANCELLED, S.CLOSED, S.SHIPPED}),
    S.ON_HOLD: frozenset({S.PENDING_REVIEW, S.APPROVED, S.CANCELLED, S.CLOSED, S.SHIPPED}),
    S.APPROVED: frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.ALLOCATED, S.CANCELLED, S.CLOSED, S.SHIPPED}),
    S.ALLOCATED: frozenset({S.APPROVED, S.ON_HOLD, S.PICKING, S.SHIPPED, S.CANCELLED}),
    S.PICKING: frozenset({S.ALLOCATED, S.ON_HOLD, S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.COMPLETED, S.CLOSED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.CANCELLED: frozenset(),
    # a source order closed by a merge comes back (unmerge) or follows its merged shipment
    S.CLOSED: frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.SHIPPED, S.COMPLETED, S.CANCELLED}),
}

# Which statuses each operator action accepts (anything else: 409 with the reason).
ACTION_STATES: dict[str, frozenset[str]] = {
    "approve": frozenset({S.PENDING_REVIEW, S.ON_HOLD}),
    "hold": frozenset({S.PENDING_REVIEW, S.APPROVED, S.ALLOCATED, S.PICKING, S.ON_HOLD}),
    "release": frozenset({S.ON_HOLD}),
    "merge": frozenset({S.PENDING_REVIEW, S.APPROVED, S.ALLOCATED}),  # an allocated one gives its stock back
    "unmerge": frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED}),
    "split": frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED}),
    "allocate": frozenset({S.APPROVED}),
    "deallocate": frozenset({S.ALLOCATED, S.PICKING}),
    "pick": frozenset({S.ALLOCATED}),
    "ship": frozenset({S.ALLOCATED, S.PICKING}),
    "cancel": frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED, S.PICKING}),
}
RESERVED_STATES = frozenset({S.ALLOCATED, S.PICKING})


# --- small helpers --------------------------------------------------------------------------------
def order_settings() -> OrderSettings:
    obj = OrderSettings.objects.first()
    if obj is None:
        try:
            with transaction.atomic():
                obj = OrderSettings.objects.create()
        except IntegrityError:
            obj = OrderSettings.objects.get()
    return obj


def _actor_fields(actor) -> dict:
    if actor is None:
        return {"actor": None, "actor_label": "system"}
    return {"actor": actor, "actor_label": getattr(actor, "username", str(actor))[:150]}


_EVENT_ATTNAMES: tuple[str, ...] = ()


def _event(order, kind, code, message, *, actor=None, from_status="", to_status="", data=None) -> OrderEvent:
    if actor is not None:
        return OrderEvent(tenant_id=order.tenant_id, order=order, kind=kind, code=code, message=message[:1000],
                          from_status=from_status, to_status=to_status, data=data or {}, **_actor_fields(actor))
    # the hot path (thousands per ingested page): the same instance Model.__init__ would build
    # (no actor, order cached like an assignment), without its per-field keyword handling
    global _EVENT_ATTNAMES
    if not _EVENT_ATTNAMES:
        _EVENT_ATTNAMES = tuple(f.attname for f in OrderEvent._meta.concrete_fields)
    ev = OrderEvent.__new__(OrderEvent)
    values = dict.fromkeys(_EVENT_ATTNAMES)
    values.update(tenant_id=order.tenant_id, order_id=order.pk, created_at=timezone.now(), kind=kind, code=code,
                  from_status=from_status, to_status=to_status, actor_id=None, actor_label="system",
                  message=message[:1000], data=data or {})
    ev.__dict__.update(values)
    ev._state = ModelState()
    ev._state.fields_cache["order"] = order
    return ev


def _log(order, kind, code, message, **kwargs) -> OrderEvent:
    ev = _event(order, kind, code, message, **kwargs)
    ev.save()
    return ev


def _set_status(order: Order, to: str, *, why: str, code: str = "", actor=None, kind=EventKind.STATUS,
                data=None) -> OrderEvent | None:
    """Change the status (refusing a change the machine does not allow) and return the event to save."""
    if order.status == to:
        return None
    if to not in TRANSITIONS[order.status]:
        raise Conflict(f"Order {order.display_no or order.pk} cannot go from {order.status} to {to}.")
    ev = _event(order, kind, code or f"status.{to}", why, actor=actor, from_status=order.status, to_status=to, data=data)
    order.status = to
    if to == S.CANCELLED:
        _publish_after_commit("order.cancelled", order_id=order.pk)
    return ev


def _publish_after_commit(event: str, **payload) -> None:
    """Publish once the transaction that made the change commits (under the same tenant)."""
    tenant = get_current_tenant()

    def publish():
        with tenant_context(tenant):
            events.publish(event, **payload)

    transaction.on_commit(publish)


def _check_action(order: Order, action: str) -> None:
    allowed = ACTION_STATES[action]
    if order.status not in allowed:
        raise Conflict(
            f"Cannot {action} order {order.display_no or order.pk}: it is {order.get_status_display()} "
            f"(allowed when {', '.join(sorted(allowed))}).",
        )


def _lock(order_ids) -> list[Order]:
    """The orders, row-locked in id order (the fixed order avoids deadlocks)."""
    return list(Order.objects.select_for_update().filter(pk__in=list(order_ids)).order_by("pk"))


def _lock_one(order_id) -> Order:
    found = _lock([order_id])
    if not found:
        from django.http import Http404

        raise Http404("No such order.")
    return found[0]


def _active_lines(order_ids) -> dict[int, list[OrderLine]]:
    out: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=list(order_ids), is_stopped=False).order_by("pk"):
        out[line.order_id].append(line)
    return out


def _recount(order: Order, lines: list[OrderLine], settings: OrderSettings | None = None) -> None:
    active = [ln for ln in lines if not ln.is_stopped]
    default_w = settings.default_weight_g if settings else 500
    order.line_count = len(active)
    order.total_quantity = sum(ln.quantity for ln in active)
    order.weight_g = sum((ln.weight_g or default_w) * ln.quantity for ln in active)


def _release_lines(lines: list[OrderLine]) -> int:
    inv = ports.inventory()
    released = 0
    changed = []
    for line in lines:
        if line.is_reserved:
            released += inv.release(ref_id=str(line.pk)) or 0
            line.is_reserved = False
            line.warehouse_id = None
            changed.append(line)
    if changed:
        OrderLine.objects.bulk_update(changed, ["is_reserved", "warehouse_id"])
    return released


def _release_order(order: Order, why: str) -> OrderEvent | None:
    lines = list(OrderLine.objects.filter(order=order, is_reserved=True))
    units = _release_lines(lines)
    order.warehouse_id = None
    order.allocated_at = None
    if lines:
        return _event(order, EventKind.SYSTEM, "stock.released", f"released {units} reserved unit(s): {why}")
    return None


def _money(value) -> Decimal:
    return to_money(value if value is not None else "0")


# --- ingestion ------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    order_ids: list[int] = field(default_factory=list)


def _fill_from_normalized(order: Order, n: NormalizedOrder) -> None:
    r = n.receiver
    order.platform = n.platform
    order.buyer_id = (n.buyer_id or "")[:128]
    order.buyer_message = n.buyer_message or ""
    order.seller_memo = n.seller_memo or ""
    order.seller_flag = int(n.seller_flag or 0)
    order.receiver_name = (r.name or "")[:128]
    order.receiver_phone = (r.phone or "")[:64]
    order.receiver_province = (r.province or "")[:64]
    order.receiver_city = (r.city or "")[:64]
    order.receiver_district = (r.district or "")[:64]
    order.receiver_address = (r.address or "")[:500]
    order.receiver_merge_key = (r.merge_key or "")[:128]
    order.address_hash = address_hash(platform=n.platform, name=r.name, phone=r.phone, province=r.province, city=r.city,
                                      district=r.district, address=r.address, merge_key=r.merge_key,
                                      unique_fallback=f"{order.shop_id}:{n.platform_order_id}")
    order.place_hash = place_hash(province=r.province, city=r.city, district=r.district, address=r.address)
    order.currency = n.currency or "CNY"
    order.goods_amount = _money(n.goods_amount)
    order.discount_amount = _money(n.discount_amount)
    order.freight_amount = _money(n.freight_amount)
    order.paid_amount = _money(n.paid_amount)
    order.is_presale = bool(n.is_presale)
    order.presale_fully_paid = bool(n.presale_fully_paid)
    order.ship_blocked_reason = (n.ship_blocked_reason or "")[:64]
    order.platform_status = str(n.platform_status or "")[:64]
    order.platform_created_at = n.created_at
    order.platform_modified_at = n.modified_at
    order.paid_at = n.paid_at
    order.ship_by = n.ship_by


class _SkuResolver:
    """Memoised inventory.selectors.sku_for_platform_line over one batch."""

    def __init__(self, shop):
        self.shop = shop
        self.cache: dict[tuple, object] = {}

    def __call__(self, item_id: str, sku_id: str, outer_id: str):
        key = (item_id, sku_id, outer_id)
        if key not in self.cache:
            self.cache[key] = ports.inventory().sku_for_line(shop=self.shop, platform_item_id=item_id,
                                                             platform_sku_id=sku_id, outer_id=outer_id)
        return self.cache[key]


def _line_key(nl) -> tuple[str, str, str]:
    return (nl.platform_item_id or "", nl.platform_sku_id or "", nl.outer_id or "")


def _new_line(order: Order, nl, skus: dict, *, is_presale: bool) -> OrderLine:
    sku = skus.get(_line_key(nl))
    refund = nl.refund_status if nl.refund_status in _REFUND_STATES else ""
    line = _fast_instance(
        OrderLine, tenant_id=order.tenant_id, order_id=order.pk, origin_order_id=order.pk,
        platform_order_id=order.platform_order_id,
        platform_line_id=(nl.platform_line_id or "")[:64], platform_item_id=(nl.platform_item_id or "")[:64],
        platform_sku_id=(nl.platform_sku_id or "")[:64], outer_id=(nl.outer_id or "")[:128], title=(nl.title or "")[:300],
        sku_properties=(nl.sku_properties or "")[:300], sku_id=sku.id if sku else None, sku_code=sku.code[:128] if sku else "",
        weight_g=sku.weight_g if sku else 0, quantity=max(1, int(nl.quantity)), price=_money(nl.price),
        discount=_money(nl.discount), paid=_money(nl.paid), is_presale=is_presale, refund_state=refund,
        is_stopped=refund in (RefundState.REQUESTED, RefundState.REFUNDED),
    )
    line._state.fields_cache["order"] = line._state.fields_cache["origin_order"] = order
    return line


_REFUND_STATES = frozenset(RefundState.values)
_PROTOTYPES: dict = {}


def _fast_instance(model, **values):
    """``model(**values)`` for the ingestion hot path: every concrete field gets its default (a
    callable default is called), then ``values``; no per-keyword handling, no init signals."""
    proto = _PROTOTYPES.get(model)
    if proto is None:
        fixed, dynamic = {}, []
        for f in model._meta.concrete_fields:
            if f.has_default() and callable(f.default):
                dynamic.append(f)
            else:
                fixed[f.attname] = f.get_default()
        proto = _PROTOTYPES[model] = (fixed, dynamic)
    fixed, dynamic = proto
    obj = model.__new__(model)
    obj.__dict__.update(fixed)
    for f in dynamic:
        if f.attname not in values:
            obj.__dict__[f.attname] = f.get_default()
    obj.__dict__.update(values)
    obj._state = ModelState()
    return obj


def orders_ingest_normalized(*, shop, normalized: list[NormalizedOrder]) -> IngestResult:
    """Upsert platform orders (idempotent: an update not newer than the stored one changes nothing),
    review the new ones, merge and allocate them when the tenant's settings say so.

    Set-based: one lookup of the existing rows, bulk inserts of orders, lines and events."""
    latest: dict[str, NormalizedOrder] = {}
    for n in normalized:
        known = latest.get(n.platform_order_id)
        if known is None or n.modified_at > known.modified_at:
            latest[n.platform_order_id] = n
    result = IngestResult()
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _ingest(shop, list(latest.values()), result)
        except IntegrityError:
            if attempt:
                raise
            result = IngestResult()  # a concurrent pull inserted the same orders: once more, as updates
    return result


def _ingest(shop, batch: list[NormalizedOrder], result: IngestResult) -> IngestResult:
    """One page: a constant number of queries for the new orders (lookup, SKU mapping, review
    context, three inserts, merge pool, allocation reads, one reservation batch, three writes).
    Updates of known orders, merges and stock splits take the per-order paths (they are rare)."""
    settings = order_settings()
    ids = [n.platform_order_id for n in batch]
    existing = {o.platform_order_id: o for o in Order.objects.select_for_update()
                .filter(shop=shop, kind=OrderKind.PLATFORM, platform_order_id__in=ids).order_by("pk")}
    new, updates = [], []
    for n in batch:
        current = existing.get(n.platform_order_id)
        if current is None:
            new.append(n)
        elif current.platform_modified_at is None or n.modified_at > current.platform_modified_at:
            updates.append((current, n))
        else:
            result.skipped += 1
    to_allocate: list[int] = []
    loaded: dict[int, tuple[Order, list[OrderLine]]] = {}  # fresh approved orders, already in memory
    pending = _Pending()
    if new:
        created, lines_by_order = _create_orders(shop, new, settings, pending)
        result.created = len(created)
        result.order_ids += [o.pk for o in created]
        for o, lines in zip(created, lines_by_order, strict=True):
            if o.status == S.APPROVED:
                to_allocate.append(o.pk)
                loaded[o.pk] = (o, [ln for ln in lines if not ln.is_stopped])
    for current, n in updates:
        to_allocate += _apply_update(current, n, settings)
        result.updated += 1
        result.order_ids.append(current.pk)
    if loaded and settings.split_presale:
        to_allocate += _auto_split_presale(loaded, settings, pending)
    if to_allocate and settings.auto_merge:
        to_allocate = _auto_merge(to_allocate, settings, fresh=[o for o, _ in loaded.values()], pending=pending)
    if to_allocate and settings.auto_allocate:
        preloaded = {pk: loaded[pk] for pk in to_allocate if pk in loaded}
        rest = [pk for pk in to_allocate if pk not in preloaded]
        _allocate(Order.objects.filter(pk__in=rest, status=S.APPROVED) if rest else None, settings=settings,
                  actor=None, strict=False, preloaded=preloaded, pending=pending)
    pending.flush()
    return result


def _auto_split_presale(loaded: dict[int, tuple[Order, list[OrderLine]]], settings: OrderSettings,
                        pending: _Pending) -> list[int]:
    """Fresh approved orders that mix presale and in-stock lines: the presale lines move to a split
    part, so the in-stock ones ship now and the presale part waits for its stock (allocation puts
    it in the out-of-stock queue until the goods arrive). Returns the new parts' ids."""
    mixed = [(o, lines) for o, lines in loaded.values()
             if any(ln.is_presale for ln in lines) and not all(ln.is_presale for ln in lines)]
    if not mixed:
        return []
    pending.flush()  # _carve works on stored rows
    parts = []
    for order, lines in mixed:
        part = _carve(order, [(ln, ln.quantity) for ln in lines if ln.is_presale], settings=settings,
                      why="presale lines ship when the presale ships", code="split.presale")
        del loaded[order.pk]  # its lines changed: allocation reads them again
        parts.append(part.pk)
    return parts


class _Pending:
    """New orders, lines and events of a page not written yet: on PostgreSQL their ids are taken
    from the sequences first, so review, merge search and allocation (reservations refer to line
    ids) are decided in memory and the rows are inserted once, in their final state, instead of
    inserted and then updated (an update of an indexed column rewrites every index entry). Anything
    that needs the rows in the database (a merge, a stock split) flushes them first."""

    def __init__(self):
        self.orders: list[Order] = []
        self.lines: list[OrderLine] = []
        self.events: list[OrderEvent] = []
        self.ids: set[int] = set()

    def hold(self, orders, lines, events) -> None:
        self.orders += orders
        self.lines += lines
        self.events += events
        self.ids |= {o.pk for o in orders}

    def is_pending(self, order) -> bool:
        return order.pk in self.ids

    def flush(self) -> None:
        if self.orders or self.lines or self.events:
            bulk.insert(Order, self.orders)
            bulk.insert(OrderLine, self.lines)
            bulk.insert(OrderEvent, self.events)
        self.orders, self.lines, self.events, self.ids = [], [], [], set()


def _create_orders(shop, batch: list[NormalizedOrder], settings: OrderSettings,
                   pending: _Pending | None = None) -> tuple[list[Order], list[list[OrderLine]]]:
    """Build, review and insert new platform orders: every decision is made in memory before the
    rows are written, so the page costs three inserts (orders, lines, events)."""
    tenant_id = shop.tenant_id
    skus = ports.skus_for_lines(ports.inventory(), shop=shop, keys=[_line_key(nl) for n in batch for nl in n.lines])
    orders, mapped, lines_by_order = [], [], []
    for n in batch:
        order = Order(tenant_id=tenant_id, shop=shop, platform_order_id=n.platform_order_id[:64], kind=OrderKind.PLATFORM)
        _fill_from_normalized(order, n)
        m = map_order(n)
        order.platform_state = m.state
        order.status = m.status
        lines = [_new_line(order, nl, skus, is_presale=order.is_presale or nl.is_presale) for nl in n.lines]
        _recount(order, lines, settings)
        orders.append(order)
        mapped.append(m)
        lines_by_order.append(lines)
    levels = ports.buyer_levels(platform=shop.platform, buyer_ids=[o.buyer_id for o in orders])
    if levels:
        for order in orders:
            order.buyer_level = levels.get(order.buyer_id, 0)
    ctx = ReviewContext.load(settings=settings, orders=orders) if settings.auto_review else None
    evs = []
    for order, m, lines in zip(orders, mapped, lines_by_order, strict=True):
        evs.append(_event(order, EventKind.PLATFORM, "created", f"received from {order.platform}: {m.explanation}",
                          to_status=m.status))
        holds = set(m.platform_holds)
        if any(ln.refund_state == RefundState.REQUESTED for ln in lines) and m.status in PRE_SHIPMENT:
            holds.add(HoldReason.REFUND)
        if m.status in (S.PENDING_REVIEW, S.ON_HOLD):
            active = [ln for ln in lines if not ln.is_stopped]
            if not active and not holds - {HoldReason.UNPAID}:
                order.status = S.CANCELLED
                evs.append(_event(order, EventKind.RULE, "cancelled.no_lines", "every line is refunded or cancelled",
                                  to_status=S.CANCELLED))
                continue
            evs += _decide(order, lines, holds, ctx)
        elif m.status == S.SHIPPED:
            evs.append(_event(order, EventKind.PLATFORM, "shipped.outside", "already shipped on the platform when received"))
    all_lines = [ln for lines in lines_by_order for ln in lines]
    if pending is not None and connection.vendor == "postgresql":
        bulk.assign_ids(Order, orders)
        for ln in all_lines:
            ln.order_id = ln.origin_order_id = ln.order.pk
        bulk.assign_ids(OrderLine, all_lines)
        pending.hold(orders, all_lines, evs)
        return orders, lines_by_order
    bulk.insert(Order, orders, with_ids=True)
    bulk.insert(OrderLine, all_lines, with_ids=True)
    bulk.insert(OrderEvent, evs)
    return orders, lines_by_order


def _decide(order: Order, lines, platform_holds: set, ctx: ReviewContext | None, *, keep: set | frozenset = frozenset(),
            actor=None) -> list[OrderEvent]:
    """Run the review rules (when auto review is on) and set status + hold reasons. Returns events."""
    evs = []
    holds = set(platform_holds) | set(keep)
    if ctx is None:
        if holds:
            order.set_hold_reasons(holds)
            order.status = S.ON_HOLD
            evs.append(_event(order, EventKind.RULE, "hold", "on hold: " + ", ".join(sorted(holds)), to_status=S.ON_HOLD))
        else:
            order.set_hold_reasons(())
            order.status = S.PENDING_REVIEW
            evs.append(_event(order, EventKind.RULE, "review.manual", "auto review is off: waiting for an operator",
                              to_status=S.PENDING_REVIEW))
        return evs
    found = review(order, lines, ctx)
    for reason, why in found:
        holds.add(reason)
        evs.append(_event(order, EventKind.RULE, f"hold.{reason}", why, actor=actor, data={"reason": reason}))
    for reason in sorted(set(platform_holds)):
        evs.append(_event(order, EventKind.RULE, f"hold.{reason}", f"platform hold: {reason}", data={"reason": reason}))
    order.set_hold_reasons(holds)
    order.status = S.ON_HOLD if holds else S.APPROVED
    if not holds:
        evs.append(_event(order, EventKind.RULE, "approved.auto", "auto review: every rule passed", to_status=S.APPROVED))
    return evs


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
    _log(order, EventKind.PLATFORM, "platform.update", f"platform update: {old_state or '-'} -> {m.state} ({order.platform_status})")

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
    return _lock(ids) if ids else []


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
        ev = _set_status(order, S.CANCELLED, why=f"no line left to ship ({why})", code="cancelled.no_lines")
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
            ev = _set_status(owner, S.CANCELLED, why=why, code="cancelled.platform", kind=EventKind.PLATFORM)
            evs += [ev] if ev else []
            owner.set_hold_reasons(())
            owner.out_of_stock_since = None
            owner.save()
            OrderEvent.objects.bulk_create(evs)
        else:
            if todo:
                _log(owner, EventKind.PLATFORM, "lines.stopped", f"{origin.platform_order_id}: {why}")
            _recheck_owner(owner, settings)
            if owner.status == S.APPROVED:
                approved.append(owner.pk)
    if origin.status == S.CLOSED and not shipped:
        ev = _set_status(origin, S.CANCELLED, why=why, code="cancelled.platform", kind=EventKind.PLATFORM)
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
                _log(owner, EventKind.PLATFORM, "lines.shipped_outside",
                     f"{order.platform_order_id} was shipped outside the ERP")
                _recheck_owner(owner, settings)
                continue
            ev = _release_order(owner, "shipped outside the ERP")
            evs += [ev] if ev else []
            ev = _set_status(owner, S.SHIPPED, why="the platform reports it shipped outside the ERP",
                             code="shipped.outside", kind=EventKind.PLATFORM)
            evs += [ev] if ev else []
            owner.set_hold_reasons(())
            owner.out_of_stock_since = None
            owner.shipped_at = owner.shipped_at or timezone.now()
        if completed and owner.status == S.SHIPPED:
            others_done = owner.kind != OrderKind.MERGED or not Order.objects.filter(merged_into=owner).exclude(
                pk=order.pk).exclude(platform_state=OrderState.COMPLETED).exists()
            if others_done:
                ev = _set_status(owner, S.COMPLETED, why="received by the buyer", code="completed", kind=EventKind.PLATFORM)
                evs += [ev] if ev else []
        owner.save()
        OrderEvent.objects.bulk_create(evs)
    if order.merged_into_id:
        evs = []
        if order.status == S.CLOSED:
            evs.append(_set_status(order, S.SHIPPED, why="the platform reports it shipped", code="shipped.outside",
                                   kind=EventKind.PLATFORM))
        if completed and order.status == S.SHIPPED:
            evs.append(_set_status(order, S.COMPLETED, why="received by the buyer", code="completed",
                                   kind=EventKind.PLATFORM))
        order.save()
        OrderEvent.objects.bulk_create([e for e in evs if e])


def _after_sale(order: Order, *, refund_id: str, why: str) -> bool:
    """Open an after-sales case once per platform refund (the after-sales app subscribes)."""
    if OrderEvent.objects.filter(order=order, code="after_sale.opened", data__refund_id=refund_id).exists():
        return False
    _log(order, EventKind.PLATFORM, "after_sale.opened", f"after shipment: {why}", data={"refund_id": refund_id})
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
        _lock([origin.pk])
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
                _log(ln.order, EventKind.PLATFORM, f"refund.{r.status}",
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


def on_platform_orders_changed(*, shop_id, platform_order_ids, **_):
    """erp.events handler: integrations committed new versions of these platform orders."""
    from integrations.models import Shop

    shop = Shop.objects.get(pk=shop_id)
    ids = list(platform_order_ids)
    for start in range(0, len(ids), 500):
        normalized = ports.integrations().normalized_orders(shop_id=shop_id, platform_order_ids=ids[start:start + 500])
        if normalized:
            orders_ingest_normalized(shop=shop, normalized=normalized)


def on_platform_refunds_changed(*, shop_id, platform_refund_ids, **_):
    from integrations.models import Shop

    shop = Shop.objects.get(pk=shop_id)
    refunds = ports.integrations().normalized_refunds(shop_id=shop_id, platform_refund_ids=list(platform_refund_ids))
    if refunds:
        orders_intercept_refunds(shop=shop, refunds=refunds)


# --- operator actions: review -----------------------------------------------------------------------
@transaction.atomic
def order_approve(*, order_id: int, actor=None, why: str = "") -> Order:
    """An operator approves: a held order is released past its rule holds (platform holds stay)."""
    order = _lock_one(order_id)
    _check_action(order, "approve")
    platform = set(order.hold_reason_list) & PLATFORM_HOLDS
    if platform:
        raise Conflict(f"Order {order.display_no} waits for the platform ({', '.join(sorted(platform))}); "
                       "it cannot be approved by hand.")
    _require_matched(order)
    ev = _set_status(order, S.APPROVED, why=why or "approved by an operator", code="approved.manual",
                     actor=actor, kind=EventKind.ACTION, data={"released": order.hold_reason_list})
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
    order = _lock_one(order_id)
    _check_action(order, "hold")
    if reason not in HoldReason.values or reason in PLATFORM_HOLDS:
        from django.core.exceptions import ValidationError

        raise ValidationError({"reason": f"not a hold reason an operator may set: {reason}"})
    evs = []
    if order.status in RESERVED_STATES:
        ev = _release_order(order, "held by an operator")
        evs += [ev] if ev else []
    order.set_hold_reasons(set(order.hold_reason_list) | {reason})
    ev = _set_status(order, S.ON_HOLD, why=why or "held by an operator", code=f"hold.{reason}", actor=actor,
                     kind=EventKind.ACTION, data={"reason": reason})
    evs += [ev] if ev else [_event(order, EventKind.ACTION, f"hold.{reason}", why or "hold reason added", actor=actor,
                                   data={"reason": reason})]
    order.out_of_stock_since = None
    order.save()
    OrderEvent.objects.bulk_create(evs)
    return order


@transaction.atomic
def order_release(*, order_id: int, actor=None, why: str = "", reasons: list[str] | None = None) -> Order:
    """Clear hold reasons (all an operator may clear by default); with none left, the order is approved."""
    order = _lock_one(order_id)
    _check_action(order, "release")
    current = set(order.hold_reason_list)
    wanted = set(reasons) if reasons else current - PLATFORM_HOLDS
    blocked = wanted & PLATFORM_HOLDS
    if blocked:
        raise Conflict(f"Only the platform can clear {', '.join(sorted(blocked))} on order {order.display_no}.")
    left = current - wanted
    if not left:
        _require_matched(order)
    order.set_hold_reasons(left)
    evs = [_event(order, EventKind.ACTION, "released", why or f"released {', '.join(sorted(wanted & current)) or '-'}",
                  actor=actor, data={"released": sorted(wanted & current)})]
    if not left:
        ev = _set_status(order, S.APPROVED, why="no hold reason left", code="approved.released", actor=actor,
                         kind=EventKind.ACTION)
        evs.append(ev)
    order.save()
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return order


@transaction.atomic
def order_cancel(*, order_id: int, actor=None, why: str = "") -> Order:
    order = _lock_one(order_id)
    _check_action(order, "cancel")
    evs = []
    if order.status in RESERVED_STATES:
        ev = _release_order(order, "cancelled")
        evs += [ev] if ev else []
    OrderLine.objects.filter(order=order).update(is_stopped=True)
    ev = _set_status(order, S.CANCELLED, why=why or "cancelled by an operator", code="cancelled.manual", actor=actor,
                     kind=EventKind.ACTION)
    evs.append(ev)
    order.set_hold_reasons(())
    order.out_of_stock_since = None
    order.save()
    if order.kind == OrderKind.MERGED:
        for source in _lock(Order.objects.filter(merged_into=order).values_list("pk", flat=True)):
            e = _set_status(source, S.CANCELLED, why=f"its merged shipment M{order.pk} was cancelled", actor=actor,
                            kind=EventKind.ACTION)
            source.save()
            evs.append(e)
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return order


# --- reshipment (after-sales) -----------------------------------------------------------------------
_SHIPPED_STATES = frozenset({S.SHIPPED, S.COMPLETED})


@transaction.atomic
def order_create_reship(*, order_id: int, lines: list[tuple[int, int]], why: str, source_ref: str,
                        actor=None) -> Order:
    """A new order (kind reship) that sends ``(sku_id, quantity)`` again, free, to the buyer and
    address of an order that shipped: after-sales reshipments and exchanges. It is approved at once
    (the after-sales case approved it) and allocated like any order; shipping it pushes nothing to
    the platform. Idempotent on ``source_ref``: the same reference returns the order already made."""
    from django.core.exceptions import ValidationError

    source_ref = (source_ref or "").strip()
    if not source_ref or len(source_ref) > 64:
        raise ValidationError({"source_ref": "required, at most 64 characters"})
    existing = Order.objects.filter(source_ref=source_ref).first()
    if existing is not None:
        return existing
    original = Order.objects.select_related("shop").filter(pk=order_id).first()
    if original is None:
        raise ValidationError({"order_id": f"no order {order_id}"})
    shipped = original.status in _SHIPPED_STATES or OrderLine.objects.filter(
        origin_order=original, is_committed=True).exists()
    if not shipped:
        raise ValidationError({"order_id": f"order {original.display_no} has not shipped: nothing to reship"})
    wanted: dict[int, int] = defaultdict(int)
    for index, item in enumerate(lines or []):
        try:
            sku_id, quantity = (int(v) for v in item)
        except (TypeError, ValueError):
            raise ValidationError({"lines": f"line {index + 1}: expected (sku id, quantity)"})
        if quantity < 1:
            raise ValidationError({"lines": f"line {index + 1}: quantity must be at least 1"})
        wanted[sku_id] += quantity
    if not wanted:
        raise ValidationError({"lines": "name at least one SKU and quantity"})
    skus = ports.inventory().skus_by_id(sku_ids=sorted(wanted))
    unknown = sorted(set(wanted) - set(skus))
    if unknown:
        raise ValidationError({"lines": f"unknown SKU ids: {', '.join(map(str, unknown))}"})
    settings = order_settings()
    order = Order(tenant_id=original.tenant_id, shop=original.shop, kind=OrderKind.RESHIP, source_ref=source_ref,
                  status=S.APPROVED, paid_at=timezone.now(), ship_by=timezone.now() + timedelta(days=1))
    for name in ("platform", "platform_order_id", "buyer_id", "buyer_level", "receiver_name", "receiver_phone",
                 "receiver_province", "receiver_city", "receiver_district", "receiver_address", "receiver_merge_key",
                 "address_hash", "place_hash", "currency"):
        setattr(order, name, getattr(original, name))
    order.platform_created_at = order.paid_at
    order.save()
    new_lines = []
    for sku_id, quantity in sorted(wanted.items()):
        sku = skus[sku_id]
        new_lines.append(OrderLine(tenant_id=order.tenant_id, order=order, origin_order=order,
                                   platform_order_id=original.platform_order_id, sku_id=sku_id, sku_code=sku.code,
                                   outer_id=sku.code, title=sku.code, weight_g=sku.weight_g, quantity=quantity))
    OrderLine.objects.bulk_create(new_lines)
    _recount(order, new_lines, settings)
    order.save()
    kind = EventKind.ACTION if actor else EventKind.RULE
    OrderEvent.objects.bulk_create([
        _event(order, kind, "reship.created", f"reshipment of {original.display_no}: {why}", actor=actor,
               to_status=S.APPROVED, data={"original": original.pk, "source_ref": source_ref}),
        _event(original, kind, "reship.opened", f"reshipment {order.display_no}: {why}", actor=actor,
               data={"reship": order.pk, "source_ref": source_ref}),
    ])
    if settings.auto_allocate:
        _allocate(Order.objects.filter(pk=order.pk), settings=settings, actor=None, strict=False)
        order.refresh_from_db()
    return order


# --- merge ------------------------------------------------------------------------------------------
@dataclass
class MergeVerdict:
    order_id: int
    mergeable: bool
    reasons: list[str]


def _merge_problems(base: Order, other: Order, settings: OrderSettings, *, check_window: bool = True) -> list[str]:
    why = []
    if other.status not in ACTION_STATES["merge"]:
        why.append(f"it is {other.status}, only unshipped orders not yet picked merge")
    if other.kind == OrderKind.SPLIT or base.kind == OrderKind.SPLIT:
        why.append("split parts are not merged")
    if other.merged_into_id:
        why.append("already merged")
    if other.address_hash != base.address_hash:
        why.append("different receiver or address")
    if other.buyer_id != base.buyer_id:
        why.append("different buyer")
    if other.shop_id != base.shop_id:
        if not settings.merge_across_shops:
            why.append("different shop (merging across shops is off)")
        elif other.platform != base.platform:
            why.append("different platform")
    if other.is_presale != base.is_presale:
        why.append("presale and in-stock orders ship separately")
    if check_window and base.platform_created_at and other.platform_created_at:
        gap = abs((other.platform_created_at - base.platform_created_at).total_seconds()) / 3600
        if gap > settings.merge_window_hours:
            why.append(f"ordered {gap:.0f} h apart (window {settings.merge_window_hours} h)")
    return why


def orders_merge_dry_run(*, order_ids: list[int]) -> list[MergeVerdict]:
    """Why each order would or would not merge with the first one (nothing changes)."""
    settings = order_settings()
    orders = list(Order.objects.filter(pk__in=order_ids).order_by("pk"))
    if not orders:
        return []
    base = orders[0]
    out = [MergeVerdict(base.pk, not _merge_problems(base, base, settings), _merge_problems(base, base, settings)
                        or ["same receiver, buyer and shop"])]
    for other in orders[1:]:
        problems = _merge_problems(base, other, settings)
        out.append(MergeVerdict(other.pk, not problems, problems or [
            f"same receiver hash, buyer {other.buyer_id or '-'}, "
            f"{'shop' if other.shop_id == base.shop_id else 'platform'}, within {settings.merge_window_hours} h"]))
    return out


def merge_candidates(*, order: Order) -> list[Order]:
    """Orders that could merge with ``order`` now (same receiver hash, unshipped)."""
    return list(Order.objects.filter(address_hash=order.address_hash, status__in=ACTION_STATES["merge"],
                                     merged_into__isnull=True).exclude(pk=order.pk).exclude(kind=OrderKind.SPLIT)
                .order_by("pk")[:50])


@transaction.atomic
def orders_merge(*, order_ids: list[int], actor=None, why: str = "", check_window: bool = True) -> Order:
    """Merge orders into one shipment (a 'merged' order holding their lines). Different receivers or
    addresses never merge (409 with the reason)."""
    orders = _lock(set(order_ids))
    if len(orders) < 2:
        raise Conflict("Pick at least two orders to merge.")
    settings = order_settings()
    merged = [o for o in orders if o.kind == OrderKind.MERGED]
    if len(merged) > 1:
        raise Conflict("Two merged shipments cannot merge; unmerge one first.")
    base = merged[0] if merged else orders[0]
    for o in orders:
        _check_action(o, "merge")
        problems = _merge_problems(base, o, settings, check_window=check_window)
        if problems:
            raise Conflict(f"Order {o.display_no} cannot merge with {base.display_no}: {'; '.join(problems)}.")
    sources = [o for o in orders if o is not base] if merged else orders
    evs = []
    for o in orders:  # allocated ones give their stock back; the merged shipment is allocated afresh
        if o.status in RESERVED_STATES:
            ev = _release_order(o, "merging")
            evs += [ev] if ev else []
            evs.append(_set_status(o, S.APPROVED, why="merging: allocation released", code="deallocated"))
            o.carrier_code = ""
            o.save()
    if merged:
        target = base
    else:
        target = Order(tenant_id=base.tenant_id, shop=base.shop, platform=base.platform, kind=OrderKind.MERGED,
                       status=S.APPROVED)
        for name in ("buyer_id", "receiver_name", "receiver_phone", "receiver_province", "receiver_city",
                     "receiver_district", "receiver_address", "receiver_merge_key", "address_hash", "place_hash",
                     "currency", "is_presale", "presale_fully_paid", "platform_state"):
            setattr(target, name, getattr(base, name))
        target.save()
    everyone = [target, *sources]
    target.status = S.APPROVED if all(o.status == S.APPROVED for o in everyone) else S.PENDING_REVIEW
    target.buyer_level = max(o.buyer_level for o in everyone)
    target.ship_by = min((o.ship_by for o in everyone if o.ship_by), default=None)
    target.paid_at = min((o.paid_at for o in everyone if o.paid_at), default=None)
    target.platform_created_at = min((o.platform_created_at for o in everyone if o.platform_created_at), default=None)
    target.buyer_message = "\n".join(o.buyer_message for o in everyone if o.buyer_message)[:4000]
    target.seller_memo = "\n".join(o.seller_memo for o in everyone if o.seller_memo)[:4000]
    for name in ("goods_amount", "discount_amount", "freight_amount", "paid_amount"):
        setattr(target, name, sum((getattr(o, name) for o in (sources if not merged else everyone)), Decimal("0.00")))
    OrderLine.objects.filter(order__in=sources).update(order=target)
    for o in sources:
        o.previous_status = o.status
        evs.append(_set_status(o, S.CLOSED, why=f"merged into M{target.pk}: {why or 'same buyer and address'}",
                               code="merged", actor=actor, kind=EventKind.ACTION if actor else EventKind.RULE,
                               data={"merged_into": target.pk}))
        o.merged_into = target
        o.save(update_fields=["status", "previous_status", "merged_into", "updated_at"])
    _recount(target, list(OrderLine.objects.filter(order=target)), settings)
    target.save()
    evs.append(_event(target, EventKind.ACTION if actor else EventKind.RULE, "merged",
                      f"merged {', '.join(o.display_no for o in sources)}: {why or 'same buyer and address'}",
                      actor=actor, to_status=target.status, data={"sources": [o.pk for o in sources]}))
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return target


@transaction.atomic
def order_unmerge(*, order_id: int, actor=None, why: str = "") -> list[Order]:
    """Dissolve a merged shipment: every line goes back to its platform order, which gets its status
    from before the merge; the merged order is closed."""
    target = _lock_one(order_id)
    if target.kind != OrderKind.MERGED:
        raise Conflict(f"Order {target.display_no} is not a merged shipment.")
    _check_action(target, "unmerge")
    if Order.objects.filter(split_from=target).exclude(status__in=[S.CANCELLED, S.CLOSED]).exists():
        raise Conflict(f"Merged shipment {target.display_no} has split parts; ship or cancel them first.")
    evs = []
    if target.status in RESERVED_STATES:
        ev = _release_order(target, "unmerged")
        evs += [ev] if ev else []
    sources = _lock(Order.objects.filter(merged_into=target).values_list("pk", flat=True))
    OrderLine.objects.filter(order=target).update(order=F("origin_order_id"))
    settings = order_settings()
    for o in sources:
        back = o.previous_status or S.PENDING_REVIEW
        if back not in TRANSITIONS[S.CLOSED]:
            back = S.PENDING_REVIEW
        evs.append(_set_status(o, back, why=f"unmerged from M{target.pk}: {why or 'by an operator'}", code="unmerged",
                               actor=actor, kind=EventKind.ACTION))
        o.merged_into = None
        o.previous_status = ""
        _recount(o, list(OrderLine.objects.filter(order=o)), settings)
        o.save()
    target.line_count = target.total_quantity = target.weight_g = 0
    evs.append(_set_status(target, S.CLOSED if S.CLOSED in TRANSITIONS[target.status] else S.CANCELLED,
                           why=f"unmerged: {why or 'by an operator'}", code="unmerged", actor=actor, kind=EventKind.ACTION))
    target.save()
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return sources


def _auto_merge(order_ids: list[int], settings: OrderSettings, *, fresh: list[Order] | None = None,
                pending: _Pending | None = None) -> list[int]:
    """Merge freshly approved orders with unshipped orders of the same buyer and receiver hash.
    Returns the ids to allocate (merged shipments replace their sources). ``fresh``: orders of
    ``order_ids`` already in memory (as stored); one query finds every group of the batch."""
    known = {o.pk: o for o in fresh or ()}
    missing = [pk for pk in order_ids if pk not in known]
    fresh = [o for o in known.values() if o.pk in set(order_ids)]
    if missing:
        fresh += list(Order.objects.filter(pk__in=missing))
    fresh = [o for o in fresh if o.status == S.APPROVED and o.merged_into_id is None and o.kind == OrderKind.PLATFORM]
    if not fresh:
        return order_ids
    hashes = {o.address_hash for o in fresh}
    fresh_ids = {o.pk for o in fresh}
    pool = list(Order.objects.filter(address_hash__in=hashes, status__in=[S.APPROVED, S.ALLOCATED], merged_into__isnull=True)
                .exclude(kind=OrderKind.SPLIT).exclude(pk__in=fresh_ids).order_by("pk"))
    pool = sorted(pool + fresh, key=lambda o: o.pk)
    groups: dict[tuple, list[Order]] = defaultdict(list)
    for o in pool:
        scope = o.platform if settings.merge_across_shops else o.shop_id
        groups[(o.address_hash, o.buyer_id, scope, o.is_presale)].append(o)
    result = set(order_ids)
    for members in groups.values():
        if len(members) < 2 or not fresh_ids & {o.pk for o in members}:
            continue
        # keep those within the window of the newest fresh order
        anchor = max((o for o in members if o.pk in fresh_ids), key=lambda o: o.pk)
        near = [o for o in members if not _merge_problems(anchor, o, settings)]
        merged = [o for o in near if o.kind == OrderKind.MERGED]
        if len(merged) > 1:
            near = [o for o in near if o.kind != OrderKind.MERGED or o is merged[0]]
        if len(near) < 2:
            continue
        if pending is not None:
            pending.flush()  # orders_merge works on stored rows
        target = orders_merge(order_ids=[o.pk for o in near], why="auto merge: same buyer and address")
        result -= {o.pk for o in near}
        result.add(target.pk)
    return sorted(result)


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
        _event(order, kind, code, f"split off {part.display_no}: {why}", actor=actor, data={"part": part.pk}),
        _event(part, kind, code, f"split from {order.display_no}: {why}", actor=actor, to_status=part.status,
               data={"split_from": order.pk}),
    ])
    return part


@transaction.atomic
def order_split(*, order_id: int, mode: str = "manual", lines: dict[int, int] | None = None, actor=None,
                why: str = "") -> list[Order]:
    """Split by hand ({line id: quantity} moves to a new part) or by presale vs in-stock lines."""
    from django.core.exceptions import ValidationError

    order = _lock_one(order_id)
    _check_action(order, "split")
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


# --- allocation -------------------------------------------------------------------------------------
@dataclass
class AllocationOutcome:
    allocated: list[int] = field(default_factory=list)
    out_of_stock: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)


@dataclass
class _Reservation:
    order: Order  # the order (or split part) the parcel ships as
    part: object  # allocation.Part
    lines: list[OrderLine]
    why: str


def _allocate(queryset, *, settings: OrderSettings, actor=None, strict: bool = True,
              preloaded: dict[int, tuple[Order, list[OrderLine]]] | None = None,
              pending: _Pending | None = None) -> AllocationOutcome:
    """Allocate approved orders in shipping priority: region, priority, stock, fewest parcels.

    Set-based: one availability read, every parcel planned in memory (each plan takes its stock
    from ``available`` before the next order is planned), ONE reservation call for the whole batch
    (inventory re-checks atomically; a parcel it refuses waits in the out-of-stock queue), then one
    write each for lines, orders and events. ``preloaded``: {order id: (order, active lines)} for
    orders already in memory and locked (fresh from ingestion); ``queryset`` adds others."""
    out = AllocationOutcome()
    preloaded = preloaded or {}
    orders = [o for o, _ in preloaded.values()]
    if queryset is not None:
        orders += [o for o in queryset.select_for_update().order_by("pk") if o.pk not in preloaded]
    orders.sort(key=priority_key)
    if not orders:
        return out
    if strict:
        for o in orders:
            _check_action(o, "allocate")
    inv = ports.inventory()
    lines_by = _active_lines([o.pk for o in orders if o.pk not in preloaded]) if len(preloaded) < len(orders) else {}
    for pk, (_o, lines) in preloaded.items():
        lines_by[pk] = sorted(lines, key=lambda ln: ln.pk)
    warehouses = inv.warehouses()
    sku_ids = sorted({ln.sku_id for lines in lines_by.values() for ln in lines if ln.sku_id})
    available = inv.available(sku_ids=sku_ids) if warehouses else {}
    rules = list(CarrierRule.objects.filter(is_active=True))
    now = timezone.now()
    evs: list[OrderEvent] = []
    changed_orders: list[Order] = []
    changed_lines: list[OrderLine] = []
    planned: list[_Reservation] = []
    for order in orders:
        if order.status != S.APPROVED:
            continue
        lines = lines_by.get(order.pk, [])
        if not lines:
            continue
        if any(ln.sku_id is None for ln in lines):
            order.set_hold_reasons(set(order.hold_reason_list) | {HoldReason.UNMATCHED_SKU})
            evs.append(_set_status(order, S.ON_HOLD, why="a line has no SKU", code="hold.unmatched_sku",
                                   kind=EventKind.RULE))
            changed_orders.append(order)
            out.held.append(order.pk)
            continue
        plan, why = plan_allocation(lines=lines, warehouses=warehouses, available=available,
                                    province=order.receiver_province, allow_split=settings.split_by_stock)
        if plan is not None and len(plan.parts) > 1:
            if pending is not None:
                pending.flush()  # a split part refers to stored rows
            parts = _split_by_plan(order, plan, why=why, settings=settings)
        elif plan is not None:
            parts = [(order, plan.parts[0])]
        else:
            parts = []
        for part_order, part in parts:
            part_lines = lines if part_order is order and len(parts) == 1 else list(
                OrderLine.objects.filter(order=part_order, is_stopped=False).order_by("pk"))
            consume(available, part)
            planned.append(_Reservation(part_order, part, part_lines, why))
        if not parts:
            if order.out_of_stock_since is None:
                order.out_of_stock_since = now
                evs.append(_event(order, EventKind.RULE, "out_of_stock", why, actor=actor))
                changed_orders.append(order)
            out.out_of_stock.append(order.pk)
    refused = ports.reserve_batch(inv, [
        ports.ReserveRequest(key=i, warehouse=r.part.warehouse, shop=r.order.shop_id,
                             items=[(ln.sku_id, ln.quantity, str(ln.pk)) for ln in r.lines])
        for i, r in enumerate(planned)])
    for i, r in enumerate(planned):
        exc = refused.get(i)
        if exc is not None:  # someone took it meanwhile: wait in the queue
            r.order.out_of_stock_since = r.order.out_of_stock_since or now
            evs.append(_event(r.order, EventKind.RULE, "out_of_stock",
                              f"out of stock while reserving: SKU {exc.sku_id} in warehouse {exc.warehouse_id}"))
            changed_orders.append(r.order)
            out.out_of_stock.append(r.order.pk)
            continue
        for ln in r.lines:
            ln.is_reserved, ln.warehouse_id = True, r.part.warehouse.id
            changed_lines.append(ln)
        _finish_allocation(r.order, r.part, rules, settings, now, evs, r.why, actor)
        changed_orders.append(r.order)
        out.allocated.append(r.order.pk)
    if pending is not None and pending.ids:  # not written yet: inserted as they are now
        changed_lines = [ln for ln in changed_lines if ln.order_id not in pending.ids]
        changed_orders = [o for o in changed_orders if not pending.is_pending(o)]
        pending.events += [e for e in evs if e]
        evs = []
    bulk.update(OrderLine, changed_lines, ["is_reserved", "warehouse_id"])
    bulk.update(Order, changed_orders, ["status", "hold_reasons", "warehouse_id", "carrier_code", "allocated_at",
                                        "out_of_stock_since", "updated_at"])
    bulk.insert(OrderEvent, [e for e in evs if e])
    return out


def _finish_allocation(order, part, rules, settings, now, evs, why, actor):
    code, cost, carrier_why = choose_carrier(rules=rules, province=order.receiver_province, warehouse_id=part.warehouse.id,
                                             weight_g=order.weight_g, default_code=settings.default_carrier_code)
    order.warehouse_id = part.warehouse.id
    order.carrier_code = code
    order.allocated_at = now
    order.out_of_stock_since = None
    order.updated_at = now
    evs.append(_set_status(order, S.ALLOCATED, why=why, code="allocated", actor=actor,
                           kind=EventKind.ACTION if actor else EventKind.RULE, data={"warehouse_id": part.warehouse.id}))
    evs.append(_event(order, EventKind.RULE, "carrier", carrier_why, data={"carrier": code, "cost": str(cost)}))


def _split_by_plan(order: Order, plan, *, why: str, settings: OrderSettings):
    """The first part stays in the order; each further warehouse gets a split part."""
    results = [(order, plan.parts[0])]
    for part in plan.parts[1:]:
        fresh = {ln.pk: ln for ln in OrderLine.objects.filter(order=order, is_stopped=False)}
        items = [(fresh[ln.pk], qty) for ln, qty in part.items if ln.pk in fresh]
        child = _carve(order, items, why=f"by warehouse stock: {why}", code="split.stock", settings=settings)
        results.append((child, part))
    return results


@transaction.atomic
def orders_allocate(*, order_ids: list[int], actor=None) -> AllocationOutcome:
    return _allocate(Order.objects.filter(pk__in=order_ids), settings=order_settings(), actor=actor, strict=True)


@transaction.atomic
def order_allocate(*, order_id: int, actor=None) -> Order:
    order = _lock_one(order_id)
    _check_action(order, "allocate")
    outcome = _allocate(Order.objects.filter(pk=order.pk), settings=order_settings(), actor=actor)
    if order.pk in outcome.out_of_stock:
        order.refresh_from_db()
        return order
    order.refresh_from_db()
    return order


@transaction.atomic
def orders_retry_out_of_stock(*, limit: int = 1000) -> AllocationOutcome:
    """The out-of-stock queue, again, in shipping priority (periodic task; also when stock arrives)."""
    ids = list(Order.objects.filter(status=S.APPROVED, out_of_stock_since__isnull=False)
               .order_by("ship_by", "out_of_stock_since").values_list("pk", flat=True)[:limit])
    if not ids:
        return AllocationOutcome()
    return _allocate(Order.objects.filter(pk__in=ids), settings=order_settings(), strict=False)


@transaction.atomic
def order_deallocate(*, order_id: int, actor=None, why: str = "") -> Order:
    order = _lock_one(order_id)
    _check_action(order, "deallocate")
    evs = [_release_order(order, why or "deallocated by an operator")]
    evs.append(_set_status(order, S.APPROVED, why=why or "deallocated by an operator", code="deallocated", actor=actor,
                           kind=EventKind.ACTION))
    order.carrier_code = ""
    order.save()
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return order


@transaction.atomic
def order_pick(*, order_id: int, actor=None) -> Order:
    order = _lock_one(order_id)
    _check_action(order, "pick")
    ev = _set_status(order, S.PICKING, why="picking started", code="picking", actor=actor, kind=EventKind.ACTION)
    order.save()
    ev.save()
    return order


# --- shipping ---------------------------------------------------------------------------------------
def mock_tracking_no(*, carrier_code: str, tenant_id: int, order_id: int) -> str:
    body = f"{tenant_id % 10000:04d}{order_id:010d}"
    check = sum((i % 2 + 1) * int(d) for i, d in enumerate(body)) % 10
    prefix = "".join(ch for ch in carrier_code.upper() if ch.isalnum())[:4] or "MOCK"
    return f"{prefix}{body}{check}"


@transaction.atomic
def order_ship(*, order_id: int, actor=None, tracking_no: str = "", carrier_code: str = "") -> Order:
    """Waybill, stock committed through inventory, shipment pushed to each platform order (outbox)."""
    order = _lock_one(order_id)
    _check_action(order, "ship")
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
        from .allocation import shipping_cost

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
        push_lines = sorted({ln.platform_line_id for ln in its}) if partial else None
        integ.shipment_push_enqueue(shop=origin.shop, platform_order_id=origin.platform_order_id, carrier_code=carrier,
                                    tracking_no=tracking, lines=push_lines)
        pushes.append(origin.platform_order_id)
    order.carrier_code = carrier
    order.tracking_no = tracking
    order.shipped_at = timezone.now()
    evs = [_set_status(order, S.SHIPPED, why=f"shipped with {carrier} {tracking}", code="shipped", actor=actor,
                       kind=EventKind.ACTION if actor else EventKind.SYSTEM,
                       data={"tracking_no": tracking, "carrier": carrier, "pushed": pushes})]
    order.save()
    if order.kind == OrderKind.MERGED:
        for source in _lock(Order.objects.filter(merged_into=order).values_list("pk", flat=True)):
            evs.append(_set_status(source, S.SHIPPED, why=f"shipped in M{order.pk} with {carrier} {tracking}",
                                   code="shipped", actor=actor, kind=EventKind.SYSTEM))
            source.carrier_code, source.tracking_no, source.shipped_at = carrier, tracking, order.shipped_at
            source.save()
    OrderEvent.objects.bulk_create([e for e in evs if e])
    events.publish("order.shipped", order_id=order.pk)
    return order


# --- bulk --------------------------------------------------------------------------------------------
BULK_ACTIONS = {
    "approve": lambda oid, actor, why: order_approve(order_id=oid, actor=actor, why=why),
    "hold": lambda oid, actor, why: order_hold(order_id=oid, actor=actor, why=why),
    "release": lambda oid, actor, why: order_release(order_id=oid, actor=actor, why=why),
    "allocate": lambda oid, actor, why: order_allocate(order_id=oid, actor=actor),
    "pick": lambda oid, actor, why: order_pick(order_id=oid, actor=actor),
    "ship": lambda oid, actor, why: order_ship(order_id=oid, actor=actor),
    "cancel": lambda oid, actor, why: order_cancel(order_id=oid, actor=actor, why=why),
}


def orders_bulk_action(*, action: str, order_ids: list[int], actor=None, why: str = "") -> dict[int, str]:
    """Apply one action to many orders, each in its own transaction: {order id: "ok" | the reason it failed}."""
    from django.core.exceptions import ValidationError

    if action not in BULK_ACTIONS:
        raise ValidationError({"action": f"one of {', '.join(sorted(BULK_ACTIONS))}"})
    results: dict[int, str] = {}
    ids = list(dict.fromkeys(order_ids))
    if action in ("allocate", "ship"):
        known = Order.objects.filter(pk__in=ids)
        ids = [o.pk for o in sorted(known, key=priority_key)] + [i for i in ids if i not in {o.pk for o in known}]
    for oid in ids:
        results[oid] = _bulk_outcome(action, oid, actor, why)
    return results


def on_stock_received(**_):
    """Stock arrived: retry the out-of-stock queue once the receipt is committed (one retry per
    transaction, however many lines the receipt had)."""
    from erp.tenancy.context import get_current_tenant

    tenant = get_current_tenant()
    if tenant is None:
        return
    connection = transaction.get_connection()
    if any(getattr(hook, "oos_retry_tenant", None) == tenant.pk for _sids, hook, *_ in connection.run_on_commit):
        return

    def retry():
        from .tasks import orders_retry_out_of_stock_task

        orders_retry_out_of_stock_task.delay(tenant_id=tenant.pk)

    retry.oos_retry_tenant = tenant.pk
    transaction.on_commit(retry)


# --- bulk jobs: large selections run in the background, in chunks, with progress --------------------
BULK_SYNC_LIMIT = 20  # at most this many orders are still done at once, in the request
BULK_JOB_MAX_ORDERS = 5000
BULK_JOB_CHUNK = 25  # orders between two progress updates
BULK_JOB_BUDGET_SECONDS = 60  # one task run works this long, then queues its continuation
BULK_JOB_LEASE_SECONDS = 120  # a running job without a heartbeat for this long is taken over


def _bulk_outcome(action: str, oid: int, actor, why: str, *, job_id: int | None = None,
                  pending: dict[str, str] | None = None) -> str:
    """Apply ``action`` to one order in its own transaction: "ok" or the reason it was refused.

    For a job (``job_id``), "ok" is written to the job's ``pending`` outcomes in the same transaction
    as the order's change, so a worker killed right after the commit repeats nothing; an unexpected
    error of one order is its reason (logged) instead of stopping the job."""
    from django.core.exceptions import ValidationError
    from django.db import InterfaceError, OperationalError
    from django.http import Http404

    from .models import BulkJob

    try:
        if job_id is None:
            BULK_ACTIONS[action](oid, actor, why)
        else:
            with transaction.atomic():
                BULK_ACTIONS[action](oid, actor, why)
                BulkJob.objects.filter(pk=job_id).update(pending={**(pending or {}), str(oid): "ok"})
        return "ok"
    except Conflict as exc:
        return str(exc.detail)
    except Http404:
        return "not found"
    except ValidationError as exc:
        return "; ".join(exc.messages)
    except Exception as exc:
        from celery.exceptions import SoftTimeLimitExceeded

        if job_id is None or isinstance(exc, (OperationalError, InterfaceError, SoftTimeLimitExceeded)):
            raise
        logger.exception("bulk job %s: %s of order %s failed", job_id, action, oid)
        return f"error: {exc.__class__.__name__}"


@dataclass
class BulkStart:
    """What bulk_job_start did: ``results`` when it ran at once, else the queued ``job``."""

    results: dict[int, str] | None = None
    job: object | None = None


def bulk_job_start(*, action: str, order_ids: list[int], actor=None, why: str = "") -> BulkStart:
    """Start one action on many orders. Up to BULK_SYNC_LIMIT orders run at once (as
    orders_bulk_action); more become a BulkJob processed by a task queued on commit. Orders of other
    tenants, like absent ones, end as "not found"."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from .models import BulkJob
    from .tasks import orders_bulk_job_task

    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Unknown action %(action)s: one of %(choices)s.")
                               % {"action": action, "choices": ", ".join(sorted(BULK_ACTIONS))}})
    try:
        ids = list(dict.fromkeys(int(i) for i in order_ids))
    except (TypeError, ValueError):
        raise ValidationError({"order_ids": _("Order ids are whole numbers.")}) from None
    if not ids:
        raise ValidationError({"order_ids": _("Pick at least one order.")})
    if len(ids) > BULK_JOB_MAX_ORDERS:
        raise ValidationError({"order_ids": _("At most %(n)d orders at a time.") % {"n": BULK_JOB_MAX_ORDERS}})
    if len(ids) <= BULK_SYNC_LIMIT:
        return BulkStart(results=orders_bulk_action(action=action, order_ids=ids, actor=actor, why=why))
    if action in ("allocate", "ship"):  # the most urgent first, as orders_bulk_action does
        known = list(Order.objects.filter(pk__in=ids).only("id", "kind", "ship_by", "buyer_level", "paid_at",
                                                           "platform_created_at", "created_at"))
        found = {o.pk for o in known}
        ids = [o.pk for o in sorted(known, key=priority_key)] + [i for i in ids if i not in found]
    job = BulkJob.objects.create(action=action, why=(why or "")[:500], order_ids=ids, total=len(ids),
                                 requested_by=actor if getattr(actor, "pk", None) else None)
    tenant_id, job_id = job.tenant_id, job.pk
    transaction.on_commit(lambda: orders_bulk_job_task.delay(tenant_id=tenant_id, job_id=job_id))
    return BulkStart(job=job)


def _bulk_job_fold(job) -> None:
    """Fold the pending outcomes into the results and recount."""
    if job.pending:
        job.results = {**job.results, **job.pending}
        job.pending = {}
    job.ok_count = sum(1 for v in job.results.values() if v == "ok")
    job.failed_count = len(job.results) - job.ok_count


def _bulk_job_claim(*, job_id: int, token: str):
    """Take the job for this run (``token``): None when it is finished, gone, or another run holds a
    fresh lease. Outcomes a killed run left pending are folded into the results first."""
    from .models import BulkJob, BulkJobStatus

    now = timezone.now()
    with transaction.atomic():
        job = BulkJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if (job.status == BulkJobStatus.RUNNING and job.lease and job.lease != token and job.heartbeat_at
                and job.heartbeat_at > now - timedelta(seconds=BULK_JOB_LEASE_SECONDS)):
            return None
        _bulk_job_fold(job)
        job.status, job.lease, job.heartbeat_at = BulkJobStatus.RUNNING, token, now
        job.started_at = job.started_at or now
        job.save()
    return job


def _bulk_job_checkpoint(*, job_id: int, token: str, outcomes: dict[str, str]):
    """Record a chunk's outcomes and the heartbeat; finish the job when every order has one. None
    when another run has taken the job over (this run stops; that one continues)."""
    from .models import BulkJob, BulkJobStatus

    with transaction.atomic():
        job = BulkJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.lease != token or job.is_finished:
            return None
        job.pending = {**job.pending, **outcomes}
        _bulk_job_fold(job)
        job.heartbeat_at = timezone.now()
        if all(str(i) in job.results for i in job.order_ids):
            job.status, job.finished_at, job.lease = BulkJobStatus.DONE, job.heartbeat_at, ""
        job.save()
    return job


def bulk_job_run(*, job_id: int, token: str, budget_seconds: float | None = None) -> str:
    """Process a job's orders not yet done, chunk by chunk, each order in its own transaction.

    Returns "done", "more" (the budget ran out: queue a continuation), or "skipped" (finished,
    gone, or another run holds it). Safe to run twice: processed orders are skipped."""
    import time

    job = _bulk_job_claim(job_id=job_id, token=token)
    if job is None:
        return "skipped"
    actor, deadline = job.requested_by, None if budget_seconds is None else time.monotonic() + budget_seconds
    todo = [i for i in job.order_ids if str(i) not in job.results]
    for start in range(0, len(todo), BULK_JOB_CHUNK):
        if deadline is not None and start and time.monotonic() > deadline:
            return "more"
        outcomes: dict[str, str] = {}
        for oid in todo[start:start + BULK_JOB_CHUNK]:
            outcomes[str(oid)] = _bulk_outcome(job.action, oid, actor, job.why, job_id=job.pk, pending=outcomes)
        job = _bulk_job_checkpoint(job_id=job_id, token=token, outcomes=outcomes)
        if job is None:
            return "skipped"
    if not todo:
        _bulk_job_checkpoint(job_id=job_id, token=token, outcomes={})
    return "done"


def bulk_job_hand_over(*, job_id: int, token: str, next_token: str) -> bool:
    """Pass the job's lease to the continuation about to be queued (False if this run lost it)."""
    from .models import BulkJob

    return bool(BulkJob.objects.filter(pk=job_id, lease=token).update(lease=next_token, heartbeat_at=timezone.now()))


@transaction.atomic
def bulk_job_fail(*, job_id: int, error: str):
    """A run broke on something other than one order: the job ends failed, with what it did so far."""
    from .models import BulkJob, BulkJobStatus

    job = BulkJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.is_finished:
        return job
    _bulk_job_fold(job)
    job.status, job.error, job.finished_at, job.lease = BulkJobStatus.FAILED, error[:2000], timezone.now(), ""
    job.save()
    return job


def _bulk_jobs_stalled_q():
    from django.db.models import Q

    from .models import BulkJobStatus

    now = timezone.now()
    cutoff = now - timedelta(seconds=BULK_JOB_LEASE_SECONDS)
    quiet = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    return Q(status__in=[BulkJobStatus.QUEUED, BulkJobStatus.RUNNING], created_at__gte=now - timedelta(days=1)) & quiet


def bulk_jobs_stalled() -> list[tuple[int, int]]:
    """(tenant id, job id) of every job whose run stopped (a killed worker, a lost message): queued or
    running without a sign of life for BULK_JOB_LEASE_SECONDS, created in the last day. System use."""
    from .models import BulkJob

    return list(BulkJob.all_tenants.filter(_bulk_jobs_stalled_q()).order_by("pk").values_list("tenant_id", "pk"))


def bulk_jobs_take_over_stalled() -> list[tuple[int, int, str]]:
    """Give each stalled job's lease to a new run: (tenant id, job id, lease token) to queue as the
    task id. The fresh heartbeat keeps the next sweeps from queueing it again while that run waits
    in the queue. System use (inside system_context)."""
    import uuid

    from .models import BulkJob

    taken = []
    for tenant_id, job_id in bulk_jobs_stalled():
        token = str(uuid.uuid4())
        if BulkJob.all_tenants.filter(_bulk_jobs_stalled_q(), pk=job_id).update(lease=token,
                                                                               heartbeat_at=timezone.now()):
            taken.append((tenant_id, job_id, token))
    return taken
