"""Helpers for purpose-built operator pages."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from erp.admin_site import role_may


def tenant_page(*, app_label: str, write: bool = False):
    """Require a logged-in member of the current tenant whose role may read (or write) ``app_label``.

    GET/HEAD need read access; other methods need write access (or all of them with write=True).
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request, "membership", None) is None:
                return render(request, "erp/no_tenant.html", status=403)
            needs_write = write or request.method not in ("GET", "HEAD", "OPTIONS")
            if not role_may(request, app_label, write=needs_write):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.tenant_page_app = app_label
        return wrapped

    return decorator
