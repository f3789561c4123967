"""The set-based reservation statements of inventory.stock_sql, through the ORM, for the embedded
SQLite database (`make run` without DATABASE_URL). One process writes there (SQLite serialises
writers, transactions start IMMEDIATE), so no row locks are needed; the guards of every UPDATE are
the same as on Postgres. Speed is not the point here: demo volumes."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from erp.tenancy.context import require_tenant

from .models import Reservation, ReservationStatus, StockLevel, StockLock


def lock_levels(pairs) -> dict[tuple[int, int], list[int]]:
    pairs = set(pairs)
    if not pairs:
        return {}
    rows = (StockLevel.objects.filter(warehouse_id__in={w for w, _ in pairs}, sku_id__in={s for _, s in pairs})
            .order_by("id").values_list("id", "warehouse_id", "sku_id", "on_hand", "reserved", "locked"))
    return {(w, s): [lid, oh, rs, lk] for lid, w, s, oh, rs, lk in rows if (w, s) in pairs}


def lock_reservations(keys) -> list[tuple]:
    keys = set(keys)
    if not keys:
        return []
    rows = (Reservation.objects.filter(ref_type__in={k[0] for k in keys}, ref_id__in={k[1] for k in keys},
                                       warehouse_id__in={k[2] for k in keys})
            .order_by("id").values_list("id", "ref_type", "ref_id", "warehouse_id", "sku_id", "bundle_id", "quantity",
                                        "status"))
    return [row for row in rows if (row[1], row[2], row[3]) in keys]


def apply_level_deltas(rows) -> int:
    now = timezone.now()
    updated = 0
    for level_id, reserved, locked, changes in sorted(rows):
        updated += StockLevel.objects.filter(
            pk=level_id, reserved__gte=-reserved, locked__gte=locked,
            on_hand__gte=F("reserved") + reserved + F("locked") - locked,
        ).update(reserved=F("reserved") + reserved, locked=F("locked") - locked, version=F("version") + changes,
                 needs_push=True, updated_at=now)
    return updated


def use_locks(rows) -> None:
    now = timezone.now()
    for lock_id, units in sorted(rows):
        StockLock.objects.filter(pk=lock_id).update(remaining=F("remaining") - units, used=F("used") + units,
                                                    updated_at=now)


def insert_reservations(rows) -> None:
    tenant = require_tenant()
    Reservation.objects.bulk_create([
        Reservation(tenant=tenant, ref_type=t, ref_id=i, warehouse_id=w, sku_id=s, bundle_id=b, quantity=q, requested=rq,
                    status=ReservationStatus.OPEN, lock_id=lk, from_lock=fl)
        for t, i, w, s, b, q, rq, lk, fl in rows
    ])


def reopen_reservations(rows) -> None:
    for reservation_id, quantity, requested, lock_id, from_lock in rows:
        Reservation.objects.filter(pk=reservation_id).update(
            quantity=quantity, requested=requested, lock_id=lock_id, from_lock=from_lock,
            status=ReservationStatus.OPEN, closed_at=None)
