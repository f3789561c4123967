from erp.dashboard import nav_groups_for

from .services import memberships_of
from .supplier_access import portal_context


def tenancy(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": getattr(request, "membership", None),
        "user_memberships": list(memberships_of(user)),
        "nav_groups": nav_groups_for(request),
        **portal_context(request),
    }
