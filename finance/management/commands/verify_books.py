"""Check the books: every posted voucher balances and every period's trial balance agrees.

    manage.py verify_books [--tenant SLUG]

Without --tenant it checks every active tenant, each under its own tenant context. Exits with
status 1 when a problem was found, so it can run from cron or CI.
"""

import sys

from erp.tenancy.context import tenant_context
from erp.tenancy.management.base import TenantCommand
from finance.selectors import books_verify


class Command(TenantCommand):
    help = "Verify that every posted voucher balances and that the trial balances agree."
    tenant_required = False

    def handle(self, *args, **options):
        tenants = self.tenants()
        found = 0
        for tenant in tenants:
            with tenant_context(tenant):
                problems = books_verify()
            for p in problems:
                self.stdout.write(f"{tenant.slug}: {p.kind}: {p.message}")
            if not problems:
                self.stdout.write(f"{tenant.slug}: books balance")
            found += len(problems)
        if found:
            self.stderr.write(self.style.ERROR(f"{found} problem(s) found"))
            sys.exit(1)
