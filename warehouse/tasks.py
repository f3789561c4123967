"""Celery: the tracking pull, one tenant task per tenant with shipped parcels, fanned out by a beat tick."""

from __future__ import annotations

from erp.tenancy.tasks import system_task, tenant_task

TICK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "soft_time_limit": 50, "time_limit": 60}


@tenant_task(name="warehouse.tracking_pull", acks_late=True, soft_time_limit=240, time_limit=270)
def tracking_pull_task(*, tenant_id: int):
    from .services import tracking_pull

    return tracking_pull()


@system_task(reason="warehouse: fan out tracking pulls per tenant", name="warehouse.tracking_pull_tick", **TICK_OPTIONS)
def tracking_pull_tick(expires: int | None = None):
    from .models import Parcel, ParcelStatus

    tenants = list(Parcel.all_tenants.filter(status=ParcelStatus.SHIPPED).values_list("tenant_id", flat=True)
                   .distinct().order_by())
    for tenant_id in tenants:
        tracking_pull_task.apply_async(kwargs={"tenant_id": tenant_id}, expires=expires or 1800)
    return len(tenants)
