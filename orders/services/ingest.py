"""Ingestion of normalised platform orders: new orders are built, reviewed, merged and allocated
in memory and inserted set-based (one page costs a constant number of queries); newer versions of
known orders go to ``interception``. Also the handler of ``platform_orders.changed``."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models.base import ModelState

from erp import events
from integrations.ports import NormalizedOrder
from integrations.selectors import shop_get

from .. import bulk, ports
from ..models import (
    EventKind,
    HoldReason,
    Order,
    OrderEvent,
    OrderKind,
    OrderLine,
    OrderSettings,
    RefundState,
)
from ..rules import ReviewContext
from ..status_mapping import PRE_SHIPMENT, map_order
from ._common import WORKFLOW, S, _fill_from_normalized, _money, _recount, order_settings
from .allocation import _allocate
from .interception import _apply_update
from .merge import _auto_merge
from .review import _decide
from .split import _carve


# --- ingestion ------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    order_ids: list[int] = field(default_factory=list)


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
    used: list[tuple[NormalizedOrder, Order]] = []  # orders that redeemed coupons
    if new:
        created, lines_by_order = _create_orders(shop, new, settings, pending)
        used += [(n, o) for n, o in zip(new, created, strict=True) if n.coupons]
        result.created = len(created)
        result.order_ids += [o.pk for o in created]
        for o, lines in zip(created, lines_by_order, strict=True):
            if o.status == S.APPROVED:
                to_allocate.append(o.pk)
                loaded[o.pk] = (o, [ln for ln in lines if not ln.is_stopped])
    for current, n in updates:
        if n.coupons:
            used.append((n, current))
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
    _announce_coupons(shop, used)
    return result


def _announce_coupons(shop, used: list[tuple[NormalizedOrder, Order]]) -> None:
    """``order.coupons_used`` for every stored order whose platform payload redeemed coupons (in this
    transaction: members redeems them with the order, idempotently; an order that arrives again
    unchanged is skipped above and announces nothing)."""
    for n, order in used:
        events.publish("order.coupons_used", order_id=order.pk, shop_id=shop.pk, platform=shop.platform,
                       platform_order_id=n.platform_order_id, buyer_id=n.buyer_id or "",
                       coupons=[{"platform_coupon_id": c.platform_coupon_id, "code": c.code, "amount": str(c.amount)}
                                for c in n.coupons],
                       goods_amount=str(n.goods_amount), currency=n.currency or "CNY",
                       paid_at=(n.paid_at or n.created_at).isoformat() if (n.paid_at or n.created_at) else None)


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
        evs.append(WORKFLOW.event(order, EventKind.PLATFORM, "created",
                                  f"received from {order.platform}: {m.explanation}", to_status=m.status))
        holds = set(m.platform_holds)
        if any(ln.refund_state == RefundState.REQUESTED for ln in lines) and m.status in PRE_SHIPMENT:
            holds.add(HoldReason.REFUND)
        if m.status in (S.PENDING_REVIEW, S.ON_HOLD):
            active = [ln for ln in lines if not ln.is_stopped]
            if not active and not holds - {HoldReason.UNPAID}:
                order.status = S.CANCELLED
                evs.append(WORKFLOW.event(order, EventKind.RULE, "cancelled.no_lines",
                                          "every line is refunded or cancelled", to_status=S.CANCELLED))
                continue
            evs += _decide(order, lines, holds, ctx)
        elif m.status == S.SHIPPED:
            evs.append(WORKFLOW.event(order, EventKind.PLATFORM, "shipped.outside",
                                      "already shipped on the platform when received"))
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


def on_platform_orders_changed(*, shop_id, platform_order_ids, **_):
    """erp.events handler: integrations committed new versions of these platform orders."""
    shop = shop_get(shop_id=shop_id)
    ids = list(platform_order_ids)
    for start in range(0, len(ids), 500):
        normalized = ports.integrations().normalized_orders(shop_id=shop_id, platform_order_ids=ids[start:start + 500])
        if normalized:
            orders_ingest_normalized(shop=shop, normalized=normalized)
