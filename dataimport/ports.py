"""Set-based row writers for the import writers of the owning apps (``<app>.services.imports``).

``copy_insert(model, rows)`` and ``copy_upsert(model, rows, conflict=..., update=...)`` take rows as
dicts of field attnames (every concrete field left out takes its default; ``auto_now`` fields are
stamped) and write them in a constant number of statements: on PostgreSQL a COPY into a temporary
staging table (COPY cannot write a table under row-level security), then one ``INSERT ... SELECT``
(``ON CONFLICT (...) DO UPDATE`` for an upsert), which row-level security checks as any INSERT;
elsewhere (the embedded SQLite mode) Django's bulk_create. No save(), no signals, no history rows,
like bulk_create. This module imports no domain app.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone

from erp.tenancy.context import require_tenant


def _columns(model):
    now = timezone.now()
    out = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            default = now
        elif field.has_default():
            default = field.get_default()
        elif field.null:
            default = None
        else:
            default = ""
        out.append((field.attname, field.column, default, field))
    return out


def _stage(model, rows: list[dict], columns) -> str:
    table = model._meta.db_table
    stage = f"dataimport_stage_{table}"
    names = ", ".join(f'"{c}"' for _a, c, _d, _f in columns)
    tenant_id = require_tenant().pk
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")
        cursor.execute(f"TRUNCATE {stage}")
        connection.apply_tenant_setting()  # COPY goes around Django's cursor wrappers (RLS setting)
        plain = {a for a, _c, _d, f in columns if f.get_internal_type() in _PLAIN_TYPES}
        with cursor.cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for r in rows:
                r.setdefault("tenant_id", tenant_id)
                copy.write_row([r.get(a, d) if a in plain else f.get_db_prep_save(r.get(a, d), connection)
                                for a, _c, d, f in columns])
    return stage


# fields whose Python value psycopg adapts as is (no per-value Django preparation needed)
_PLAIN_TYPES = {"CharField", "TextField", "IntegerField", "BigIntegerField", "PositiveIntegerField",
                "PositiveSmallIntegerField", "SmallIntegerField", "BooleanField", "ForeignKey", "DateTimeField",
                "DateField", "SlugField", "EmailField", "DecimalField"}


def copy_insert(model, rows: list[dict]) -> None:
    if not rows:
        return
    columns = _columns(model)
    if connection.vendor != "postgresql":
        tenant_id = require_tenant().pk
        model.objects.bulk_create([model(**{"tenant_id": tenant_id, **{a: r.get(a, d) for a, _c, d, _f in columns}})
                                   for r in rows], batch_size=2000)
        return
    stage = _stage(model, rows, columns)
    names = ", ".join(f'"{c}"' for _a, c, _d, _f in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({names}) SELECT {names} FROM {stage}")
        cursor.execute(f"TRUNCATE {stage}")


def copy_upsert(model, rows: list[dict], *, conflict: list[str], update: list[str]) -> None:
    """Insert the rows; a row whose ``conflict`` columns exist already updates the ``update`` fields
    (attnames; ``updated_at`` is stamped too when the model has it)."""
    if not rows:
        return
    columns = _columns(model)
    by_attname = {a: c for a, c, _d, _f in columns}
    if connection.vendor != "postgresql":
        tenant_id = require_tenant().pk
        names = {f.attname: f.name for f in model._meta.concrete_fields}
        model.objects.bulk_create([model(**{"tenant_id": tenant_id, **{a: r.get(a, d) for a, _c, d, _f in columns}})
                                   for r in rows], batch_size=2000, update_conflicts=True,
                                  unique_fields=[names.get(a, a) for a in conflict],
                                  update_fields=[names.get(a, a) for a in update])
        return
    stage = _stage(model, rows, columns)
    names = ", ".join(f'"{c}"' for _a, c, _d, _f in columns)
    sets = [by_attname[a] for a in update]
    if "updated_at" in by_attname and "updated_at" not in update:
        sets.append("updated_at")
    assignments = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in sets)
    target = ", ".join(f'"{by_attname.get(a, a)}"' for a in conflict)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({names}) SELECT {names} FROM {stage} "
                       f"ON CONFLICT ({target}) DO UPDATE SET {assignments}")
        cursor.execute(f"TRUNCATE {stage}")


# --- staging tables for set-based writers written in SQL ---------------------------------------------

def stage_rows(name: str, columns: list[tuple[str, str]], rows: list[dict], *, extra: str = "") -> str:
    """COPY ``rows`` (dicts, a key left out is NULL; or tuples in the columns' order) into a temporary table ``dataimport_s_<name>``
    with ``columns`` [(key, SQL type)] (plus ``extra`` column definitions, e.g. flags the writer sets
    later) and return its name. The table lasts the transaction (PostgreSQL only; call it inside
    ``transaction.atomic()``): a writer then reads it in ``INSERT ... SELECT`` / ``UPDATE ... FROM``
    statements, one per table for the whole batch. The typed values go through psycopg's COPY
    dumpers chosen once for the columns (no per-value lookups)."""
    table = f"dataimport_s_{name}"
    keys = [k for k, _t in columns]
    definition = ", ".join([*(f'"{k}" {t}' for k, t in columns), *([extra] if extra else [])])
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TEMP TABLE {table} ({definition}) ON COMMIT DROP")
        connection.apply_tenant_setting()  # COPY goes around Django's cursor wrappers (RLS setting)
        with cursor.cursor.copy(f"COPY {table} ({', '.join(chr(34) + k + chr(34) for k in keys)}) FROM STDIN") as copy:
            copy.set_types([t.split("(")[0].strip() for _k, t in columns])
            write = copy.write_row
            for r in rows:
                write(r if r.__class__ is tuple else [r.get(k) for k in keys])
        cursor.execute(f"ANALYZE {table}")  # a fresh temp table has no statistics: the planner would guess its size
    return table


def column_defaults(model, given) -> list[tuple[str, object]]:
    """(column, default value) of every concrete column of ``model`` not in ``given`` (column names)
    and not the primary key: what an ``INSERT ... SELECT`` adds as parameters for the columns the
    writer does not compute (``auto_now`` fields: now)."""
    out = []
    for attname, column, default, field in _columns(model):
        if column in given or attname in given:
            continue
        out.append((column, field.get_db_prep_save(default, connection)))
    return out


def joined_text(values) -> str | None:
    """Values as one text parameter for ``string_to_array(%s, E'\\x1f')`` (far cheaper to send than
    a text[] of thousands of elements); None when a value holds the separator (then send a list)."""
    text = "\x1f".join(values)
    return None if text.count("\x1f") != max(0, len(values) - 1) else text


# --- audit: the history rows of bulk writes ---------------------------------------------------------

def history_model(model):
    """The django-simple-history model of ``model`` (``TenantHistoricalRecords``), or None."""
    attribute = getattr(model._meta, "simple_history_manager_attribute", None)
    return getattr(model, attribute).model if attribute else None


def record_history(model, *, ids, history_type: str, user_id=None, reason: str = "") -> int:
    """Write simple-history rows for rows a bulk write made (``history_type`` "+") or changed ("~"),
    set-based: one ``INSERT INTO <history table> ... SELECT ... FROM <table> WHERE id = ANY(ids)``
    (what ``bulk_create_with_history`` does, without loading the rows into Python). Nothing for a
    model without history. Returns the number of history rows written."""
    history = history_model(model)
    ids = [int(i) for i in ids]
    if history is None or not ids:
        return 0
    if connection.vendor != "postgresql":
        rows = list(model.objects.filter(pk__in=ids))
        manager = getattr(model, model._meta.simple_history_manager_attribute)
        manager.bulk_history_create(rows, update=history_type == "~", default_user=None, default_change_reason=reason)
        if user_id:
            history.objects.filter(id__in=ids, history_user_id__isnull=True).update(history_user_id=user_id)
        return len(rows)
    own = {f.column for f in model._meta.concrete_fields}
    copied = [f.column for f in history._meta.concrete_fields if f.column in own]
    names = ", ".join(f'"{c}"' for c in copied)
    user_column = history._meta.get_field("history_user").column
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {history._meta.db_table} ({names}, history_date, history_type, history_change_reason, "{user_column}") '
            f"SELECT {names}, now(), %s, %s, %s FROM {model._meta.db_table} WHERE tenant_id = %s AND id = ANY(%s::bigint[])",
            [history_type, reason[:100] or None, user_id, require_tenant().pk, ids])
        return cursor.rowcount
