"""Reads of the inventory: availability, what each shop should show, the dirty queue, stock health.

``sku_for_platform_line`` records the mapping it looks up (an unmatched platform SKU becomes a row in
the operators' queue, never a silent drop); ``dirty_stock_ack`` lives in services and is re-exported
here because the interface names it next to ``dirty_stock_claim``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from erp.tenancy.dates import day_start, tenant_today

from . import stock_sql
from .models import (
    SKU,
    BundleComponent,
    LockStatus,
    MatchMethod,
    MoveKind,
    PlatformSkuMapping,
    StockDirty,
    StockLevel,
    StockLock,
    StockMove,
    SyncRule,
    SyncRuleWarehouse,
    Warehouse,
)
from .services import dirty_stock_ack  # noqa: F401  (part of the interface, see module docstring)


@dataclass
class ShopStockLine:
    mapping_id: int
    sku_id: int
    platform_item_id: str
    platform_sku_id: str
    outer_id: str
    quantity: int
    delist: bool = False  # the shop's rule says: take the listing off sale at zero


@dataclass
class DirtyStockLine(ShopStockLine):
    version: int = 0


# --- catalog ---------------------------------------------------------------------------------

def sku_for_platform_line(*, shop, platform_item_id: str, platform_sku_id: str = "", outer_id: str = "",
                          title: str = "") -> SKU | None:
    """Our SKU for a platform order line. Uses the mapping; without one, matches outer_id against
    the merchant code and records the mapping; when nothing matches records an unmatched row for the
    operators' queue and returns None."""
    platform_item_id = str(platform_item_id or "")[:64]
    platform_sku_id = str(platform_sku_id or "")[:64]
    outer_id = str(outer_id or "").strip()[:64]
    mapping = (PlatformSkuMapping.objects.select_related("sku")
               .filter(shop=shop, platform_item_id=platform_item_id, platform_sku_id=platform_sku_id).first())
    if mapping is not None and mapping.sku_id is not None:
        return mapping.sku
    sku = SKU.objects.filter(code=outer_id).first() if outer_id else None
    now = timezone.now()
    try:
        with transaction.atomic():
            if mapping is None:
                mapping = PlatformSkuMapping.objects.create(
                    shop=shop, platform_item_id=platform_item_id, platform_sku_id=platform_sku_id, outer_id=outer_id,
                    title=str(title or "")[:300], sku=sku, match_method=MatchMethod.AUTO if sku else MatchMethod.NONE,
                    last_seen_at=now)
            else:
                updated = PlatformSkuMapping.objects.filter(pk=mapping.pk, sku__isnull=True).update(
                    sku=sku, outer_id=outer_id or mapping.outer_id,
                    match_method=MatchMethod.AUTO if sku else MatchMethod.NONE, last_seen_at=now, updated_at=now)
                if not updated:  # mapped by someone else meanwhile
                    return PlatformSkuMapping.objects.select_related("sku").get(pk=mapping.pk).sku
            if sku is not None:
                stock_sql.mark_mappings_dirty([mapping.pk])
    except IntegrityError:  # a concurrent first sighting created it
        mapping = PlatformSkuMapping.objects.select_related("sku").get(
            shop=shop, platform_item_id=platform_item_id, platform_sku_id=platform_sku_id)
        return mapping.sku
    return sku


def skus_for_platform_lines(*, shop, lines) -> dict[tuple, SKU | None]:
    """``sku_for_platform_line`` for many lines at once, in a constant number of queries. ``lines``
    are (platform_item_id, platform_sku_id, outer_id[, title]) tuples (or dicts of those keys); the
    answer maps each tuple as given (a dict line: its (item, sku, outer) tuple) to our SKU or None. Same rules: the mapping first; without one, outer_id == SKU.code
    auto-matches and records the mapping; nothing matching records an unmatched row for the
    operators' queue. A concurrent first sighting of the same platform SKU (unique violation) falls
    back to the per-line path for this call."""
    wanted: dict[tuple[str, str], list[tuple]] = {}
    for line in lines:
        if isinstance(line, dict):  # {"platform_item_id", "platform_sku_id", "outer_id"[, "title"]}: keyed (item, sku, outer)
            title = line.get("title", "")
            line = (line.get("platform_item_id", ""), line.get("platform_sku_id", ""), line.get("outer_id", ""))
        else:
            title = line[3] if len(line) > 3 else ""
        item, psku, outer = line[0], line[1], line[2]
        key = (str(item or "")[:64], str(psku or "")[:64])
        wanted.setdefault(key, []).append((tuple(line), str(outer or "").strip()[:64], str(title or "")[:300]))
    if not wanted:
        return {}
    mappings = {(m.platform_item_id, m.platform_sku_id): m for m in PlatformSkuMapping.objects.select_related("sku")
                .filter(shop=shop, platform_item_id__in={k[0] for k in wanted}) if (m.platform_item_id, m.platform_sku_id) in wanted}
    codes = {outer for key, occ in wanted.items() if not (key in mappings and mappings[key].sku_id)
             for _line, outer, _title in occ if outer}
    by_code = {s.code: s for s in SKU.objects.filter(code__in=codes)} if codes else {}
    result: dict[tuple, SKU | None] = {}
    creates, updates = [], []  # new mappings; (mapping, sku, outer) for unmatched ones seen again
    for key, occ in wanted.items():
        mapping = mappings.get(key)
        if mapping is not None and mapping.sku_id is not None:
            for line, _outer, _title in occ:
                result[line] = mapping.sku
            continue
        current, outer_final = None, ""
        for line, outer, _title in occ:  # as one call per line would: the first match maps it
            if current is None:
                sku = by_code.get(outer) if outer else None
                if outer:
                    outer_final = outer
                if sku is not None:
                    current = sku
            result[line] = current
        if mapping is None:
            creates.append((key, occ[0][2], outer_final, current))
        else:
            updates.append((mapping, current, outer_final))
    now = timezone.now()
    try:
        with transaction.atomic():
            created = PlatformSkuMapping.objects.bulk_create([
                PlatformSkuMapping(tenant_id=shop.tenant_id, shop=shop, platform_item_id=key[0], platform_sku_id=key[1],
                                   outer_id=outer, title=title, sku=sku,
                                   match_method=MatchMethod.AUTO if sku else MatchMethod.NONE, last_seen_at=now)
                for key, title, outer, sku in creates])
            stale = _touch_unmatched(updates, now)
            stock_sql.mark_mappings_dirty([m.pk for m in created if m.sku_id] +
                                          [m.pk for m, sku, _o in updates if sku is not None and m.pk not in stale])
    except IntegrityError:  # a concurrent first sighting: the per-line path sorts it out
        return {line: sku_for_platform_line(shop=shop, platform_item_id=line[0], platform_sku_id=line[1],
                                            outer_id=line[2], title=title)
                for occ in wanted.values() for line, _o, title in occ}
    if stale:  # mapped by someone else meanwhile: theirs wins
        fresh = {m.pk: m.sku for m in PlatformSkuMapping.objects.select_related("sku").filter(pk__in=stale)}
        for mapping, _sku, _outer in updates:
            if mapping.pk in stale:
                for line, _o, _t in wanted[(mapping.platform_item_id, mapping.platform_sku_id)]:
                    result[line] = fresh.get(mapping.pk)
    return result


def _touch_unmatched(updates, now) -> set[int]:
    """One UPDATE for the unmatched mappings seen again (matched now or still waiting); returns the
    ids that were mapped by someone else meanwhile (left alone)."""
    if not updates:
        return set()
    from django.db import connection

    ids = [m.pk for m, _s, _o in updates]
    if connection.vendor != "postgresql":  # the embedded SQLite database: one statement per mapping
        done = set()
        for mapping, sku, outer in updates:
            fields = {"sku": sku, "match_method": MatchMethod.AUTO if sku else MatchMethod.NONE, "last_seen_at": now,
                      "updated_at": now, **({"outer_id": outer} if outer else {})}
            if PlatformSkuMapping.objects.filter(pk=mapping.pk, sku__isnull=True).update(**fields):
                done.add(mapping.pk)
        return set(ids) - done
    table = PlatformSkuMapping._meta.db_table
    sql = (f"UPDATE {table} m SET sku_id = v.s, outer_id = COALESCE(NULLIF(v.o, ''), m.outer_id),"
           " match_method = v.mm, last_seen_at = %s, updated_at = %s"
           " FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS v(id, s, o, mm)"
           " WHERE m.tenant_id = %s AND m.id = v.id AND m.sku_id IS NULL RETURNING m.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, now, ids, [s.pk if s else None for _m, s, _o in updates], [o for _m, _s, o in updates],
                             [MatchMethod.AUTO if s else MatchMethod.NONE for _m, s, _o in updates], stock_sql.tenant_id()])
        done = {row[0] for row in cursor.fetchall()}
    return set(ids) - done


def unmatched_mappings(*, shop=None):
    queue = PlatformSkuMapping.objects.filter(sku__isnull=True).select_related("shop").order_by("-last_seen_at", "-id")
    return queue.filter(shop=shop) if shop is not None else queue


def bundle_components(*, sku_ids) -> dict[int, list[tuple[int, int]]]:
    parts = defaultdict(list)
    for bundle_id, component_id, qty in (BundleComponent.objects.filter(bundle_id__in=sku_ids)
                                         .order_by("component_id").values_list("bundle_id", "component_id", "quantity")):
        parts[bundle_id].append((component_id, qty))
    return dict(parts)


# --- availability ------------------------------------------------------------------------------

def warehouses_for_allocation() -> list[Warehouse]:
    return list(Warehouse.objects.filter(is_active=True).order_by("priority", "id"))


def available_by_warehouse(*, sku_ids: list[int]) -> dict[tuple[int, int], int]:
    """{(warehouse_id, sku_id): available} — on_hand - reserved - promotion-locked; a bundle's is
    the number of whole bundles its components allow in that warehouse."""
    sku_ids = list({int(s) for s in sku_ids})
    parts = bundle_components(sku_ids=sku_ids)
    stock_ids = {s for s in sku_ids if s not in parts} | {c for comps in parts.values() for c, _ in comps}
    avail: dict[tuple[int, int], int] = {}
    warehouses = set()
    for w, s, on_hand, reserved, locked in StockLevel.objects.filter(sku_id__in=stock_ids).values_list(
            "warehouse_id", "sku_id", "on_hand", "reserved", "locked"):
        avail[(w, s)] = max(on_hand - reserved - locked, 0)
        warehouses.add(w)
    result = {(w, s): n for (w, s), n in avail.items() if s in sku_ids}
    for bundle_id, comps in parts.items():
        for w in warehouses:
            result[(w, bundle_id)] = min(avail.get((w, c), 0) // q for c, q in comps)
    return result


def sku_stock(*, sku: SKU) -> list[dict]:
    """Per-warehouse figures of one SKU (components' figures drive a bundle's)."""
    rows = StockLevel.objects.filter(sku=sku).select_related("warehouse").order_by("warehouse__priority", "warehouse_id")
    return [{"warehouse": lv.warehouse, "on_hand": lv.on_hand, "reserved": lv.reserved, "locked": lv.locked,
             "available": lv.available, "in_transit": lv.in_transit, "defective": lv.defective} for lv in rows]


# --- channel stock -------------------------------------------------------------------------------

def shop_warehouses(*, shop) -> list[Warehouse]:
    """The active warehouses that feed a shop (its rule's list; none listed or no rule: all)."""
    ids = list(SyncRuleWarehouse.objects.filter(rule__shop=shop).values_list("warehouse_id", flat=True))
    queryset = Warehouse.objects.filter(is_active=True).order_by("priority", "id")
    return list(queryset.filter(pk__in=ids) if ids else queryset)


def apply_sync_rule(rule: SyncRule | None, available: int) -> int:
    """What a shop shows for ``available`` units under its rule: (available - safety) × percentage
    (rounded down) ± adjust, at most ``max``, at least ``min`` while anything is left, and never more
    than the units really there after safety stock."""
    if rule is None:
        return max(available, 0)
    real = available - rule.safety_stock
    if real <= 0:
        return 0
    quantity = real * rule.percentage // 100 + rule.adjust
    if rule.max_quantity is not None:
        quantity = min(quantity, rule.max_quantity)
    if rule.min_quantity is not None:
        quantity = max(quantity, rule.min_quantity)
    return max(min(quantity, real), 0)


def sellable_stock_for_shop(*, shop, sku_ids=None, mapping_ids=None) -> list[ShopStockLine]:
    """What the shop should show now for each of its matched platform SKUs, after its sync rule and
    its promotion locks (a lock's remaining units are added on top for the lock's shop only)."""
    rule = SyncRule.objects.filter(shop=shop).first()
    mappings = PlatformSkuMapping.objects.filter(shop=shop, sku__isnull=False)
    if sku_ids is not None:
        mappings = mappings.filter(sku_id__in=list(sku_ids))
    if mapping_ids is not None:
        mappings = mappings.filter(pk__in=list(mapping_ids))
    mappings = list(mappings.order_by("id").values_list("id", "sku_id", "platform_item_id", "platform_sku_id", "outer_id"))
    if not mappings:
        return []
    skus = {m[1] for m in mappings}
    parts = bundle_components(sku_ids=skus)
    stock_ids = {s for s in skus if s not in parts} | {c for comps in parts.values() for c, _ in comps}
    warehouse_ids = [w.pk for w in shop_warehouses(shop=shop)]
    avail: dict[tuple[int, int], int] = {}
    for w, s, on_hand, reserved, locked in StockLevel.objects.filter(warehouse_id__in=warehouse_ids, sku_id__in=stock_ids).values_list(
            "warehouse_id", "sku_id", "on_hand", "reserved", "locked"):
        avail[(w, s)] = max(on_hand - reserved - locked, 0)
    own_locks = dict(StockLock.objects.filter(shop=shop, status=LockStatus.ACTIVE, sku_id__in=stock_ids)
                     .values("sku_id").annotate(n=Sum("remaining")).values_list("sku_id", "n"))
    total: dict[int, int] = {}
    for sku_id in skus:
        if sku_id in parts:
            total[sku_id] = apply_sync_rule(rule, sum(min(avail.get((w, c), 0) // q for c, q in parts[sku_id])
                                                      for w in warehouse_ids))
        else:
            total[sku_id] = apply_sync_rule(rule, sum(avail.get((w, sku_id), 0) for w in warehouse_ids)) + (own_locks.get(sku_id) or 0)
    delist = rule.auto_delist if rule is not None else True
    return [ShopStockLine(mapping_id=mid, sku_id=sid, platform_item_id=item, platform_sku_id=psku, outer_id=outer,
                          quantity=total[sid], delist=delist and total[sid] == 0)
            for mid, sid, item, psku, outer in mappings]


def dirty_stock_claim(*, shop, limit: int = 500) -> list[DirtyStockLine]:
    """The shop's changed mappings with the quantity to show now and the version to acknowledge.
    Nothing while the shop's sync is switched off (the marks wait)."""
    rule = SyncRule.objects.filter(shop=shop).first()
    if rule is not None and not rule.is_active:
        return []
    stock_sql.propagate_stock_changes()
    marks = list(StockDirty.objects.filter(shop=shop, dirty=True).order_by("changed_at", "mapping_id")
                 .values_list("mapping_id", "version")[: max(int(limit), 1)])
    if not marks:
        return []
    versions = dict(marks)
    lines = {line.mapping_id: line for line in sellable_stock_for_shop(shop=shop, mapping_ids=list(versions))}
    result = []
    for mapping_id, version in marks:
        line = lines.get(mapping_id)
        if line is None:  # unmapped since it was marked: nothing to push
            continue
        result.append(DirtyStockLine(**line.__dict__, version=version))
    return result


# --- reports -------------------------------------------------------------------------------------

@dataclass
class StockHealthLine:
    sku_id: int
    code: str
    name: str
    on_hand: int
    available: int
    sold: int  # units shipped in the window
    daily: float  # average units a day
    days_of_cover: float | None  # None: nothing sold
    status: str  # out | risk | slow | ok


def stock_health(*, days: int = 30, risk_days: int = 7, slow_days: int = 90, warehouse=None, status=None) -> list[StockHealthLine]:
    """Per SKU: days of cover from the shipments of the last ``days`` days of the tenant's calendar
    (today and the ``days - 1`` before it, from the first day's midnight in the tenant's zone); 'out'
    (nothing available but it sells), 'risk' (less than risk_days of cover), 'slow' (stock but no sale,
    or more than slow_days of cover)."""
    since = day_start(tenant_today() - datetime.timedelta(days=max(days, 1) - 1))
    levels = StockLevel.objects.all()
    moves = Q(moves__kind=MoveKind.SHIPMENT, moves__created_at__gte=since)
    if warehouse is not None:
        levels = levels.filter(warehouse=warehouse)
        moves &= Q(moves__warehouse=warehouse)
    stock = {s: (oh, av) for s, oh, av in levels.values("sku_id").annotate(
        oh=Sum("on_hand"), av=Sum("on_hand") - Sum("reserved") - Sum("locked")).values_list("sku_id", "oh", "av")}
    sold = dict(SKU.objects.filter(is_bundle=False).annotate(n=Sum("moves__on_hand_delta", filter=moves))
                .exclude(n=None).values_list("id", "n"))
    lines = []
    for sku_id, code, name in SKU.objects.filter(is_bundle=False, pk__in=set(stock) | set(sold)).order_by("code").values_list("id", "code", "name"):
        on_hand, available = stock.get(sku_id, (0, 0))
        n = -(sold.get(sku_id) or 0)
        daily = n / days if days else 0.0
        cover = (available / daily) if daily > 0 else None
        if daily > 0 and available <= 0:
            state = "out"
        elif cover is not None and cover < risk_days:
            state = "risk"
        elif on_hand > 0 and (cover is None or cover > slow_days):
            state = "slow"
        else:
            state = "ok"
        if status and state != status:
            continue
        lines.append(StockHealthLine(sku_id=sku_id, code=code, name=name, on_hand=on_hand, available=available, sold=n,
                                     daily=round(daily, 2), days_of_cover=None if cover is None else round(cover, 1),
                                     status=state))
    return lines


COVER_BUCKETS = ("out", "lt7", "7-30", "30-90", "gt90", "none")


def cover_bucket(line: StockHealthLine, *, risk_days: int = 7, slow_days: int = 90) -> str:
    """The days-of-cover band of a stock health line: sold out, under risk_days, up to 30, up to
    slow_days, beyond, or no sale in the window (no cover to compute)."""
    if line.status == "out":
        return "out"
    if line.days_of_cover is None:
        return "none"
    if line.days_of_cover < risk_days:
        return "lt7"
    if line.days_of_cover < 30:
        return "7-30"
    if line.days_of_cover <= slow_days:
        return "30-90"
    return "gt90"


def stock_health_charts(lines: list[StockHealthLine], *, top: int = 10) -> dict:
    """From the stock health page's own lines: SKUs per days-of-cover band and the slow movers holding
    the most stock (chart specs for static/erp/charts.js; bands and labels translated)."""
    from django.utils.translation import gettext as _

    labels = {"out": _("Sold out"), "lt7": _("Under 7 days"), "7-30": _("7–30 days"), "30-90": _("30–90 days"),
              "gt90": _("Over 90 days"), "none": _("No sales")}
    counts = dict.fromkeys(COVER_BUCKETS, 0)
    for line in lines:
        counts[cover_bucket(line)] += 1
    slow = sorted((x for x in lines if x.status == "slow"), key=lambda x: (-x.on_hand, x.code))[:top]
    return {
        "cover": {"type": "bar", "categories": [labels[b] for b in COVER_BUCKETS], "axes": [{"name": _("SKUs")}],
                  "series": [{"name": _("SKUs"), "data": [counts[b] for b in COVER_BUCKETS]}],
                  "buckets": list(COVER_BUCKETS)},
        "slow": {"type": "bar", "horizontal": True, "categories": [f"{x.code} {x.name}".strip() for x in slow],
                 "axes": [{"name": _("On hand")}, {"name": _("Days of cover")}],
                 "series": [{"name": _("On hand"), "data": [x.on_hand for x in slow]},
                            {"name": _("Days of cover"), "type": "line", "axis": 1,
                             "data": [x.days_of_cover for x in slow]}],
                 "sku_ids": [x.sku_id for x in slow], "empty": _("No slow movers")},
    }


def stock_health_counts(**kwargs) -> dict[str, int]:
    counts = defaultdict(int)
    for line in stock_health(**kwargs):
        counts[line.status] += 1
    return dict(counts)


def unmatched_count() -> int:
    return PlatformSkuMapping.objects.filter(sku__isnull=True).count()


def active_locks_summary() -> dict:
    return StockLock.objects.filter(status=LockStatus.ACTIVE).aggregate(n=Count("id"), units=Sum("remaining"))


def skus_by_ids(*, sku_ids) -> dict[int, SKU]:
    """The tenant's SKUs with these ids (unknown ids are absent from the answer)."""
    return {s.pk: s for s in SKU.objects.filter(pk__in=list(sku_ids))}


def sku_unit_costs(*, sku_ids) -> dict:
    """Unit cost (Decimal) of each known SKU; a bundle without a cost of its own costs the sum of its
    components' costs times their quantities: {sku_id: Decimal}. Unknown ids are absent. For finance (COGS)."""
    from decimal import Decimal

    rows = dict(SKU.objects.filter(pk__in=list(sku_ids)).values_list("pk", "unit_cost"))
    parts = bundle_components(sku_ids=[pk for pk, cost in rows.items() if not cost])
    components = dict(SKU.objects.filter(pk__in={c for p in parts.values() for c, _ in p})
                      .values_list("pk", "unit_cost")) if parts else {}
    for bundle_id, items in parts.items():
        rows[bundle_id] = sum((components.get(c) or Decimal("0")) * q for c, q in items)
    return {pk: Decimal(cost or 0) for pk, cost in rows.items()}


def warehouse_names(*, ids) -> dict[int, str]:
    """{warehouse id: "CODE name"} for display."""
    return {pk: f"{code} {name}" for pk, code, name in Warehouse.objects.filter(pk__in=[i for i in ids if i])
            .values_list("pk", "code", "name")}


def receipts_value(*, source_doc: str):
    """What the goods received under ``source_doc`` are worth at the SKUs' current unit cost (e.g.
    the demo's opening balance, "OPENING", which finance books as opening stock)."""
    from decimal import Decimal

    from django.db.models import DecimalField as _Decimal
    from django.db.models import ExpressionWrapper, F, Sum

    value = (StockMove.objects.filter(kind=MoveKind.RECEIPT, source_doc=source_doc)
             .aggregate(v=Sum(ExpressionWrapper(F("on_hand_delta") * F("sku__unit_cost"),
                                                output_field=_Decimal(max_digits=18, decimal_places=2))))["v"])
    return Decimal(value or 0).quantize(Decimal("0.01"))


# --- SKUs and warehouses, for other apps (they never import inventory.models) ----------------------
# Querysets for a serializer field (``erp.api.fields.ScopedPK(rows=inventory.selectors.stock_skus)``), a form's
# choices or a filter; lookups by ids / codes that answer only the current tenant's rows (fail-closed with no
# tenant set: the scoped manager refuses).

def skus(*, stock_only: bool = False, code_prefix: str | None = None):
    """The current tenant's SKUs by code; ``stock_only`` leaves bundles out (what is bought, counted and
    moved), ``code_prefix`` keeps the codes that start with it."""
    queryset = SKU.objects.order_by("code")
    if stock_only:
        queryset = queryset.filter(is_bundle=False)
    if code_prefix:
        queryset = queryset.filter(code__startswith=code_prefix)
    return queryset


def stock_skus():
    """The SKUs that hold stock (bundles left out), by code: ``ScopedPK(rows=stock_skus)``."""
    return skus(stock_only=True)


def sku_find(*, sku_id) -> SKU | None:
    """One SKU of the current tenant, or None for a missing / another tenant's / malformed id."""
    try:
        return SKU.objects.filter(pk=int(sku_id)).first()
    except (TypeError, ValueError):
        return None


def skus_by_codes(*, codes) -> dict[str, SKU]:
    """{merchant code: SKU} of the current tenant for these codes (unknown codes are absent)."""
    codes = {str(c).strip() for c in codes if c is not None and str(c).strip()}
    return {s.code: s for s in SKU.objects.filter(code__in=codes)} if codes else {}


class SkuRef(NamedTuple):
    pk: int
    code: str
    name: str


def sku_refs_by_codes(*, codes) -> dict[str, SkuRef]:
    """{merchant code: SkuRef(pk, code, name)} of the current tenant for these codes, read as plain
    values (no model instances): for bulk lookups such as an import batch of thousands of codes."""
    codes = {str(c).strip() for c in codes if c is not None and str(c).strip()}
    if not codes:
        return {}
    if connection.vendor == "postgresql":  # one array parameter instead of thousands of placeholders
        from erp.tenancy.context import require_tenant

        joined = "\x1f".join(codes)  # one text parameter: far cheaper to send than a text[] of thousands
        with connection.cursor() as cursor:
            if joined.count("\x1f") == len(codes) - 1:
                cursor.execute(f"SELECT id, code, name FROM {SKU._meta.db_table} WHERE tenant_id = %s "
                               "AND code = ANY(string_to_array(%s, E'\\x1f'))", [require_tenant().pk, joined])
            else:
                cursor.execute(f"SELECT id, code, name FROM {SKU._meta.db_table} WHERE tenant_id = %s "
                               "AND code = ANY(%s::text[])", [require_tenant().pk, list(codes)])
            return {code: SkuRef(pk, code, name) for pk, code, name in cursor.fetchall()}
    return {code: SkuRef(pk, code, name) for pk, code, name in SKU.objects.filter(code__in=codes).values_list("pk", "code", "name")}


def sku_names(*, ids) -> dict[int, str]:
    """{SKU id: "CODE name"} for display."""
    return {pk: f"{code} {name}" for pk, code, name in SKU.objects.filter(pk__in=[i for i in ids if i])
            .values_list("pk", "code", "name")}


def sku_options(*, stock_only: bool = False):
    """[{"id", "code", "name"}] by code: the SKU filter or picker of an operator page."""
    return skus(stock_only=stock_only).values("id", "code", "name")


def warehouses(*, active_only: bool = False):
    """The current tenant's warehouses by priority then code (``active_only``: the active ones)."""
    queryset = Warehouse.objects.order_by("priority", "code", "id")
    return queryset.filter(is_active=True) if active_only else queryset


def active_warehouses():
    """The active warehouses by priority: ``ScopedPK(rows=active_warehouses)``."""
    return warehouses(active_only=True)


def warehouse_find(*, warehouse_id) -> Warehouse | None:
    """One warehouse of the current tenant, or None for a missing / another tenant's / malformed id."""
    try:
        return Warehouse.objects.filter(pk=int(warehouse_id)).first()
    except (TypeError, ValueError):
        return None


def warehouses_by_ids(*, ids) -> dict[int, Warehouse]:
    """{id: Warehouse} of the current tenant for these ids (unknown ids are absent)."""
    return Warehouse.objects.in_bulk([i for i in ids if i])


def warehouses_by_codes(*, codes) -> dict[str, Warehouse]:
    """{code: Warehouse} of the current tenant for these codes (unknown codes are absent)."""
    codes = {str(c).strip() for c in codes if c is not None and str(c).strip()}
    return {w.code: w for w in Warehouse.objects.filter(code__in=codes)} if codes else {}


def warehouse_options(*, active_only: bool = False):
    """[{"id", "code", "name"}] by priority: the warehouse filter or picker of an operator page."""
    return warehouses(active_only=active_only).values("id", "code", "name")


def stock_figures(*, sku_ids, warehouse_ids=None) -> dict[tuple[int, int], dict[str, int]]:
    """{(warehouse_id, sku_id): {"on_hand", "reserved", "locked", "in_transit", "defective", "available"}} of
    the stock SKUs' levels (a pair without a level is absent: all zero)."""
    levels = StockLevel.objects.filter(sku_id__in=list(sku_ids))
    if warehouse_ids is not None:
        levels = levels.filter(warehouse_id__in=list(warehouse_ids))
    result = {}
    for row in levels.values("warehouse_id", "sku_id", *stock_sql.BUCKETS):
        figures = {b: row[b] for b in stock_sql.BUCKETS}
        figures["available"] = figures["on_hand"] - figures["reserved"] - figures["locked"]
        result[(row["warehouse_id"], row["sku_id"])] = figures
    return result


# --- for purchase planning (purchasing.services.suggestions) -----------------------------------------
def stockout_days(*, sku_ids, since: datetime.date, until: datetime.date) -> dict[tuple[int, int], set[datetime.date]]:
    """{(warehouse_id, sku_id): days in [since, until] that ended with nothing on hand} from the stock
    ledger (each day's last ``on_hand_after``, carried forward over days without a move). Days before a
    pair's first move are unknown and never count as out of stock. One query over the window's moves."""
    from erp.tenancy.dates import day_range, tenant_zone

    ids = [int(i) for i in sku_ids]
    if not ids or until < since:
        return {}
    start, end = day_range(since, until)
    zone = tenant_zone()
    # the last move of each pair before the window, then every move inside it, oldest first
    before = {(r["warehouse_id"], r["sku_id"]): r["on_hand_after"] for r in
              StockMove.objects.filter(sku_id__in=ids, created_at__lt=start)
              .order_by("warehouse_id", "sku_id", "-created_at", "-id")
              .distinct("warehouse_id", "sku_id").values("warehouse_id", "sku_id", "on_hand_after")}
    day_end: dict[tuple[int, int], dict[datetime.date, int]] = defaultdict(dict)
    for r in (StockMove.objects.filter(sku_id__in=ids, created_at__gte=start, created_at__lt=end)
              .order_by("created_at", "id").values_list("warehouse_id", "sku_id", "created_at", "on_hand_after")):
        day_end[(r[0], r[1])][r[2].astimezone(zone).date()] = r[3]  # the day's last move wins
    result: dict[tuple[int, int], set[datetime.date]] = {}
    for pair in set(before) | set(day_end):
        level = before.get(pair)  # None: not stocked here yet
        moves = day_end.get(pair, {})
        out = set()
        day = since
        while day <= until:
            if day in moves:
                level = moves[day]
            if level is not None and level <= 0:
                out.add(day)
            day += datetime.timedelta(days=1)
        if out:
            result[pair] = out
    return result


def promotion_days(*, sku_ids, since: datetime.date, until: datetime.date) -> dict[int, set[datetime.date]]:
    """{sku_id: days in [since, until] (the tenant's days) touched by a promotion of the SKU or by a
    promotion stock lock of it that was not cancelled}: the promotion calendar, past and coming."""
    from erp.tenancy.dates import day_range, tenant_zone

    from .models import Promotion, PromotionSKU

    ids = [int(i) for i in sku_ids]
    if not ids or until < since:
        return {}
    start, end = day_range(since, until)
    zone = tenant_zone()
    windows = list(StockLock.objects.filter(sku_id__in=ids, starts_at__lt=end, ends_at__gt=start)
                   .exclude(status=LockStatus.CANCELLED).values_list("sku_id", "starts_at", "ends_at"))
    promos = {p.pk: p for p in Promotion.objects.filter(starts_at__lt=end, ends_at__gt=start)}
    if promos:
        windows += [(sku_id, promos[pid].starts_at, promos[pid].ends_at) for pid, sku_id in
                    PromotionSKU.objects.filter(promotion_id__in=list(promos), sku_id__in=ids)
                    .values_list("promotion_id", "sku_id")]
    result: dict[int, set[datetime.date]] = defaultdict(set)
    for sku_id, starts_at, ends_at in windows:
        first = max(starts_at.astimezone(zone).date(), since)
        last = min((ends_at - datetime.timedelta(microseconds=1)).astimezone(zone).date(), until)
        day = first
        while day <= last:
            result[sku_id].add(day)
            day += datetime.timedelta(days=1)
    return dict(result)


def shipped_by_warehouse(*, sku_ids, since: datetime.date, until: datetime.date) -> dict[tuple[int, int], int]:
    """{(warehouse_id, sku_id): units shipped in [since, until]} from the ledger's shipment moves: which
    warehouses serve a SKU's demand, and how much of it."""
    from erp.tenancy.dates import day_range

    ids = [int(i) for i in sku_ids]
    if not ids or until < since:
        return {}
    start, end = day_range(since, until)
    rows = (StockMove.objects.filter(sku_id__in=ids, kind=MoveKind.SHIPMENT, created_at__gte=start, created_at__lt=end)
            .values("warehouse_id", "sku_id").annotate(n=Sum("on_hand_delta")).order_by())
    return {(r["warehouse_id"], r["sku_id"]): -int(r["n"]) for r in rows if r["n"] and r["n"] < 0}
