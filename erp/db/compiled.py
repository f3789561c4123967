"""Queries compiled to SQL once per process and run again with other parameters.

Compiling a Django query of a few dozen columns costs a millisecond or more of CPU; running the
SQL costs a fraction of that. Hot read paths (token authentication, the order list and detail)
compile their query once, with sentinel values standing in for the parameters, and on each run
swap the sentinels for the real values. The result is exactly what ``.values()`` would return
(the fields' database converters are applied). Row-level security applies as for any query:
the Django cursor brings the tenant setting in line first. On Postgres the statements are also
prepared on the server once per connection (``DatabaseWrapper.prepared_cursor``).
"""

from __future__ import annotations

from collections.abc import Callable


class CompiledValues:
    """``build(**sentinels)`` returns a ``.values()`` queryset; it is compiled on first use with the
    sentinel values (one per parameter name, each distinct from any real value), and ``rows(**values)``
    runs the SQL with the real ones."""

    def __init__(self, build: Callable, sentinels: dict):
        self.build = build
        self.sentinels = sentinels
        self.sql = None

    def _compile(self) -> None:
        from django.db import connection

        qs = self.build(**self.sentinels)
        compiler = qs.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        names = [*qs.query.extra_select, *qs.query.values_select, *qs.query.annotation_select]
        converters = compiler.get_converters([col for col, _sql, _alias in compiler.select])
        by_sentinel = {v: k for k, v in self.sentinels.items()}
        self.template = [("p", by_sentinel[p]) if p in by_sentinel else ("v", p) for p in params]
        self.names, self.converters, self.sql = names, list(converters.items()), sql

    def params(self, values: dict) -> list:
        if self.sql is None:
            self._compile()
        return [values[x] if kind == "p" else x for kind, x in self.template]

    def rows(self, **values) -> list[dict]:
        return rows_together([(self, values)])[0]

    def convert(self, fetched) -> list[dict]:
        from django.db import connection

        names, converters = self.names, self.converters
        out = []
        for row in fetched:
            if converters:
                row = list(row)
                for i, (funcs, expression) in converters:
                    for fn in funcs:
                        row[i] = fn(row[i], expression, connection)
            out.append(dict(zip(names, row, strict=True)))
        return out


def rows_together(queries: list[tuple[CompiledValues, dict]]) -> list[list[dict]]:
    """Run several compiled queries and answer their rows in order. On Postgres they go out in one
    pipeline (psycopg): one network round trip for all of them instead of one each."""
    from django.db import connection

    params = [query.params(values) for query, values in queries]
    prepared_cursor = getattr(connection, "prepared_cursor", None)  # our Postgres backend; not SQLite
    if prepared_cursor is None or len(queries) == 1:
        fetched = []
        for (query, _values), args in zip(queries, params, strict=True):
            with (prepared_cursor or connection.cursor)() as cursor:
                cursor.execute(query.sql, args)
                fetched.append(cursor.fetchall())
    else:
        connection.ensure_connection()
        cursors = [prepared_cursor() for _ in queries]
        try:  # pinned(): behind a transaction pooler the pipeline runs in one transaction
            with connection.pinned(), connection.wrap_database_errors, connection.connection.pipeline():
                for cursor, (query, _values), args in zip(cursors, queries, params, strict=True):
                    cursor.execute(query.sql, args)
                fetched = [cursor.fetchall() for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()
    return [query.convert(rows) for (query, _values), rows in zip(queries, fetched, strict=True)]


def instance_from_row(model, row: dict, prefix: str = ""):
    """A model instance from the ``prefix + attname`` keys of a ``.values()`` row, as if loaded by
    the ORM (``from_db``: not adding, fields not in the row deferred)."""
    from django.db import DEFAULT_DB_ALIAS

    names, values = [], []
    for field in model._meta.concrete_fields:
        key = prefix + field.attname
        if key in row:
            names.append(field.attname)
            values.append(row[key])
    return model.from_db(DEFAULT_DB_ALIAS, names, values)


def value_paths(model, prefix: str = "") -> list[str]:
    """``.values()`` paths of a model's concrete columns, reached through ``prefix`` (``a__b__``)."""
    return [prefix + f.attname for f in model._meta.concrete_fields]
