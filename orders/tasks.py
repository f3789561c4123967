"""Thin Celery tasks: the out-of-stock queue is retried per tenant, fanned out by a beat tick; bulk
jobs run in the background in chunks, and a beat tick resumes any whose run stopped."""

import uuid

from django.db import InterfaceError, OperationalError

from erp.tenancy.tasks import system_task, tenant_task

BULK_JOB_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,  # safe: a replay skips the orders already done
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
    "soft_time_limit": 240,
    "time_limit": 270,
}


@tenant_task(acks_late=True)
def orders_retry_out_of_stock_task(*, tenant_id: int) -> int:
    from .services import orders_retry_out_of_stock

    return len(orders_retry_out_of_stock().allocated)


@system_task(reason="orders: retry out-of-stock queues of every tenant")
def orders_out_of_stock_tick() -> int:
    from .models import Order, OrderStatus

    tenant_ids = sorted(set(Order.all_tenants.filter(status=OrderStatus.APPROVED, out_of_stock_since__isnull=False)
                            .values_list("tenant_id", flat=True).distinct()))
    for tenant_id in tenant_ids:
        orders_retry_out_of_stock_task.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(bind=True, **BULK_JOB_TASK_OPTIONS)
def orders_bulk_job_task(self, *, tenant_id: int, job_id: int) -> str:
    """Process a bulk job for BULK_JOB_BUDGET_SECONDS, then queue its continuation (which inherits
    the lease); run eagerly (embedded mode), it processes the whole job at once. A retry or a
    redelivered message has the same task id, so it takes the lease back and continues."""
    from . import services

    token = self.request.id or f"direct-{uuid.uuid4()}"
    eager = self.request.id is None or bool(getattr(self.request, "is_eager", False))
    try:
        outcome = services.bulk_job_run(job_id=job_id, token=token,
                                        budget_seconds=None if eager else services.BULK_JOB_BUDGET_SECONDS)
    except (OperationalError, InterfaceError):
        raise  # retried; if the retries run out, the stall sweep resumes the job later
    except Exception as exc:
        services.bulk_job_fail(job_id=job_id, error=f"{exc.__class__.__name__}: {exc}")
        raise
    if outcome == "more":
        next_token = str(uuid.uuid4())
        if services.bulk_job_hand_over(job_id=job_id, token=token, next_token=next_token):
            self.apply_async(kwargs={"tenant_id": tenant_id, "job_id": job_id}, task_id=next_token)
    return outcome


@system_task(reason="orders: resume bulk jobs whose run stopped", acks_late=True, expires=60)
def orders_bulk_jobs_sweep_tick() -> int:
    from .services import bulk_jobs_take_over_stalled

    taken = bulk_jobs_take_over_stalled()
    for tenant_id, job_id, token in taken:
        orders_bulk_job_task.apply_async(kwargs={"tenant_id": tenant_id, "job_id": job_id}, task_id=token)
    return len(taken)
