"""Maintenance of the sales rollups (analytics.models): from the order events, by day.

* The events (orders ingested, shipped, cancelled, after-sales opened, refunds) re-read the facts
  of the orders they touch (analytics.services.facts: one row per order, so the reports answer a
  stale day from its orders' rows at once) and mark the tenant days those facts fall on dirty
  (``days_mark_dirty``), after the publisher's transaction commits: the day each affected order
  was paid and the day it shipped (before and after the change), and today.
* ``rollups_refresh_dirty`` (the ``analytics.refresh_rollups`` beat job, every minute) refreshes
  each dirty day (the facts of its orders checked against the orders, the rows that differ
  rewritten, the rollup rows rewritten as their sums) and clears the mark unless the day was
  marked again meanwhile.
* ``rollups_repair`` (the hourly job) marks the days of orders changed since its watermark
  (``updated_at``): the incremental repair for changes made without an event (and for events lost
  in a crash between the commit and the handler); their refresh heals the facts too.
* ``rollups_refresh_days`` rewrites any range (a backfill: ``manage.py analytics_refresh``).

Reports never wait for the job: they read a dirty day from its facts (analytics.selectors), or
live from the orders if the day was never refreshed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from erp.tenancy.context import get_current_tenant, require_tenant, tenant_context
from erp.tenancy.dates import day_range, tenant_date, tenant_today
from orders import selectors as order_selectors

from ..models import DirtyDay, FactDay, RollupState, SalesHour, SalesProvinceDay, SalesSkuDay
from .facts import facts_refresh_day, facts_refresh_orders

BATCH = 2000
REPAIR_OVERLAP = timedelta(minutes=5)


def days_mark_dirty(*, days) -> int:
    """Mark ``days`` (dates) stale for the current tenant (an upsert: marked again, the time moves)."""
    days = sorted({d for d in days if d is not None})
    if not days:
        return 0
    now = timezone.now()
    tenant = require_tenant()
    DirtyDay.objects.bulk_create([DirtyDay(tenant=tenant, day=d, marked_at=now) for d in days], update_conflicts=True,
                                 unique_fields=["tenant", "day"], update_fields=["marked_at"])
    return len(days)


def _after_commit(*, order_ids=(), shop_id=None, platform_order_ids=()) -> None:
    """Once the current transaction commits (the order changes are then visible), re-read the facts
    of the orders the change touches and mark their days, under the same tenant, in one transaction."""
    tenant = get_current_tenant()
    order_ids = [i for i in order_ids if i is not None]

    def refresh():
        with tenant_context(tenant), transaction.atomic():
            days = {tenant_today()}
            if order_ids or platform_order_ids:
                days |= facts_refresh_orders(order_ids=order_ids, shop_id=shop_id,
                                             platform_order_ids=platform_order_ids)
            days_mark_dirty(days=days)  # last: today's row is every writer's

    transaction.on_commit(refresh)


def on_platform_orders_changed(*, shop_id, platform_order_ids=(), **_extra):
    _after_commit(shop_id=shop_id, platform_order_ids=platform_order_ids)


def on_platform_refunds_changed(*, shop_id=None, **_extra):
    # refunds reach orders' lines through the orders' own re-ingest (platform_orders.changed marks
    # their days); today's parcels and cancellations may move at once
    _after_commit()


def on_order_changed(*, order_id, **_extra):
    """order.shipped, order.cancelled, order.after_sale_opened."""
    _after_commit(order_ids=[order_id])


def on_aftersales_refunded(*, order_id=None, **_extra):
    _after_commit(order_ids=[order_id] if order_id else ())


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Contiguous runs of sorted days: [(first, last), ...]."""
    runs: list[list[date]] = []
    for d in sorted(days):
        if runs and d - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return [(a, b) for a, b in runs]


def rollups_refresh_days(*, first: date, last: date) -> dict[str, int]:
    """Refresh the days first..last, one transaction per day (a reader sees a day's old rows or its
    new ones): the facts of the day's orders brought in line with the orders
    (analytics.services.facts.facts_refresh_day), the day recorded in FactDay, and its rollup rows
    rewritten as the sums of its facts (the sums the reports read for a dirty day)."""
    from ..selectors import fact_rows

    tenant = require_tenant()
    counts = {"hours": 0, "skus": 0, "provinces": 0, "facts": 0}
    day = first
    while day <= last:
        start, end = day_range(day)
        with transaction.atomic():
            counts["facts"] += facts_refresh_day(day, start, end)
            FactDay.objects.bulk_create([FactDay(tenant=tenant, day=day, built_at=timezone.now())],
                                        update_conflicts=True, unique_fields=["tenant", "day"],
                                        update_fields=["built_at"])
            rows = fact_rows([day])
            for model in (SalesHour, SalesSkuDay, SalesProvinceDay):
                model.objects.filter(day=day).delete()
            hours = [SalesHour(tenant=tenant, **r) for r in rows["hours"]]
            skus = [SalesSkuDay(tenant=tenant, **{**r, "sku_code": r["sku_code"][:128], "title": r["title"][:255]})
                    for r in rows["skus"]]
            provinces = [SalesProvinceDay(tenant=tenant, **{**r, "province": r["province"][:64], "name": r["name"][:64]})
                         for r in rows["provinces"]]
            SalesHour.objects.bulk_create(hours, batch_size=BATCH)
            SalesSkuDay.objects.bulk_create(skus, batch_size=BATCH)
            SalesProvinceDay.objects.bulk_create(provinces, batch_size=BATCH)
        counts["hours"] += len(hours)
        counts["skus"] += len(skus)
        counts["provinces"] += len(provinces)
        day += timedelta(days=1)
    return counts


def rollups_refresh_dirty(*, limit: int = 62) -> int:
    """Fold the dirty days (at most ``limit``, oldest first) into the rollups; a day marked again
    while it was being rewritten stays dirty for the next run. Returns the days refreshed."""
    marks = list(DirtyDay.objects.order_by("day").values_list("day", "marked_at")[:limit])
    if not marks:
        return 0
    for first, last in _runs([d for d, _ in marks]):
        rollups_refresh_days(first=first, last=last)
    for day, marked_at in marks:
        DirtyDay.objects.filter(day=day, marked_at=marked_at).delete()
    state, _ = RollupState.objects.get_or_create(defaults={})
    state.refreshed_at = timezone.now()
    state.save(update_fields=["refreshed_at"])
    return len(marks)


def rollups_repair(*, now: datetime | None = None) -> int:
    """Mark the days of the orders changed since the last repair (minus a small overlap for
    transactions that were still open)."""
    now = now or timezone.now()
    state, _ = RollupState.objects.get_or_create(defaults={})
    # the first run looks at every order once (the backfill of a tenant that had orders before)
    since = state.repaired_until - REPAIR_OVERLAP if state.repaired_until else datetime(2000, 1, 1, tzinfo=UTC)
    days = {tenant_date(now)} | order_selectors.sales_days_changed_since(since=since)
    marked = days_mark_dirty(days=days)
    state.repaired_until = now
    state.save(update_fields=["repaired_until"])
    return marked
