"""Per-order sales facts (analytics.models.OrderFact, OrderLineFact): how a stale (dirty) day is
answered at once without reading its orders.

Why: a dirty day (in practice today, and yesterday while its orders ship) was read live from the
orders: the sales report's rules over about 14,000 orders and their lines at 1,000,000 orders,
~1.5 s per request. The facts hold the same figures per order, already classified by those rules
(orders.selectors.order_facts: the paid part of a platform order, the parcel part of a shipment,
its sold lines per SKU), one narrow row per order and per sold SKU of an order; a request sums a
dirty day's rows (two indexed group-bys of the day's order rows, one of its line rows: tens of ms).
Deltas applied to the rollups were the other choice; they are not idempotent (the same event twice
counts twice) and a lost one is never noticed. Replacing an order's row is idempotent, and the day
refresh compares every row with the orders, so a lost or wrong row heals.

Who writes:

* the order events (analytics.services.rollups, after the publisher commits): the facts of the
  orders a change touches (orders.selectors.sales_related_orders) are read again and their rows
  replaced, in the transaction that marks their days dirty;
* the refresh of a day (rollups_refresh_days): reads the facts of all the day's orders, rewrites
  the rows that differ (the first refresh builds the day and records it in FactDay; later ones
  repair what an event missed), then writes the day's rollups as the sums of its rows;
* the repair job marks the days of orders changed without an event, which the refresh then heals.

Races: each writer reads the database clock first (``read_at``) and an upsert replaces a row only
with a later read (``... DO UPDATE ... WHERE read_at < EXCLUDED.read_at``). The writer of the last
change to an order reads after that change committed, so it is later than any writer that did not
see it: whatever the order the writes land in, the row ends with a read that saw every change. An
order's lines are replaced only by the writer whose upsert of the order's row went through (the
row lock orders them). Rows are never deleted: an order that no longer counts keeps a row without
a day, so an older read cannot bring it back.
"""

from __future__ import annotations

from datetime import date

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from erp.tenancy.context import require_tenant
from orders import selectors as order_selectors

from ..models import OrderFact, OrderLineFact

FIELDS = ("shop_id", "platform", "paid_at", "paid_day", "paid_hour", "orders", "all_orders", "units", "goods",
          "freight", "cancelled_amount", "refunded_amount", "sold_lines", "province", "province_name",
          "shipped_at", "ship_day", "ship_hour", "parcels", "promised", "on_time")
LINE_FIELDS = ("sku_id", "sku_code", "title", "units", "gmv")
UPSERT_BATCH = 500
READ_BATCH = 5000


def db_now():
    """The database's clock (all writers compare reads on one clock); the process clock elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            return cursor.fetchone()[0]
    return timezone.now()


def _no_jit() -> None:
    """No JIT compilation for this transaction's reads: the planner's estimates of the facts
    queries (thousands of ids) cross jit_above_cost and compiling costs ten times the query."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


def _line_key(line: dict) -> tuple:
    return (line["sku_id"] is None, line["sku_id"] or 0, line["sku_code"], line["title"], line["units"], line["gmv"])


def canonical(fact: dict) -> tuple:
    """What two facts of one order are compared by (the stored row and a fresh read)."""
    return (tuple(fact[k] for k in FIELDS), tuple(sorted(_line_key(x) for x in fact["lines"])))


def stored_facts(order_ids) -> dict[int, tuple]:
    """order_id -> canonical() of its stored row and lines."""
    ids = sorted(set(order_ids))
    rows: dict[int, dict] = {}
    for n in range(0, len(ids), READ_BATCH):
        chunk = ids[n:n + READ_BATCH]
        for r in OrderFact.objects.filter(order_id__in=chunk).values("order_id", *FIELDS):
            rows[r["order_id"]] = {**r, "lines": []}
        for r in OrderLineFact.objects.filter(order_id__in=chunk).values("order_id", *LINE_FIELDS):
            if r["order_id"] in rows:
                rows[r["order_id"]]["lines"].append(r)
    return {k: canonical(v) for k, v in rows.items()}


def _upsert(facts: list[dict], read_at) -> list[int]:
    """Insert or replace the rows of ``facts`` where no later read is stored; the ids written."""
    tenant = require_tenant()
    table = OrderFact._meta.db_table
    qn = connection.ops.quote_name
    fields = [OrderFact._meta.get_field(k) for k in ("order_id", "read_at", *FIELDS)]
    columns = ["tenant_id", *(f.column for f in fields)]
    updates = ", ".join(f"{qn(c)} = EXCLUDED.{qn(c)}" for c in columns[2:])
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    written: list[int] = []
    with connection.cursor() as cursor:
        for n in range(0, len(facts), UPSERT_BATCH):
            batch = facts[n:n + UPSERT_BATCH]
            params = []
            for fact in batch:
                values = {**fact, "read_at": read_at}
                params.append(tenant.pk)
                params.extend(f.get_db_prep_save(values[f.name], connection) for f in fields)
            cursor.execute(
                f"INSERT INTO {qn(table)} ({', '.join(qn(c) for c in columns)}) VALUES "
                f"{', '.join([row_sql] * len(batch))} ON CONFLICT ({qn('tenant_id')}, {qn('order_id')}) "
                f"DO UPDATE SET {updates} WHERE {qn(table)}.{qn('read_at')} < EXCLUDED.{qn('read_at')} "
                f"RETURNING {qn('order_id')}", params)
            written.extend(r[0] for r in cursor.fetchall())
    return written


def facts_write(facts: list[dict], *, read_at) -> int:
    """Store ``facts`` (orders.selectors.order_facts, read after ``read_at``): each order's row and
    its lines, unless a later read of it is stored. Returns the orders written."""
    facts = sorted(facts, key=lambda f: f["order_id"])  # one lock order for every writer
    written = set(_upsert(facts, read_at))
    if not written:
        return 0
    tenant = require_tenant()
    ids = sorted(written)
    for n in range(0, len(ids), READ_BATCH):
        OrderLineFact.objects.filter(order_id__in=ids[n:n + READ_BATCH]).delete()
    OrderLineFact.objects.bulk_create(
        [OrderLineFact(tenant=tenant, order_id=f["order_id"], paid_day=f["paid_day"], shop_id=f["shop_id"],
                       platform=f["platform"], **{k: x[k] for k in LINE_FIELDS})
         for f in facts if f["order_id"] in written for x in f["lines"]], batch_size=2000)
    return len(written)


def _days(fact: dict) -> set[date]:
    return {d for d in (fact["paid_day"], fact["ship_day"]) if d is not None}


def facts_refresh_orders(*, order_ids=(), shop_id: int | None = None, platform_order_ids=()) -> set[date]:
    """Read again the facts of the orders a change of these touches and store them (the event
    path). Returns the days whose figures they may have changed: their days before and after."""
    ids = order_selectors.sales_related_orders(order_ids=order_ids, shop_id=shop_id,
                                               platform_order_ids=platform_order_ids)
    if not ids:
        return set()
    with transaction.atomic():
        _no_jit()
        read_at = db_now()
        days: set[date] = set()
        for paid, shipped in OrderFact.objects.filter(order_id__in=sorted(ids)).values_list("paid_day", "ship_day"):
            days.update(d for d in (paid, shipped) if d is not None)
        facts = order_selectors.order_facts(order_ids=ids)
        for fact in facts:
            days |= _days(fact)
        facts_write(facts, read_at=read_at)
    return days


def facts_refresh_day(day: date, start, end) -> int:
    """Bring the facts of every order of ``day`` ([start, end) in the tenant's zone) in line with
    the orders: the rows that differ (or are missing) are written. Returns how many."""
    _no_jit()
    read_at = db_now()
    ids = order_selectors.sales_order_ids(start=start, end=end)
    ids |= set(OrderFact.objects.filter(Q(paid_day=day) | Q(ship_day=day)).values_list("order_id", flat=True))
    facts = order_selectors.order_facts(order_ids=ids)
    stored = stored_facts(ids)
    changed = [f for f in facts if stored.get(f["order_id"]) != canonical(f)]
    return facts_write(changed, read_at=read_at) if changed else 0
