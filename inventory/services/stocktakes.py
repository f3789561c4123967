"""Stocktakes: count sheets, counts, posting the variances as adjustment moves (one
"inventory.adjusted" event per posted stocktake), cancelling.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import stock_sql
from ..models import (
    SKU,
    MoveKind,
    StockLevel,
    StockMove,
    Stocktake,
    StocktakeLine,
    StocktakeStatus,
    Warehouse,
)
from ._common import (
    AdjustKind,
    _level_numbers,
    _lock_level_pairs,
    _next_number,
    _own,
    _publish_adjusted,
    _quantity,
    _stock_sku,
    _write_move,
)


@transaction.atomic
def stocktake_create(*, warehouse: Warehouse, sku_ids: list[int] | None = None, note: str = "") -> Stocktake:
    """A count sheet; without sku_ids, every SKU that has a stock level in the warehouse."""
    warehouse = _own(Warehouse, warehouse, "warehouse")
    if sku_ids is None:
        sku_ids = list(StockLevel.objects.filter(warehouse=warehouse).values_list("sku_id", flat=True))
    else:
        sku_ids = [_stock_sku(_own(SKU, s, "sku_ids"), "sku_ids").pk for s in sku_ids]
    stocktake = Stocktake.objects.create(number=_next_number(Stocktake, "ST"), warehouse=warehouse, note=note)
    books = dict(StockLevel.objects.filter(warehouse=warehouse, sku_id__in=sku_ids).values_list("sku_id", "on_hand"))
    StocktakeLine.objects.bulk_create([
        StocktakeLine(tenant=stocktake.tenant, stocktake=stocktake, sku_id=s, expected=books.get(s, 0))
        for s in sorted(set(sku_ids))
    ])
    return stocktake


@transaction.atomic
def stocktake_count(*, stocktake: Stocktake, counts: dict) -> Stocktake:
    """Record counted quantities {sku_id: counted}; a SKU not on the sheet is added."""
    stocktake = _own(Stocktake, stocktake, "stocktake")
    stocktake = Stocktake.objects.select_for_update().get(pk=stocktake.pk)
    if stocktake.status != StocktakeStatus.OPEN:
        raise ValidationError({"status": [_("This stocktake is closed.")]})
    for sku_key, counted in (counts or {}).items():
        sku = _stock_sku(_own(SKU, int(sku_key) if str(sku_key).isdigit() else sku_key, "counts"), "counts")
        counted = _quantity(counted, field="counts", allow_zero=True)
        line, created = StocktakeLine.objects.get_or_create(stocktake=stocktake, sku=sku, defaults={"counted": counted})
        if created:
            line.expected = _level_numbers(stocktake.warehouse_id, sku.pk)["on_hand"]
            line.save(update_fields=["expected"])
        else:
            StocktakeLine.objects.filter(pk=line.pk).update(counted=counted)
    return stocktake


@transaction.atomic
def stocktake_post(*, stocktake: Stocktake, user=None) -> list[StocktakeLine]:
    """Post: each counted line's variance against the book on_hand now becomes an adjustment move.
    Returns the lines with a variance (the variance report). Refused if a count is below what is
    reserved or promotion-locked (release those first)."""
    stocktake = _own(Stocktake, stocktake, "stocktake")
    stocktake = Stocktake.objects.select_for_update().get(pk=stocktake.pk)
    if stocktake.status != StocktakeStatus.OPEN:
        raise ValidationError({"status": [_("This stocktake is closed.")]})
    lines = [ln for ln in stocktake.lines.order_by("sku_id") if ln.counted is not None]
    warehouse_id = stocktake.warehouse_id
    stock_sql.ensure_levels([(warehouse_id, ln.sku_id) for ln in lines])
    levels = _lock_level_pairs([(warehouse_id, ln.sku_id) for ln in lines])
    problems, changed = [], []
    moves: list[tuple[StockMove, int]] = []
    for line in lines:
        level = levels[(warehouse_id, line.sku_id)]
        variance = line.counted - level.on_hand
        StocktakeLine.objects.filter(pk=line.pk).update(variance=variance, expected=level.on_hand)
        line.variance, line.expected = variance, level.on_hand
        if variance == 0:
            continue
        after = stock_sql.level_update(warehouse_id=warehouse_id, sku_id=line.sku_id, on_hand=variance)
        if after is None:
            problems.append(_("SKU %(sku)s: counted %(counted)s is below the %(held)s units reserved or locked.")
                            % {"sku": line.sku_id, "counted": line.counted, "held": level.reserved + level.locked})
            continue
        move = _write_move(warehouse_id=warehouse_id, sku_id=line.sku_id, kind=MoveKind.ADJUSTMENT, after=after,
                           on_hand=variance, reason=f"stocktake {stocktake.number}", source_doc=stocktake.number, user=user)
        moves.append((move, variance))
        changed.append(line)
    if problems:
        raise ValidationError({"counts": problems})
    _publish_adjusted(kind=AdjustKind.STOCKTAKE, ref=f"stocktake:{stocktake.pk}", warehouse_id=warehouse_id,
                      reason=f"stocktake {stocktake.number}", source_doc=stocktake.number, changes=moves)
    stocktake.status, stocktake.posted_at = StocktakeStatus.POSTED, timezone.now()
    stocktake.save(update_fields=["status", "posted_at", "updated_at"])
    return changed


@transaction.atomic
def stocktake_cancel(*, stocktake: Stocktake) -> Stocktake:
    stocktake = _own(Stocktake, stocktake, "stocktake")
    if stocktake.status != StocktakeStatus.OPEN:
        raise ValidationError({"status": [_("This stocktake is closed.")]})
    stocktake.status = StocktakeStatus.CANCELLED
    stocktake.save(update_fields=["status", "updated_at"])
    return stocktake
