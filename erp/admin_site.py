"""The admin, themed with Unfold, open to members of the current tenant by role.

Every ModelAdmin of a business model subclasses TenantScopedAdmin: its querysets, FK choices,
list filters, search, autocomplete and exports all go through the models' scoped managers, and
its permissions come from the membership's role (erp.tenancy.roles), not from Django's
per-user permissions.
"""

from django.contrib.admin.apps import AdminConfig
from django.utils.translation import gettext_lazy as _
from unfold.sites import UnfoldAdminSite

from erp.tenancy.roles import ALL, app_access


def _membership(request):
    return getattr(request, "membership", None)


class ERPAdminSite(UnfoldAdminSite):
    site_header = _("Seller ERP")
    site_title = _("Seller ERP")
    index_title = _("Administration")

    def has_permission(self, request):
        membership = _membership(request)
        return bool(request.user.is_active and request.user.is_authenticated and membership is not None
                    and membership.role in ALL)  # a supplier user is not staff


class ERPAdminConfig(AdminConfig):
    default_site = "erp.admin_site.ERPAdminSite"


def role_may(request, app_label: str, write: bool) -> bool:
    membership = _membership(request)
    if membership is None:
        return False
    read_roles, write_roles = app_access(app_label)
    return membership.role in (write_roles if write else read_roles)


class RoleAdminMixin:
    """Admin permissions from the membership's role and the app's access policy."""

    access_app: str | None = None

    def _app(self):
        return self.access_app or self.model._meta.app_label

    def has_module_permission(self, request):
        return role_may(request, self._app(), write=False)

    def has_view_permission(self, request, obj=None):
        return role_may(request, self._app(), write=False)

    def has_add_permission(self, request, *args):
        return role_may(request, self._app(), write=True)

    def has_change_permission(self, request, obj=None):
        return role_may(request, self._app(), write=True)

    def has_delete_permission(self, request, obj=None):
        return role_may(request, self._app(), write=True)

    # django-import-export
    def has_import_permission(self, request):
        return role_may(request, self._app(), write=True)

    def has_export_permission(self, request):
        return role_may(request, self._app(), write=False)


