from rest_framework import permissions

from .roles import ALL, app_access


def view_roles(view) -> tuple[frozenset[str], frozenset[str]]:
    """The (read, write) roles a view declares, else its model's app policy."""
    from rest_framework.routers import APIRootView  # not at import time: DRF settings import this module

    view_class = view if isinstance(view, type) else type(view)
    if issubclass(view_class, APIRootView):
        return ALL, frozenset()  # a router's index of links: any member may read it
    read = getattr(view, "read_roles", None)
    write = getattr(view, "write_roles", None)
    if read is None or write is None:
        app_label = getattr(view, "access_app", None)
        if app_label is None:
            model = getattr(view, "model", None) or getattr(getattr(view, "queryset", None), "model", None)
            app_label = model._meta.app_label if model is not None else None
        if app_label is None:
            return frozenset(), frozenset()  # undeclared: nobody (fail closed)
        default_read, default_write = app_access(app_label)
        read = default_read if read is None else read
        write = default_write if write is None else write
    return frozenset(read), frozenset(write)


def membership_may(membership, view, method: str) -> bool:
    if membership is None:
        return False
    read, write = view_roles(view)
    allowed = read if method in permissions.SAFE_METHODS else write
    return membership.role in allowed


class RolePermission(permissions.BasePermission):
    """Allows a request when the membership's role is among the view's read or write roles."""

    message = "Your role may not do this in this tenant."

    def has_permission(self, request, view):
        membership = getattr(request._request, "membership", None)
        return bool(request.user and request.user.is_authenticated) and membership_may(membership, view, request.method)
