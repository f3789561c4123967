"""Import jobs: one uploaded file of one import type, its dry run, commit, progress and report.

The file itself is kept on disk (``dataimport.storage``) while the job lives; the job holds the
header mapping, the counts, the reconciliation and the progress of a background commit (the number
of data rows already committed, so a failed job resumes after them). Rejected rows are
``ImportIssue`` rows (line number, column, message), written in bulk."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.tenancy.models import TenantScopedModel


class JobStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    VALIDATING = "validating", _("Dry run running")
    VALIDATED = "validated", _("Dry run done")
    REFUSED = "refused", _("File refused")
    COMMITTING = "committing", _("Importing")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Failed")


class ImportJob(TenantScopedModel):
    import_type = models.CharField(_("import type"), max_length=30)
    status = models.CharField(_("status"), max_length=12, choices=JobStatus.choices, default=JobStatus.UPLOADED)
    file_name = models.CharField(_("file"), max_length=255)
    file_path = models.CharField(max_length=500, editable=False)
    file_size = models.BigIntegerField(_("size (bytes)"), default=0)
    file_format = models.CharField(_("format"), max_length=10, blank=True)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    headers = models.JSONField(_("headers in the file"), default=list, blank=True)
    header_map = models.JSONField(_("header mapping"), default=dict, blank=True,
                                  help_text=_("Header in the file -> column key ('' = ignore)."))
    valid_only = models.BooleanField(_("import valid rows only"), default=False)
    total_rows = models.PositiveIntegerField(_("data rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows done"), default=0)
    to_create = models.PositiveIntegerField(_("to create"), default=0)
    to_update = models.PositiveIntegerField(_("to update"), default=0)
    to_skip = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected = models.PositiveIntegerField(_("rejected rows"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("unchanged"), default=0)
    failed_count = models.PositiveIntegerField(_("not imported"), default=0)
    file_error = models.TextField(_("file error"), blank=True)
    error = models.TextField(_("error"), blank=True)
    reconciliation = models.JSONField(_("reconciliation"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now, editable=False)
    validated_at = models.DateTimeField(_("dry run at"), null=True, blank=True)
    committed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("imported by"))
    commit_started_at = models.DateTimeField(_("import started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("import finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        indexes = [models.Index(fields=["tenant", "import_type", "created_at"], name="dataimport_job_t_type_at")]
        ordering = ["-created_at", "-id"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self):
        return f"{self.import_type} #{self.pk} {self.file_name}"

    @property
    def type_label(self) -> str:
        from .specs import get_type

        spec = get_type(self.import_type)
        return spec.label() if spec else self.import_type

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == JobStatus.DONE else 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))


class IssuePhase(models.TextChoices):
    DRY_RUN = "dry_run", _("Dry run")
    COMMIT = "commit", _("Import")


class ImportIssue(TenantScopedModel):
    """A rejected row (or a file-level problem, line 0): where, which column, what is wrong."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="issues", verbose_name=_("job"))
    phase = models.CharField(_("phase"), max_length=10, choices=IssuePhase.choices, default=IssuePhase.DRY_RUN)
    line = models.PositiveIntegerField(_("line"))
    column = models.CharField(_("column"), max_length=100, blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    message = models.CharField(_("message"), max_length=500)

    class Meta:
        indexes = [models.Index(fields=["tenant", "job", "phase", "line"], name="dataimport_issue_t_job")]
        ordering = ["line", "id"]
        verbose_name = _("import issue")
        verbose_name_plural = _("import issues")

    def __str__(self):
        return f"line {self.line} {self.column}: {self.message}"


class ChangeAction(models.TextChoices):
    CREATED = "created", _("Created")
    UPDATED = "updated", _("Updated")


class ImportChange(TenantScopedModel):
    """The job's history beside who and when on the job: which rows one committed batch created or
    updated, per table and action, as their ids (one row per batch, table and action, written in
    bulk with the batch; a row the file left as it was is not listed)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="change_rows", verbose_name=_("job"))
    batch_end = models.PositiveIntegerField(_("rows done after the batch"))
    model = models.CharField(_("table"), max_length=100, help_text=_("app_label.model_name"))
    action = models.CharField(_("action"), max_length=10, choices=ChangeAction.choices)
    object_ids = models.JSONField(_("row ids"), default=list)
    count = models.PositiveIntegerField(_("rows"), default=0)
    created_at = models.DateTimeField(_("at"), default=timezone.now, editable=False)

    class Meta:
        indexes = [models.Index(fields=["tenant", "job", "model"], name="dataimport_change_t_job")]
        ordering = ["id"]
        verbose_name = _("imported change")
        verbose_name_plural = _("imported changes")

    def __str__(self):
        return f"{self.model} {self.action} {self.count}"
