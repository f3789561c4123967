"""Set-based reservation for order ingestion: ``stock_reserve_batch`` (many all-or-nothing requests
in a constant number of statements) and ``stock_reserve_many`` (one request), with their request,
outcome and shortage types.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.tenancy.context import require_tenant

from .. import stock_sql
from ..models import (
    SKU,
    BundleComponent,
    LockEventKind,
    LockStatus,
    ReservationStatus,
    StockLock,
    StockLockEvent,
    Warehouse,
)
from ._common import SHOP, InsufficientStock, _quantity, _ref


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


def _own_many(objs, *, label: str, fetch) -> dict:
    """{what the caller passed (object id or pk): the current tenant's row}, one query (``fetch(ids)``
    -> {id: row}); a row passed of model ``label`` ("app.Model") and of the current tenant is taken as
    is; unknown ones are absent."""
    tenant_pk = require_tenant().pk
    found, wanted = {}, set()
    for obj in objs:
        meta = getattr(obj, "_meta", None)
        if getattr(meta, "label", None) == label and obj.pk is not None and obj.tenant_id == tenant_pk:
            found[id(obj)] = obj
            continue
        pk = obj.pk if hasattr(obj, "pk") else obj
        if pk is None or isinstance(pk, bool):
            continue
        try:
            wanted.add(int(pk))
        except (TypeError, ValueError):
            continue
    return {"objects": found, "pks": fetch(wanted) if wanted else {}}


def _lookup(table: dict, obj, what, field: str):
    if id(obj) in table["objects"]:
        return table["objects"][id(obj)]
    pk = obj.pk if hasattr(obj, "pk") else obj
    try:
        row = table["pks"].get(int(pk)) if pk is not None and not isinstance(pk, bool) else None
    except (TypeError, ValueError):
        row = None
    if row is None:
        raise ValidationError({field: [_("Unknown %(what)s.") % {"what": what}]})
    return row


def _rows(model):
    return lambda ids: {row.pk: row for row in model.objects.filter(pk__in=ids)}


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
    from integrations.selectors import shops_by_ids

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
    warehouses = _own_many([ln.warehouse for ln in all_lines], label="inventory.Warehouse", fetch=_rows(Warehouse))
    skus = _own_many([ln.sku for ln in all_lines], label="inventory.SKU", fetch=_rows(SKU))
    shops = _own_many([ln.shop for ln in all_lines if ln.shop is not None], label=SHOP,
                      fetch=lambda ids: shops_by_ids(ids=ids))

    # 1. validate (a bad line refuses its request only)
    prepared: list[list[tuple] | None] = []
    for i, lines in enumerate(raw):
        try:
            items = []
            for ln in lines:
                warehouse = _lookup(warehouses, ln.warehouse, Warehouse._meta.verbose_name, "warehouse")
                sku = _lookup(skus, ln.sku, SKU._meta.verbose_name, "sku")
                ref_type, ref_id = _ref(ln.ref_type, ln.ref_id)
                quantity = _quantity(ln.quantity)
                shop = _lookup(shops, ln.shop, _("shop"), "shop") if ln.shop is not None else None
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
