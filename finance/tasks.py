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


@system_task(reason="finance: draft last month's supplier statements", name="finance.generate_supplier_statements")
def generate_supplier_statements():
    """Monthly beat tick (the 1st): one task per active tenant drafts last month's statements."""
    from erp.tenancy.models import Tenant

    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True).order_by("pk"))
    for tenant_id in tenant_ids:
        generate_supplier_statements_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(name="finance.generate_supplier_statements_for_tenant", acks_late=True)
def generate_supplier_statements_for_tenant(*, tenant_id):
    """Draft (or refresh, while drafts) the statement of every supplier with receipts or returns in
    the tenant's last month. Idempotent: run twice, nothing is duplicated."""
    import datetime

    from erp.tenancy.dates import tenant_today

    from .services.payables import statements_generate_month

    last = tenant_today().replace(day=1) - datetime.timedelta(days=1)
    return len(statements_generate_month(year=last.year, month=last.month))
