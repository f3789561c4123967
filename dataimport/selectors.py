"""Reads of the data import app: jobs, their report (mapping, counts, rejected rows,
reconciliation) and the downloadable templates."""

import io
from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import ImportChange, ImportIssue, ImportJob, IssuePhase, JobStatus
from .specs import ImportType, all_types, get_type, header_index, normalise_header

METRICS = {
    "rows": gettext_lazy("rows"),
    "units": gettext_lazy("units"),
    "value": gettext_lazy("stock value"),
    "amount": gettext_lazy("paid amount"),
    "points": gettext_lazy("points"),
    "lifetime_paid": gettext_lazy("lifetime paid"),
    "cost_total": gettext_lazy("sum of unit costs"),
    "price_total": gettext_lazy("sum of unit prices"),
    "debit": gettext_lazy("debit"),
    "credit": gettext_lazy("credit"),
}


def jobs(*, import_type: str | None = None):
    qs = ImportJob.objects.select_related("created_by", "committed_by")
    if import_type:
        qs = qs.filter(import_type=import_type)
    return qs


def job_find(*, job_id) -> ImportJob | None:
    try:
        return jobs().filter(pk=int(job_id)).first()
    except (TypeError, ValueError):
        return None


def metric_label(key: str) -> str:
    name, _sep, group = key.partition(":")
    label = str(METRICS.get(name, name))
    return f"{label} · {group}" if group else label


def reconciliation_rows(job: ImportJob) -> list[dict]:
    recon = job.reconciliation or {}
    file_side, db_side = recon.get("file", {}), recon.get("db", {})
    keys = sorted(set(file_side) | set(db_side), key=lambda k: (k.partition(":")[2], k))
    rows = []
    for key in keys:
        f = Decimal(file_side.get(key, "0"))
        d = Decimal(db_side.get(key, "0"))
        rows.append({"metric": key, "label": metric_label(key), "file": f, "database": d, "difference": d - f,
                     "matches": f == d})
    return rows


def mapping_rows(job: ImportJob, spec: ImportType) -> list[dict]:
    index = header_index(spec)
    rows = []
    for header in job.headers or []:
        if not header:
            continue
        override = (job.header_map or {}).get(header)
        auto = index.get(normalise_header(header))
        key = override if override is not None else auto
        rows.append({"header": header, "key": key or "", "auto": auto or "", "unknown": auto is None and not override,
                     "label": spec.column(key).label() if key else ""})
    return rows


def job_changes(job: ImportJob) -> list[dict]:
    """The job's history: per table, how many rows its commit created and updated (ImportChange;
    the row ids are in ``object_ids``)."""
    from django.apps import apps
    from django.db.models import Sum

    totals: dict[str, dict] = {}
    for row in ImportChange.objects.filter(job=job).values("model", "action").annotate(n=Sum("count")).order_by("model"):
        try:
            name = str(apps.get_model(row["model"])._meta.verbose_name_plural)
        except LookupError:
            name = row["model"]
        entry = totals.setdefault(row["model"], {"model": row["model"], "name": name, "created": 0, "updated": 0})
        entry[row["action"]] = row["n"] or 0
    return list(totals.values())


def job_report(job: ImportJob, *, issue_limit: int = 200) -> dict:
    spec = get_type(job.import_type)
    phase = IssuePhase.COMMIT if job.commit_started_at else IssuePhase.DRY_RUN
    issues = list(ImportIssue.objects.filter(job=job, phase=phase).order_by("line", "id")[:issue_limit])
    mapping = mapping_rows(job, spec) if spec else []
    mapped = {m["key"] for m in mapping if m["key"]}
    return {
        "type": spec,
        "mapping": mapping,
        "unknown_headers": [m["header"] for m in mapping if m["unknown"]],
        "missing_required": [c for c in spec.columns if c.required and c.key not in mapped] if spec else [],
        "issues": issues,
        "issue_phase": phase,
        "issue_count": ImportIssue.objects.filter(job=job, phase=phase).count(),
        "reconciliation": reconciliation_rows(job),
        "reconciliation_ok": all(r["matches"] for r in reconciliation_rows(job)),
        "changes": job_changes(job) if job.commit_started_at else [],
        "may_commit": job.status == JobStatus.VALIDATED and job.rejected < job.total_rows,
        "needs_valid_only": job.status == JobStatus.VALIDATED and job.rejected > 0,
        "may_resume": job.status == JobStatus.FAILED and job.commit_started_at is not None,
        "running": job.status in (JobStatus.VALIDATING, JobStatus.COMMITTING),
    }


def types_overview() -> list[dict]:
    counts = {}
    for row in ImportJob.objects.values_list("import_type", "status"):
        counts.setdefault(row[0], {"total": 0, "done": 0})
        counts[row[0]]["total"] += 1
        counts[row[0]]["done"] += row[1] == JobStatus.DONE
    return [{"type": t, **counts.get(t.name, {"total": 0, "done": 0})} for t in all_types()]


def template_headers(spec: ImportType, *, language: str = "zh") -> list[str]:
    return [(c.zh if language.startswith("zh") else c.en) + ("*" if c.required else "") for c in spec.columns]


def template_xlsx(spec: ImportType, *, language: str = "zh") -> bytes:
    """The data sheet (headers only, required ones marked *) and a sheet describing every column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    data = workbook.active
    data.title = spec.name
    data.append(template_headers(spec, language=language))
    for cell in data[1]:
        cell.font = Font(bold=True)
    guide = workbook.create_sheet(_("columns"))
    guide.append([_("column key"), "English", "中文", _("required"), _("example"), _("notes")])
    for c in spec.columns:
        guide.append([c.key, c.en, c.zh, _("yes") if c.required else _("no"), c.example,
                      c.help_zh if language.startswith("zh") else c.help_en])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    guide.append([])
    guide.append([spec.description_zh if language.startswith("zh") else spec.description_en])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_csv(spec: ImportType, *, language: str = "zh") -> bytes:
    from .reading import write_csv_bytes

    return write_csv_bytes([template_headers(spec, language=language), [c.example for c in spec.columns]])
