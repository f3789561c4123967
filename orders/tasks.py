"""Thin Celery tasks: the out-of-stock queue is retried per tenant, fanned out by a beat tick."""

from erp.tenancy.tasks import system_task, tenant_task


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
