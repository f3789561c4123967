"""Background jobs of analytics (thin: they call services)."""

from erp.tenancy.tasks import system_task, tenant_task


@system_task(reason="analytics: fold the days marked dirty into the rollups", name="analytics.refresh_rollups")
def refresh_rollups():
    """Beat tick (every minute): one task per tenant with dirty days."""
    from .models import DirtyDay

    tenant_ids = sorted(set(DirtyDay.all_tenants.values_list("tenant_id", flat=True).distinct()))
    for tenant_id in tenant_ids:
        refresh_rollups_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(name="analytics.refresh_rollups_for_tenant", acks_late=True)
def refresh_rollups_for_tenant(*, tenant_id):
    from .services import rollups_refresh_dirty

    return rollups_refresh_dirty()


@system_task(reason="analytics: mark the days of orders changed without an event", name="analytics.repair_rollups")
def repair_rollups():
    """Beat tick (every 10 minutes): the incremental repair, one task per tenant."""
    from erp.tenancy.models import Tenant

    ids = list(Tenant.objects.filter(is_active=True).values_list("id", flat=True))
    for tenant_id in ids:
        repair_rollups_for_tenant.delay(tenant_id=tenant_id)
    return len(ids)


@tenant_task(name="analytics.repair_rollups_for_tenant", acks_late=True)
def repair_rollups_for_tenant(*, tenant_id):
    from .services import rollups_refresh_dirty, rollups_repair

    marked = rollups_repair()
    return {"marked": marked, "refreshed": rollups_refresh_dirty()}
