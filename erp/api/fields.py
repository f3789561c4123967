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
