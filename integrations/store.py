"""The storing path: one page of platform records into the database in two statements.

    COPY the page into a session-temporary staging table, then
    INSERT ... SELECT DISTINCT ON (id) ... ON CONFLICT (tenant_id, shop_id, <id>) DO UPDATE
        ... WHERE <incoming is newer than stored> RETURNING <id>, (xmax = 0) AS inserted

so a page of 100 orders costs two round trips, duplicates inside a page collapse to the newest,
an update older than (or as old as) what is stored changes nothing, and replaying a page changes
0 rows. The changed ids are published (``platform_orders.changed`` ...) in the same transaction.

Call inside ``transaction.atomic()`` and a tenant context equal to the shop's tenant.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from django.db import connection, transaction

from erp import events
from erp.tenancy.context import require_tenant

from .codec import bill_to_dict, order_to_dict, refund_to_dict
from .models import PlatformBillLine, PlatformOrder, PlatformRefund

logger = logging.getLogger("integrations.store")
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


@dataclass
class StoreResult:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    changed_ids: list[str] = field(default_factory=list)
    consumer_error: str = ""  # a subscriber of the changed-event failed (its changes were rolled back)

    @property
    def skipped(self) -> int:
        return self.fetched - self.created - self.updated

    def add(self, other: StoreResult) -> None:
        self.fetched += other.fetched
        self.created += other.created
        self.updated += other.updated
        self.changed_ids.extend(other.changed_ids)


@dataclass(frozen=True)
class _Spec:
    model: type
    key: str  # the platform id column
    columns: tuple[tuple[str, str], ...]  # extra (column, SQL type) besides key, modified, payload, normalized
    newer: str  # SQL: is EXCLUDED newer than t?
    recency: tuple[str, ...]  # the same rule for the portable path: compare these columns in order
    event: str
    ids_kwarg: str

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def stage(self) -> str:
        return f"_stage_{self.table}"

    @property
    def stage_columns(self) -> list[str]:
        return [self.key, "platform_modified_at", *[c for c, _ in self.columns], "payload", "normalized"]


ORDERS = _Spec(
    model=PlatformOrder, key="platform_order_id", columns=(("state", "text"),),
    newer="EXCLUDED.platform_modified_at > t.platform_modified_at", recency=("platform_modified_at",),
    event="platform_orders.changed", ids_kwarg="platform_order_ids",
)
REFUNDS = _Spec(
    model=PlatformRefund, key="platform_refund_id",
    columns=(("platform_order_id", "text"), ("status", "text"), ("refund_version", "bigint")),
    newer="(EXCLUDED.refund_version, EXCLUDED.platform_modified_at) > (t.refund_version, t.platform_modified_at)",
    recency=("refund_version", "platform_modified_at"), event="platform_refunds.changed", ids_kwarg="platform_refund_ids",
)
BILLS = _Spec(
    model=PlatformBillLine, key="platform_bill_id",
    columns=(("platform_order_id", "text"), ("kind", "text"), ("amount", "numeric(14,2)"), ("booked_at", "timestamptz")),
    newer="EXCLUDED.platform_modified_at > t.platform_modified_at", recency=("platform_modified_at",),
    event="platform_bills.changed", ids_kwarg="platform_bill_ids",
)


def _ensure_stage(cursor, spec: _Spec) -> None:
    extra = "".join(f", {name} {sqltype}" for name, sqltype in spec.columns)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {spec.stage} ({spec.key} text, platform_modified_at timestamptz"
        f"{extra}, payload jsonb, normalized jsonb) ON COMMIT DELETE ROWS"
    )
    cursor.execute(f"TRUNCATE {spec.stage}")


def _upsert_sql(spec: _Spec) -> str:
    cols = spec.stage_columns
    insert_cols = ", ".join(["tenant_id", "shop_id", *cols, "version", "created_at", "updated_at"])
    select_cols = ", ".join(f"s.{c}" for c in cols)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c != spec.key)
    return (
        f"INSERT INTO {spec.table} AS t ({insert_cols}) "
        f"SELECT DISTINCT ON (s.{spec.key}) %s, %s, {select_cols}, 1, now(), now() FROM {spec.stage} s "
        f"ORDER BY s.{spec.key}, s.platform_modified_at DESC "
        f"ON CONFLICT (tenant_id, shop_id, {spec.key}) DO UPDATE SET {updates}, "
        f"version = t.version + 1, updated_at = now() WHERE {spec.newer} "
        f"RETURNING t.{spec.key}, (t.xmax = 0) AS inserted"
    )


_SQL = {spec.table: _upsert_sql(spec) for spec in (ORDERS, REFUNDS, BILLS)}


def _store(spec: _Spec, *, shop, rows: list[tuple], publish: bool) -> StoreResult:
    tenant = require_tenant()
    if shop.tenant_id != tenant.pk:
        raise ValueError("the shop belongs to another tenant than the current one")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("store_* must run inside transaction.atomic()")
    result = StoreResult(fetched=len(rows))
    if not rows:
        return result
    upsert = _upsert_copy if connection.vendor == "postgresql" else _upsert_portable
    for platform_id, inserted in upsert(spec, tenant=tenant, shop=shop, rows=rows):
        result.changed_ids.append(platform_id)
        if inserted:
            result.created += 1
        else:
            result.updated += 1
    if publish and result.changed_ids:
        # Subscribers run in this transaction, inside a savepoint: a failing subscriber must not
        # stop the platform sync (the rows are stored; the failure is logged on the SyncRun).
        try:
            with transaction.atomic():
                events.publish(spec.event, shop_id=shop.pk, **{spec.ids_kwarg: list(result.changed_ids)})
        except Exception as exc:  # noqa: BLE001 - any subscriber bug
            logger.exception("subscriber of %s failed", spec.event, extra={"shop": shop.pk})
            result.consumer_error = f"{spec.event} subscriber failed: {type(exc).__name__}: {exc}"[:1000]
    return result


def _upsert_copy(spec: _Spec, *, tenant, shop, rows) -> list[tuple[str, bool]]:
    with connection.cursor() as cursor:
        _ensure_stage(cursor, spec)
        connection.apply_tenant_setting()  # COPY goes around Django's cursor wrappers (RLS setting)
        with cursor.cursor.copy(f"COPY {spec.stage} ({', '.join(spec.stage_columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(_SQL[spec.table], [tenant.pk, shop.pk])
        return cursor.fetchall()


def _upsert_portable(spec: _Spec, *, tenant, shop, rows) -> list[tuple[str, bool]]:
    """The same rule through the ORM, for the embedded SQLite database (demo volumes, not speed)."""
    latest: dict[str, dict] = {}
    for row in rows:
        values = dict(zip(spec.stage_columns, row, strict=True))
        values["payload"], values["normalized"] = json.loads(values["payload"]), json.loads(values["normalized"])
        current = latest.get(values[spec.key])
        if current is None or _recency(spec, values) > _recency(spec, current):
            latest[values[spec.key]] = values
    stored = {getattr(obj, spec.key): obj
              for obj in spec.model.objects.filter(shop=shop, **{f"{spec.key}__in": list(latest)})}
    changed = []
    for platform_id, values in latest.items():
        obj = stored.get(platform_id)
        if obj is None:
            spec.model.objects.create(shop=shop, version=1, **values)
            changed.append((platform_id, True))
        elif _recency(spec, values) > _recency(spec, vars(obj)):
            for name, value in values.items():
                setattr(obj, name, value)
            obj.version += 1
            obj.save()
            changed.append((platform_id, False))
    return changed


def _recency(spec: _Spec, values: dict) -> tuple:
    return tuple(values[name] for name in spec.recency)


# --- row builders ---------------------------------------------------------------------------------
def order_row(order) -> tuple:
    return (order.platform_order_id, order.modified_at, order.state, _dumps(order.raw), _dumps(order_to_dict(order)))


def refund_row(refund) -> tuple:
    return (refund.platform_refund_id, refund.modified_at, refund.platform_order_id, refund.status,
            int(refund.version or 0), _dumps(refund.raw), _dumps(refund_to_dict(refund)))


def bill_row(bill) -> tuple:
    return (bill.platform_bill_id, bill.booked_at, bill.platform_order_id, bill.kind, bill.amount, bill.booked_at,
            _dumps(bill.raw), _dumps(bill_to_dict(bill)))


def store_orders(*, shop, orders, publish: bool = True) -> StoreResult:
    """Upsert NormalizedOrders of one shop (one page); returns counts and the changed ids."""
    return _store(ORDERS, shop=shop, rows=[order_row(o) for o in orders], publish=publish)


def store_refunds(*, shop, refunds, publish: bool = True) -> StoreResult:
    return _store(REFUNDS, shop=shop, rows=[refund_row(r) for r in refunds], publish=publish)


def store_bill_lines(*, shop, lines, publish: bool = True) -> StoreResult:
    return _store(BILLS, shop=shop, rows=[bill_row(b) for b in lines], publish=publish)


def store_order_rows(*, shop, rows: list[tuple], publish: bool = True) -> StoreResult:
    """Rows already built with order_row() (the bench times the database part alone)."""
    return _store(ORDERS, shop=shop, rows=rows, publish=publish)
