"""The current tenant, held in a ContextVar.

Set by the middleware (session), the API authentication (token), the Celery task base class and
management commands. Every scoped query reads it; nothing falls back to "all tenants".
"""

from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Tenant

logger = logging.getLogger("erp.tenancy")

_current_tenant: contextvars.ContextVar[Tenant | None] = contextvars.ContextVar("current_tenant", default=None)
_system_reason: contextvars.ContextVar[str | None] = contextvars.ContextVar("system_reason", default=None)


class TenantNotSetError(RuntimeError):
    """A tenant-scoped query ran with no tenant in context (fail closed)."""


def get_current_tenant() -> Tenant | None:
    return _current_tenant.get()


def get_current_tenant_id() -> int | None:
    tenant = _current_tenant.get()
    return tenant.pk if tenant is not None else None


def require_tenant() -> Tenant:
    tenant = _current_tenant.get()
    if tenant is None:
        raise TenantNotSetError(
            "No tenant is set. Wrap the call in tenant_context(tenant) or use the model's "
            "all_tenants manager inside system_context()."
        )
    return tenant


def set_current_tenant(tenant: Tenant | None) -> contextvars.Token:
    return _current_tenant.set(tenant)


def reset_current_tenant(token: contextvars.Token) -> None:
    _current_tenant.reset(token)


@contextmanager
def tenant_context(tenant: Tenant | None):
    """Work as ``tenant`` (and only as it: an enclosing system_context() is suspended)."""
    token = _current_tenant.set(tenant)
    system_token = _system_reason.set(None)
    try:
        yield tenant
    finally:
        _system_reason.reset(system_token)
        _current_tenant.reset(token)


def system_reason() -> str | None:
    return _system_reason.get()


@contextmanager
def system_context(reason: str):
    """The one audited way past tenant isolation, for jobs that fan out over tenants.

    Inside it, the database's row-level security lets queries see every tenant's rows; use the
    model's ``all_tenants`` manager explicitly. Each entry is logged with its reason.
    """
    if not reason:
        raise ValueError("system_context needs a reason")
    logger.info("system context entered", extra={"reason": reason})
    token = _system_reason.set(reason)
    try:
        yield
    finally:
        _system_reason.reset(token)
