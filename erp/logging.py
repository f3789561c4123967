"""Log records carry the current tenant and the request or task id."""

import contextvars
import logging

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class ContextFilter(logging.Filter):
    def filter(self, record):
        from erp.tenancy.context import get_current_tenant

        tenant = get_current_tenant()
        record.tenant = tenant.slug if tenant is not None else "-"
        record.request_id = request_id_var.get()
        return True
