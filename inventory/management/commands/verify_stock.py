"""Re-derive every stock level from the ledger and report (or repair) any drift.

    manage.py verify_stock [--tenant SLUG] [--repair]

Without --tenant it checks every active tenant, each under its own tenant context. Exits with
status 1 when drift was found and not repaired, so it can run from cron or CI.
"""

import sys

from django.core.exceptions import ValidationError

from erp.tenancy.context import tenant_context
from erp.tenancy.management.base import TenantCommand
from inventory.services import stock_verify


class Command(TenantCommand):
    help = "Re-derive stock levels from stock moves, reservations and locks; report or repair drift."
    tenant_required = False

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--repair", action="store_true", help="set drifted levels to the derived figures")

    def handle(self, *args, repair=False, **options):
        tenants = self.tenants()
        unrepaired = 0
        for tenant in tenants:
            with tenant_context(tenant):
                try:
                    drifts = stock_verify(repair=repair)
                except ValidationError as exc:
                    self.stderr.write(f"{tenant.slug}: cannot repair: {'; '.join(exc.messages)}")
                    unrepaired += 1
                    continue
            for d in drifts:
                self.stdout.write(f"{tenant.slug}: warehouse {d.warehouse_id} sku {d.sku_id} {d.field}: "
                                  f"recorded {d.recorded}, ledger says {d.derived}" + (" (repaired)" if repair else ""))
            if not drifts:
                self.stdout.write(f"{tenant.slug}: no drift")
            elif not repair:
                unrepaired += len(drifts)
        if unrepaired:
            self.stderr.write(self.style.ERROR(f"{unrepaired} drift(s) found"))
            sys.exit(1)
