"""Shared helpers of the inventory services (not an entry point: import from inventory.services).

Owns the input checks (quantities, references, the caller's own rows), InsufficientStock, the one
guarded ledger write (a StockMove and its StockLevel projection), level locking in the global lock
order, document numbers and the "inventory.adjusted" event that finance values.
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from erp import events
from erp.tenancy.context import require_tenant
from erp.tenancy.dates import tenant_today

from .. import stock_sql
from ..models import SKU, BundleComponent, StockLevel, StockMove, Warehouse

MAX_QUANTITY = 1_000_000_000


class InsufficientStock(ValidationError):
    """Not enough available stock. A ValidationError, so the API answers 400 with the reason."""

    def __init__(self, *, sku_id: int, warehouse_id: int, requested: int, available: int):
        self.sku_id = sku_id
        self.warehouse_id = warehouse_id
        self.requested = requested
        self.available = available
        super().__init__(
            _("Not enough stock of SKU %(sku)s in warehouse %(warehouse)s: %(requested)s requested, %(available)s available.")
            % {"sku": sku_id, "warehouse": warehouse_id, "requested": requested, "available": available},
            code="insufficient_stock",
        )


# --- helpers ---------------------------------------------------------------------------------

def _quantity(value, *, field: str = "quantity", allow_zero: bool = False, allow_negative: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError({field: [_("Must be a whole number.")]})
    if abs(value) > MAX_QUANTITY:
        raise ValidationError({field: [_("Too large.")]})
    if value < 0 and not allow_negative:
        raise ValidationError({field: [_("Must not be negative.")]})
    if value == 0 and not allow_zero:
        raise ValidationError({field: [_("Must not be zero.")]})
    return value


def _own(model, obj, field: str):
    """The caller's object if it is the current tenant's, else re-read (a pk) through the scoped
    manager: another tenant's object is unknown."""
    if isinstance(obj, model) and obj.pk is not None and obj.tenant_id == require_tenant().pk:
        return obj
    pk = obj.pk if hasattr(obj, "pk") else obj
    found = model.objects.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise ValidationError({field: [_("Unknown %(what)s.") % {"what": model._meta.verbose_name}]})
    return found


def _stock_sku(sku: SKU, field: str = "sku") -> SKU:
    if sku.is_bundle:
        raise ValidationError({field: [_("A bundle holds no stock of its own; move its components.")]})
    return sku


def _components(sku: SKU) -> list[tuple[int, int]]:
    """(stock sku id, units per 1 of ``sku``), sorted by sku id."""
    if not sku.is_bundle:
        return [(sku.pk, 1)]
    parts = list(BundleComponent.objects.filter(bundle=sku).order_by("component_id").values_list("component_id", "quantity"))
    if not parts:
        raise ValidationError({"sku": [_("This bundle has no components.")]})
    return parts


def _write_move(*, warehouse_id: int, sku_id: int, kind: str, after: dict, on_hand: int = 0, in_transit: int = 0,
                defective: int = 0, reason: str, source_doc: str = "", user=None) -> StockMove:
    move = StockMove.objects.create(
        warehouse_id=warehouse_id, sku_id=sku_id, kind=kind, on_hand_delta=on_hand, in_transit_delta=in_transit,
        defective_delta=defective, on_hand_after=after["on_hand"], reason=(reason or kind)[:200],
        source_doc=(source_doc or "")[:100], created_by=user,
    )
    if on_hand > 0:  # goods came in (receipt, return, transfer in, count up): waiting orders may now fit
        events.publish("inventory.stock_received", warehouse_id=warehouse_id, sku_id=sku_id)
    return move


def _level_numbers(warehouse_id: int, sku_id: int) -> dict:
    row = StockLevel.objects.filter(warehouse_id=warehouse_id, sku_id=sku_id).values(*stock_sql.BUCKETS).first()
    return row or dict.fromkeys(stock_sql.BUCKETS, 0)


def _change(*, warehouse: Warehouse, sku: SKU, kind: str, reason: str, source_doc: str = "", on_hand: int = 0,
            in_transit: int = 0, defective: int = 0, user=None) -> StockMove:
    """One ledger row and its projection, guarded; raises InsufficientStock / ValidationError."""
    stock_sql.ensure_levels([(warehouse.pk, sku.pk)])
    after = stock_sql.level_update(warehouse_id=warehouse.pk, sku_id=sku.pk, on_hand=on_hand, in_transit=in_transit,
                                   defective=defective)
    if after is None:
        now = _level_numbers(warehouse.pk, sku.pk)
        if on_hand < 0:
            raise InsufficientStock(sku_id=sku.pk, warehouse_id=warehouse.pk, requested=-on_hand,
                                    available=now["on_hand"] - now["reserved"] - now["locked"])
        raise ValidationError(_("The change would make a stock figure negative (%(numbers)s).") % {"numbers": now})
    move = _write_move(warehouse_id=warehouse.pk, sku_id=sku.pk, kind=kind, after=after, on_hand=on_hand,
                       in_transit=in_transit, defective=defective, reason=reason, source_doc=source_doc, user=user)
    return move


class AdjustKind:
    """``kind`` of the "inventory.adjusted" event (docs/INTERFACES.md)."""

    STOCKTAKE = "stocktake"  # a stocktake posted: its gains (+) and losses (-) in one event
    ADJUSTMENT = "adjustment"  # a manual correction of on_hand
    SCRAP = "scrap"  # defective units written off
    TRANSFER_SHORTAGE = "transfer_shortage"  # units shipped by a transfer that never arrived


def _publish_adjusted(*, kind: str, ref: str, warehouse_id: int, reason: str, source_doc: str,
                      changes: list[tuple[StockMove, int]]) -> None:
    """Publish "inventory.adjusted" once for one business operation, in its transaction: every stock
    change that changes what the stock is worth outside purchasing, shipping, after-sales returns and
    transfers. ``changes`` are (move, signed units gained or lost); each line carries the SKU's unit
    cost now, so the payload is self-contained (finance values it without reading inventory)."""
    changes = [(move, units) for move, units in changes if units]
    if not changes:
        return
    skus = {pk: (cost, currency) for pk, cost, currency in
            SKU.objects.filter(pk__in={m.sku_id for m, _u in changes}).values_list("pk", "unit_cost", "currency")}
    events.publish(
        "inventory.adjusted", ref=ref, kind=kind, warehouse_id=warehouse_id, reason=(reason or kind)[:200],
        source_doc=(source_doc or "")[:100], occurred_at=timezone.now(), move_ids=[m.pk for m, _u in changes],
        lines=[{"move_id": m.pk, "sku_id": m.sku_id, "quantity": units, "unit_cost": skus[m.sku_id][0],
                "currency": skus[m.sku_id][1] or "CNY", "source_doc": m.source_doc}
               for m, units in changes])


def _ref(ref_type, ref_id) -> tuple[str, str]:
    ref_type, ref_id = str(ref_type or "").strip(), str(ref_id or "").strip()
    if not ref_type or not ref_id:
        raise ValidationError({"ref_id": [_("A reservation needs a reference type and id.")]})
    if len(ref_type) > 40 or len(ref_id) > 64:
        raise ValidationError({"ref_id": [_("Reference too long.")]})
    return ref_type, ref_id


SHOP = "integrations.Shop"  # a shop is integrations' row: read through integrations.selectors, never its model


def _is_own_shop(obj) -> bool:
    """A Shop row (by its model label, without importing integrations.models) of the current tenant."""
    meta = getattr(obj, "_meta", None)
    return (getattr(meta, "label", None) == SHOP and obj.pk is not None
            and obj.tenant_id == require_tenant().pk)


def _own_shop(shop):
    """The caller's shop if it is the current tenant's, else re-read (a pk) through integrations'
    selector: another tenant's shop, or a malformed id, is unknown."""
    if shop is None:
        return None
    if _is_own_shop(shop):
        return shop
    from integrations.selectors import shop_find

    pk = shop.pk if hasattr(shop, "pk") else shop
    found = shop_find(shop_id=pk) if pk is not None and not isinstance(pk, bool) else None
    if found is None:
        raise ValidationError({"shop": [_("Unknown %(what)s.") % {"what": _("shop")}]})
    return found


def _lock_levels(warehouse_id: int, sku_ids) -> dict[int, StockLevel]:
    levels = _lock_level_pairs([(warehouse_id, s) for s in sku_ids])
    return {level.sku_id: level for level in levels.values()}


def _lock_level_pairs(pairs) -> dict[tuple[int, int], StockLevel]:
    """SELECT ... FOR UPDATE the levels of the pairs, in id order (the lock order)."""
    pairs = set(pairs)
    if not pairs:
        return {}
    by_wh = defaultdict(set)
    for w, s in pairs:
        by_wh[w].add(s)
    from django.db.models import Q

    condition = Q()
    for w, skus in by_wh.items():
        condition |= Q(warehouse_id=w, sku_id__in=skus)
    levels = StockLevel.objects.select_for_update().filter(condition).order_by("id")
    return {(lv.warehouse_id, lv.sku_id): lv for lv in levels}


def _next_number(model, prefix: str) -> str:
    """The next document number of the tenant's day: ``<prefix><yyyymmdd>-<nnnn>`` (its own calendar)."""
    stamp = tenant_today().strftime("%Y%m%d")
    n = model.objects.filter(number__startswith=f"{prefix}{stamp}").count() + 1
    while model.objects.filter(number=f"{prefix}{stamp}-{n:04d}").exists():
        n += 1
    return f"{prefix}{stamp}-{n:04d}"
