"""Change history (django-simple-history) of tenant models, fail-closed like the models themselves.

A plain ``HistoricalRecords()`` builds ``HistoricalShop`` on ``models.Model``: its ``objects`` and
``Shop.history`` then answer with no tenant set (every tenant's rows, or on Postgres an empty set),
where every other business model refuses. ``TenantHistoricalRecords()`` builds the history model on
TenantScopedModel instead, so that:

* ``HistoricalShop.objects`` is the tenant-scoped manager (raises TenantNotSetError with no tenant),
  ``HistoricalShop.all_tenants`` the explicit escape hatch, and saving checks the tenant;
* ``Shop.history`` (and ``shop.history``: the admin's history page) is filtered by the current
  tenant and refuses to run with none;
* the history model is one of ``erp.tenancy.apps.tenant_models()``: the generic isolation test walks
  it, and its table has a ``tenant_id`` column, so the row-level security policy covers it.

The system check ``tenancy.E005`` rejects a tenant model whose history is built any other way.
"""

from simple_history.manager import HistoricalQuerySet, HistoryManager
from simple_history.models import HistoricalRecords

from .managers import TenantScopedManager, TenantScopedQuerySet
from .models import TenantScopedModel


class TenantHistoricalQuerySet(TenantScopedQuerySet, HistoricalQuerySet):
    """simple-history's queryset (as_of, latest_of_each, as_instances) that fails closed."""


class TenantHistoryManager(HistoryManager):
    """``Model.history`` / ``instance.history``: the current tenant's history rows only."""

    def get_super_queryset(self):
        queryset = super().get_super_queryset()
        # the same filter (and the same "no tenant: refuse to run") as the models' default manager
        return TenantScopedManager.scope(queryset)


class TenantHistoricalRecords(HistoricalRecords):
    """``history = TenantHistoricalRecords(...)`` on a TenantScopedModel (same options as
    HistoricalRecords; ``bases`` must keep TenantScopedModel)."""

    def __init__(self, *args, bases=(TenantScopedModel,), **kwargs):
        if not any(issubclass(base, TenantScopedModel) for base in bases):
            raise TypeError("the history of a tenant model must be built on TenantScopedModel")
        kwargs.setdefault("history_manager", TenantHistoryManager)
        kwargs.setdefault("historical_queryset", TenantHistoricalQuerySet)
        super().__init__(*args, bases=bases, **kwargs)


def history_models():
    """(model, its history model) of every installed model with simple-history records."""
    from django.apps import apps

    pairs = []
    for model in apps.get_models():
        attribute = getattr(model._meta, "simple_history_manager_attribute", None)
        if attribute:
            pairs.append((model, getattr(model, attribute).model))
    return pairs
