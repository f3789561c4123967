"""Compare every member's points projection with its points ledger and report (or repair) drift.

    manage.py verify_points [--tenant SLUG] [--repair]

Without --tenant it checks every active tenant, each under its own tenant context. Exits with
status 1 when drift was found and not repaired, so it can run from cron or CI.
"""

import sys

from erp.tenancy.context import tenant_context
from erp.tenancy.management.base import TenantCommand


class Command(TenantCommand):
    help = "Compare members' points balances with the points ledger; report or repair drift."
    tenant_required = False

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--repair", action="store_true", help="set drifted balances to the ledger sums")

    def handle(self, *args, repair=False, **options):
        from members.models import Member
        from members.selectors import points_drift

        tenants = self.tenants()
        found = 0
        for tenant in tenants:
            with tenant_context(tenant):
                drifts = points_drift()
                for member_id, projection, ledger in drifts:
                    self.stdout.write(f"{tenant.slug}: member {member_id} points balance {projection}, ledger {ledger}")
                    if repair:
                        Member.objects.filter(pk=member_id).update(points_balance=ledger)
                found += len(drifts)
        if found and not repair:
            self.stdout.write(self.style.ERROR(f"{found} member(s) drifted from the points ledger."))
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(
            f"{found} drifted balance(s) repaired." if found else "Points balances match the ledger."))
