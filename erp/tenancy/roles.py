"""Roles of a membership and which roles may read and write each area of the system.

Each API route and page declares its ``read_roles`` / ``write_roles``; when it does not, they
default to the policy of the app that owns its model, below. Anything not listed is denied.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Administrator")
    OPERATOR = "operator", _("Operator")
    WAREHOUSE = "warehouse", _("Warehouse")
    FINANCE = "finance", _("Finance")
    SERVICE = "service", _("Customer service")
    SUPPLIER = "supplier", _("Supplier")


# The tenant's own staff. A supplier user (Role.SUPPLIER, Membership.supplier_id set) is NOT staff: it
# is in no policy below and sees only the supplier portal (erp/tenancy/supplier_access.py).
ALL = frozenset(Role.values) - {Role.SUPPLIER}
INTERNAL = ALL
INTERNAL_CHOICES = [(value, label) for value, label in Role.choices if value != Role.SUPPLIER]
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})


def roles(*names: str) -> frozenset[str]:
    return MANAGERS | frozenset(names)


# app label -> (roles that may read, roles that may write)
APP_ACCESS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "tenancy": (MANAGERS, MANAGERS),
    "orders": (ALL, roles(Role.OPERATOR, Role.SERVICE, Role.WAREHOUSE)),
    "inventory": (ALL, roles(Role.OPERATOR, Role.WAREHOUSE)),
    "purchasing": (roles(Role.OPERATOR, Role.WAREHOUSE, Role.FINANCE), roles(Role.OPERATOR)),
    "finance": (roles(Role.FINANCE), roles(Role.FINANCE)),
    "aftersales": (ALL, roles(Role.SERVICE, Role.OPERATOR, Role.WAREHOUSE)),
    "members": (roles(Role.OPERATOR, Role.SERVICE), roles(Role.SERVICE)),
    "integrations": (roles(Role.OPERATOR), MANAGERS),
    "warehouse": (roles(Role.OPERATOR, Role.WAREHOUSE), roles(Role.OPERATOR, Role.WAREHOUSE)),
    "analytics": (roles(Role.OPERATOR, Role.FINANCE), MANAGERS),
}


def app_access(app_label: str) -> tuple[frozenset[str], frozenset[str]]:
    """Read and write roles for an app; an app without a policy is open to managers only."""
    return APP_ACCESS.get(app_label, (MANAGERS, MANAGERS))
