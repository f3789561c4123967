"""Background jobs of finance (thin: they call services)."""

from erp.tenancy.tasks import system_task, tenant_task


@system_task(reason="finance: flag shipped orders still unsettled past the due days", name="finance.flag_unsettled")
def flag_unsettled():
    """Daily beat tick: one task per tenant that has shipped orders awaiting settlement or failed
    postings to retry."""
    from .models import PostingIssue, Reconciliation, ReconStatus

    tenant_ids = sorted(set(Reconciliation.all_tenants.filter(status=ReconStatus.AWAITING)
                            .values_list("tenant_id", flat=True).distinct())
                        | set(PostingIssue.all_tenants.filter(resolved_at__isnull=True)
                              .values_list("tenant_id", flat=True).distinct()))
    for tenant_id in tenant_ids:
        flag_unsettled_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(name="finance.flag_unsettled_for_tenant", acks_late=True)
def flag_unsettled_for_tenant(*, tenant_id):
    from .services import posting_issues_retry_all, reconciliation_flag_unsettled

    retried = posting_issues_retry_all()
    return {"flagged": reconciliation_flag_unsettled(), "retried": retried}
