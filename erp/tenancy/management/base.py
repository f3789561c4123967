from django.core.management.base import BaseCommand, CommandError

from erp.tenancy.context import get_current_tenant, tenant_context
from erp.tenancy.models import Tenant


class TenantCommand(BaseCommand):
    """A management command that runs under one tenant, given by ``--tenant SLUG``."""

    tenant_required = True

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=self.tenant_required, help="slug of the tenant to work in")

    def execute(self, *args, **options):
        slug = options.get("tenant")
        if not slug:
            return super().execute(*args, **options)
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {slug!r}.")
        with tenant_context(tenant):
            return super().execute(*args, **options)

    def tenants(self) -> list[Tenant]:
        """The tenant of ``--tenant``, or (when it may be left out) every active tenant."""
        current = get_current_tenant()
        return [current] if current is not None else list(Tenant.objects.filter(is_active=True).order_by("pk"))
