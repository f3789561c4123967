"""Merging orders of one buyer and receiver into one shipment (by hand, dry run, automatically at
ingestion) and dissolving a merged shipment again."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F

from erp.api.exceptions import Conflict

from ..models import EventKind, Order, OrderEvent, OrderKind, OrderLine, OrderSettings
from ._common import (
    ACTION_STATES,
    RESERVED_STATES,
    TRANSITIONS,
    WORKFLOW,
    S,
    _recount,
    _release_order,
    order_settings,
)

if TYPE_CHECKING:
    from .ingest import _Pending


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
    orders = WORKFLOW.lock_many(set(order_ids))
    if len(orders) < 2:
        raise Conflict("Pick at least two orders to merge.")
    settings = order_settings()
    merged = [o for o in orders if o.kind == OrderKind.MERGED]
    if len(merged) > 1:
        raise Conflict("Two merged shipments cannot merge; unmerge one first.")
    base = merged[0] if merged else orders[0]
    for o in orders:
        WORKFLOW.check(o, "merge")
        problems = _merge_problems(base, o, settings, check_window=check_window)
        if problems:
            raise Conflict(f"Order {o.display_no} cannot merge with {base.display_no}: {'; '.join(problems)}.")
    sources = [o for o in orders if o is not base] if merged else orders
    evs = []
    for o in orders:  # allocated ones give their stock back; the merged shipment is allocated afresh
        if o.status in RESERVED_STATES:
            ev = _release_order(o, "merging")
            evs += [ev] if ev else []
            evs.append(WORKFLOW.set_status(o, S.APPROVED, why="merging: allocation released", code="deallocated",
                                           save=False))
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
        evs.append(WORKFLOW.set_status(o, S.CLOSED,
                                       why=f"merged into M{target.pk}: {why or 'same buyer and address'}",
                                       code="merged", actor=actor, kind=EventKind.ACTION if actor else EventKind.RULE,
                                       data={"merged_into": target.pk}, save=False))
        o.merged_into = target
        o.save(update_fields=["status", "previous_status", "merged_into", "updated_at"])
    _recount(target, list(OrderLine.objects.filter(order=target)), settings)
    target.save()
    evs.append(WORKFLOW.event(target, EventKind.ACTION if actor else EventKind.RULE, "merged",
                              f"merged {', '.join(o.display_no for o in sources)}: {why or 'same buyer and address'}",
                              actor=actor, to_status=target.status, data={"sources": [o.pk for o in sources]}))
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return target


@transaction.atomic
def order_unmerge(*, order_id: int, actor=None, why: str = "") -> list[Order]:
    """Dissolve a merged shipment: every line goes back to its platform order, which gets its status
    from before the merge; the merged order is closed."""
    target = WORKFLOW.lock(order_id)
    if target.kind != OrderKind.MERGED:
        raise Conflict(f"Order {target.display_no} is not a merged shipment.")
    WORKFLOW.check(target, "unmerge")
    if Order.objects.filter(split_from=target).exclude(status__in=[S.CANCELLED, S.CLOSED]).exists():
        raise Conflict(f"Merged shipment {target.display_no} has split parts; ship or cancel them first.")
    evs = []
    if target.status in RESERVED_STATES:
        ev = _release_order(target, "unmerged")
        evs += [ev] if ev else []
    sources = WORKFLOW.lock_many(Order.objects.filter(merged_into=target).values_list("pk", flat=True))
    OrderLine.objects.filter(order=target).update(order=F("origin_order_id"))
    settings = order_settings()
    for o in sources:
        back = o.previous_status or S.PENDING_REVIEW
        if back not in TRANSITIONS[S.CLOSED]:
            back = S.PENDING_REVIEW
        evs.append(WORKFLOW.set_status(o, back, why=f"unmerged from M{target.pk}: {why or 'by an operator'}",
                                       code="unmerged", actor=actor, kind=EventKind.ACTION, save=False))
        o.merged_into = None
        o.previous_status = ""
        _recount(o, list(OrderLine.objects.filter(order=o)), settings)
        o.save()
    target.line_count = target.total_quantity = target.weight_g = 0
    evs.append(WORKFLOW.set_status(target, S.CLOSED if S.CLOSED in TRANSITIONS[target.status] else S.CANCELLED,
                                   why=f"unmerged: {why or 'by an operator'}", code="unmerged", actor=actor, kind=EventKind.ACTION, save=False))
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
