from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class TenancyConfig(AppConfig):
    name = "erp.tenancy"
    label = "tenancy"
    verbose_name = _("Company & staff")

    def ready(self):
        from erp.api import schema as api_schema

        from . import rls, schema  # noqa: F401 - registers the OpenAPI auth extensions

        api_schema.install()
        post_migrate.connect(rls.on_post_migrate, dispatch_uid="erp.tenancy.rls")
        checks.register(check_tenant_models, checks.Tags.models)
        checks.register(check_tenant_history, checks.Tags.models)


def tenant_models():
    from django.apps import apps

    from .models import TenantScopedModel

    return [
        model
        for model in apps.get_models()
        if issubclass(model, TenantScopedModel) and not model._meta.proxy and not model._meta.abstract
    ]


def check_tenant_models(app_configs=None, **kwargs):
    """Every uniqueness and lookup index of a business model must start with its tenant."""
    errors = []
    for model in tenant_models():
        meta = model._meta
        label = meta.label
        for field in meta.local_fields:
            if field.unique and not field.primary_key:
                errors.append(
                    checks.Error(
                        f"{label}.{field.name} is unique=True; uniqueness must include the tenant.",
                        hint="Use a UniqueConstraint(fields=['tenant', ...]).",
                        obj=model,
                        id="tenancy.E001",
                    )
                )
        for fields in meta.unique_together:
            if fields[0] != "tenant":
                errors.append(checks.Error(f"{label}: unique_together {fields} must start with 'tenant'.", obj=model, id="tenancy.E002"))
        for constraint in meta.constraints:
            fields = getattr(constraint, "fields", None)
            if fields is not None and type(constraint).__name__ == "UniqueConstraint" and (not fields or fields[0] != "tenant"):
                errors.append(
                    checks.Error(f"{label}: constraint {constraint.name} must start with 'tenant'.", obj=model, id="tenancy.E003")
                )
        for index in meta.indexes:
            if index.fields and index.fields[0].lstrip("-") != "tenant":
                errors.append(checks.Error(f"{label}: index {index.name} must start with 'tenant'.", obj=model, id="tenancy.E004"))
    return errors


def check_tenant_history(app_configs=None, **kwargs):
    """The change history of a tenant model is a tenant model too (fail-closed managers, row-level
    security, the isolation test): it must be built by erp.tenancy.history.TenantHistoricalRecords."""
    from .history import TenantHistoryManager, history_models
    from .models import TenantScopedModel

    errors = []
    for model, history_model in history_models():
        if not issubclass(model, TenantScopedModel):
            continue
        manager = getattr(model, model._meta.simple_history_manager_attribute)
        if not issubclass(history_model, TenantScopedModel) or not isinstance(manager, TenantHistoryManager):
            errors.append(checks.Error(
                f"{model._meta.label}: its history {history_model._meta.label} is not tenant-scoped.",
                hint="Use history = erp.tenancy.history.TenantHistoricalRecords(...) instead of HistoricalRecords.",
                obj=model, id="tenancy.E005",
            ))
    return errors
