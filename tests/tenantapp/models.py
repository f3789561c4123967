"""A minimal business model for the foundation's own tests (tenancy, RLS, API base classes)."""

from django.db import models

from erp.tenancy.history import TenantHistoricalRecords
from erp.tenancy.models import TenantScopedModel


class Widget(TenantScopedModel):
    code = models.CharField(max_length=32)
    quantity = models.IntegerField(default=0)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    history = TenantHistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="uniq_widget_tenant_code"),
            models.CheckConstraint(condition=models.Q(quantity__gte=0), name="widget_quantity_gte_0"),
        ]
