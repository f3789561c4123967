"""Maintenance of the sales rollups (analytics.models): from the order events, by day.

* The events (orders ingested, shipped, cancelled, after-sales opened, refunds) mark the tenant
  days they touch dirty (``days_mark_dirty``), after the publisher's transaction commits: the day
  each affected order was paid and the day it shipped, and today.
* ``rollups_refresh_dirty`` (the ``analytics.refresh_rollups`` beat job, every minute) rewrites
  each dirty day's rows from ``orders.selectors.sales_facts`` and clears the mark unless the day was
  marked again meanwhile.
* ``rollups_repair`` (the hourly job) marks the days of orders changed since its watermark
  (``updated_at``): the incremental repair for changes made without an event.
* ``rollups_refresh_days`` rewrites any range (a backfill: ``manage.py analytics_refresh``).

Reports never wait for the job: they read a dirty day live (analytics.selectors).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from erp.tenancy.context import get_current_tenant, require_tenant, tenant_context
from erp.tenancy.dates import day_range, tenant_date, tenant_today
from orders import selectors as order_selectors

from ..models import DirtyDay, RollupState, SalesHour, SalesProvinceDay, SalesSkuDay

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


def _after_commit(find_days) -> None:
    """Mark the days ``find_days()`` returns once the current transaction commits (the order
    changes are then visible), under the same tenant."""
    tenant = get_current_tenant()

    def mark():
        with tenant_context(tenant):
            days_mark_dirty(days={tenant_today(), *find_days()})

    transaction.on_commit(mark)


def on_platform_orders_changed(*, shop_id, platform_order_ids=(), **_extra):
    _after_commit(lambda: order_selectors.sales_paid_days(shop_id=shop_id, platform_order_ids=platform_order_ids))


def on_platform_refunds_changed(*, shop_id=None, **_extra):
    # refunds reach orders' lines through the orders' own re-ingest (platform_orders.changed marks
    # their days); today's parcels and cancellations may move at once
    _after_commit(lambda: ())


def on_order_changed(*, order_id, **_extra):
    """order.shipped, order.cancelled, order.after_sale_opened."""
    _after_commit(lambda: order_selectors.sales_paid_days(order_ids=[order_id]))


def on_aftersales_refunded(*, order_id=None, **_extra):
    _after_commit(lambda: order_selectors.sales_paid_days(order_ids=[order_id]) if order_id else ())


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Contiguous runs of sorted days: [(first, last), ...]."""
    runs: list[list[date]] = []
    for d in sorted(days):
        if runs and d - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return [(a, b) for a, b in runs]


@transaction.atomic
def rollups_refresh_days(*, first: date, last: date) -> dict[str, int]:
    """Rewrite the rollup rows of the days first..last from the orders (delete + insert in one
    transaction: a reader sees the old rows or the new ones)."""
    start, end = day_range(first, last)
    facts = order_selectors.sales_facts(start=start, end=end)
    for model in (SalesHour, SalesSkuDay, SalesProvinceDay):
        model.objects.filter(day__gte=first, day__lte=last).delete()
    tenant = require_tenant()
    hours = [SalesHour(tenant=tenant, **r) for r in facts["hours"] if first <= r["day"] <= last]
    skus = [SalesSkuDay(tenant=tenant, **{**r, "sku_code": r["sku_code"][:128], "title": r["title"][:255]})
            for r in facts["skus"] if first <= r["day"] <= last]
    provinces = [SalesProvinceDay(tenant=tenant, **{**r, "province": r["province"][:64], "name": r["name"][:64]})
                 for r in facts["provinces"] if first <= r["day"] <= last]
    SalesHour.objects.bulk_create(hours, batch_size=BATCH)
    SalesSkuDay.objects.bulk_create(skus, batch_size=BATCH)
    SalesProvinceDay.objects.bulk_create(provinces, batch_size=BATCH)
    return {"hours": len(hours), "skus": len(skus), "provinces": len(provinces)}


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
