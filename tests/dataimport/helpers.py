"""Run a file through the import pipeline the way the pages and the API do (dry run, then commit)."""

import codecs
import csv
import io

from dataimport import services
from dataimport.models import ImportJob, JobStatus


def csv_bytes(rows, *, encoding="utf-8", bom=False, delimiter=","):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row in rows:
        writer.writerow(row)
    data = buffer.getvalue().encode(encoding)
    return (codecs.BOM_UTF8 + data) if bom else data


def xlsx_bytes(rows):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def dry_run(import_type, data: bytes, *, name="file.csv", valid_only=False, header_map=None) -> ImportJob:
    job = services.job_create(import_type=import_type, upload=data, file_name=name, valid_only=valid_only,
                              header_map=header_map, run=False)
    if job.status == JobStatus.REFUSED:
        return job
    return services.dry_run(job_id=job.pk)


def commit(job: ImportJob, *, valid_only=None) -> ImportJob:
    services.job_commit(job=job, valid_only=valid_only, queue=False)
    while services.commit_run(job_id=job.pk) == "more":
        pass
    job.refresh_from_db()
    return job


def run(import_type, data: bytes, *, name="file.csv", valid_only=False) -> ImportJob:
    job = dry_run(import_type, data, name=name, valid_only=valid_only)
    assert job.status == JobStatus.VALIDATED, (job.status, job.file_error, list(job.issues.values_list("line", "message")))
    return commit(job)


def issues(job: ImportJob, phase=None):
    qs = job.issues.all()
    if phase:
        qs = qs.filter(phase=phase)
    return [(i.line, i.column, i.message) for i in qs.order_by("line", "id")]


def recon_ok(job: ImportJob) -> bool:
    from dataimport.selectors import reconciliation_rows

    rows = reconciliation_rows(job)
    return bool(rows) and all(r["matches"] for r in rows)
