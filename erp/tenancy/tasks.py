"""Celery task base classes: every business task runs under exactly one tenant.

Declare a task with ``@tenant_task()`` and a keyword-only ``tenant_id``; the base class loads
the tenant, sets the context (and so the database's row-level security setting) for the length of
the task, and resets it afterwards. ``@system_task(reason=...)`` is for beat ticks that fan out one
task per tenant or shop; it runs inside an audited system_context().
"""

from celery import Task, shared_task

from erp.logging import request_id_var

from .context import system_context, tenant_context
from .models import Tenant


class TenantTask(Task):
    abstract = True

    def __call__(self, *args, **kwargs):
        tenant_id = kwargs.get("tenant_id")
        if tenant_id is None:
            raise ValueError(f"Task {self.name} must be called with tenant_id=...")
        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
        if tenant is None:
            return None  # tenant deleted or suspended since the task was queued: nothing to do
        rid = request_id_var.set(self.request.id or "eager")
        try:
            with tenant_context(tenant):
                return super().__call__(*args, **kwargs)
        finally:
            request_id_var.reset(rid)


class SystemTask(Task):
    abstract = True
    system_reason = ""

    def __call__(self, *args, **kwargs):
        rid = request_id_var.set(self.request.id or "eager")
        try:
            with tenant_context(None), system_context(self.system_reason or self.name):
                return super().__call__(*args, **kwargs)
        finally:
            request_id_var.reset(rid)


def tenant_task(**options):
    options.setdefault("base", TenantTask)
    return shared_task(**options)


def system_task(*, reason: str, **options):
    def decorator(fn):
        base = type(f"{fn.__name__}_base", (SystemTask,), {"system_reason": reason, "abstract": True})
        return shared_task(base=base, **options)(fn)

    return decorator
