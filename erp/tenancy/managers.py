from django.db import models

from .context import TenantNotSetError, get_current_tenant


def _refuse():
    raise TenantNotSetError(
        "No tenant is set. Wrap the call in tenant_context(tenant) or use the model's all_tenants "
        "manager inside system_context()."
    )


class TenantScopedQuerySet(models.QuerySet):
    """A queryset built with no tenant in context matches nothing and refuses to run.

    Building one is allowed (django-filter and the schema generator build querysets at import
    time, and a subquery made from it stays empty), but reading, counting or writing through it
    raises TenantNotSetError: fail closed, never "all rows".
    """

    _tenant_missing = False

    def _clone(self):
        clone = super()._clone()
        clone._tenant_missing = self._tenant_missing
        return clone

    def none(self):
        clone = super().none()
        clone._tenant_missing = False
        return clone

    def _guard(self):
        if self._tenant_missing:
            _refuse()

    def _fetch_all(self):
        if self._result_cache is None:
            self._guard()
        super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._guard()
        return super().iterator(*args, **kwargs)

    def count(self):
        self._guard()
        return super().count()

    def exists(self):
        self._guard()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._guard()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._guard()
        return super().update(**kwargs)

    def delete(self):
        self._guard()
        return super().delete()

    def explain(self, **kwargs):
        self._guard()
        return super().explain(**kwargs)


class TenantScopedManager(models.Manager.from_queryset(TenantScopedQuerySet)):
    """Default manager of every business model: only the current tenant's rows; with no tenant set
    its querysets match nothing and raise TenantNotSetError when run."""

    def get_queryset(self):
        return self.scope(super().get_queryset())

    @staticmethod
    def scope(queryset):
        """``queryset`` (a TenantScopedQuerySet) narrowed to the current tenant; with none set it
        matches nothing and refuses to run."""
        tenant = get_current_tenant()
        if tenant is None:
            queryset = queryset.filter(tenant__isnull=True)  # matches nothing: tenant is NOT NULL
            queryset._tenant_missing = True
            return queryset
        return queryset.filter(tenant_id=tenant.pk)

    def create(self, **kwargs):
        if get_current_tenant() is None and "tenant" not in kwargs and "tenant_id" not in kwargs:
            _refuse()
        return super().create(**kwargs)


class UnscopedManager(models.Manager.from_queryset(models.QuerySet)):
    """Every tenant's rows. For system jobs only, inside system_context(); on Postgres the
    row-level security policies still hide other tenants' rows outside it."""
