"""Run one integrations job now, in the foreground, and print each SyncRun's summary.

    manage.py sync --tenant demo --job pull_orders            # every shop of the tenant
    manage.py sync --tenant demo --shop tb-main --job push_stock
"""

from django.core.management.base import CommandError

from erp.tenancy.management.base import TenantCommand
from integrations.models import JOB_ENABLED_FIELD, Job, Shop
from integrations.services import sync_run_now

PULLS = {Job.PULL_ORDERS, Job.PULL_REFUNDS, Job.PULL_BILLS}


class Command(TenantCommand):
    help = "Run an integrations job (pull_orders, pull_refunds, push_stock, push_stock_full, push_shipments, " \
           "pull_bills) now for one shop or all shops of a tenant, and print its sync run."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--shop", help="shop code (default: every active shop with the job enabled)")
        parser.add_argument("--job", required=True, choices=Job.values)

    def handle(self, *args, shop=None, job, **options):
        if shop:
            shops = list(Shop.objects.filter(code=shop))
            if not shops:
                raise CommandError(f"No shop with code {shop!r} in this tenant.")
        else:
            shops = [s for s in Shop.objects.filter(is_active=True, **{JOB_ENABLED_FIELD[job]: True})
                     if not (job in PULLS and s.platform == "own")]
            if not shops:
                self.stdout.write("No active shop has this job enabled.")
                return
        failed = False
        for item in shops:
            run = sync_run_now(shop=item, job=job, trigger="command")
            if run is None:
                self.stdout.write(self.style.WARNING(f"{item.code}: another {job} run is in progress; skipped"))
                continue
            style = self.style.SUCCESS if run.status == "success" else self.style.ERROR
            self.stdout.write(style(f"{item.code}: {run.summary()}"))
            failed = failed or run.status == "failed"
        if failed:
            raise CommandError("at least one run failed (see the error above)")
