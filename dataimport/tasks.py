"""Thin Celery tasks: the dry run and the commit of an import job run in the background. A commit
works for COMMIT_BUDGET_SECONDS, then queues its continuation (resuming after the last committed
batch); run eagerly (embedded mode, tests) it goes to the end at once."""

from django.conf import settings
from django.db import InterfaceError, OperationalError

from erp.tenancy.tasks import tenant_task

TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,  # safe: a replay resumes after the last committed batch
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 60,
    "max_retries": 5,
    "soft_time_limit": 240,
    "time_limit": 270,
}


def _budget(task) -> float | None:
    eager = task.request.id is None or bool(getattr(task.request, "is_eager", False))
    return None if eager else float(getattr(settings, "DATAIMPORT_COMMIT_BUDGET_SECONDS", 120))


@tenant_task(bind=True, **TASK_OPTIONS)
def dataimport_dry_run_task(self, *, tenant_id: int, job_id: int) -> str:
    from . import services

    try:
        return services.dry_run(job_id=job_id).status
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        services.dry_run_fail(job_id=job_id, error=f"{exc.__class__.__name__}: {exc}")
        raise


@tenant_task(bind=True, **TASK_OPTIONS)
def dataimport_commit_task(self, *, tenant_id: int, job_id: int) -> str:
    from . import services

    try:
        outcome = services.commit_run(job_id=job_id, budget_seconds=_budget(self))
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:
        services.commit_fail(job_id=job_id, error=f"{exc.__class__.__name__}: {exc}")
        raise
    if outcome == "more":
        dataimport_commit_task.delay(tenant_id=tenant_id, job_id=job_id)
    return outcome
