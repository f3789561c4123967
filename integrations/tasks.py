"""Celery tasks: beat ticks fan out one task per enabled shop (carrying its tenant); the shop
tasks are thin wrappers around integrations.sync.run_job.

Every shop task is idempotent (the cursor and the upsert make a replay change nothing), so it is
``acks_late`` with ``reject_on_worker_lost``: a worker killed mid-pull gives the task back to the
broker and the next run resumes at the first uncommitted page. A pull works for at most
PULL_BUDGET_SECONDS, then queues its own continuation (one task covers a run of pages, never
one order). Fan-out tasks expire after the job's beat interval so a backlog never piles up.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

from erp.tenancy.tasks import system_task, tenant_task

from .models import Job, Shop, SyncRun

logger = logging.getLogger("integrations.tasks")

PULL_BUDGET_SECONDS = 60
SHOP_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 120,  # far below the broker's visibility_timeout
    "retry_jitter": True,
    "max_retries": 5,
    "soft_time_limit": 240,
    "time_limit": 270,
}
TICK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "soft_time_limit": 50, "time_limit": 60}
DEFAULT_EXPIRES = {Job.PULL_ORDERS: 60, Job.PULL_REFUNDS: 300, Job.PUSH_STOCK: 60, Job.PUSH_STOCK_FULL: 3600,
                   Job.PUSH_SHIPMENTS: 60, Job.PULL_BILLS: 3600}


def _run(task, job: str, shop_id: int, trigger: str) -> str | None:
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None or not shop.is_active:
        return None
    from .sync import run_job

    run = run_job(shop=shop, job=job, trigger=trigger, task_id=getattr(task.request, "id", "") or "",
                  budget_seconds=PULL_BUDGET_SECONDS)
    if run is None:
        return "locked"
    if run.status == SyncRun.Status.PARTIAL:  # more pages remain: continue in a fresh task
        task.apply_async(kwargs={"tenant_id": shop.tenant_id, "shop_id": shop.pk, "trigger": "continue"})
    return run.summary()


@tenant_task(name="integrations.pull_orders", bind=True, **SHOP_TASK_OPTIONS)
def pull_orders(self, *, tenant_id: int, shop_id: int, trigger: str = "beat"):
    return _run(self, Job.PULL_ORDERS, shop_id, trigger)


@tenant_task(name="integrations.pull_refunds", bind=True, **SHOP_TASK_OPTIONS)
def pull_refunds(self, *, tenant_id: int, shop_id: int, trigger: str = "beat"):
    return _run(self, Job.PULL_REFUNDS, shop_id, trigger)


@tenant_task(name="integrations.pull_bills", bind=True, **SHOP_TASK_OPTIONS)
def pull_bills(self, *, tenant_id: int, shop_id: int, trigger: str = "beat"):
    return _run(self, Job.PULL_BILLS, shop_id, trigger)


@tenant_task(name="integrations.push_stock", bind=True, **SHOP_TASK_OPTIONS)
def push_stock(self, *, tenant_id: int, shop_id: int, trigger: str = "beat"):
    return _run(self, Job.PUSH_STOCK, shop_id, trigger)


@tenant_task(name="integrations.push_stock_full", bind=True, **SHOP_TASK_OPTIONS)
def push_stock_full(self, *, tenant_id: int, shop_id: int, trigger: str = "beat"):
    return _run(self, Job.PUSH_STOCK_FULL, shop_id, trigger)


@tenant_task(name="integrations.push_shipments", bind=True, **SHOP_TASK_OPTIONS)
def push_shipments(self, *, tenant_id: int, shop_id: int, trigger: str = "beat"):
    return _run(self, Job.PUSH_SHIPMENTS, shop_id, trigger)


@tenant_task(name="integrations.process_inbound", **SHOP_TASK_OPTIONS)
def process_inbound(*, tenant_id: int, message_id: int):
    from .services import inbound_process

    message = inbound_process(message_id=message_id)
    return None if message is None else f"{message.kind} {message.external_id} processed"


SHOP_TASKS = {
    Job.PULL_ORDERS: pull_orders, Job.PULL_REFUNDS: pull_refunds, Job.PULL_BILLS: pull_bills,
    Job.PUSH_STOCK: push_stock, Job.PUSH_STOCK_FULL: push_stock_full, Job.PUSH_SHIPMENTS: push_shipments,
}


def fan_out(job: str, *, expires: int | None = None) -> int:
    """Queue one task per due shop (call inside system_context()). Returns how many."""
    from .selectors import due_shops

    task = SHOP_TASKS[job]
    expires = expires or DEFAULT_EXPIRES[job]
    due = due_shops(job=job)
    for tenant_id, shop_id in due:
        task.apply_async(kwargs={"tenant_id": tenant_id, "shop_id": shop_id, "trigger": "beat"}, expires=expires)
    return len(due)


@system_task(reason="integrations: fan out order pulls per shop", name="integrations.pull_orders_tick", **TICK_OPTIONS)
def pull_orders_tick(expires: int | None = None):
    return fan_out(Job.PULL_ORDERS, expires=expires)


@system_task(reason="integrations: fan out refund pulls per shop", name="integrations.pull_refunds_tick", **TICK_OPTIONS)
def pull_refunds_tick(expires: int | None = None):
    return fan_out(Job.PULL_REFUNDS, expires=expires)


@system_task(reason="integrations: fan out stock pushes per shop", name="integrations.push_stock_tick", **TICK_OPTIONS)
def push_stock_tick(expires: int | None = None):
    return fan_out(Job.PUSH_STOCK, expires=expires)


@system_task(reason="integrations: fan out full stock pushes per shop", name="integrations.push_stock_full_tick",
             **TICK_OPTIONS)
def push_stock_full_tick(expires: int | None = None):
    return fan_out(Job.PUSH_STOCK_FULL, expires=expires)


@system_task(reason="integrations: relay due shipment pushes", name="integrations.push_shipments_tick", **TICK_OPTIONS)
def push_shipments_tick(expires: int | None = None):
    """Retry due outbox rows (the on-commit relay sends new ones at once): shipments of shops that
    push them, and refund decisions of every active shop."""
    from django.db.models import Q
    from django.utils import timezone

    from .models import Outbox

    shops = (Outbox.all_tenants.filter(status=Outbox.Status.PENDING, next_attempt_at__lte=timezone.now(),
                                       shop__is_active=True)
             .filter(Q(kind=Outbox.Kind.REFUND) | Q(shop__push_shipments_enabled=True))
             .values_list("tenant_id", "shop_id").distinct())
    count = 0
    for tenant_id, shop_id in shops:
        push_shipments.apply_async(kwargs={"tenant_id": tenant_id, "shop_id": shop_id, "trigger": "beat"},
                                   expires=expires or DEFAULT_EXPIRES[Job.PUSH_SHIPMENTS])
        count += 1
    return count


@system_task(reason="integrations: fan out bill pulls per shop", name="integrations.pull_bills_tick", **TICK_OPTIONS)
def pull_bills_tick(expires: int | None = None):
    return fan_out(Job.PULL_BILLS, expires=expires)


@tenant_task(name="integrations.send_coupons", **SHOP_TASK_OPTIONS)
def send_coupons(*, tenant_id: int):
    """Send the tenant's due coupon deliveries (queued after the campaign batch commits)."""
    from .coupons import coupon_deliveries_send

    return coupon_deliveries_send()


@system_task(reason="integrations: retry due coupon deliveries", name="integrations.send_coupons_tick", **TICK_OPTIONS)
def send_coupons_tick(expires: int | None = None):
    """One send_coupons task per tenant with deliveries due (retries after a backoff)."""
    from django.utils import timezone

    from .models import CouponDelivery

    tenants = (CouponDelivery.all_tenants.filter(status=CouponDelivery.Status.PENDING,
                                                 next_attempt_at__lte=timezone.now())
               .values_list("tenant_id", flat=True).distinct())
    count = 0
    for tenant_id in tenants:
        send_coupons.apply_async(kwargs={"tenant_id": tenant_id}, expires=expires or 60)
        count += 1
    return count
