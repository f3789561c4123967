from erp.tenancy.context import get_current_tenant
from erp.tenancy.models import Tenant
from erp.tenancy.tasks import system_task, tenant_task

from .models import Widget


@tenant_task()
def widget_census(*, tenant_id):
    """Reports what the task sees: its tenant and that tenant's widgets."""
    return {"tenant": get_current_tenant().slug, "codes": sorted(Widget.objects.values_list("code", flat=True))}


@system_task(reason="test: fan out a census per tenant")
def census_tick():
    return {tenant.slug: widget_census.delay(tenant_id=tenant.pk).result for tenant in Tenant.objects.order_by("slug")}
