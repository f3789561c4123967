"""Access of supplier users (Role.SUPPLIER): the supplier portal's page decorator and API permission.

A supplier user is a membership with ``role == "supplier"`` and ``supplier_id`` set (a check
constraint keeps the two together). It is in none of the internal policies of erp/tenancy/roles.py,
so every internal page, admin screen and API route refuses it; the portal pages and API use
``supplier_page`` / ``IsSupplierUser`` instead and filter every query by ``supplier_id_of(request)``.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from rest_framework import permissions

from .roles import Role


def _django_request(request):
    return getattr(request, "_request", request)  # a DRF Request wraps the Django one


def is_supplier_membership(membership) -> bool:
    return bool(membership is not None and membership.role == Role.SUPPLIER and membership.supplier_id)


def supplier_id_of(request) -> int | None:
    """The supplier id of the request's supplier user; None for staff, anonymous or no membership."""
    request = _django_request(request)
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not is_supplier_membership(membership):
        return None
    return int(membership.supplier_id)


def supplier_page(view):
    """A supplier portal page: login required (else the login page), then a supplier membership in the
    current tenant (403 otherwise: staff use the internal pages)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request, "membership", None) is None:
            return render(request, "erp/no_tenant.html", status=403)
        if supplier_id_of(request) is None:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.supplier_page = True
    return wrapped


class IsSupplierUser(permissions.BasePermission):
    """DRF permission: an authenticated supplier user of the current tenant (session or token)."""

    message = "Only a supplier user of this tenant may use the supplier portal."

    def has_permission(self, request, view):
        return supplier_id_of(request) is not None


# --- the portal layout's context (templates/portal/base.html) ---------------------------------------
_portal_context: list = []


def register_portal_context(provider) -> None:
    """``provider(request, supplier_id) -> dict`` adds to every page's context for a supplier user
    (purchasing registers the supplier's name and the unread notifications count)."""
    if provider not in _portal_context:
        _portal_context.append(provider)


def portal_context(request) -> dict:
    supplier_id = supplier_id_of(request)
    if supplier_id is None:
        return {}
    context = {"portal_supplier_id": supplier_id}
    for provider in _portal_context:
        context.update(provider(request, supplier_id))
    return context
