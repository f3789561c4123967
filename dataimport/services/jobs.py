"""Import jobs: upload, header mapping, dry run, commit, resume (the writes of this app)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.tenancy.context import require_tenant

from .. import storage
from ..models import ImportIssue, ImportJob, IssuePhase, JobStatus
from ..reading import FileRefused, max_file_bytes, open_table
from ..specs import get_type


def _queue(job: ImportJob, phase: str) -> None:
    from ..tasks import dataimport_commit_task, dataimport_dry_run_task

    task = dataimport_dry_run_task if phase == "dry_run" else dataimport_commit_task
    tenant_id = job.tenant_id
    transaction.on_commit(lambda: task.delay(tenant_id=tenant_id, job_id=job.pk))


def job_create(*, import_type: str, upload, file_name: str = "", user=None, valid_only: bool = False,
               header_map: dict | None = None, run: bool = True) -> ImportJob:
    """Store the uploaded file and queue its dry run. A file that cannot be read at all still makes a
    job, refused with the reason (so the history shows it)."""
    spec = get_type(import_type)
    if spec is None:
        raise ValidationError({"import_type": [_("Unknown import type “%(name)s”.") % {"name": import_type}]})
    if upload is None:
        raise ValidationError({"file": [_("Choose a file to upload.")]})
    name = (file_name or getattr(upload, "name", "") or "upload").rsplit("/", 1)[-1][:255]
    declared = getattr(upload, "size", None)
    limit = max_file_bytes()
    if declared is not None and declared > limit:
        raise ValidationError({"file": [_("The file is %(size).1f MB; the limit is %(limit).1f MB. Split it into several files.")
                                        % {"size": declared / 1048576, "limit": limit / 1048576}]})
    tenant = require_tenant()
    path, size = storage.save_upload(tenant_id=tenant.pk, upload=upload, file_name=name)
    job = ImportJob.objects.create(import_type=spec.name, file_name=name, file_path=path, file_size=size,
                                   created_by=user if getattr(user, "pk", None) else None, valid_only=bool(valid_only),
                                   header_map=_clean_map(spec, header_map or {}))
    try:
        table = open_table(path)
        job.headers, job.file_format, job.encoding = table.headers, table.file_format, table.encoding
        job.save(update_fields=["headers", "file_format", "encoding"])
    except FileRefused as exc:
        job.status, job.file_error = JobStatus.REFUSED, str(exc)
        job.save(update_fields=["status", "file_error"])
        ImportIssue.objects.create(job=job, phase=IssuePhase.DRY_RUN, line=0, message=str(exc)[:500])
        return job
    if run:
        job_start_dry_run(job=job)
    return job


def _clean_map(spec, header_map: dict) -> dict:
    if not isinstance(header_map, dict):
        raise ValidationError({"header_map": [_("Give an object: header in the file -> column key (or \"\" to ignore).")]})
    keys = {c.key for c in spec.columns}
    clean, errors = {}, []
    for header, key in header_map.items():
        key = "" if key is None else str(key)
        if key and key not in keys:
            errors.append(_("“%(key)s” is not a column of this import (header “%(header)s”).") % {"key": key, "header": header})
        clean[str(header)[:200]] = key
    if errors:
        raise ValidationError({"header_map": errors})
    return clean


def job_set_mapping(*, job: ImportJob, header_map: dict, valid_only: bool | None = None) -> ImportJob:
    """Change how the file's headers map to columns (and the valid-rows option); runs the dry run again."""
    if job.status in (JobStatus.COMMITTING, JobStatus.DONE, JobStatus.VALIDATING) or job.commit_started_at:
        raise Conflict(_("This import is %(status)s; its mapping can no longer change.") % {"status": job.get_status_display()})
    spec = get_type(job.import_type)
    job.header_map = {**(job.header_map or {}), **_clean_map(spec, header_map)}
    if valid_only is not None:
        job.valid_only = bool(valid_only)
    job.save(update_fields=["header_map", "valid_only"])
    if job.status == JobStatus.REFUSED and not job.headers:
        return job  # the file itself is unreadable: nothing to run again
    job_start_dry_run(job=job)
    return job


def job_start_dry_run(*, job: ImportJob) -> ImportJob:
    may_check = [JobStatus.UPLOADED, JobStatus.VALIDATED, JobStatus.REFUSED]
    updated = ImportJob.objects.filter(pk=job.pk, status__in=may_check).update(
        status=JobStatus.VALIDATING, file_error="", error="")
    if not updated:  # a dry run that failed (not a commit) may run again
        updated = ImportJob.objects.filter(pk=job.pk, status=JobStatus.FAILED, commit_started_at__isnull=True).update(
            status=JobStatus.VALIDATING, file_error="", error="")
    if not updated:
        raise Conflict(_("This import cannot be checked again now (%(status)s).") % {"status": job.get_status_display()})
    job.status = JobStatus.VALIDATING
    _queue(job, "dry_run")
    return job


def job_commit(*, job: ImportJob, user=None, valid_only: bool | None = None, queue: bool = True) -> ImportJob:
    """Start writing a validated job in the background. A file with rejected rows commits nothing
    unless the valid rows only are asked for."""
    if valid_only is not None and job.status == JobStatus.VALIDATED:
        job.valid_only = bool(valid_only)
    if job.status != JobStatus.VALIDATED:
        raise Conflict(_("Only a file whose dry run is done can be imported (this one: %(status)s).")
                       % {"status": job.get_status_display()})
    if job.rejected and not job.valid_only:
        raise Conflict(_("%(n)s rows were rejected by the dry run: fix them and upload the file again, or choose "
                         "to import the valid rows only.") % {"n": job.rejected})
    if job.rejected == job.total_rows:
        raise Conflict(_("Every row was rejected: there is nothing to import."))
    updated = ImportJob.objects.filter(pk=job.pk, status=JobStatus.VALIDATED).update(
        status=JobStatus.COMMITTING, valid_only=job.valid_only, committed_by=user if getattr(user, "pk", None) else None,
        commit_started_at=timezone.now(), processed_rows=0, created_count=0, updated_count=0, skipped_count=0,
        failed_count=0, reconciliation={}, error="")
    if not updated:
        raise Conflict(_("This import has already been started."))
    ImportIssue.objects.filter(job=job, phase=IssuePhase.COMMIT).delete()
    job.refresh_from_db()
    if queue:
        _queue(job, "commit")
    return job


def job_resume(*, job: ImportJob, user=None) -> ImportJob:
    """Carry on a failed (or stalled) commit after its last committed batch."""
    if job.status not in (JobStatus.FAILED, JobStatus.COMMITTING):
        raise Conflict(_("Only a failed or interrupted import can be resumed (this one: %(status)s).")
                       % {"status": job.get_status_display()})
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.COMMITTING, error="", heartbeat_at=timezone.now())
    job.refresh_from_db()
    _queue(job, "commit")
    return job
