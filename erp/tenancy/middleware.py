import uuid

from django.utils import timezone

from erp.logging import request_id_var

from .context import reset_current_tenant, set_current_tenant
from .services import membership_for_session


def activate_membership(request, membership) -> None:
    """Make a membership's tenant current for this request (session or token)."""
    request.membership = membership
    request.tenant = membership.tenant if membership else None
    set_current_tenant(request.tenant)
    if request.tenant is not None:
        timezone.activate(request.tenant.timezone)


class TenantMiddleware:
    """Sets the current tenant from the session for the length of the request, and a request id.

    API token authentication (erp.tenancy.authentication) replaces it inside the view; whatever
    was set, the ContextVar is reset when the response leaves.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid_token = request_id_var.set(request.headers.get("X-Request-ID") or uuid.uuid4().hex[:16])
        tenant_token = set_current_tenant(None)
        try:
            request.membership = None
            request.tenant = None
            if request.user.is_authenticated:
                membership = membership_for_session(request)
                if membership is not None:
                    activate_membership(request, membership)
            response = self.get_response(request)
            response["X-Request-ID"] = request_id_var.get()
            return response
        finally:
            timezone.deactivate()
            reset_current_tenant(tenant_token)
            request_id_var.reset(rid_token)
