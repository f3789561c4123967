"""The few SQL statements on the stock hot path (shared by inventory.services).

Everything here runs through Django's cursor, so the tenant's row-level security applies, and every
statement also names the tenant explicitly. Channel-stock dirty marks are two-step: every change flags its StockLevel (``needs_push``, in the
same UPDATE, so the hot path pays nothing extra); ``propagate_stock_changes`` (run by the claim)
turns flagged levels into per-(shop, mapping) StockDirty version bumps. Lock order, everywhere in
inventory:
StockLevel rows (by id) -> StockLock rows (by id) -> Reservation rows -> StockDirty rows (by
mapping id). Keeping it is what makes concurrent reservations deadlock-free.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from erp.tenancy.context import require_tenant

from . import stock_sql_portable
from .models import (
    BundleComponent,
    PlatformSkuMapping,
    Reservation,
    StockDirty,
    StockLevel,
    SyncRule,
    SyncRuleWarehouse,
)

LEVEL = StockLevel._meta.db_table
RESERVATION = Reservation._meta.db_table
DIRTY = StockDirty._meta.db_table
MAPPING = PlatformSkuMapping._meta.db_table
BUNDLE = BundleComponent._meta.db_table
RULE = SyncRule._meta.db_table
RULE_WH = SyncRuleWarehouse._meta.db_table

BUCKETS = ("on_hand", "reserved", "locked", "in_transit", "defective")


def tenant_id() -> int:
    return require_tenant().pk


def level_update(*, warehouse_id: int, sku_id: int, on_hand: int = 0, reserved: int = 0, locked: int = 0,
                 in_transit: int = 0, defective: int = 0) -> dict | None:
    """Add the deltas to one level, only if every CHECK still holds afterwards (a guarded UPDATE).

    Returns the new buckets, or None when the row is missing or the change would break a rule (for
    a reservation: on_hand - reserved - locked >= n). Never raises a constraint error."""
    now = timezone.now()
    sql = (
        f"UPDATE {LEVEL} SET on_hand = on_hand + %s, reserved = reserved + %s, locked = locked + %s, "
        "in_transit = in_transit + %s, defective = defective + %s, version = version + 1, needs_push = TRUE, updated_at = %s "
        "WHERE tenant_id = %s AND warehouse_id = %s AND sku_id = %s "
        "AND on_hand + %s >= 0 AND reserved + %s >= 0 AND locked + %s >= 0 AND in_transit + %s >= 0 "
        "AND defective + %s >= 0 AND on_hand + %s >= reserved + %s + locked + %s "
        "RETURNING on_hand, reserved, locked, in_transit, defective"
    )
    params = [on_hand, reserved, locked, in_transit, defective, now, tenant_id(), warehouse_id, sku_id,
              on_hand, reserved, locked, in_transit, defective, on_hand, reserved, locked]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return dict(zip(BUCKETS, row, strict=True)) if row else None


def ensure_levels(pairs) -> None:
    """Create missing StockLevel rows (all zero) for (warehouse_id, sku_id) pairs; one statement."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    tenant = require_tenant()
    StockLevel.objects.bulk_create(
        [StockLevel(tenant=tenant, warehouse_id=w, sku_id=s) for w, s in pairs], ignore_conflicts=True
    )


AFFECTED_CTE = (
    # The SKU itself and every bundle made of it.
    "affected(warehouse_id, sku_id) AS ("
    " SELECT warehouse_id, sku_id FROM changed"
    f" UNION SELECT c.warehouse_id, b.bundle_id FROM changed c JOIN {BUNDLE} b"
    "   ON b.tenant_id = %s AND b.component_id = c.sku_id)"
)
# Mappings of those SKUs in every shop whose sync rule reads that warehouse (a shop with no rule, or
# a rule listing no warehouse, reads them all). Params: now, tenant.
AFFECTED_MAPPINGS = (
    f"SELECT m.tenant_id, m.shop_id, m.id, 1, TRUE, %s, 0 FROM {MAPPING} m"
    " WHERE m.tenant_id = %s AND m.sku_id IS NOT NULL AND EXISTS ("
    "  SELECT 1 FROM affected a WHERE a.sku_id = m.sku_id AND ("
    f"   NOT EXISTS (SELECT 1 FROM {RULE} r JOIN {RULE_WH} rw ON rw.rule_id = r.id"
    "               WHERE r.tenant_id = m.tenant_id AND r.shop_id = m.shop_id)"
    f"   OR EXISTS (SELECT 1 FROM {RULE} r JOIN {RULE_WH} rw ON rw.rule_id = r.id"
    "              WHERE r.tenant_id = m.tenant_id AND r.shop_id = m.shop_id AND rw.warehouse_id = a.warehouse_id)))"
    " ORDER BY m.id"
)
INSERT_DIRTY = f"INSERT INTO {DIRTY} (tenant_id, shop_id, mapping_id, version, dirty, changed_at, pushed_version)"
ON_CONFLICT_DIRTY = (
    f"ON CONFLICT (tenant_id, mapping_id) DO UPDATE SET version = {DIRTY}.version + 1, dirty = TRUE, "
    "changed_at = excluded.changed_at"
)


def mark_dirty(pairs) -> None:
    """Bump the dirty version of every (shop, mapping) whose stock the changed pairs affect."""
    pairs = sorted(set(pairs))
    if not pairs:
        return
    tid = tenant_id()
    values = ", ".join(["(%s, %s)"] * len(pairs))
    if connection.vendor == "postgresql":
        changed = (f"changed(warehouse_id, sku_id) AS (SELECT CAST(v.w AS bigint), CAST(v.s AS bigint) "
                   f"FROM (VALUES {values}) AS v(w, s))")
    else:  # SQLite names a VALUES list's columns in the CTE header only
        changed = f"changed(warehouse_id, sku_id) AS (VALUES {values})"
    sql = f"WITH {changed}, {AFFECTED_CTE} {INSERT_DIRTY} {AFFECTED_MAPPINGS} {ON_CONFLICT_DIRTY}"
    params = [x for pair in pairs for x in pair] + [tid, timezone.now(), tid]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def mark_mappings_dirty(mapping_ids) -> None:
    """Bump the dirty version of the given mappings (mapping or rule edits)."""
    ids = sorted(set(mapping_ids))
    if not ids:
        return
    tid = tenant_id()
    placeholders = ", ".join(["%s"] * len(ids))
    select = (f"SELECT m.tenant_id, m.shop_id, m.id, 1, TRUE, %s, 0 FROM {MAPPING} m "
              f"WHERE m.tenant_id = %s AND m.id IN ({placeholders}) ORDER BY m.id")
    with connection.cursor() as cursor:
        cursor.execute(f"{INSERT_DIRTY} {select} {ON_CONFLICT_DIRTY}", [timezone.now(), tid, *ids])


def reserve_fast(*, warehouse_id: int, sku_id: int, quantity: int, ref_type: str, ref_id: str) -> bool:
    """Postgres: reserve a plain SKU in ONE statement (guarded UPDATE flagging the level for the
    channel push + the reservation row), so the hot row is locked only for the statement and its
    commit. Returns False when it
    did nothing (not enough stock, or the reference already holds a reservation): the caller then
    takes the general path, which explains why. A concurrent duplicate raises IntegrityError."""
    tid = tenant_id()
    params = [quantity, tid, warehouse_id, sku_id, quantity, tid, ref_type, ref_id, sku_id, warehouse_id,
              tid, ref_type, ref_id, quantity, quantity]
    return _execute_prepared(RESERVE_FAST_SQL, params) is not None


# Built once; timestamps come from the server (the statement's start), so a call costs no Python
# beyond its parameters.
RESERVE_FAST_SQL = (
    f"WITH lvl AS (UPDATE {LEVEL} SET reserved = reserved + %s, version = version + 1, needs_push = TRUE,"
    "  updated_at = statement_timestamp()"
    "  WHERE tenant_id = %s AND warehouse_id = %s AND sku_id = %s AND on_hand - reserved - locked >= %s"
    f"  AND NOT EXISTS (SELECT 1 FROM {RESERVATION} r WHERE r.tenant_id = %s AND r.ref_type = %s"
    "     AND r.ref_id = %s AND r.sku_id = %s AND r.warehouse_id = %s)"
    "  RETURNING warehouse_id, sku_id)"
    f" INSERT INTO {RESERVATION} (tenant_id, ref_type, ref_id, warehouse_id, sku_id, bundle_id, quantity,"
    "  requested, status, lock_id, from_lock, created_at, closed_at)"
    "  SELECT %s, %s, %s, warehouse_id, sku_id, NULL, %s, %s, 'open', NULL, 0, statement_timestamp(), NULL FROM lvl"
    "  RETURNING id"
)


def _execute_prepared(sql: str, params: list):
    """Run one statement as a server-side prepared statement (planned once per connection: the hot
    statement's planning costs more than its execution) on a raw psycopg cursor kept per connection
    (no cursor set-up per call). A raw cursor skips Django's cursor wrappers, so the tenant's
    row-level-security setting is applied first, explicitly (a no-op when already in line)."""
    with connection.pinned():  # behind a transaction pooler: the setting and the statement in one transaction
        connection.apply_tenant_setting()
        raw = connection.connection
        cursor = getattr(connection, "_inventory_hot_cursor", None)
        if cursor is None or cursor.closed or cursor.connection is not raw:
            import psycopg

            cursor = psycopg.Cursor(raw)
            connection._inventory_hot_cursor = cursor
        with connection.wrap_database_errors:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()


def propagate_stock_changes(*, batch: int = 500) -> int:
    """Turn flagged levels into dirty marks of every affected (shop, mapping) and clear the flags,
    in one transaction (levels locked in id order, then the marks). A change committed meanwhile
    flags its level again and is picked up by the next call. Returns the levels propagated."""
    from django.db import transaction

    tid = tenant_id()
    done = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""  # SQLite: one writer anyway
                cursor.execute(
                    f"SELECT id, warehouse_id, sku_id FROM {LEVEL} WHERE tenant_id = %s AND needs_push "
                    f"ORDER BY id LIMIT %s{lock}", [tid, batch])
                rows = cursor.fetchall()
                if not rows:
                    return done
                StockLevel.objects.filter(pk__in=[r[0] for r in rows]).update(needs_push=False)
            mark_dirty([(w, s) for _, w, s in rows])
        done += len(rows)
        if len(rows) < batch:
            return done


# --- set-based reservation (stock_reserve_batch) -------------------------------------------------

def lock_levels(pairs) -> dict[tuple[int, int], list[int]]:
    """SELECT ... FOR UPDATE the levels of the (warehouse_id, sku_id) pairs in ONE statement, rows
    locked in id order (the lock order). Returns {(w, s): [id, on_hand, reserved, locked]}; a
    missing level is absent."""
    if connection.vendor != "postgresql":
        return stock_sql_portable.lock_levels(pairs)
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    sql = (f"SELECT l.id, l.warehouse_id, l.sku_id, l.on_hand, l.reserved, l.locked FROM {LEVEL} l"
           " JOIN unnest(%s::bigint[], %s::bigint[]) AS p(w, s) ON l.warehouse_id = p.w AND l.sku_id = p.s"
           " WHERE l.tenant_id = %s ORDER BY l.id FOR UPDATE OF l")
    with connection.cursor() as cursor:
        cursor.execute(sql, [[w for w, _ in pairs], [s for _, s in pairs], tenant_id()])
        return {(w, s): [lid, oh, rs, lk] for lid, w, s, oh, rs, lk in cursor.fetchall()}


def lock_reservations(keys) -> list[tuple]:
    """SELECT ... FOR UPDATE every reservation row of the (ref_type, ref_id, warehouse_id) keys, in
    id order, one statement. Rows: (id, ref_type, ref_id, warehouse_id, sku_id, bundle_id, quantity,
    status)."""
    if connection.vendor != "postgresql":
        return stock_sql_portable.lock_reservations(keys)
    keys = sorted(set(keys))
    if not keys:
        return []
    sql = (f"SELECT r.id, r.ref_type, r.ref_id, r.warehouse_id, r.sku_id, r.bundle_id, r.quantity, r.status"
           f" FROM {RESERVATION} r JOIN unnest(%s::text[], %s::text[], %s::bigint[]) AS p(t, i, w)"
           " ON r.ref_type = p.t AND r.ref_id = p.i AND r.warehouse_id = p.w"
           " WHERE r.tenant_id = %s ORDER BY r.id FOR UPDATE OF r")
    with connection.cursor() as cursor:
        cursor.execute(sql, [[k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], tenant_id()])
        return cursor.fetchall()


def apply_level_deltas(rows) -> int:
    """One guarded UPDATE for many levels: rows (level_id, reserved_delta, locked_delta, changes).
    Flags the levels for the channel push like every other change. Returns the rows updated (a row
    whose change would break a rule is left alone, so the caller compares the count)."""
    if connection.vendor != "postgresql":
        return stock_sql_portable.apply_level_deltas(rows)
    rows = sorted(rows)
    if not rows:
        return 0
    sql = (f"UPDATE {LEVEL} l SET reserved = l.reserved + v.r, locked = l.locked - v.k, version = l.version + v.n,"
           " needs_push = TRUE, updated_at = %s"
           " FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::integer[]) AS v(id, r, k, n)"
           " WHERE l.tenant_id = %s AND l.id = v.id AND l.reserved + v.r >= 0 AND l.locked - v.k >= 0"
           " AND l.on_hand >= l.reserved + v.r + l.locked - v.k")
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                             [r[3] for r in rows], tenant_id()])
        return cursor.rowcount


def use_locks(rows) -> None:
    """Promotion locks used by reservations: rows (lock_id, units); one statement."""
    if connection.vendor != "postgresql":
        return stock_sql_portable.use_locks(rows)
    from .models import StockLock

    rows = sorted(rows)
    if not rows:
        return
    sql = (f"UPDATE {StockLock._meta.db_table} l SET remaining = l.remaining - v.n, used = l.used + v.n, updated_at = %s"
           " FROM unnest(%s::bigint[], %s::integer[]) AS v(id, n) WHERE l.tenant_id = %s AND l.id = v.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), [r[0] for r in rows], [r[1] for r in rows], tenant_id()])


RES_COLUMNS = ("ref_type", "ref_id", "warehouse_id", "sku_id", "bundle_id", "quantity", "requested", "lock_id", "from_lock")


def insert_reservations(rows) -> None:
    """Bulk INSERT of open reservations, one statement: rows are tuples in RES_COLUMNS order."""
    if connection.vendor != "postgresql":
        return stock_sql_portable.insert_reservations(rows)
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    sql = (f"INSERT INTO {RESERVATION} (tenant_id, ref_type, ref_id, warehouse_id, sku_id, bundle_id, quantity, requested,"
           " status, lock_id, from_lock, created_at, closed_at)"
           " SELECT %s, v.t, v.i, v.w, v.s, v.b, v.q, v.rq, 'open', v.lk, v.fl, %s, NULL"
           " FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::integer[], %s::integer[],"
           " %s::bigint[], %s::integer[]) WITH ORDINALITY AS v(t, i, w, s, b, q, rq, lk, fl, n) ORDER BY v.n")
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant_id(), timezone.now(), *[list(c) for c in cols]])


def reopen_reservations(rows) -> None:
    """Released reservations reserved again: rows (id, quantity, requested, lock_id, from_lock)."""
    if connection.vendor != "postgresql":
        return stock_sql_portable.reopen_reservations(rows)
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    sql = (f"UPDATE {RESERVATION} r SET quantity = v.q, requested = v.rq, lock_id = v.lk, from_lock = v.fl,"
           " status = 'open', closed_at = NULL"
           " FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::bigint[], %s::integer[]) AS v(id, q, rq, lk, fl)"
           " WHERE r.tenant_id = %s AND r.id = v.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*[list(c) for c in cols], tenant_id()])
