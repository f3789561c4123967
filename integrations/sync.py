"""Running a sync job for one shop: windows, pages, cursor, lock and the SyncRun log.

A pull covers ``[watermark - overlap, now - lag]`` cut into windows no longer than the adapter's
``max_window``. Inside a window it asks for page 1 (to learn the total), then reads the pages from
the last one backwards and page 1 again (an order modified while we page leaves the window and
shifts later rows forward: reading backwards turns that into a harmless duplicate, never a miss;
it is picked up again by the next window). When the final read of page 1 reports more records than
the distinct ids read, the window is read again (up to MAX_RESCANS). Each page is stored and the
cursor moved in one transaction, so a worker killed mid-pull resumes at the next uncommitted page and a replayed page
changes nothing. An advisory lock per (shop, job) keeps two pulls of a shop from overlapping
(erp.db.locks: a transaction lock on a connection of its own, safe behind PgBouncer); it dies with
the connection when a worker is killed.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from erp.db.locks import advisory_lock

from . import store
from .adapters import get_adapter
from .adapters.base import AdapterError, NotSupported
from .models import Job, Shop, SyncCursor, SyncRun

logger = logging.getLogger("integrations.sync")

_JOB_INDEX = {job.value: index + 1 for index, job in enumerate(Job)}


def _lock_key(shop_id: int, job: str) -> int:
    return (_JOB_INDEX[job] << 48) | (int(shop_id) & 0xFFFFFFFFFFFF)


_local_locks: dict[int, threading.Lock] = defaultdict(threading.Lock)


@contextmanager
def shop_job_lock(shop_id: int, job: str):
    """Yield True when this process holds the (shop, job) lock, False when another one does.

    Postgres: an advisory lock held by a transaction of its own connection (erp.db.locks; released
    by the server if the worker dies). The embedded SQLite database has one process (web +
    in-process jobs), so a process lock does the same."""
    key = _lock_key(shop_id, job)
    if connection.vendor != "postgresql":
        lock = _local_locks[key]
        got = lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                lock.release()
        return
    with advisory_lock(key) as got:
        yield got


@dataclass(frozen=True)
class PullKind:
    job: str
    fetch: str  # adapter method
    store: callable
    id_attr: str  # the platform id of a normalised record


PULLS = {
    Job.PULL_ORDERS: PullKind(Job.PULL_ORDERS, "fetch_orders_page", store.store_orders, "platform_order_id"),
    Job.PULL_REFUNDS: PullKind(Job.PULL_REFUNDS, "fetch_refunds_page", store.store_refunds, "platform_refund_id"),
    Job.PULL_BILLS: PullKind(Job.PULL_BILLS, "fetch_bills_page", store.store_bill_lines, "platform_bill_id"),
}
MAX_RESCANS = 2


class LockBusy(Exception):
    pass


def _cursor_for(shop: Shop, job: str) -> SyncCursor:
    cursor, _ = SyncCursor.objects.get_or_create(shop=shop, job=job)
    return cursor


def _start_run(shop: Shop, job: str, trigger: str, task_id: str) -> SyncRun:
    return SyncRun.objects.create(shop=shop, job=job, trigger=trigger, task_id=task_id or "")


def _finish(run: SyncRun, cursor: SyncCursor | None, *, status: str, error: str = "") -> SyncRun:
    now = timezone.now()
    run.status = status
    run.error = error[:4000]
    run.finished_at = now
    run.duration_ms = int((now - run.started_at).total_seconds() * 1000)
    run.save()
    if cursor is not None:
        fields = ["last_error", "consecutive_failures"]
        if status in (SyncRun.Status.SUCCESS, SyncRun.Status.PARTIAL):
            cursor.last_error = ""
            cursor.consecutive_failures = 0
            if status == SyncRun.Status.SUCCESS:
                cursor.last_success_at = now
                fields.append("last_success_at")
        else:
            cursor.last_error = error[:4000]
            cursor.consecutive_failures += 1
        SyncCursor.objects.filter(pk=cursor.pk).update(**{f: getattr(cursor, f) for f in fields})
    return run


def run_job(*, shop: Shop, job: str, trigger: str = "beat", task_id: str = "", budget_seconds: float | None = None,
            adapter=None) -> SyncRun | None:
    """Run ``job`` for ``shop`` now. Returns its SyncRun, or None when the shop's lock is busy.

    With ``budget_seconds``, a pull stops after the page that crosses the budget and returns a run
    with status ``partial`` (the caller queues a continuation)."""
    with shop_job_lock(shop.pk, job) as got:
        if not got:
            logger.info("sync skipped: another run holds the lock", extra={"shop": shop.pk, "job": job})
            return None
        adapter = adapter or get_adapter(shop)
        try:
            if job in PULLS:
                return _run_pull(shop, PULLS[job], adapter, trigger, task_id, budget_seconds)
            from . import pushes

            if job in (Job.PUSH_STOCK, Job.PUSH_STOCK_FULL):
                return pushes.run_stock_push(shop=shop, adapter=adapter, full=job == Job.PUSH_STOCK_FULL,
                                             trigger=trigger, task_id=task_id)
            if job == Job.PUSH_SHIPMENTS:
                return pushes.run_shipment_relay(shop=shop, adapter=adapter, trigger=trigger, task_id=task_id)
            raise ValueError(f"unknown job {job!r}")
        finally:
            if adapter is not None:
                adapter.close()


def _run_pull(shop: Shop, kind: PullKind, adapter, trigger: str, task_id: str, budget: float | None) -> SyncRun:
    job = kind.job
    run = _start_run(shop, job, trigger, task_id)
    cursor = _cursor_for(shop, job)
    SyncCursor.objects.filter(pk=cursor.pk).update(last_started_at=run.started_at)
    if not adapter.supports_pull:
        return _finish(run, None, status=SyncRun.Status.SUCCESS, error="")
    deadline = time.monotonic() + budget if budget else None
    fetch = getattr(adapter, kind.fetch)
    try:
        now = adapter.platform_now() or timezone.now()
    except AdapterError as exc:
        return _finish(run, cursor, status=SyncRun.Status.FAILED, error=f"platform clock: {exc}")
    overall_end = now - timedelta(seconds=shop.sync_lag_seconds)
    overlap = timedelta(seconds=shop.sync_overlap_seconds)  # only before the run's first window
    window_key, seen, rescans = None, set(), 0  # distinct ids read in a window this run started
    try:
        while True:
            if cursor.window_end is None:
                start = (cursor.watermark or now - timedelta(hours=shop.initial_lookback_hours)) - overlap
                overlap = timedelta(0)
                if start >= overall_end:
                    break
                end = min(start + adapter.max_window, overall_end)
                cursor.window_start, cursor.window_end, cursor.next_page = start, end, 0
                cursor.save(update_fields=["window_start", "window_end", "next_page"])
            if run.window_start is None or cursor.window_start < run.window_start:
                run.window_start = cursor.window_start
            run.window_end = cursor.window_end
            probe = cursor.next_page == 0
            if probe and window_key != (cursor.window_start, cursor.window_end):
                window_key, seen, rescans = (cursor.window_start, cursor.window_end), set(), 0
            page = fetch(start=cursor.window_start, end=cursor.window_end, page=cursor.next_page or 1)
            if window_key == (cursor.window_start, cursor.window_end):
                seen.update(getattr(item, kind.id_attr) for item in page.items)
            last = (probe and page.pages <= 1) or (not probe and page.page <= 1)
            if last and window_key == (cursor.window_start, cursor.window_end) \
                    and len(seen) + page.malformed < page.total and rescans < MAX_RESCANS:
                # Fewer distinct records than the platform counts: rows shifted between pages while
                # we read (the window ends after the platform's "now"?). Read the window again.
                rescans += 1
                logger.info("window re-read", extra={"shop": shop.pk, "job": job, "seen": len(seen),
                                                     "total": page.total})
                _commit_page(shop, kind, cursor, run, page, next_page=0)
            else:
                _commit_page(shop, kind, cursor, run, page,
                             next_page=None if last else (page.pages if probe else page.page - 1))
            if cursor.window_end is None and cursor.watermark >= overall_end:
                break
            if deadline is not None and time.monotonic() > deadline:
                return _finish(run, cursor, status=SyncRun.Status.PARTIAL)
    except NotSupported as exc:
        return _finish(run, cursor, status=SyncRun.Status.FAILED, error=str(exc))
    except AdapterError as exc:
        logger.warning("sync failed", extra={"shop": shop.pk, "job": job, "error": str(exc)})
        return _finish(run, cursor, status=SyncRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - log it on the run, then let the task machinery see it
        _finish(run, cursor, status=SyncRun.Status.FAILED,
                error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}")
        raise
    if run.error:  # stored, but a subscriber (e.g. orders) failed on some pages: show it
        return _finish(run, cursor, status=SyncRun.Status.FAILED, error=run.error)
    return _finish(run, cursor, status=SyncRun.Status.SUCCESS)


def _commit_page(shop: Shop, kind: PullKind, cursor: SyncCursor, run: SyncRun, page, *, next_page: int | None) -> None:
    """Store one page and move the cursor, atomically. ``next_page`` None: the window is complete."""
    with transaction.atomic():
        result = kind.store(shop=shop, **{_store_arg(kind): page.items})
        if next_page is None:
            cursor.watermark = cursor.window_end
            cursor.window_start = cursor.window_end = cursor.next_page = None
        else:
            cursor.next_page = next_page
        cursor.save(update_fields=["watermark", "window_start", "window_end", "next_page"])
        run.pages += 1
        run.fetched += result.fetched + page.malformed
        run.created += result.created
        run.updated += result.updated
        run.skipped += result.skipped
        run.failed += page.malformed
        if result.consumer_error:
            run.failed += len(result.changed_ids)
            run.error = result.consumer_error
        SyncRun.objects.filter(pk=run.pk).update(
            pages=run.pages, fetched=run.fetched, created=run.created, updated=run.updated, skipped=run.skipped,
            failed=run.failed, window_start=run.window_start, window_end=run.window_end, error=run.error,
        )


def _store_arg(kind: PullKind) -> str:
    return {Job.PULL_ORDERS: "orders", Job.PULL_REFUNDS: "refunds", Job.PULL_BILLS: "lines"}[kind.job]


def window_for_display(cursor: SyncCursor) -> tuple[datetime | None, datetime | None]:
    return cursor.window_start, cursor.window_end
