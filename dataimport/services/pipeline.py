"""The import pipeline: map headers, stream and parse rows, check keys, call the owning app's
writer batch by batch (dry run or commit), record rejected rows, progress and the reconciliation.

A dry run stores nothing but the job's counts and issues. A commit writes each batch in its own
transaction together with the job's progress (``processed_rows``: data rows done), so a failed or
interrupted job resumes after the last committed batch; rows before it are parsed again only to
recognise duplicate keys. A batch's writer call is set-based (see ``dataimport.specs``)."""

import logging
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import ChangeAction, ImportChange, ImportIssue, ImportJob, IssuePhase, JobStatus
from ..parsing import CellError
from ..reading import FileRefused, Table, open_table, text_of
from ..specs import ImportType, get_type, header_index, normalise_header

log = logging.getLogger(__name__)

MAX_STORED_ISSUES = 10_000
MAX_WHOLE_FILE_ROWS = 50_000


class Issue(NamedTuple):
    line: int
    column: str
    value: str
    message: str


@dataclass
class Mapping:
    positions: list[tuple[int, object, str]]  # (index in the row, Column, the file's header)
    unknown: list[str]  # headers in the file mapped to nothing
    missing: list[str]  # required column keys without a header
    problems: list[str]  # file-level problems (two headers for one column...)
    mapped: dict[str, str]  # header -> column key

    def plan(self) -> list[tuple]:
        """(index, key, parser, required, header, text max length or None) per mapped column, worked
        out once per mapping: the per-cell loop of ``parse_row`` reads plain tuples."""
        cached = self.__dict__.get("_plan")
        if cached is None:
            from functools import partial

            from ..parsing import parse_text

            cached = []
            for index, column, header in self.positions:
                parse = column.parse
                text_max = parse.keywords.get("max_length", 200) if (
                    isinstance(parse, partial) and parse.func is parse_text and not parse.args) else None
                cached.append((index, column.key, parse, column.required, header, text_max))
            self.__dict__["_plan"] = cached
        return cached

    def header_of(self, key: str) -> str | None:
        """The file's own header of a column (what the person who filled the file calls it)."""
        return next((h for h, k in self.mapped.items() if k == key), None)


def map_headers(import_type: ImportType, headers: list[str], overrides: dict | None = None) -> Mapping:
    """Match the file's headers to the type's columns; ``overrides`` (header -> key or "") wins."""
    overrides = overrides or {}
    index = header_index(import_type)
    keys = {c.key for c in import_type.columns}
    positions, unknown, problems, mapped, taken = [], [], [], {}, {}
    for i, header in enumerate(headers):
        if not header:
            continue
        if header in overrides:
            key = overrides[header] or None
            if key is not None and key not in keys:
                problems.append(_("Header “%(header)s” is mapped to an unknown column “%(key)s”.") % {"header": header, "key": key})
                continue
        else:
            key = index.get(normalise_header(header))
        if key is None:
            if header not in overrides:
                unknown.append(header)
            continue
        if key in taken:
            column = import_type.column(key)
            problems.append(_("Columns “%(a)s” and “%(b)s” both give %(column)s; keep one or map the other to nothing.")
                            % {"a": taken[key], "b": header, "column": column.label()})
            continue
        taken[key] = header
        mapped[header] = key
        positions.append((i, import_type.column(key), header))
    missing = [k for k in import_type.required_keys() if k not in taken]
    return Mapping(positions=positions, unknown=unknown, missing=missing, problems=problems, mapped=mapped)


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_row(line: int, values: list, mapping: Mapping) -> tuple[dict, list[Issue]]:
    row = {"line": line}
    issues = []
    width = len(values)
    for index, key, parse, required, header, text_max in mapping.plan():
        raw = values[index] if index < width else None
        if raw.__class__ is str:  # every CSV cell
            if not raw or raw.isspace():
                if required:
                    issues.append(Issue(line, header, "", _("is required")))
                continue
            if text_max is not None:  # a text column: the common case inline (parse_text does the rest)
                text = raw.strip()
                if len(text) <= text_max and "\x00" not in text:
                    row[key] = text
                    continue
        elif raw is None or _blank(raw):
            if required:
                issues.append(Issue(line, header, "", _("is required")))
            continue
        try:
            row[key] = parse(raw)
        except CellError as exc:
            issues.append(Issue(line, header, text_of(raw)[:200], str(exc)))
    return row, issues


def _row_key(import_type: ImportType, row: dict) -> tuple:
    return tuple(row.get(k, "") for k in import_type.key)


def file_level_issues(import_type: ImportType, mapping: Mapping) -> list[str]:
    problems = list(mapping.problems)
    for key in mapping.missing:
        column = import_type.column(key)
        problems.append(_("The required column %(zh)s (%(en)s) is missing. Add it, or map one of the file's headers to it.")
                        % {"zh": column.zh, "en": column.en})
    return problems


def _jsonable(totals: dict) -> dict:
    return {k: str(v) for k, v in totals.items()}


def _add(into: dict, more: dict) -> dict:
    out = dict(into)
    for key, value in more.items():
        out[key] = str(Decimal(str(out.get(key, "0"))) + Decimal(str(value)))
    return out


def count_rows(table: Table) -> int:
    if table.file_format == "xlsx":
        return sum(1 for _ in table.rows())
    with open(table.path, "rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1024 * 1024), b""))
    return max(0, lines - table.header_line + 1)


def _refuse(job: ImportJob, messages: list[str]) -> None:
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.REFUSED, file_error="\n".join(messages),
                                               validated_at=timezone.now())
    ImportIssue.objects.filter(job=job, phase=IssuePhase.DRY_RUN).delete()
    ImportIssue.objects.bulk_create([ImportIssue(tenant_id=job.tenant_id, job=job, phase=IssuePhase.DRY_RUN, line=0, message=m[:500])
                                     for m in messages])


def _batches(import_type: ImportType, table: Table, mapping: Mapping):
    """(rows, issues, ordinal after the batch) for each batch of data rows; duplicates flagged."""
    seen: set[int] = set()
    size = MAX_WHOLE_FILE_ROWS + 1 if import_type.whole_file else import_type.batch_size
    rows, issues, ordinal = [], [], 0
    key_labels = " + ".join(mapping.header_of(k) or import_type.column(k).label() for k in import_type.key)
    for line, values in table.rows():
        ordinal += 1
        row, row_issues = parse_row(line, values, mapping)
        if not row_issues:
            digest = hash(_row_key(import_type, row))
            if digest in seen:
                row_issues.append(Issue(line, key_labels, " / ".join(text_of(v) for v in _row_key(import_type, row))[:200],
                                        _("duplicate key: the same %(key)s appears earlier in the file") % {"key": key_labels}))
            else:
                seen.add(digest)
        if row_issues:
            issues.extend(row_issues)
        else:
            rows.append(row)
        if ordinal % size == 0:
            if import_type.whole_file:
                raise FileRefused(_("This import type takes at most %(n)s rows in one file.") % {"n": MAX_WHOLE_FILE_ROWS})
            yield rows, issues, ordinal
            rows, issues = [], []
    if rows or issues or ordinal == 0:
        yield rows, issues, ordinal


def _store_issues(job: ImportJob, phase: str, issues: list[Issue], already: int) -> None:
    room = max(0, MAX_STORED_ISSUES - already)
    if not room or not issues:
        return
    ImportIssue.objects.bulk_create([
        ImportIssue(tenant_id=job.tenant_id, job=job, phase=phase, line=i.line, column=i.column[:100], value=i.value[:200], message=i.message[:500])
        for i in issues[:room]
    ])


def _writer_issues(import_type: ImportType, result: dict, mapping: Mapping) -> list[Issue]:
    out = []
    for line, column_key, message in result.get("errors", []):
        try:
            label = mapping.header_of(column_key) or import_type.column(column_key).label()
        except StopIteration:
            label = column_key or ""
        out.append(Issue(int(line), label, "", str(message)))
    return out


def _options(job: ImportJob) -> dict:
    return {"job_id": job.pk, "user_id": job.committed_by_id or job.created_by_id, "source": f"import:{job.pk}"}


def dry_run(*, job_id: int) -> ImportJob:
    """Validate every row (nothing stored but the report)."""
    job = ImportJob.objects.get(pk=job_id)
    import_type = get_type(job.import_type)
    ImportIssue.objects.filter(job=job, phase=IssuePhase.DRY_RUN).delete()
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.VALIDATING, processed_rows=0, to_create=0, to_update=0, to_skip=0, rejected=0,
        file_error="", error="")
    try:
        table = open_table(job.file_path)
        mapping = map_headers(import_type, table.headers, job.header_map)
        ImportJob.objects.filter(pk=job.pk).update(headers=table.headers, file_format=table.file_format,
                                                   encoding=table.encoding, total_rows=count_rows(table))
        problems = file_level_issues(import_type, mapping)
        if problems:
            _refuse(job, problems)
            return ImportJob.objects.get(pk=job.pk)
        writer = import_type.writer_fn()
        stored = 0
        for rows, issues, ordinal in _batches(import_type, table, mapping):
            with transaction.atomic():  # a writer may stage the batch in a temporary table (gone at the end)
                result = writer(rows=rows, commit=False, options=_options(job)) if rows else {}
            issues = issues + _writer_issues(import_type, result, mapping)
            _store_issues(job, IssuePhase.DRY_RUN, issues, stored)
            stored += len(issues)
            ImportJob.objects.filter(pk=job.pk).update(
                processed_rows=ordinal, to_create=F("to_create") + result.get("created", 0),
                to_update=F("to_update") + result.get("updated", 0), to_skip=F("to_skip") + result.get("unchanged", 0),
                rejected=F("rejected") + len({i.line for i in issues}))
    except FileRefused as exc:
        _refuse(job, [str(exc)])
        return ImportJob.objects.get(pk=job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    status = JobStatus.VALIDATED
    if job.processed_rows == 0:
        _refuse(job, [_("The file has headers but no data rows.")])
        return ImportJob.objects.get(pk=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(status=status, validated_at=timezone.now(), total_rows=job.processed_rows)
    job.refresh_from_db()
    return job


def store_changes(job: ImportJob, ordinal: int, changes: dict, options: dict) -> None:
    """The writer's ``changes`` ({"app_label.model": {"created": [ids], "updated": [ids]}}) as the
    job's history, one ImportChange row per table and action (in bulk); a model kept by
    django-simple-history gets its history rows too, set-based (``ports.record_history``: "+" for
    created, "~" for updated, by the job's user, reason "import #id")."""
    from django.apps import apps

    from ..ports import record_history

    rows = []
    for label, by_action in changes.items():
        model = apps.get_model(label)
        for action, ids in by_action.items():
            ids = sorted({int(i) for i in ids})
            if not ids:
                continue
            rows.append(ImportChange(tenant_id=job.tenant_id, job=job, batch_end=ordinal, model=model._meta.label_lower,
                                     action=action, object_ids=ids, count=len(ids)))
            record_history(model, ids=ids, history_type="+" if action == ChangeAction.CREATED else "~",
                           user_id=options.get("user_id"), reason=f"import #{job.pk}")
    ImportChange.objects.bulk_create(rows)


def _batch_commit_settings() -> None:
    """A batch's transaction does not wait for its WAL to reach the disk (``synchronous_commit``
    off, this transaction only): a crash may lose the last batches committed, but each together
    with the job's progress (one transaction), so the job resumes before them and writes them
    again; nothing is half written. It saves a disk flush per batch."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def commit_run(*, job_id: int, budget_seconds: float | None = None) -> str:
    """Commit batches after ``processed_rows`` until the file ends ("done") or the time budget is
    spent ("more": queue a continuation). Each batch is one transaction with the job's progress."""
    started = time.monotonic()
    job = ImportJob.objects.get(pk=job_id)
    if job.status != JobStatus.COMMITTING:
        return "done"
    import_type = get_type(job.import_type)
    try:
        table = open_table(job.file_path)
    except FileRefused as exc:
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error=str(exc))
        return "done"
    mapping = map_headers(import_type, table.headers, job.header_map)
    if file_level_issues(import_type, mapping):
        ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error="; ".join(file_level_issues(import_type, mapping)))
        return "done"
    writer = import_type.writer_fn()
    reconcile = import_type.reconcile_fn()
    books = import_type.post_to_books_fn()
    after_batch = import_type.after_batch_fns()
    done_before = job.processed_rows
    for rows, issues, ordinal in _batches(import_type, table, mapping):
        if ordinal <= done_before:
            continue
        with transaction.atomic():
            _batch_commit_settings()
            locked = ImportJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != JobStatus.COMMITTING or locked.processed_rows != done_before:
                return "done"  # another run took over (or the job was stopped)
            options = _options(locked)
            result = writer(rows=rows, commit=True, options=options) if rows else {}
            writer_issues = _writer_issues(import_type, result, mapping)
            if books is not None and result.get("posted"):
                books(posted=result["posted"], options=options)
            changes = dict(result.get("changes") or {})
            for after in after_batch:
                for label, by_action in (after(posted=result.get("posted") or {}, options=options) or {}).items():
                    merged = changes.setdefault(label, {})
                    for action, ids in by_action.items():
                        merged[action] = [*merged.get(action, []), *ids]
            store_changes(locked, ordinal, changes, options)
            bad_lines = {i.line for i in writer_issues}
            written = [r for r in rows if r["line"] not in bad_lines]
            recon = dict(locked.reconciliation or {})
            if written:
                recon["file"] = _add(recon.get("file", {}), import_type.file_totals(written, options))
                recon["db"] = _add(recon.get("db", {}), reconcile(rows=written, options=options))
            all_issues = issues + writer_issues
            _store_issues(locked, IssuePhase.COMMIT, all_issues, ImportIssue.objects.filter(job=locked, phase=IssuePhase.COMMIT).count())
            ImportJob.objects.filter(pk=job.pk).update(
                processed_rows=ordinal, heartbeat_at=timezone.now(), reconciliation=recon,
                created_count=F("created_count") + result.get("created", 0),
                updated_count=F("updated_count") + result.get("updated", 0),
                skipped_count=F("skipped_count") + result.get("unchanged", 0),
                failed_count=F("failed_count") + len({i.line for i in all_issues}))
        done_before = ordinal
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            return "more"
    with transaction.atomic():
        finished = ImportJob.objects.filter(pk=job.pk, status=JobStatus.COMMITTING).update(
            status=JobStatus.DONE, finished_at=timezone.now(), error="")
        if finished:
            for done in import_type.on_done_fns():
                done(options=_options(job))
    return "done"


def dry_run_fail(*, job_id: int, error: str) -> None:
    ImportJob.objects.filter(pk=job_id, status=JobStatus.VALIDATING).update(status=JobStatus.FAILED, error=error[:5000])


def commit_fail(*, job_id: int, error: str) -> None:
    ImportJob.objects.filter(pk=job_id, status=JobStatus.COMMITTING).update(status=JobStatus.FAILED, error=error[:5000])


def rejected_rows(job: ImportJob):
    """The rows with issues (of the dry run, or of the commit once committed), as in the file plus an
    'errors' column: fix them and upload this file again. Yields lists (header row first)."""
    phase = IssuePhase.COMMIT if job.status in (JobStatus.DONE, JobStatus.FAILED, JobStatus.COMMITTING) else IssuePhase.DRY_RUN
    by_line: dict[int, list[str]] = {}
    for issue in ImportIssue.objects.filter(job=job, phase=phase).order_by("line", "id").iterator():
        text = f"{issue.column}: {issue.message}" if issue.column else issue.message
        by_line.setdefault(issue.line, []).append(text)
    yield [_("line"), *([h for h in job.headers] or []), _("errors")]
    if 0 in by_line:
        yield ["", *([""] * len(job.headers)), "; ".join(by_line.pop(0))]
    if not by_line:
        return
    try:
        table = open_table(job.file_path)
    except FileRefused:
        for line, messages in sorted(by_line.items()):
            yield [line, *([""] * len(job.headers)), "; ".join(messages)]
        return
    width = len(table.headers)
    for line, values in table.rows():
        if line in by_line:
            cells = [text_of(v) for v in values[:width]] + [""] * max(0, width - len(values))
            yield [line, *cells, "; ".join(by_line[line])]
