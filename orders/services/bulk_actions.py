"""One operator action on many orders: a few at once in the request (orders_bulk_action), larger
selections as a BulkJob processed in the background in chunks, resumable after a killed worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from erp.api.exceptions import Conflict

from ..allocation import priority_key
from ..models import BulkJob, BulkJobStatus, Order
from ._common import logger
from .allocation import order_allocate, order_pick
from .fulfilment import order_ship_with_waybill
from .review import order_approve, order_cancel, order_hold, order_release

# --- bulk --------------------------------------------------------------------------------------------
BULK_ACTIONS = {
    "approve": lambda oid, actor, why: order_approve(order_id=oid, actor=actor, why=why),
    "hold": lambda oid, actor, why: order_hold(order_id=oid, actor=actor, why=why),
    "release": lambda oid, actor, why: order_release(order_id=oid, actor=actor, why=why),
    "allocate": lambda oid, actor, why: order_allocate(order_id=oid, actor=actor),
    "pick": lambda oid, actor, why: order_pick(order_id=oid, actor=actor),
    "ship": lambda oid, actor, why: order_ship_with_waybill(order_id=oid, actor=actor),  # the carrier's waybill
    "cancel": lambda oid, actor, why: order_cancel(order_id=oid, actor=actor, why=why),
}


def orders_bulk_action(*, action: str, order_ids: list[int], actor=None, why: str = "") -> dict[int, str]:
    """Apply one action to many orders, each in its own transaction: {order id: "ok" | the reason it failed}."""
    from django.core.exceptions import ValidationError

    if action not in BULK_ACTIONS:
        raise ValidationError({"action": f"one of {', '.join(sorted(BULK_ACTIONS))}"})
    results: dict[int, str] = {}
    ids = list(dict.fromkeys(order_ids))
    if action in ("allocate", "ship"):
        known = Order.objects.filter(pk__in=ids)
        ids = [o.pk for o in sorted(known, key=priority_key)] + [i for i in ids if i not in {o.pk for o in known}]
    for oid in ids:
        results[oid] = _bulk_outcome(action, oid, actor, why)
    return results


# --- bulk jobs: large selections run in the background, in chunks, with progress --------------------
BULK_SYNC_LIMIT = 20  # at most this many orders are still done at once, in the request
BULK_JOB_MAX_ORDERS = 5000
BULK_JOB_CHUNK = 25  # orders between two progress updates
BULK_JOB_BUDGET_SECONDS = 60  # one task run works this long, then queues its continuation
BULK_JOB_LEASE_SECONDS = 120  # a running job without a heartbeat for this long is taken over


def _bulk_outcome(action: str, oid: int, actor, why: str, *, job_id: int | None = None,
                  pending: dict[str, str] | None = None) -> str:
    """Apply ``action`` to one order in its own transaction: "ok" or the reason it was refused.

    For a job (``job_id``), "ok" is written to the job's ``pending`` outcomes in the same transaction
    as the order's change, so a worker killed right after the commit repeats nothing; an unexpected
    error of one order is its reason (logged) instead of stopping the job."""
    from django.core.exceptions import ValidationError
    from django.db import InterfaceError, OperationalError
    from django.http import Http404

    try:
        if job_id is None:
            BULK_ACTIONS[action](oid, actor, why)
        else:
            with transaction.atomic():
                BULK_ACTIONS[action](oid, actor, why)
                BulkJob.objects.filter(pk=job_id).update(pending={**(pending or {}), str(oid): "ok"})
        return "ok"
    except Conflict as exc:
        return str(exc.detail)
    except Http404:
        return "not found"
    except ValidationError as exc:
        return "; ".join(exc.messages)
    except Exception as exc:
        from celery.exceptions import SoftTimeLimitExceeded

        if job_id is None or isinstance(exc, (OperationalError, InterfaceError, SoftTimeLimitExceeded)):
            raise
        logger.exception("bulk job %s: %s of order %s failed", job_id, action, oid)
        return f"error: {exc.__class__.__name__}"


@dataclass
class BulkStart:
    """What bulk_job_start did: ``results`` when it ran at once, else the queued ``job``."""

    results: dict[int, str] | None = None
    job: object | None = None


def bulk_job_start(*, action: str, order_ids: list[int], actor=None, why: str = "") -> BulkStart:
    """Start one action on many orders. Up to BULK_SYNC_LIMIT orders run at once (as
    orders_bulk_action); more become a BulkJob processed by a task queued on commit. Orders of other
    tenants, like absent ones, end as "not found"."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from ..tasks import orders_bulk_job_task

    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Unknown action %(action)s: one of %(choices)s.")
                               % {"action": action, "choices": ", ".join(sorted(BULK_ACTIONS))}})
    try:
        ids = list(dict.fromkeys(int(i) for i in order_ids))
    except (TypeError, ValueError):
        raise ValidationError({"order_ids": _("Order ids are whole numbers.")}) from None
    if not ids:
        raise ValidationError({"order_ids": _("Pick at least one order.")})
    if len(ids) > BULK_JOB_MAX_ORDERS:
        raise ValidationError({"order_ids": _("At most %(n)d orders at a time.") % {"n": BULK_JOB_MAX_ORDERS}})
    if len(ids) <= BULK_SYNC_LIMIT:
        return BulkStart(results=orders_bulk_action(action=action, order_ids=ids, actor=actor, why=why))
    if action in ("allocate", "ship"):  # the most urgent first, as orders_bulk_action does
        known = list(Order.objects.filter(pk__in=ids).only("id", "kind", "ship_by", "buyer_level", "paid_at",
                                                           "platform_created_at", "created_at"))
        found = {o.pk for o in known}
        ids = [o.pk for o in sorted(known, key=priority_key)] + [i for i in ids if i not in found]
    job = BulkJob.objects.create(action=action, why=(why or "")[:500], order_ids=ids, total=len(ids),
                                 requested_by=actor if getattr(actor, "pk", None) else None)
    tenant_id, job_id = job.tenant_id, job.pk
    transaction.on_commit(lambda: orders_bulk_job_task.delay(tenant_id=tenant_id, job_id=job_id))
    return BulkStart(job=job)


def _bulk_job_fold(job) -> None:
    """Fold the pending outcomes into the results and recount."""
    if job.pending:
        job.results = {**job.results, **job.pending}
        job.pending = {}
    job.ok_count = sum(1 for v in job.results.values() if v == "ok")
    job.failed_count = len(job.results) - job.ok_count


def _bulk_job_claim(*, job_id: int, token: str):
    """Take the job for this run (``token``): None when it is finished, gone, or another run holds a
    fresh lease. Outcomes a killed run left pending are folded into the results first."""
    now = timezone.now()
    with transaction.atomic():
        job = BulkJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if (job.status == BulkJobStatus.RUNNING and job.lease and job.lease != token and job.heartbeat_at
                and job.heartbeat_at > now - timedelta(seconds=BULK_JOB_LEASE_SECONDS)):
            return None
        _bulk_job_fold(job)
        job.status, job.lease, job.heartbeat_at = BulkJobStatus.RUNNING, token, now
        job.started_at = job.started_at or now
        job.save()
    return job


def _bulk_job_checkpoint(*, job_id: int, token: str, outcomes: dict[str, str]):
    """Record a chunk's outcomes and the heartbeat; finish the job when every order has one. None
    when another run has taken the job over (this run stops; that one continues)."""
    with transaction.atomic():
        job = BulkJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.lease != token or job.is_finished:
            return None
        job.pending = {**job.pending, **outcomes}
        _bulk_job_fold(job)
        job.heartbeat_at = timezone.now()
        if all(str(i) in job.results for i in job.order_ids):
            job.status, job.finished_at, job.lease = BulkJobStatus.DONE, job.heartbeat_at, ""
        job.save()
    return job


def bulk_job_run(*, job_id: int, token: str, budget_seconds: float | None = None) -> str:
    """Process a job's orders not yet done, chunk by chunk, each order in its own transaction.

    Returns "done", "more" (the budget ran out: queue a continuation), or "skipped" (finished,
    gone, or another run holds it). Safe to run twice: processed orders are skipped."""
    import time

    job = _bulk_job_claim(job_id=job_id, token=token)
    if job is None:
        return "skipped"
    actor, deadline = job.requested_by, None if budget_seconds is None else time.monotonic() + budget_seconds
    todo = [i for i in job.order_ids if str(i) not in job.results]
    for start in range(0, len(todo), BULK_JOB_CHUNK):
        if deadline is not None and start and time.monotonic() > deadline:
            return "more"
        outcomes: dict[str, str] = {}
        for oid in todo[start:start + BULK_JOB_CHUNK]:
            outcomes[str(oid)] = _bulk_outcome(job.action, oid, actor, job.why, job_id=job.pk, pending=outcomes)
        job = _bulk_job_checkpoint(job_id=job_id, token=token, outcomes=outcomes)
        if job is None:
            return "skipped"
    if not todo:
        _bulk_job_checkpoint(job_id=job_id, token=token, outcomes={})
    return "done"


def bulk_job_hand_over(*, job_id: int, token: str, next_token: str) -> bool:
    """Pass the job's lease to the continuation about to be queued (False if this run lost it)."""
    return bool(BulkJob.objects.filter(pk=job_id, lease=token).update(lease=next_token, heartbeat_at=timezone.now()))


@transaction.atomic
def bulk_job_fail(*, job_id: int, error: str):
    """A run broke on something other than one order: the job ends failed, with what it did so far."""
    job = BulkJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.is_finished:
        return job
    _bulk_job_fold(job)
    job.status, job.error, job.finished_at, job.lease = BulkJobStatus.FAILED, error[:2000], timezone.now(), ""
    job.save()
    return job


def _bulk_jobs_stalled_q():
    from django.db.models import Q

    now = timezone.now()
    cutoff = now - timedelta(seconds=BULK_JOB_LEASE_SECONDS)
    quiet = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    return Q(status__in=[BulkJobStatus.QUEUED, BulkJobStatus.RUNNING], created_at__gte=now - timedelta(days=1)) & quiet


def bulk_jobs_stalled() -> list[tuple[int, int]]:
    """(tenant id, job id) of every job whose run stopped (a killed worker, a lost message): queued or
    running without a sign of life for BULK_JOB_LEASE_SECONDS, created in the last day. System use."""
    return list(BulkJob.all_tenants.filter(_bulk_jobs_stalled_q()).order_by("pk").values_list("tenant_id", "pk"))


def bulk_jobs_take_over_stalled() -> list[tuple[int, int, str]]:
    """Give each stalled job's lease to a new run: (tenant id, job id, lease token) to queue as the
    task id. The fresh heartbeat keeps the next sweeps from queueing it again while that run waits
    in the queue. System use (inside system_context)."""
    import uuid

    taken = []
    for tenant_id, job_id in bulk_jobs_stalled():
        token = str(uuid.uuid4())
        if BulkJob.all_tenants.filter(_bulk_jobs_stalled_q(), pk=job_id).update(lease=token,
                                                                               heartbeat_at=timezone.now()):
            taken.append((tenant_id, job_id, token))
    return taken
