"""Background jobs of finance (thin: they call services)."""

from erp.tenancy.tasks import system_task, tenant_task


@system_task(reason="finance: flag shipped orders still unsettled past the due days", name="finance.flag_unsettled")
def flag_unsettled():
    """Daily beat tick: one task per tenant that has shipped orders awaiting settlement."""
    from .models import Reconciliation, ReconStatus

    tenant_ids = sorted(set(Reconciliation.all_tenants.filter(status=ReconStatus.AWAITING)
                            .values_list("tenant_id", flat=True).distinct()))
    for tenant_id in tenant_ids:
        flag_unsettled_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(name="finance.flag_unsettled_for_tenant", acks_late=True)
def flag_unsettled_for_tenant(*, tenant_id):
    from .services import reconciliation_flag_unsettled

    return reconciliation_flag_unsettled()
