"""Fast set-based writes for the ingestion hot path.

On PostgreSQL every column travels as ONE array parameter (``INSERT .. SELECT FROM unnest(...)``,
``UPDATE .. FROM unnest(...)``): nothing is compiled per row, psycopg adapts the arrays in C, and
row-level security applies as for any INSERT/UPDATE (COPY FROM would refuse RLS tables for a
non-superuser role). Elsewhere (the embedded SQLite mode) Django's bulk_create / bulk_update.

Like bulk_create: no save() and no signals; ``auto_now`` / ``auto_now_add`` fields are stamped,
foreign keys are taken from the related objects assigned before they were saved.
"""

from __future__ import annotations

from django.db import connection, models
from django.utils import timezone


def _execute(sql: str, params: list, *, fetch: bool = False):
    """Run one statement with server-side binding: the arrays travel in binary instead of being
    rendered into the SQL text (Django's psycopg cursor binds on the client). The tenant setting
    is applied first, as the Django cursor would (docs/CONVENTIONS.md, raw COPY); database errors
    become Django's (an IntegrityError stays an IntegrityError)."""
    import psycopg

    connection.apply_tenant_setting()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else None


def _columns_sql(fields) -> tuple[str, str]:
    qn = connection.ops.quote_name
    arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
    names = ", ".join(qn(f.column) for f in fields)
    return arrays, names


def _array(field, objs) -> list:
    if isinstance(field, models.JSONField):
        return [field.get_db_prep_save(getattr(o, field.attname), connection) for o in objs]
    return [getattr(o, field.attname) for o in objs]


def insert(model, objs: list, *, with_ids: bool = False) -> None:
    """Insert ``objs`` in one statement. ``with_ids``: take their ids from the table's sequence
    first (one more query) and set ``obj.pk``, in list order (as bulk_create's RETURNING would)."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=1000)
        return
    meta = model._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk]
    now = timezone.now()
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for o in objs:
                setattr(o, f.attname, now)
        elif f.is_relation:
            for o in objs:
                if getattr(o, f.attname) is None:
                    related = f.get_cached_value(o, None)
                    if related is not None:
                        if related.pk is None:
                            raise ValueError(f"{model.__name__}.{f.name}: the related object is not saved yet.")
                        setattr(o, f.attname, related.pk)
    if with_ids:
        assign_ids(model, objs)
    if objs[0].pk is not None:  # ids taken beforehand (assign_ids)
        fields = [pk, *fields]
    arrays, names = _columns_sql(fields)
    _execute(f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({names}) SELECT * FROM unnest({arrays})",
             [_array(f, objs) for f in fields])
    for o in objs:
        o._state.adding = False
        o._state.db = connection.alias


def assign_ids(model, objs: list) -> None:
    """Give unsaved ``objs`` their ids from the table's sequence now (one query), in list order,
    so that rows referring to them can be planned before anything is inserted. Elsewhere than on
    PostgreSQL nothing happens (insert() then lets bulk_create number them)."""
    if not objs or connection.vendor != "postgresql":
        return
    meta = model._meta
    rows = _execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [meta.db_table, meta.pk.column, len(objs)], fetch=True)
    for o, new_id in zip(objs, sorted(row[0] for row in rows), strict=True):
        o.pk = new_id


def update(model, objs: list, fields: list[str]) -> None:
    """bulk_update in one statement (``UPDATE .. FROM unnest(arrays)``); like bulk_update, the
    values are the objects' attributes as they are (``auto_now`` is not stamped)."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields, batch_size=1000)
        return
    objs = list({o.pk: o for o in objs}.values())
    meta = model._meta
    pk = meta.pk
    cols = [meta.get_field(f) for f in fields]
    qn = connection.ops.quote_name
    arrays, names = _columns_sql([pk, *cols])
    sets = ", ".join(f"{qn(c.column)} = v.{qn(c.column)}" for c in cols)
    sql = (f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM unnest({arrays}) AS v({names}) "
           f"WHERE t.{qn(pk.column)} = v.{qn(pk.column)}")
    _execute(sql, [[o.pk for o in objs], *[_array(c, objs) for c in cols]])
