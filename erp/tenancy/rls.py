"""Row-level security policies on every table that has a tenant column (Postgres only).

Applied after every ``migrate`` for all installed models, so tables that later apps add are
covered without edits. The policy admits a row when its tenant is the session's ``app.tenant_id``
or when a system_context() set ``app.bypass_rls``; with no tenant set it admits nothing.
"""

from django.apps import apps
from django.db import connections

POLICY = "tenant_isolation"


def tenant_tables() -> list[str]:
    tables = []
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed:
            continue
        try:
            field = meta.get_field("tenant")
        except Exception:  # noqa: BLE001 - model has no tenant field
            continue
        if getattr(field, "column", None) == "tenant_id" and meta.app_label != "tenancy":
            tables.append(meta.db_table)
    return sorted(set(tables))


def apply_policies(using: str = "default") -> list[str]:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    tables = tenant_tables()
    existing = set(connection.introspection.table_names())
    done = []
    with connection.cursor() as cursor:
        for table in tables:
            if table not in existing:
                continue
            qt = connection.ops.quote_name(table)
            cursor.execute(f"ALTER TABLE {qt} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {qt} FORCE ROW LEVEL SECURITY")
            cursor.execute(f"DROP POLICY IF EXISTS {POLICY} ON {qt}")
            cursor.execute(
                f"CREATE POLICY {POLICY} ON {qt} "
                "USING (current_setting('app.bypass_rls', true) = 'on' "
                "OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint) "
                "WITH CHECK (current_setting('app.bypass_rls', true) = 'on' "
                "OR tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)"
            )
            done.append(table)
    return done


def on_post_migrate(sender, using="default", **kwargs):
    """post_migrate fires once per app with models: act once, on the last one."""
    last = [config for config in apps.get_app_configs() if config.models_module is not None][-1]
    if sender is last:
        apply_policies(using)
