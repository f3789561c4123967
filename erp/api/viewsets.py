"""Base viewsets for tenant data.

Views declare ``model`` (never a class-level queryset: the scoped manager needs a tenant, which
exists only during a request). ``get_queryset`` always starts from the model's scoped manager, so
an object of another tenant is a 404. Subclasses refine with ``scope_queryset`` and may declare
``read_roles`` / ``write_roles`` (default: the policy of the model's app, erp.tenancy.roles).
"""

from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from erp.tenancy.context import require_tenant


class TenantScopedViewSetMixin:
    model = None
    ordering = ("-pk",)  # default order (OrderingFilter), so pages are stable
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__}: override scope_queryset(), not get_queryset().")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.all_tenants.none()
        require_tenant()
        queryset = self.model.objects.all()
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        if self.prefetch_related:
            queryset = queryset.prefetch_related(*self.prefetch_related)
        return self.scope_queryset(queryset)

    def scope_queryset(self, queryset):
        return queryset


class TenantModelViewSet(TenantScopedViewSetMixin, viewsets.ModelViewSet):
    pass


class TenantReadOnlyModelViewSet(TenantScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class TenantCreateListRetrieveViewSet(
    TenantScopedViewSetMixin, mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """For append-only records (adjustments, moves): create and read, never edit or delete."""


class TenantSettingsViewSet(TenantModelViewSet):
    """A tenant's one row of settings: read and changed like any row (no create or delete), and
    ``current`` to read or change it without knowing its id. Subclasses name the service that
    returns the row, making it with the defaults on first use: ``settings_row()``."""

    filter_backends = []
    http_method_names = ["get", "put", "patch", "head", "options"]

    def settings_row(self):
        raise NotImplementedError

    def scope_queryset(self, queryset):
        return queryset.order_by("pk")

    @action(detail=False, methods=["get", "patch"])
    def current(self, request):
        row = self.settings_row()
        if request.method == "PATCH":
            serializer = self.get_serializer(row, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            serializer.save()
            row = serializer.instance
        return Response(self.get_serializer(row).data)
