"""Background jobs of the inventory (thin: they call services)."""

from erp.tenancy.tasks import system_task, tenant_task

from .models import LockStatus, StockLock


@system_task(reason="inventory: start and end promotion stock locks", name="inventory.expire_stock_locks")
def expire_stock_locks():
    """Beat tick (every minute): one task per tenant that has a lock to start or end."""
    from django.db.models import Q
    from django.utils import timezone

    now = timezone.now()
    due = Q(status=LockStatus.ACTIVE, ends_at__lte=now) | Q(status=LockStatus.SCHEDULED, starts_at__lte=now)
    tenant_ids = sorted(set(StockLock.all_tenants.filter(due).values_list("tenant_id", flat=True)))
    for tenant_id in tenant_ids:
        stock_locks_tick_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(name="inventory.stock_locks_tick")
def stock_locks_tick_for_tenant(*, tenant_id):
    from .services import stock_locks_tick

    return stock_locks_tick()
