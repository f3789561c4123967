"""Writes of the inventory: the only code that changes stock.

Every stock change writes its StockMove (the ledger) and updates the StockLevel projection in the
same transaction, through a guarded UPDATE that can never break a CHECK constraint and that flags
the level for the channel push (turned into per-(shop, mapping) dirty marks when a push claims). Lock order everywhere: StockLevel rows by
id, then StockLock rows by id, then Reservation rows, then StockDirty rows by mapping id.

Public entry points other apps call (docs/INTERFACES.md): stock_reserve, stock_reserve_many,
stock_release, stock_commit, stock_receive, stock_adjust, stock_return, plus transfers, stocktakes,
promotion locks, sync rules and SKU mappings below.

A change that alters what the stock is worth outside purchasing, shipping, customer returns and
transfers (a stocktake posted, a manual adjustment, defective units scrapped, units lost in a
transfer) publishes "inventory.adjusted" once per operation, in its transaction, for finance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from erp import events
from erp.tenancy.context import require_tenant

from . import stock_sql
from .models import (
    SKU,
    BundleComponent,
    LockEventKind,
    LockStatus,
    MatchMethod,
    MoveKind,
    PlatformSkuMapping,
    Reservation,
    ReservationStatus,
    StockDirty,
    StockLevel,
    StockLock,
    StockLockEvent,
    StockMove,
    Stocktake,
    StocktakeLine,
    StocktakeStatus,
    SyncRule,
    SyncRuleWarehouse,
    Transfer,
    TransferLine,
    TransferStatus,
    Warehouse,
)

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


# --- receipts, adjustments, returns, defective -------------------------------------------------

@transaction.atomic
def stock_receive(*, warehouse: Warehouse, sku: SKU, quantity: int, reason: str = "receipt", source_doc: str = "",
                  user=None) -> StockMove:
    """Goods in (a purchase receipt, an opening balance): on_hand += quantity."""
    quantity = _quantity(quantity)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _stock_sku(_own(SKU, sku, "sku"))
    return _change(warehouse=warehouse, sku=sku, kind=MoveKind.RECEIPT, reason=reason, source_doc=source_doc,
                   on_hand=quantity, user=user)


@transaction.atomic
def stock_adjust(*, warehouse: Warehouse, sku: SKU, quantity: int, reason: str, source_doc: str = "",
                 user=None, publish_adjusted: bool = True) -> StockMove:
    """A correction of on_hand by ``quantity`` (signed, not zero). A decrease may not take on_hand
    below what is reserved or promotion-locked. Publishes "inventory.adjusted" (kind adjustment) so
    finance books the gain or loss, unless ``publish_adjusted=False``: the caller's own event values
    the change (purchasing's return to the supplier publishes purchase.returned)."""
    quantity = _quantity(quantity, allow_negative=True)
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the stock changes.")]})
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _stock_sku(_own(SKU, sku, "sku"))
    move = _change(warehouse=warehouse, sku=sku, kind=MoveKind.ADJUSTMENT, reason=reason, source_doc=source_doc,
                   on_hand=quantity, user=user)
    if publish_adjusted:
        _publish_adjusted(kind=AdjustKind.ADJUSTMENT, ref=f"move:{move.pk}", warehouse_id=warehouse.pk,
                          reason=move.reason, source_doc=move.source_doc, changes=[(move, quantity)])
    return move


@transaction.atomic
def stock_return(*, warehouse: Warehouse, sku: SKU, quantity: int, source_doc: str = "", defective: bool = False,
                 reason: str = "", user=None) -> list[StockMove]:
    """A customer return: back to sellable stock, or to the defective bucket. A bundle returns its
    components."""
    quantity = _quantity(quantity)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _own(SKU, sku, "sku")
    moves = []
    for component_id, per in _components(sku):
        component = SKU.objects.get(pk=component_id)
        n = quantity * per
        moves.append(_change(
            warehouse=warehouse, sku=component, kind=MoveKind.RETURN, source_doc=source_doc, user=user,
            reason=reason or ("return (defective)" if defective else "return"),
            on_hand=0 if defective else n, defective=n if defective else 0,
        ))
    return moves


@transaction.atomic
def stock_mark_defective(*, warehouse: Warehouse, sku: SKU, quantity: int, reason: str, source_doc: str = "",
                         user=None) -> StockMove:
    """Sellable units found damaged: on_hand -= q, defective += q."""
    quantity = _quantity(quantity)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _stock_sku(_own(SKU, sku, "sku"))
    return _change(warehouse=warehouse, sku=sku, kind=MoveKind.DEFECTIVE, reason=reason or "defective",
                   source_doc=source_doc, on_hand=-quantity, defective=quantity, user=user)


@transaction.atomic
def stock_scrap_defective(*, warehouse: Warehouse, sku: SKU, quantity: int, reason: str, source_doc: str = "",
                          user=None, publish_adjusted: bool = True) -> StockMove:
    """Defective units written off (or sent back to the supplier): defective -= q. Publishes
    "inventory.adjusted" (kind scrap) unless ``publish_adjusted=False`` (sent back to the supplier:
    purchase.returned values it)."""
    quantity = _quantity(quantity)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _stock_sku(_own(SKU, sku, "sku"))
    move = _change(warehouse=warehouse, sku=sku, kind=MoveKind.DEFECTIVE, reason=reason or "scrap defective",
                   source_doc=source_doc, defective=-quantity, user=user)
    if publish_adjusted:
        _publish_adjusted(kind=AdjustKind.SCRAP, ref=f"move:{move.pk}", warehouse_id=warehouse.pk, reason=move.reason,
                          source_doc=move.source_doc, changes=[(move, -quantity)])
    return move


# --- reservations --------------------------------------------------------------------------------

def stock_reserve(*, warehouse: Warehouse, sku: SKU, quantity: int, ref_type: str, ref_id: str, shop=None) -> None:
    """Reserve ``quantity`` of ``sku`` in ``warehouse`` for a reference (an order line).

    Atomic and safe under concurrency: it never oversells. A bundle reserves its components.
    Idempotent per (ref_type, ref_id, sku, warehouse): the same reservation again changes nothing; a
    different quantity for an open one is refused; a released one is reserved again. With ``shop``,
    that shop's active promotion locks are used first. Raises InsufficientStock."""
    quantity = _quantity(quantity)
    ref_type, ref_id = _ref(ref_type, ref_id)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _own(SKU, sku, "sku")
    shop = _own_shop(shop)
    if not sku.is_bundle and (shop is None or not _has_usable_lock(shop, sku, warehouse)):
        if _reserve_fast(warehouse=warehouse, sku=sku, quantity=quantity, ref_type=ref_type, ref_id=ref_id):
            return
    with transaction.atomic():
        _lock_levels(warehouse.pk, [c for c, _ in _components(sku)])
        _reserve_locked(warehouse=warehouse, sku=sku, quantity=quantity, ref_type=ref_type, ref_id=ref_id, shop=shop)


@dataclass(frozen=True)
class ReserveLine:
    warehouse: Warehouse
    sku: SKU
    quantity: int
    ref_type: str
    ref_id: str
    shop: object = None


@transaction.atomic
def stock_reserve_many(*, lines: Iterable[ReserveLine | dict]) -> None:
    """Reserve several lines all-or-nothing (one request of ``stock_reserve_batch``). Raises
    ValidationError for bad input and InsufficientStock naming the first short line."""
    stock_reserve_batch(requests=[ReserveRequest(lines=tuple(lines))])[0].raise_if_refused()


@dataclass(frozen=True)
class ReserveRequest:
    """One order for ``stock_reserve_batch``: its lines (ReserveLine or dicts of the same keys) are
    reserved all-or-nothing. ``key`` is the caller's tag (e.g. the order id), echoed back."""

    lines: tuple
    key: object = None


@dataclass(frozen=True)
class Shortage:
    """The line that did not fit: the ordered SKU (the bundle for a bundle line), its warehouse, the
    units requested and the whole units available for it (promotion lock of the shop included)."""

    sku_id: int
    warehouse_id: int
    requested: int
    available: int


@dataclass
class ReserveOutcome:
    key: object
    reserved: bool
    already: bool = False  # every line already held this very reservation: nothing changed
    shortage: Shortage | None = None  # refused for want of stock
    error: ValidationError | None = None  # refused: bad input, or the reference holds a different reservation

    def raise_if_refused(self) -> None:
        if self.error is not None:
            raise self.error
        if self.shortage is not None:
            s = self.shortage
            raise InsufficientStock(sku_id=s.sku_id, warehouse_id=s.warehouse_id, requested=s.requested,
                                    available=s.available)


_MISSING = object()


def _own_many(model, objs, field: str) -> dict:
    """{what the caller passed (object id or pk): the current tenant's row}, one query; unknown
    ones are absent."""
    tenant_pk = require_tenant().pk
    found, wanted = {}, set()
    for obj in objs:
        if isinstance(obj, model) and obj.pk is not None and obj.tenant_id == tenant_pk:
            found[id(obj)] = obj
            continue
        pk = obj.pk if hasattr(obj, "pk") else obj
        if pk is None or isinstance(pk, bool):
            continue
        try:
            wanted.add(int(pk))
        except (TypeError, ValueError):
            continue
    rows = {row.pk: row for row in model.objects.filter(pk__in=wanted)} if wanted else {}
    return {"objects": found, "pks": rows}


def _lookup(table: dict, obj, model, field: str):
    if id(obj) in table["objects"]:
        return table["objects"][id(obj)]
    pk = obj.pk if hasattr(obj, "pk") else obj
    try:
        row = table["pks"].get(int(pk)) if pk is not None and not isinstance(pk, bool) else None
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise ValidationError({field: [_("Unknown %(what)s.") % {"what": model._meta.verbose_name}]})
    return row


@transaction.atomic
def stock_reserve_batch(*, requests: Iterable[ReserveRequest]) -> list[ReserveOutcome]:
    """Reserve many requests (orders) at once, each all-or-nothing, in the given order (earlier
    requests win scarce stock), in a constant number of statements: the SKUs / warehouses / shops /
    bundle components are read in one query each, every StockLevel involved is locked with ONE
    ``SELECT ... FOR UPDATE`` in id order, then the shops' usable promotion locks and the references'
    reservations (the lock order); the decision is made in Python with the same rules as
    ``stock_reserve`` (a shop's own active lock first, other shops' locked units unavailable, a
    reference already holding the same reservation is 'already reserved'); then one guarded UPDATE
    of the levels (flagging them for the channel push), one of the locks, one bulk INSERT of the
    reservations. A refused request changes nothing; the others go on."""
    from integrations.models import Shop

    requests = [r if isinstance(r, ReserveRequest) else ReserveRequest(**r) if isinstance(r, dict) else ReserveRequest(lines=tuple(r))
                for r in requests]
    outcomes: list[ReserveOutcome | None] = [None] * len(requests)
    raw = []
    for request in requests:
        lines = []
        for line in request.lines:
            lines.append(line if isinstance(line, ReserveLine) else ReserveLine(**line))
        raw.append(lines)
    all_lines = [ln for lines in raw for ln in lines]
    warehouses = _own_many(Warehouse, [ln.warehouse for ln in all_lines], "warehouse")
    skus = _own_many(SKU, [ln.sku for ln in all_lines], "sku")
    shops = _own_many(Shop, [ln.shop for ln in all_lines if ln.shop is not None], "shop")

    # 1. validate (a bad line refuses its request only)
    prepared: list[list[tuple] | None] = []
    for i, lines in enumerate(raw):
        try:
            items = []
            for ln in lines:
                warehouse = _lookup(warehouses, ln.warehouse, Warehouse, "warehouse")
                sku = _lookup(skus, ln.sku, SKU, "sku")
                ref_type, ref_id = _ref(ln.ref_type, ln.ref_id)
                quantity = _quantity(ln.quantity)
                shop = _lookup(shops, ln.shop, Shop, "shop") if ln.shop is not None else None
                items.append((warehouse.pk, sku, quantity, ref_type, ref_id, shop.pk if shop else None))
            prepared.append(items)
        except ValidationError as exc:
            outcomes[i] = ReserveOutcome(key=requests[i].key, reserved=False, error=exc)
            prepared.append(None)

    # 2. bundle components, one query
    bundle_ids = {sku.pk for items in prepared if items for _w, sku, *_rest in items if sku.is_bundle}
    components: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if bundle_ids:
        for b, c, q in (BundleComponent.objects.filter(bundle_id__in=bundle_ids).order_by("bundle_id", "component_id")
                        .values_list("bundle_id", "component_id", "quantity")):
            components[b].append((c, q))
    for i, items in enumerate(prepared):
        if items and any(sku.is_bundle and not components.get(sku.pk) for _w, sku, *_rest in items):
            outcomes[i] = ReserveOutcome(key=requests[i].key, reserved=False,
                                         error=ValidationError({"sku": [_("This bundle has no components.")]}))
            prepared[i] = None

    def parts_of(sku) -> list[tuple[int, int]]:
        return components[sku.pk] if sku.is_bundle else [(sku.pk, 1)]

    # 3. lock: levels (one statement, id order) -> promotion locks -> reservations
    pairs = {(w, c) for items in prepared if items for w, sku, *_rest in items for c, _per in parts_of(sku)}
    levels = stock_sql.lock_levels(pairs)
    start = {key: (row[2], row[3]) for key, row in levels.items()}
    lock_keys = {(shop, w, c) for items in prepared if items for w, sku, _q, _t, _i, shop in items if shop is not None
                 for c, _per in parts_of(sku)}
    locks_by: dict[tuple, list[int]] = defaultdict(list)
    remaining: dict[int, int] = {}
    if lock_keys:
        rows = (StockLock.objects.select_for_update()
                .filter(shop_id__in={k[0] for k in lock_keys}, warehouse_id__in={k[1] for k in lock_keys},
                        sku_id__in={k[2] for k in lock_keys}, status=LockStatus.ACTIVE, remaining__gt=0,
                        ends_at__gt=timezone.now())
                .order_by("id").values_list("id", "shop_id", "warehouse_id", "sku_id", "remaining"))
        for lock_id, shop_id, w, s, left in rows:
            if (shop_id, w, s) in lock_keys:
                locks_by[(shop_id, w, s)].append(lock_id)
                remaining[lock_id] = left
    lock_start = dict(remaining)
    reservations: dict[tuple, list] = {}  # (ref_type, ref_id, sku, wh) -> [id, bundle, qty, status, requested, lock, from_lock]
    for rid, rt, ri, w, s, b, q, st in stock_sql.lock_reservations(
            {(rt, ri, w) for items in prepared if items for w, _s, _q, rt, ri, _shop in items}):
        reservations[(rt, ri, s, w)] = [rid, b, q, st, None, None, None]
    touched: dict[tuple, bool] = {}  # reservation keys written by this batch
    changes: dict[tuple, int] = defaultdict(int)  # level key -> number of changes (version bumps)
    events: list[tuple[int, int, str, str]] = []

    def first_lock(shop, w, c):
        if shop is None:
            return None
        for lock_id in locks_by.get((shop, w, c), ()):
            if remaining[lock_id] > 0:
                return lock_id
        return None

    def available(w, c) -> int:
        row = levels.get((w, c))
        return row[1] - row[2] - row[3] if row else 0

    # 4. decide, request by request, line by line (the rules of _reserve_locked), with an undo log
    for i, items in enumerate(prepared):
        if items is None:
            continue
        undo: list[tuple] = []
        n_events = len(events)
        refused = None
        already = True
        for w, sku, quantity, ref_type, ref_id, shop in items:
            parts = parts_of(sku)
            need = {c: per * quantity for c, per in parts}
            bundle_id = sku.pk if sku.is_bundle else None
            rows = {c: reservations.get((ref_type, ref_id, c, w)) for c in need}
            if any(r is not None and r[1] != bundle_id for r in rows.values()):
                refused = ValidationError({"quantity": [_("This reference already holds a different reservation; release it first.")]})
                break
            live = [(c, r) for c, r in rows.items() if r is not None and r[3] != ReservationStatus.RELEASED]
            if live:
                if all(r[3] == ReservationStatus.COMMITTED for _c, r in live) or (
                        len(live) == len(need) and all(r[2] == need[c] for c, r in live)):
                    continue
                refused = ValidationError({"quantity": [_("This reference already holds a different reservation; release it first.")]})
                break
            already = False
            plan = []
            for c, units in need.items():
                lock_id = first_lock(shop, w, c)
                take = min(units, remaining[lock_id]) if lock_id else 0
                if available(w, c) < units - take:
                    possible = None
                    for c2, per in parts:
                        lk = first_lock(shop, w, c2)
                        have = available(w, c2) + (remaining[lk] if lk else 0)
                        n = max(have, 0) // per
                        possible = n if possible is None else min(possible, n)
                    refused = Shortage(sku_id=sku.pk, warehouse_id=w, requested=quantity, available=possible or 0)
                    break
                plan.append((c, units, lock_id if take else None, take))
            if refused is not None:
                break
            for c, units, lock_id, take in plan:
                row = levels[(w, c)]
                undo.append(("level", (w, c), row[2], row[3]))
                row[2] += units
                row[3] -= take
                changes[(w, c)] += 1
                if lock_id:
                    undo.append(("lock", lock_id, remaining[lock_id]))
                    remaining[lock_id] -= take
                    events.append((lock_id, take, ref_type, ref_id))
                key = (ref_type, ref_id, c, w)
                old = reservations.get(key)
                undo.append(("res", key, None if old is None else list(old), touched.get(key, _MISSING)))
                rid = old[0] if old is not None else None
                reservations[key] = [rid, bundle_id, units, ReservationStatus.OPEN, quantity, lock_id, take]
                touched[key] = True
        if refused is None:
            outcomes[i] = ReserveOutcome(key=requests[i].key, reserved=True, already=already)
            continue
        for entry in reversed(undo):
            if entry[0] == "level":
                _kind, key, reserved, locked = entry
                levels[key][2], levels[key][3] = reserved, locked
                changes[key] -= 1
            elif entry[0] == "lock":
                remaining[entry[1]] = entry[2]
            else:
                _kind, key, old, was_touched = entry
                if old is None:
                    reservations.pop(key, None)
                else:
                    reservations[key] = old
                if was_touched is _MISSING:
                    touched.pop(key, None)
                else:
                    touched[key] = was_touched
        del events[n_events:]
        if isinstance(refused, Shortage):
            outcomes[i] = ReserveOutcome(key=requests[i].key, reserved=False, shortage=refused)
        else:
            outcomes[i] = ReserveOutcome(key=requests[i].key, reserved=False, error=refused)

    # 5. apply: levels, locks (+ their audit events), reservations
    deltas = []
    for key, row in levels.items():
        if changes.get(key):
            deltas.append((row[0], row[2] - start[key][0], start[key][1] - row[3], changes[key]))
    if stock_sql.apply_level_deltas(deltas) != len(deltas):  # cannot happen with the rows locked; refuse cleanly
        raise ValidationError(_("Stock level out of step; run verify_stock."))
    stock_sql.use_locks([(lock_id, lock_start[lock_id] - left) for lock_id, left in remaining.items()
                         if left != lock_start[lock_id]])
    if events:
        tenant = require_tenant()
        StockLockEvent.objects.bulk_create([StockLockEvent(tenant=tenant, lock_id=lock_id, kind=LockEventKind.USE, quantity=n,
                                                           ref_type=rt, ref_id=ri) for lock_id, n, rt, ri in events])
    inserts, reopens = [], []
    for key in touched:
        rid, bundle_id, units, _status, requested, lock_id, take = reservations[key]
        ref_type, ref_id, c, w = key
        if rid is None:
            inserts.append((ref_type, ref_id, w, c, bundle_id, units, requested, lock_id, take))
        else:
            reopens.append((rid, units, requested, lock_id, take))
    stock_sql.reopen_reservations(reopens)
    stock_sql.insert_reservations(inserts)
    return outcomes


def _ref(ref_type, ref_id) -> tuple[str, str]:
    ref_type, ref_id = str(ref_type or "").strip(), str(ref_id or "").strip()
    if not ref_type or not ref_id:
        raise ValidationError({"ref_id": [_("A reservation needs a reference type and id.")]})
    if len(ref_type) > 40 or len(ref_id) > 64:
        raise ValidationError({"ref_id": [_("Reference too long.")]})
    return ref_type, ref_id


def _own_shop(shop):
    if shop is None:
        return None
    from integrations.models import Shop

    return _own(Shop, shop, "shop")


def _has_usable_lock(shop, sku, warehouse) -> bool:
    now = timezone.now()
    return StockLock.objects.filter(shop=shop, sku=sku, warehouse=warehouse, status=LockStatus.ACTIVE, remaining__gt=0,
                                    ends_at__gt=now).exists()


def _reserve_fast(*, warehouse, sku, quantity, ref_type, ref_id) -> bool:
    """The one-statement path (Postgres). False: take the general path, which explains the refusal."""
    if connection.vendor != "postgresql":
        return False
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                return stock_sql.reserve_fast(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=quantity,
                                              ref_type=ref_type, ref_id=ref_id)
        # Autocommit: the statement is its own transaction; the hot row is locked only while it runs.
        return stock_sql.reserve_fast(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=quantity, ref_type=ref_type,
                                      ref_id=ref_id)
    except IntegrityError:
        return False  # a concurrent duplicate of the same reference won: the general path sees it


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


def _reserve_locked(*, warehouse, sku, quantity, ref_type, ref_id, shop) -> None:
    """The general path, with the levels already locked: bundles, promotion locks, idempotency."""
    parts = _components(sku)
    need = {component_id: per * quantity for component_id, per in parts}
    bundle_id = sku.pk if sku.is_bundle else None
    locks = _usable_locks(shop, list(need), warehouse) if shop is not None else {}
    existing = {
        r.sku_id: r
        for r in Reservation.objects.select_for_update().filter(
            ref_type=ref_type, ref_id=ref_id, warehouse=warehouse, sku_id__in=need, bundle_id=bundle_id
        )
    }
    live = [r for r in existing.values() if r.status != ReservationStatus.RELEASED]
    if live:
        if all(r.status == ReservationStatus.COMMITTED for r in live) or (
            len(live) == len(need) and all(r.quantity == need[r.sku_id] for r in live)
        ):
            return  # the same reservation again (or already shipped): nothing changes
        raise ValidationError({"quantity": [_("This reference already holds a different reservation; release it first.")]})

    levels = {lv.sku_id: lv for lv in StockLevel.objects.filter(warehouse=warehouse, sku_id__in=need)}
    from_lock: dict[int, list[tuple[StockLock, int]]] = defaultdict(list)
    for component_id, units in need.items():
        left = units
        for lock in locks.get(component_id, [])[:1]:  # one lock per reservation row (its ``lock``)
            take = min(left, lock.remaining)
            if take:
                from_lock[component_id].append((lock, take))
                left -= take
        level = levels.get(component_id)
        available = level.available if level else 0
        if available < left:
            raise _shortage(sku=sku, warehouse=warehouse, quantity=quantity, parts=parts, levels=levels, locks=locks)

    now = timezone.now()
    for component_id in sorted(need):
        units = need[component_id]
        taken = sum(n for _, n in from_lock[component_id])
        after = stock_sql.level_update(warehouse_id=warehouse.pk, sku_id=component_id, reserved=units, locked=-taken)
        if after is None:  # cannot happen with the rows locked and checked above; refuse cleanly anyway
            raise _shortage(sku=sku, warehouse=warehouse, quantity=quantity, parts=parts, levels=levels, locks=locks)
    lock_used = {}
    for component_id in sorted(need):
        for lock, n in from_lock[component_id]:
            StockLock.objects.filter(pk=lock.pk).update(remaining=F("remaining") - n, used=F("used") + n, updated_at=now)
            StockLockEvent.objects.create(lock=lock, kind=LockEventKind.USE, quantity=n, ref_type=ref_type, ref_id=ref_id)
            lock_used[component_id] = lock
    for component_id in sorted(need):
        units = need[component_id]
        taken = sum(n for _, n in from_lock[component_id])
        values = {"quantity": units, "requested": quantity, "status": ReservationStatus.OPEN, "from_lock": taken,
                  "lock": lock_used.get(component_id), "closed_at": None}
        row = existing.get(component_id)
        if row is not None:
            Reservation.objects.filter(pk=row.pk).update(**values)
        else:
            Reservation.objects.create(ref_type=ref_type, ref_id=ref_id, warehouse=warehouse, sku_id=component_id,
                                       bundle_id=bundle_id, **values)


def _usable_locks(shop, sku_ids, warehouse) -> dict[int, list[StockLock]]:
    now = timezone.now()
    found = defaultdict(list)
    rows = (StockLock.objects.select_for_update()
            .filter(shop=shop, sku_id__in=sku_ids, warehouse=warehouse, status=LockStatus.ACTIVE, remaining__gt=0,
                    ends_at__gt=now)
            .order_by("id"))
    for lock in rows:
        found[lock.sku_id].append(lock)
    return found


def _shortage(*, sku, warehouse, quantity, parts, levels, locks) -> InsufficientStock:
    possible = None
    for component_id, per in parts:
        level = levels.get(component_id)
        have = (level.available if level else 0) + sum(lk.remaining for lk in locks.get(component_id, [])[:1])
        units = max(have, 0) // per
        possible = units if possible is None else min(possible, units)
    return InsufficientStock(sku_id=sku.pk, warehouse_id=warehouse.pk, requested=quantity, available=possible or 0)


def _open_reservations_locked(ref_type: str, ref_id: str) -> list[Reservation]:
    """The reference's open reservations, locked in the global order (levels, locks, reservations)."""
    ref_type, ref_id = _ref(ref_type, ref_id)
    peek = list(Reservation.objects.filter(ref_type=ref_type, ref_id=ref_id, status=ReservationStatus.OPEN)
                .values_list("warehouse_id", "sku_id", "lock_id"))
    if not peek:
        return []
    _lock_level_pairs([(w, s) for w, s, _ in peek])
    lock_ids = sorted({lk for _, _, lk in peek if lk})
    if lock_ids:
        list(StockLock.objects.select_for_update().filter(pk__in=lock_ids).order_by("id"))
    return list(Reservation.objects.select_for_update()
                .filter(ref_type=ref_type, ref_id=ref_id, status=ReservationStatus.OPEN).order_by("id"))


@transaction.atomic
def stock_release(*, ref_type: str, ref_id: str) -> int:
    """Release every open reservation of the reference (an order line cancelled). Returns the stock
    units released; releasing twice releases nothing. Units that came from a promotion lock go back
    to the lock while it is active."""
    rows = _open_reservations_locked(ref_type, ref_id)
    now = timezone.now()
    total = 0
    for row in rows:
        back_to_lock = 0
        if row.from_lock and row.lock_id:
            lock = StockLock.objects.get(pk=row.lock_id)
            if lock.status == LockStatus.ACTIVE:
                back_to_lock = row.from_lock
                StockLock.objects.filter(pk=lock.pk).update(remaining=F("remaining") + back_to_lock,
                                                            used=F("used") - back_to_lock, updated_at=now)
            else:
                StockLock.objects.filter(pk=lock.pk).update(used=F("used") - row.from_lock,
                                                            released=F("released") + row.from_lock, updated_at=now)
            StockLockEvent.objects.create(lock=lock, kind=LockEventKind.UNUSE, quantity=row.from_lock, ref_type=row.ref_type,
                                          ref_id=row.ref_id, note="" if back_to_lock else "lock over: returned to general stock")
        after = stock_sql.level_update(warehouse_id=row.warehouse_id, sku_id=row.sku_id, reserved=-row.quantity,
                                       locked=back_to_lock)
        if after is None:
            raise ValidationError(_("Stock level out of step with its reservations; run verify_stock."))
        total += row.quantity
    if rows:
        Reservation.objects.filter(pk__in=[r.pk for r in rows]).update(status=ReservationStatus.RELEASED, closed_at=now)
    return total


@transaction.atomic
def stock_commit(*, ref_type: str, ref_id: str, source_doc: str = "", user=None) -> int:
    """Ship the reference: each open reservation becomes a SHIPMENT move (on_hand and reserved both
    drop). Returns the stock units shipped; committing twice ships nothing."""
    rows = _open_reservations_locked(ref_type, ref_id)
    now = timezone.now()
    total = 0
    for row in rows:
        after = stock_sql.level_update(warehouse_id=row.warehouse_id, sku_id=row.sku_id, on_hand=-row.quantity,
                                       reserved=-row.quantity)
        if after is None:
            raise ValidationError(_("Stock level out of step with its reservations; run verify_stock."))
        _write_move(warehouse_id=row.warehouse_id, sku_id=row.sku_id, kind=MoveKind.SHIPMENT, after=after,
                    on_hand=-row.quantity, reason=f"shipment of {row.ref_type} {row.ref_id}", source_doc=source_doc,
                    user=user)
        total += row.quantity
    if rows:
        Reservation.objects.filter(pk__in=[r.pk for r in rows]).update(status=ReservationStatus.COMMITTED, closed_at=now)
    return total


# --- transfers -------------------------------------------------------------------------------

def _lines(lines, field="lines") -> dict[int, int]:
    """[(sku, qty)] or [{"sku": .., "quantity": ..}] -> {sku_id: qty} of the caller's stock SKUs."""
    result: dict[int, int] = {}
    for line in lines or []:
        sku, qty = (line["sku"], line["quantity"]) if isinstance(line, dict) else line
        sku = _stock_sku(_own(SKU, sku, field), field)
        result[sku.pk] = result.get(sku.pk, 0) + _quantity(qty)
    if not result:
        raise ValidationError({field: [_("Add at least one line.")]})
    return result


def _next_number(model, prefix: str) -> str:
    stamp = timezone.now().strftime("%Y%m%d")
    n = model.objects.filter(number__startswith=f"{prefix}{stamp}").count() + 1
    while model.objects.filter(number=f"{prefix}{stamp}-{n:04d}").exists():
        n += 1
    return f"{prefix}{stamp}-{n:04d}"


@transaction.atomic
def transfer_create(*, from_warehouse: Warehouse, to_warehouse: Warehouse, lines, note: str = "") -> Transfer:
    from_warehouse = _own(Warehouse, from_warehouse, "from_warehouse")
    to_warehouse = _own(Warehouse, to_warehouse, "to_warehouse")
    if from_warehouse.pk == to_warehouse.pk:
        raise ValidationError({"to_warehouse": [_("Choose a different destination warehouse.")]})
    quantities = _lines(lines)
    transfer = Transfer.objects.create(number=_next_number(Transfer, "TR"), from_warehouse=from_warehouse,
                                       to_warehouse=to_warehouse, note=note)
    TransferLine.objects.bulk_create([TransferLine(tenant=transfer.tenant, transfer=transfer, sku_id=s, quantity=q)
                                      for s, q in sorted(quantities.items())])
    return transfer


def _locked_transfer(transfer) -> Transfer:
    transfer = _own(Transfer, transfer, "transfer")
    return Transfer.objects.select_for_update().get(pk=transfer.pk)


@transaction.atomic
def transfer_ship(*, transfer: Transfer, user=None) -> Transfer:
    """Dispatch: on_hand leaves the source, in_transit grows at the destination."""
    transfer = _locked_transfer(transfer)
    if transfer.status != TransferStatus.DRAFT:
        raise ValidationError({"status": [_("Only a draft transfer can be shipped.")]})
    lines = list(transfer.lines.order_by("sku_id"))
    pairs = [(transfer.from_warehouse_id, ln.sku_id) for ln in lines] + [(transfer.to_warehouse_id, ln.sku_id) for ln in lines]
    stock_sql.ensure_levels(pairs)
    _lock_level_pairs(pairs)
    for line in lines:
        after = stock_sql.level_update(warehouse_id=transfer.from_warehouse_id, sku_id=line.sku_id, on_hand=-line.quantity)
        if after is None:
            now = _level_numbers(transfer.from_warehouse_id, line.sku_id)
            raise InsufficientStock(sku_id=line.sku_id, warehouse_id=transfer.from_warehouse_id, requested=line.quantity,
                                    available=now["on_hand"] - now["reserved"] - now["locked"])
        _write_move(warehouse_id=transfer.from_warehouse_id, sku_id=line.sku_id, kind=MoveKind.TRANSFER_OUT, after=after,
                    on_hand=-line.quantity, reason=f"transfer to {transfer.to_warehouse.code}", source_doc=transfer.number,
                    user=user)
        after = stock_sql.level_update(warehouse_id=transfer.to_warehouse_id, sku_id=line.sku_id, in_transit=line.quantity)
        _write_move(warehouse_id=transfer.to_warehouse_id, sku_id=line.sku_id, kind=MoveKind.TRANSFER_OUT, after=after,
                    in_transit=line.quantity, reason=f"in transit from {transfer.from_warehouse.code}",
                    source_doc=transfer.number, user=user)
    transfer.status, transfer.shipped_at = TransferStatus.IN_TRANSIT, timezone.now()
    transfer.save(update_fields=["status", "shipped_at", "updated_at"])
    return transfer


@transaction.atomic
def transfer_receive(*, transfer: Transfer, received: dict | None = None, user=None) -> Transfer:
    """Arrival: in_transit -> on_hand at the destination. ``received`` {sku_id: qty} records a
    shortfall (the missing units are written off with the transfer as their source document)."""
    transfer = _locked_transfer(transfer)
    if transfer.status != TransferStatus.IN_TRANSIT:
        raise ValidationError({"status": [_("Only a transfer in transit can be received.")]})
    lines = list(transfer.lines.order_by("sku_id"))
    received = {int(k): v for k, v in (received or {}).items()}
    unknown = set(received) - {ln.sku_id for ln in lines}
    if unknown:
        raise ValidationError({"received": [_("SKU %(ids)s is not on this transfer.") % {"ids": sorted(unknown)}]})
    pairs = [(transfer.to_warehouse_id, ln.sku_id) for ln in lines]
    _lock_level_pairs(pairs)
    missing: list[tuple[StockMove, int]] = []
    for line in lines:
        got = _quantity(received.get(line.sku_id, line.quantity), field="received", allow_zero=True)
        if got > line.quantity:
            raise ValidationError({"received": [_("More received than shipped; receive the extra as a receipt.")]})
        after = stock_sql.level_update(warehouse_id=transfer.to_warehouse_id, sku_id=line.sku_id, on_hand=got,
                                       in_transit=-line.quantity)
        if after is None:
            raise ValidationError(_("Stock level out of step with the transfer; run verify_stock."))
        move = _write_move(warehouse_id=transfer.to_warehouse_id, sku_id=line.sku_id, kind=MoveKind.TRANSFER_IN,
                           after=after, on_hand=got, in_transit=-line.quantity,
                           reason=f"transfer from {transfer.from_warehouse.code}" + (f" ({line.quantity - got} missing)" if got < line.quantity else ""),
                           source_doc=transfer.number, user=user)
        missing.append((move, got - line.quantity))  # 0 when all arrived (a transfer alone changes no value)
        TransferLine.objects.filter(pk=line.pk).update(received_quantity=got)
    _publish_adjusted(kind=AdjustKind.TRANSFER_SHORTAGE, ref=f"transfer:{transfer.pk}", warehouse_id=transfer.to_warehouse_id,
                      reason=f"transfer {transfer.number}: units missing", source_doc=transfer.number, changes=missing)
    transfer.status, transfer.received_at = TransferStatus.RECEIVED, timezone.now()
    transfer.save(update_fields=["status", "received_at", "updated_at"])
    return transfer


@transaction.atomic
def transfer_cancel(*, transfer: Transfer) -> Transfer:
    transfer = _locked_transfer(transfer)
    if transfer.status != TransferStatus.DRAFT:
        raise ValidationError({"status": [_("Only a draft transfer can be cancelled.")]})
    transfer.status = TransferStatus.CANCELLED
    transfer.save(update_fields=["status", "updated_at"])
    return transfer


# --- stocktakes --------------------------------------------------------------------------------

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


# --- promotion locks ---------------------------------------------------------------------------

@transaction.atomic
def stock_lock_create(*, shop, sku: SKU, quantity: int, starts_at, ends_at, name: str, warehouse: Warehouse | None = None,
                      user=None) -> StockLock:
    """Set ``quantity`` units aside for one shop from starts_at to ends_at. Starting now (or in the
    past) locks immediately and is refused when not enough is available; a later start is locked by
    the beat job at its start (as much as is available then, with a 'short' event if less)."""
    shop = _own_shop(shop)
    if shop is None:
        raise ValidationError({"shop": [_("Choose a shop.")]})
    sku = _own(SKU, sku, "sku")
    if sku.is_bundle:
        raise ValidationError({"sku": [_("Lock the bundle's components, not the bundle.")]})
    quantity = _quantity(quantity)
    if not (starts_at and ends_at) or ends_at <= starts_at:
        raise ValidationError({"ends_at": [_("The end must be after the start.")]})
    now = timezone.now()
    if ends_at <= now:
        raise ValidationError({"ends_at": [_("The end is already past.")]})
    if warehouse is None:
        warehouse = _warehouse_for_lock(shop, sku, quantity)
    warehouse = _own(Warehouse, warehouse, "warehouse")
    lock = StockLock.objects.create(name=(name or "promotion")[:200], shop=shop, sku=sku, warehouse=warehouse,
                                    quantity=quantity, starts_at=starts_at, ends_at=ends_at, created_by=user)
    if starts_at <= now:
        _activate(lock, partial=False)
    return lock


def _warehouse_for_lock(shop, sku, quantity) -> Warehouse:
    from .selectors import shop_warehouses

    for warehouse in shop_warehouses(shop=shop):
        level = StockLevel.objects.filter(warehouse=warehouse, sku=sku).first()
        if level and level.available >= quantity:
            return warehouse
    raise InsufficientStock(sku_id=sku.pk, warehouse_id=0, requested=quantity, available=0)


def _activate(lock: StockLock, *, partial: bool) -> None:
    stock_sql.ensure_levels([(lock.warehouse_id, lock.sku_id)])
    level = _lock_levels(lock.warehouse_id, [lock.sku_id])[lock.sku_id]
    lock = StockLock.objects.select_for_update().get(pk=lock.pk)
    if lock.status != LockStatus.SCHEDULED:
        return
    take = min(lock.quantity, max(level.available, 0)) if partial else lock.quantity
    if take and stock_sql.level_update(warehouse_id=lock.warehouse_id, sku_id=lock.sku_id, locked=take) is None:
        raise InsufficientStock(sku_id=lock.sku_id, warehouse_id=lock.warehouse_id, requested=lock.quantity,
                                available=level.available)
    StockLock.objects.filter(pk=lock.pk).update(status=LockStatus.ACTIVE, locked_quantity=take, remaining=take,
                                                updated_at=timezone.now())
    StockLockEvent.objects.create(lock=lock, kind=LockEventKind.LOCK, quantity=take)
    if take < lock.quantity:
        StockLockEvent.objects.create(lock=lock, kind=LockEventKind.SHORT, quantity=lock.quantity - take,
                                      note=f"only {take} of {lock.quantity} available at the start")


def _end(lock: StockLock, *, status: str, kind: str) -> int:
    _lock_levels(lock.warehouse_id, [lock.sku_id])
    lock = StockLock.objects.select_for_update().get(pk=lock.pk)
    if lock.status not in (LockStatus.SCHEDULED, LockStatus.ACTIVE):
        return 0
    back = lock.remaining if lock.status == LockStatus.ACTIVE else 0
    if back and stock_sql.level_update(warehouse_id=lock.warehouse_id, sku_id=lock.sku_id, locked=-back) is None:
        raise ValidationError(_("Stock level out of step with its locks; run verify_stock."))
    StockLock.objects.filter(pk=lock.pk).update(status=status, remaining=0, released=F("released") + back,
                                                updated_at=timezone.now())
    StockLockEvent.objects.create(lock=lock, kind=kind, quantity=back)
    return back


@transaction.atomic
def stock_lock_cancel(*, lock: StockLock) -> StockLock:
    """End a lock early; its remaining units return to general stock."""
    lock = _own(StockLock, lock, "lock")
    if lock.status not in (LockStatus.SCHEDULED, LockStatus.ACTIVE):
        raise ValidationError({"status": [_("This lock is already over.")]})
    _end(lock, status=LockStatus.CANCELLED, kind=LockEventKind.CANCEL)
    return StockLock.objects.get(pk=lock.pk)


def stock_locks_tick(*, now=None) -> dict:
    """Start the locks whose start has come and end the ones whose end has passed (the beat job).
    Each lock in its own transaction, so one problem does not hold back the others."""
    now = now or timezone.now()
    started = ended = 0
    for lock in StockLock.objects.filter(status=LockStatus.ACTIVE, ends_at__lte=now).order_by("id"):
        with transaction.atomic():
            _end(lock, status=LockStatus.ENDED, kind=LockEventKind.RELEASE)
            ended += 1
    for lock in StockLock.objects.filter(status=LockStatus.SCHEDULED, starts_at__lte=now).order_by("id"):
        with transaction.atomic():
            if lock.ends_at <= now:
                _end(lock, status=LockStatus.ENDED, kind=LockEventKind.RELEASE)
                ended += 1
            else:
                _activate(lock, partial=True)
                started += 1
    return {"started": started, "ended": ended}


# --- catalog, bundles, mappings, sync rules ------------------------------------------------------

@transaction.atomic
def sku_set_components(*, bundle: SKU, components) -> SKU:
    """Make ``bundle`` a bundle of [(sku, qty)] (replacing its components). A SKU that holds stock
    cannot become a bundle, and a bundle cannot contain a bundle."""
    bundle = _own(SKU, bundle, "bundle")
    parts: dict[int, int] = {}
    for item in components or []:
        sku, qty = (item["sku"], item["quantity"]) if isinstance(item, dict) else item
        sku = _own(SKU, sku, "components")
        if sku.pk == bundle.pk:
            raise ValidationError({"components": [_("A bundle cannot contain itself.")]})
        if sku.is_bundle:
            raise ValidationError({"components": [_("A bundle cannot contain another bundle.")]})
        parts[sku.pk] = parts.get(sku.pk, 0) + _quantity(qty, field="components")
    if not parts:
        raise ValidationError({"components": [_("A bundle needs at least one component.")]})
    if StockLevel.objects.filter(sku=bundle).exclude(on_hand=0, reserved=0, in_transit=0, defective=0, locked=0).exists():
        raise ValidationError({"components": [_("This SKU holds stock; it cannot become a bundle.")]})
    if BundleComponent.objects.filter(component=bundle).exists():
        raise ValidationError({"components": [_("This SKU is a component of a bundle; it cannot become a bundle.")]})
    BundleComponent.objects.filter(bundle=bundle).delete()
    BundleComponent.objects.bulk_create([BundleComponent(tenant=bundle.tenant, bundle=bundle, component_id=c, quantity=q)
                                         for c, q in sorted(parts.items())])
    SKU.objects.filter(pk=bundle.pk).update(is_bundle=True)
    bundle.is_bundle = True
    stock_sql.mark_mappings_dirty(PlatformSkuMapping.objects.filter(sku=bundle).values_list("id", flat=True))
    return bundle


@transaction.atomic
def sku_mapping_set(*, mapping: PlatformSkuMapping, sku: SKU | None, user=None) -> PlatformSkuMapping:
    """Map a platform SKU to our SKU by hand (None unmaps it back into the queue)."""
    mapping = _own(PlatformSkuMapping, mapping, "mapping")
    sku = _own(SKU, sku, "sku") if sku is not None else None
    mapping.sku = sku
    mapping.match_method = MatchMethod.MANUAL if sku else MatchMethod.NONE
    mapping.save(update_fields=["sku", "match_method", "updated_at"])
    if sku is not None:
        stock_sql.mark_mappings_dirty([mapping.pk])
    else:
        StockDirty.objects.filter(mapping=mapping).update(dirty=False)
    return mapping


@transaction.atomic
def sku_mapping_create(*, shop, platform_item_id: str, platform_sku_id: str = "", outer_id: str = "", title: str = "",
                       sku: SKU | None = None) -> PlatformSkuMapping:
    shop = _own_shop(shop)
    if shop is None:
        raise ValidationError({"shop": [_("Choose a shop.")]})
    if not str(platform_item_id or "").strip():
        raise ValidationError({"platform_item_id": [_("Required.")]})
    if sku is None and outer_id:
        sku = SKU.objects.filter(code=outer_id).first()
        method = MatchMethod.AUTO if sku else MatchMethod.NONE
    else:
        sku = _own(SKU, sku, "sku") if sku is not None else None
        method = MatchMethod.MANUAL if sku else MatchMethod.NONE
    if PlatformSkuMapping.objects.filter(shop=shop, platform_item_id=platform_item_id, platform_sku_id=platform_sku_id).exists():
        raise ValidationError({"platform_sku_id": [_("This platform SKU is already mapped.")]})
    mapping = PlatformSkuMapping.objects.create(shop=shop, platform_item_id=platform_item_id, platform_sku_id=platform_sku_id,
                                                outer_id=outer_id, title=title, sku=sku, match_method=method,
                                                last_seen_at=timezone.now())
    if sku is not None:
        stock_sql.mark_mappings_dirty([mapping.pk])
    return mapping


@transaction.atomic
def sku_mappings_automatch(*, shop=None) -> int:
    """Match unmatched platform SKUs whose outer id equals a merchant code (e.g. after new SKUs)."""
    queue = PlatformSkuMapping.objects.filter(sku__isnull=True).exclude(outer_id="")
    if shop is not None:
        queue = queue.filter(shop=_own_shop(shop))
    codes = dict(SKU.objects.filter(code__in=queue.values("outer_id")).values_list("code", "id"))
    matched = []
    for mapping in queue.select_for_update().order_by("id"):
        if mapping.outer_id in codes and mapping.sku_id is None:
            PlatformSkuMapping.objects.filter(pk=mapping.pk).update(sku_id=codes[mapping.outer_id], match_method=MatchMethod.AUTO,
                                                                   updated_at=timezone.now())
            matched.append(mapping.pk)
    stock_sql.mark_mappings_dirty(matched)
    return len(matched)


_RULE_FIELDS = ("percentage", "adjust", "safety_stock", "min_quantity", "max_quantity", "auto_delist", "is_active")


@transaction.atomic
def sync_rule_save(*, shop, warehouses=None, **fields) -> SyncRule:
    """Create or update the shop's sync rule (``warehouses`` None keeps them; [] means all) and mark
    the shop's mappings dirty so the new figures are pushed."""
    shop = _own_shop(shop)
    if shop is None:
        raise ValidationError({"shop": [_("Choose a shop.")]})
    unknown = set(fields) - set(_RULE_FIELDS)
    if unknown:
        raise ValidationError({k: [_("Unknown field.")] for k in unknown})
    rule = SyncRule.objects.select_for_update().filter(shop=shop).first() or SyncRule(shop=shop)
    for key, value in fields.items():
        setattr(rule, key, value)
    if rule.percentage is None or not 0 <= rule.percentage <= 100:
        raise ValidationError({"percentage": [_("Between 0 and 100.")]})
    if rule.min_quantity is not None and rule.max_quantity is not None and rule.min_quantity > rule.max_quantity:
        raise ValidationError({"min_quantity": [_("The minimum is above the maximum.")]})
    for key in ("safety_stock", "min_quantity", "max_quantity"):
        value = getattr(rule, key)
        if value is not None and value < 0:
            raise ValidationError({key: [_("Must not be negative.")]})
    rule.save()
    if warehouses is not None:
        wanted = {_own(Warehouse, w, "warehouses").pk for w in warehouses}
        SyncRuleWarehouse.objects.filter(rule=rule).exclude(warehouse_id__in=wanted).delete()
        have = set(SyncRuleWarehouse.objects.filter(rule=rule).values_list("warehouse_id", flat=True))
        SyncRuleWarehouse.objects.bulk_create([SyncRuleWarehouse(tenant=rule.tenant, rule=rule, warehouse_id=w)
                                               for w in sorted(wanted - have)])
    stock_sql.mark_mappings_dirty(PlatformSkuMapping.objects.filter(shop=shop, sku__isnull=False).values_list("id", flat=True))
    return rule


def dirty_stock_ack(*, shop, acks) -> int:
    """Acknowledge pushed (mapping_id, version) pairs: each clears its mark only if no change came
    after that version. Returns how many marks were cleared."""
    shop = _own_shop(shop)
    now = timezone.now()
    cleared = 0
    with transaction.atomic():
        for mapping_id, version in sorted(acks or []):
            cleared += StockDirty.objects.filter(shop=shop, mapping_id=mapping_id, version=version).update(
                dirty=False, pushed_at=now, pushed_version=version)
    return cleared


# --- ledger check ------------------------------------------------------------------------------

@dataclass
class Drift:
    warehouse_id: int
    sku_id: int
    field: str
    recorded: int
    derived: int


@transaction.atomic
def stock_verify(*, repair: bool = False) -> list[Drift]:
    """Re-derive every level of the current tenant: on_hand / in_transit / defective from the moves,
    reserved from open reservations, locked from active promotion locks. Returns the differences;
    with ``repair`` the levels are set to the derived figures (all levels locked meanwhile)."""
    from django.db.models import Sum

    levels = {(lv.warehouse_id, lv.sku_id): lv for lv in StockLevel.objects.select_for_update().order_by("id")}
    derived: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: dict.fromkeys(stock_sql.BUCKETS, 0))
    for w, s, oh, it, df in (StockMove.objects.values("warehouse_id", "sku_id")
                             .annotate(oh=Sum("on_hand_delta"), it=Sum("in_transit_delta"), df=Sum("defective_delta"))
                             .values_list("warehouse_id", "sku_id", "oh", "it", "df")):
        derived[(w, s)].update(on_hand=oh or 0, in_transit=it or 0, defective=df or 0)
    for w, s, n in (Reservation.objects.filter(status=ReservationStatus.OPEN).values("warehouse_id", "sku_id")
                    .annotate(n=Sum("quantity")).values_list("warehouse_id", "sku_id", "n")):
        derived[(w, s)]["reserved"] = n or 0
    for w, s, n in (StockLock.objects.filter(status=LockStatus.ACTIVE).values("warehouse_id", "sku_id")
                    .annotate(n=Sum("remaining")).values_list("warehouse_id", "sku_id", "n")):
        derived[(w, s)]["locked"] = n or 0
    drifts = []
    for key in sorted(set(levels) | set(derived)):
        level = levels.get(key)
        want = derived[key]
        for field in stock_sql.BUCKETS:
            have = getattr(level, field) if level else 0
            if have != want[field]:
                drifts.append(Drift(warehouse_id=key[0], sku_id=key[1], field=field, recorded=have, derived=want[field]))
    if repair and drifts:
        stock_sql.ensure_levels({(d.warehouse_id, d.sku_id) for d in drifts})
        for key in sorted({(d.warehouse_id, d.sku_id) for d in drifts}):
            want = derived[key]
            try:
                with transaction.atomic():
                    StockLevel.objects.filter(warehouse_id=key[0], sku_id=key[1]).update(
                        **want, version=F("version") + 1, needs_push=True, updated_at=timezone.now())
            except IntegrityError:
                raise ValidationError(
                    _("Warehouse %(w)s SKU %(s)s: the ledger itself breaks a rule (%(want)s); fix the documents.")
                    % {"w": key[0], "s": key[1], "want": want})
    return drifts


# --- costs ---------------------------------------------------------------------------------------

@transaction.atomic
def sku_cost_update_on_receipt(*, sku: SKU, quantity: int, unit_cost) -> SKU:
    """Moving weighted average cost after a purchase receipt (called by purchasing, in the receipt's
    transaction, right after stock_receive put the ``quantity`` units in): the units already on hand
    in every warehouse keep their old cost, the received ones cost ``unit_cost``.
    new = (old cost × (on hand − quantity) + unit_cost × quantity) / on hand, rounded to the cent."""
    from decimal import ROUND_HALF_UP, Decimal

    from django.db.models import Sum

    from erp.money import CENT, to_money

    quantity = _quantity(quantity)
    try:
        unit_cost = to_money(unit_cost)
    except (TypeError, ValueError):
        raise ValidationError({"unit_cost": [_("Not a valid amount.")]}) from None
    if unit_cost < 0:
        raise ValidationError({"unit_cost": [_("Must not be negative.")]})
    sku = _stock_sku(_own(SKU, sku, "sku"))
    sku = SKU.objects.select_for_update().get(pk=sku.pk)
    on_hand = StockLevel.objects.filter(sku_id=sku.pk).aggregate(n=Sum("on_hand"))["n"] or 0
    before = max(on_hand - quantity, 0)
    total = before + quantity
    cost = (Decimal(sku.unit_cost or 0) * before + unit_cost * quantity) / total
    sku.unit_cost = cost.quantize(CENT, rounding=ROUND_HALF_UP)
    sku.save(update_fields=["unit_cost", "updated_at"])
    return sku
