"""One reference's reservations: reserve (fast one-statement path or the general locked path with
bundles and promotion locks), release and commit (shipment moves).
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import stock_sql
from ..models import (
    SKU,
    LockEventKind,
    LockStatus,
    MoveKind,
    Reservation,
    ReservationStatus,
    StockLevel,
    StockLock,
    StockLockEvent,
    Warehouse,
)
from ._common import (
    InsufficientStock,
    _components,
    _lock_level_pairs,
    _lock_levels,
    _own,
    _own_shop,
    _quantity,
    _ref,
    _write_move,
)


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
