"""Who may do what in purchasing beyond the app policy (erp/tenancy/roles.py APP_ACCESS): warehouse
staff receive goods against purchase orders and send them back, though they may not edit orders."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from erp.admin_site import role_may
from erp.tenancy.roles import Role, roles

RECEIVING_ROLES = roles(Role.OPERATOR, Role.WAREHOUSE)


def may_receive(request) -> bool:
    membership = getattr(request, "membership", None)
    return bool(request.user.is_authenticated and membership is not None and membership.role in RECEIVING_ROLES)


def may_write(request) -> bool:
    return role_may(request, "purchasing", write=True)


def receiving_page(view):
    """Like erp.views_helpers.tenant_page(app_label="purchasing", write=True), for the receiving roles."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request, "membership", None) is None:
            return render(request, "erp/no_tenant.html", status=403)
        if not may_receive(request):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.tenant_page_app = "purchasing"
    return wrapped
