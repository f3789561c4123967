"""What stands between the schema and sharding with Citus (docs/SCALING.md), counted so it only goes down.

Citus distributes a table by a column (here tenant_id) and needs that column in every primary key
and unique constraint of the table, and in every foreign key between two distributed tables (a
foreign key must join rows of one shard). The few global tables become reference tables (copied to
every node; any table may point at them) or stay local to the coordinator (sessions, the beat
schedule, login attempts: never joined with tenant rows). This test reads the Django models (every
managed table, auto-created many-to-many tables included), lists each key that would block
`create_distributed_table(..., 'tenant_id')`, and pins the counts per kind: a change that removes
blockers lowers the pin, a change that adds one fails here and says which."""

from collections import Counter

from django.apps import apps
from django.db import models

TENANT_COLUMN = "tenant_id"
# Global tables copied to every node: small, read-mostly, pointed at by tenant rows.
REFERENCE_TABLES = frozenset({
    "tenancy_tenant", "auth_user", "auth_group", "auth_permission", "auth_group_permissions",
    "auth_user_groups", "auth_user_user_permissions", "django_content_type",
})
# Global tables that stay on the coordinator: never joined with tenant rows.
LOCAL_TABLES = frozenset({
    "django_session", "django_admin_log", "tenancy_apitoken",
    "axes_accessattempt", "axes_accessattemptexpiration", "axes_accessfailurelog", "axes_accesslog",
    "django_celery_beat_clockedschedule", "django_celery_beat_crontabschedule",
    "django_celery_beat_intervalschedule", "django_celery_beat_periodictask",
    "django_celery_beat_periodictasks", "django_celery_beat_solarschedule",
})
# The blockers counted on this schema (ceilings). Lower a number when a change removes blockers; a
# higher count is a regression (see the test's message and docs/SCALING.md, "What does not hold yet").
PINNED = {
    "primary key without tenant_id": 108,  # every tenant table: `id` alone (TenantScopedModel)
    "unique key without tenant_id": 0,
    "foreign key between distributed tables without tenant_id": 133,  # single-column `<x>_id -> id`
    "foreign key from a global table to a distributed table": 1,  # tenancy_apitoken.membership_id
    "foreign key from a distributed table to a local table": 0,
    "global table not declared reference or local": 0,
}


def _tables() -> dict[str, type[models.Model]]:
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)
            if m._meta.managed and not m._meta.proxy}


def _columns(model) -> set[str]:
    return {f.column for f in model._meta.concrete_fields}


def _unique_keys(model) -> list[tuple[str, tuple[str, ...]]]:
    meta = model._meta
    column = {f.name: f.column for f in meta.concrete_fields}
    keys = []
    for f in meta.concrete_fields:
        if f.unique and not f.primary_key:
            keys.append((f.name, (f.column,)))
    for names in meta.unique_together:
        keys.append((",".join(names), tuple(column.get(n, n) for n in names)))
    for c in meta.constraints:
        if isinstance(c, models.UniqueConstraint) and c.fields:
            keys.append((c.name, tuple(column.get(n, n) for n in c.fields)))
    return keys


def distribution_blockers() -> list[tuple[str, str]]:
    """(kind, where) for every key of the schema that Citus would refuse with tenant_id as the
    distribution column."""
    tables = _tables()
    distributed = {t for t, m in tables.items() if TENANT_COLUMN in _columns(m)}
    out = []
    for table, model in sorted(tables.items()):
        meta = model._meta
        if table in distributed:
            pk_columns = {f.column for f in getattr(meta.pk, "fields", None) or [meta.pk]}
            if TENANT_COLUMN not in pk_columns:
                out.append(("primary key without tenant_id", f"{table} ({', '.join(sorted(pk_columns))})"))
            for name, cols in _unique_keys(model):
                if TENANT_COLUMN not in cols:
                    out.append(("unique key without tenant_id", f"{table}.{name}"))
        elif table not in REFERENCE_TABLES | LOCAL_TABLES:
            out.append(("global table not declared reference or local", table))
        for f in meta.concrete_fields:
            if not (f.is_relation and f.many_to_one or f.one_to_one) or not getattr(f, "db_constraint", False):
                continue
            target = f.related_model._meta.db_table
            where = f"{table}.{f.column} -> {target}"
            if table in distributed and target in distributed:
                out.append(("foreign key between distributed tables without tenant_id", where))
            elif table not in distributed and target in distributed:
                out.append(("foreign key from a global table to a distributed table", where))
            elif table in distributed and target in LOCAL_TABLES:
                out.append(("foreign key from a distributed table to a local table", where))
    return out


def test_distribution_blockers_only_go_down():
    blockers = distribution_blockers()
    counts = Counter(kind for kind, _ in blockers)
    report = "\n".join(f"  {kind}: {where}" for kind, where in blockers)
    for kind, pinned in PINNED.items():
        assert counts[kind] <= pinned, (
            f"{kind}: {counts[kind]} > {pinned} pinned. New blockers of sharding by tenant "
            f"(docs/SCALING.md):\n{report}")
    assert set(counts) <= set(PINNED)


def test_every_unique_key_of_a_tenant_table_already_starts_with_the_tenant():
    """What already holds (the tenancy.E001-E004 system check): each unique key names the tenant."""
    assert [w for k, w in distribution_blockers() if k == "unique key without tenant_id"] == []


def test_reference_and_local_tables_exist():
    tables = set(_tables())
    assert (REFERENCE_TABLES | LOCAL_TABLES) - tables == set()
