"""Serializer fields shared by the apps' APIs."""

from rest_framework import serializers


class ScopedPK(serializers.PrimaryKeyRelatedField):
    """A primary key of the current tenant's rows: another tenant's id answers "does not exist",
    exactly as an id that exists nowhere (the rows come from the scoped manager at validation)."""

    def __init__(self, model=None, **kwargs):
        self.model = model
        if not kwargs.get("read_only"):
            kwargs["queryset"] = model.all_tenants.none()  # for the schema; rows come from get_queryset
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.all()
