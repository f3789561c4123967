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


@tenant_task(name="warehouse.wms_sync", acks_late=True, soft_time_limit=240, time_limit=270)
def wms_sync_task(*, tenant_id: int):
    """Every active WMS account of the tenant: queue, relay, pull confirmations."""
    from .models import WmsAccount
    from .wms import wms_sync

    return {account.code: wms_sync(account=account) for account in WmsAccount.objects.filter(is_active=True)}


@tenant_task(name="warehouse.wms_stock_compare", acks_late=True, soft_time_limit=540, time_limit=600)
def wms_stock_compare_task(*, tenant_id: int):
    """Nightly: confirmations first (so shipped orders are booked), then the stock snapshot per account."""
    from .models import WmsAccount
    from .wms import wms_confirmations_pull, wms_stock_compare

    out = {}
    for account in WmsAccount.objects.filter(is_active=True):
        wms_confirmations_pull(account=account)
        out[account.code] = wms_stock_compare(account=account).differences
    return out


def _wms_tenants() -> list[int]:
    from .models import WmsAccount

    return list(WmsAccount.all_tenants.filter(is_active=True).values_list("tenant_id", flat=True).distinct().order_by())


@system_task(reason="warehouse: fan out WMS syncs per tenant", name="warehouse.wms_sync_tick", **TICK_OPTIONS)
def wms_sync_tick(expires: int | None = None):
    tenants = _wms_tenants()
    for tenant_id in tenants:
        wms_sync_task.apply_async(kwargs={"tenant_id": tenant_id}, expires=expires or 240)
    return len(tenants)


@system_task(reason="warehouse: fan out nightly WMS stock comparisons", name="warehouse.wms_stock_tick", **TICK_OPTIONS)
def wms_stock_tick(expires: int | None = None):
    tenants = _wms_tenants()
    for tenant_id in tenants:
        wms_stock_compare_task.apply_async(kwargs={"tenant_id": tenant_id}, expires=expires or 3600)
    return len(tenants)
