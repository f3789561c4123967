"""Serializer fields shared by the apps' APIs."""

from rest_framework import serializers


class ScopedPK(serializers.PrimaryKeyRelatedField):
    """A primary key of the current tenant's rows: another tenant's id answers "does not exist",
    exactly as an id that exists nowhere (the rows come from the scoped manager at validation).

    ``model`` is one of the app's own models; a row of another app is named by that app's selector
    instead (``ScopedPK(rows=integrations.selectors.shops)``): a function returning the current
    tenant's queryset, called at validation (so apps never import each other's models)."""

    def __init__(self, model=None, rows=None, **kwargs):
        if (model is None) == (rows is None):
            raise TypeError("ScopedPK needs exactly one of model= or rows=")
        self.model, self.rows = model, rows
        if not kwargs.get("read_only"):
            # for the schema; the rows come from get_queryset (a queryset built with no tenant set
            # matches nothing, and none() of it is safe to keep)
            kwargs["queryset"] = model.all_tenants.none() if model is not None else rows().none()
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.all() if self.model is not None else self.rows()


def _rows_for(model, rows):
    """The current tenant's rows of a reference: the app's own model, another app's model named by
    label ("orders.Order", resolved at validation as FKs to other apps are, without an import), or a
    selector function of the owning app returning the tenant's queryset."""
    if rows is not None:
        return rows()
    if isinstance(model, str):
        from django.apps import apps

        model = apps.get_model(model)
    return model.objects.all()


class ScopedId(serializers.IntegerField):
    """The id of one row of the current tenant, given as a plain integer (the validated value stays
    the id, so the service receives what it did before): another tenant's id or a missing one
    answers 400 naming the field. ``ScopedId("orders.Order")``, ``ScopedId(model=Ticket)`` or
    ``ScopedId(rows=inventory.selectors.skus)``."""

    default_error_messages = {"does_not_exist": 'Invalid id "{value}" - object does not exist.'}

    def __init__(self, model=None, *, rows=None, **kwargs):
        if (model is None) == (rows is None):
            raise TypeError("ScopedId needs exactly one of model or rows=")
        self.reference_model, self.rows = model, rows
        kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)

    def get_queryset(self):
        return _rows_for(self.reference_model, self.rows)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not self.get_queryset().filter(pk=value).exists():
            self.fail("does_not_exist", value=value)
        return value


class ScopedIds(serializers.ListField):
    """A list of ids of the current tenant's rows, checked in one query: any id of another tenant
    or of no row answers 400 naming the field and the ids."""

    default_error_messages = {"does_not_exist": "Invalid ids {values} - objects do not exist."}

    def __init__(self, model=None, *, rows=None, **kwargs):
        if (model is None) == (rows is None):
            raise TypeError("ScopedIds needs exactly one of model or rows=")
        self.reference_model, self.rows = model, rows
        kwargs.setdefault("child", serializers.IntegerField(min_value=1))
        super().__init__(**kwargs)

    def get_queryset(self):
        return _rows_for(self.reference_model, self.rows)

    def to_internal_value(self, data):
        ids = super().to_internal_value(data)
        found = set(self.get_queryset().filter(pk__in=set(ids)).values_list("pk", flat=True))
        missing = sorted({i for i in ids if i not in found})
        if missing:
            shown = ", ".join(str(i) for i in missing[:20]) + (" ..." if len(missing) > 20 else "")
            self.fail("does_not_exist", values=f"[{shown}]")
        return ids
