"""Database login roles for BI tools, each bound to one tenant (analytics.services.bi).

    manage.py bi_role create --tenant SLUG [--name NAME] [--password PASSWORD]
    manage.py bi_role list [--tenant SLUG]
    manage.py bi_role password ROLE [--password PASSWORD]
    manage.py bi_role drop ROLE
    manage.py bi_role grant          # re-grant the bi_* views to the erp_bi group (after a migration)

The role (``erp_bi_t<tenant id>_<name>``) may read the ``bi_*`` views only, and sees only its
tenant's rows. A generated password is printed once; Postgres keeps only its hash.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from erp.tenancy.context import get_current_tenant
from erp.tenancy.management.base import TenantCommand


class Command(TenantCommand):
    help = "Create, list, rotate or drop a tenant-bound read-only database role for BI tools."
    tenant_required = False

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("action", choices=["create", "list", "password", "drop", "grant"])
        parser.add_argument("role", nargs="?", help="the role (password, drop)")
        parser.add_argument("--name", help="role name suffix (default: the tenant's slug)")
        parser.add_argument("--password", help="password to set (default: a generated one, printed once)")

    def handle(self, *args, action, role=None, name=None, password=None, **options):
        from analytics.services import bi

        tenant = get_current_tenant()
        try:
            if action == "create":
                if tenant is None:
                    raise CommandError("create needs --tenant SLUG.")
                made, secret = bi.bi_role_create(tenant=tenant, name=name, password=password)
                self.stdout.write(self.style.SUCCESS(f"Created role {made} for tenant {tenant.slug}."))
                if password is None:
                    self.stdout.write(f"password: {secret}")
                    self.stdout.write("(shown once: store it in the BI tool now)")
            elif action == "list":
                for item in bi.bi_roles(tenant_id=tenant.pk if tenant else None):
                    self.stdout.write(f"{item.name}\ttenant {item.tenant_id}")
            elif action == "grant":
                bi.bi_roles_grant()
                self.stdout.write(self.style.SUCCESS(f"Granted SELECT on {len(bi.BI_VIEWS)} views to {bi.GROUP_ROLE}."))
            else:
                if not role:
                    raise CommandError(f"{action} needs the role name.")
                if action == "password":
                    secret = bi.bi_role_password(role=role, password=password)
                    self.stdout.write(self.style.SUCCESS(f"New password set for {role}."))
                    if password is None:
                        self.stdout.write(f"password: {secret}")
                else:
                    bi.bi_role_drop(role=role)
                    self.stdout.write(self.style.SUCCESS(f"Dropped role {role}."))
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
