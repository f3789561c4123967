"""manage.py import_data TYPE FILE --tenant SLUG [--dry-run] [--valid-only] [--map HEADER=KEY ...]

Runs the same pipeline as the pages and the API, in this process: the dry run, then (unless
--dry-run) the commit, and prints the report: counts, rejected rows with line, column and message,
and the reconciliation of the file against the database."""

import os

from django.core.management.base import CommandError

from erp.api.exceptions import Conflict
from erp.tenancy.management.base import TenantCommand

from ... import selectors, services
from ...models import JobStatus
from ...specs import all_types, get_type


class Command(TenantCommand):
    help = "Import a CSV / XLSX file of one type (dry run, then commit) and print the report."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("type", help="import type: " + ", ".join(t.name for t in all_types()))
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="validate only, store nothing")
        parser.add_argument("--valid-only", action="store_true", help="import the valid rows even if others are rejected")
        parser.add_argument("--map", action="append", default=[], metavar="HEADER=KEY",
                            help="map a header of the file to a column key (KEY empty: ignore the header)")
        parser.add_argument("--show", type=int, default=50, help="rejected rows to print (default 50)")

    def handle(self, *args, **options):
        spec = get_type(options["type"])
        if spec is None:
            raise CommandError(f"Unknown import type {options['type']!r}; one of: {', '.join(t.name for t in all_types())}")
        path = options["file"]
        if not os.path.isfile(path):
            raise CommandError(f"No file {path!r}.")
        header_map = {}
        for item in options["map"]:
            header, sep, key = item.partition("=")
            if not sep:
                raise CommandError(f"--map wants HEADER=KEY, not {item!r}")
            header_map[header] = key
        with open(path, "rb") as fh:
            job = services.job_create(import_type=spec.name, upload=fh, file_name=os.path.basename(path),
                                      valid_only=options["valid_only"], header_map=header_map, run=False)
        if job.status != JobStatus.REFUSED:
            job = services.dry_run(job_id=job.pk)
        self._print(job, options["show"], phase="dry run")
        if job.status != JobStatus.VALIDATED:
            raise CommandError("The file was refused.")
        if options["dry_run"]:
            return
        try:
            services.job_commit(job=job, queue=False)
        except Conflict as exc:
            raise CommandError(str(exc.detail))
        while services.commit_run(job_id=job.pk) == "more":
            pass
        job.refresh_from_db()
        self._print(job, options["show"], phase="import")
        if job.status != JobStatus.DONE:
            raise CommandError(job.error or "The import did not finish.")

    def _print(self, job, show, *, phase):
        report = selectors.job_report(job, issue_limit=show)
        out = self.stdout
        out.write(f"{phase}: job {job.pk} {job.import_type} {job.file_name} ({job.file_format} {job.encoding}) "
                  f"status {job.status}")
        if report["unknown_headers"]:
            out.write("ignored headers: " + ", ".join(report["unknown_headers"]))
        if job.commit_started_at:
            out.write(f"created {job.created_count}, updated {job.updated_count}, unchanged {job.skipped_count}, "
                      f"not imported {job.failed_count}")
        else:
            out.write(f"rows {job.total_rows}: to create {job.to_create}, to update {job.to_update}, "
                      f"unchanged {job.to_skip}, rejected {job.rejected}")
        for issue in report["issues"]:
            where = f"line {issue.line}" if issue.line else "file"
            out.write(f"  {where} {issue.column}: {issue.message}" + (f" ({issue.value})" if issue.value else ""))
        if report["issue_count"] > len(report["issues"]):
            out.write(f"  ... {report['issue_count'] - len(report['issues'])} more")
        for row in report["reconciliation"]:
            flag = "ok" if row["matches"] else "DIFFERENT"
            out.write(f"  {row['label']:<40} file {row['file']:>16} database {row['database']:>16} {flag}")
