"""Background jobs of after-sales (thin: they call services)."""

from erp.tenancy.tasks import system_task, tenant_task


@tenant_task(name="aftersales.flag_overdue", acks_late=True)
def flag_overdue_for_tenant(*, tenant_id: int) -> int:
    from .services import tickets_flag_overdue

    return tickets_flag_overdue()


@system_task(reason="aftersales: flag tickets past their SLA", name="aftersales.overdue_tick")
def overdue_tick() -> int:
    """Beat tick (hourly): one task per tenant that has an unflagged ticket past its SLA."""
    from django.utils import timezone

    from .models import Ticket
    from .selectors import ACTIVE_STATES

    tenant_ids = sorted(set(Ticket.all_tenants.filter(
        status__in=ACTIVE_STATES, sla_due_at__lt=timezone.now(), overdue_flagged_at__isnull=True,
    ).values_list("tenant_id", flat=True).distinct()))
    for tenant_id in tenant_ids:
        flag_overdue_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)
