from django.db import models

from .context import require_tenant


class TenantScopedQuerySet(models.QuerySet):
    pass


class TenantScopedManager(models.Manager.from_queryset(TenantScopedQuerySet)):
    """Default manager of every business model: only the current tenant's rows, and it raises
    TenantNotSetError when no tenant is set instead of returning all rows."""

    def get_queryset(self):
        tenant = require_tenant()
        return super().get_queryset().filter(tenant_id=tenant.pk)


class UnscopedManager(models.Manager.from_queryset(TenantScopedQuerySet)):
    """Every tenant's rows. For system jobs only, inside system_context(); on Postgres the
    row-level security policies still hide other tenants' rows outside it."""
