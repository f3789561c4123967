"""PostgreSQL backend with row-level security as a second wall behind the scoped managers.

* Every connection switches to an ordinary role (settings ``APP_ROLE``, default ``erp_app``) so
  that policies apply even when the login user is a superuser.
* Before each query the backend makes the setting ``app.tenant_id`` equal the tenant in the
  ContextVar (and ``app.bypass_rls`` equal whether a system_context() is active). It only issues
  the ``set_config`` when the value differs from what is in force. Inside a transaction (every
  request is one) the setting is transaction-local, so it ends with the transaction and the next
  request starts with no tenant at no cost; outside one it is set for the session. A rollback
  makes the value unknown, so the next query sets it again.
* Tenant tables get ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` and a policy after each migrate
  (erp.tenancy.rls), so the table owner is bound too.

Behind a pooler in transaction mode (settings ``POOL_MODE: "transaction"``, e.g. PgBouncer with
``pool_mode = transaction``) a client's statements may run on a different server session in each
transaction, so nothing may be left at session level: the role switch and the tenant settings are
made with ``set_config(..., true)`` (``SET LOCAL``) as the first statement of every transaction, a
statement outside any transaction (autocommit) runs in a transaction of its own so that it gets
them too, the role-setup lock is a transaction lock, and no statement is prepared (PgBouncer 1.18,
Debian 12's, does not track protocol-level prepared statements; 1.21+ with
``max_prepared_statements`` would, then ``DATABASE_PREPARE_HOT_QUERIES=1`` may turn them back on).
Connected directly (the default), the role is switched once per session, as before.
"""

import logging
from contextlib import nullcontext

from django.db import transaction
from django.db.backends.postgresql import base, creation

from erp.tenancy.context import get_current_tenant_id, system_reason

logger = logging.getLogger("erp.db")
NO_DB_ALIAS = "__no_db__"
NO_TENANT = ("", "off")  # what a fresh session means too: the settings are unset, so no rows
ROLE_SETUP_LOCK = 7_311_021_001  # advisory lock key: one process at a time prepares the role
TRANSACTION_POOLING = "transaction"
_prepared_roles: set[tuple] = set()


class DatabaseCreation(creation.DatabaseCreation):
    """Behind a transaction pooler the pooler keeps server connections to the test database open
    after the tests closed theirs: the test database is dropped WITH (FORCE) (PostgreSQL 13+)."""

    def _create_test_db(self, verbosity, autoclobber, keepdb=False):
        if self.connection.pooled and not keepdb:
            self._drop_forced(self._get_test_db_name())
        return super()._create_test_db(verbosity, autoclobber, keepdb)

    def _destroy_test_db(self, test_database_name, verbosity):
        if not self.connection.pooled:
            return super()._destroy_test_db(test_database_name, verbosity)
        self.connection.close_pool()
        self._drop_forced(test_database_name)

    def _drop_forced(self, name: str) -> None:
        with self._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self._quote_name(name)} WITH (FORCE)")


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._rls_applied: tuple | None = None  # the value in force now (None: unknown)
        self._rls_session: tuple | None = None  # the session-level value transactions fall back to
        self.execute_wrappers.insert(0, self._rls_guard)

    # --- connection set-up ------------------------------------------------------------------
    @property
    def app_role(self) -> str:
        return self.settings_dict.get("APP_ROLE") or ""

    @property
    def pooled(self) -> bool:
        """Connected through a pooler in transaction mode: nothing may be set for the session."""
        return self.settings_dict.get("POOL_MODE") == TRANSACTION_POOLING

    @property
    def is_replica(self) -> bool:
        """A read-only standby (erp.db.routers): its role and grants come from the primary."""
        return bool(self.settings_dict.get("REPLICA"))

    def init_connection_state(self):
        super().init_connection_state()
        self._rls_applied = self._rls_session = None if self.pooled else NO_TENANT
        if self.settings_dict.get("PREPARE_HOT_QUERIES", True):
            # psycopg prepares nothing while this is None (Django's default); Django's own cursors
            # bind client-side and never prepare, so only prepared_cursor() statements are affected.
            self.connection.prepare_threshold = 5
        else:
            self.connection.prepare_threshold = None  # not even prepare=True (raw hot cursors)
        if self.alias == NO_DB_ALIAS or not self.app_role:
            return
        role = self.app_role
        key = (self.settings_dict.get("HOST"), self.settings_dict.get("PORT"), self.settings_dict.get("NAME"), role)
        if key not in _prepared_roles and not self.is_replica:
            self._prepare_role(self.connection, role)
            _prepared_roles.add(key)
        if not self.pooled:
            with self.connection.cursor() as cursor:
                cursor.execute(f'SET ROLE "{role}"')

    @classmethod
    def _prepare_role(cls, raw_connection, role: str) -> None:
        """Create the application role when the login user may (idempotent, first connection).

        Several processes start at once (web, worker pool, beat): a transaction advisory lock
        serialises them, since concurrent GRANTs on one catalog row fail ("tuple concurrently
        updated"). It ends with the transaction, so it is safe behind a transaction pooler too."""
        with raw_connection.transaction(), raw_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLE_SETUP_LOCK])
            cls._prepare_role_locked(cursor, role)

    @staticmethod
    def _prepare_role_locked(cursor, role: str) -> None:
        cursor.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
        is_super, can_create = cursor.fetchone()
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        exists = cursor.fetchone() is not None
        if not exists:
            if not (is_super or can_create):
                raise RuntimeError(
                    f"Database role {role!r} does not exist and {cursor.connection.info.user!r} may not "
                    "create it. Create it (NOLOGIN NOSUPERUSER NOBYPASSRLS), grant it to the login "
                    "user, or set DATABASE_APP_ROLE to an empty string."
                )
            cursor.execute(f'CREATE ROLE "{role}" NOLOGIN NOSUPERUSER NOBYPASSRLS')
        cursor.execute("SELECT has_schema_privilege(%s, 'public', 'CREATE') AND pg_has_role(current_user, %s, 'MEMBER')",
                       [role, role])
        if (is_super or can_create) and not cursor.fetchone()[0]:
            cursor.execute(f'GRANT "{role}" TO CURRENT_USER')
            cursor.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"')
            cursor.execute(
                f'GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES ON ALL TABLES IN SCHEMA public TO "{role}"'
            )
            cursor.execute(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"')

    # --- prepared statements for hot queries -------------------------------------------------
    def prepared_cursor(self):
        """A Django cursor whose statements Postgres parses and plans once per connection (psycopg
        prepares them server-side; connections live CONN_MAX_AGE). For the few queries that run on
        every request (erp.db.compiled): planning the token lookup's four-table join cost more than
        running it. Row-level security still applies: the policy reads the tenant setting when the
        statement executes. ``PREPARE_HOT_QUERIES: False`` in the database settings turns it off
        (a pooler in transaction mode without prepared-statement support)."""
        if not self.settings_dict.get("PREPARE_HOT_QUERIES", True) or self.connection.prepare_threshold is None:
            return self.cursor()
        self.close_if_health_check_failed()
        self.ensure_connection()
        with self.wrap_database_errors:
            return self._prepare_cursor(_PreparingCursor(self.connection))

    # --- tenant setting ---------------------------------------------------------------------
    def _wanted_rls(self) -> tuple[str, str]:
        tenant_id = get_current_tenant_id()
        return ("" if tenant_id is None else str(tenant_id), "on" if system_reason() else "off")

    def apply_tenant_setting(self) -> None:
        """Bring app.tenant_id / app.bypass_rls in line with the context (also for COPY and raw
        psycopg cursors). Behind a transaction pooler this needs a transaction: the statement that
        follows could otherwise run on another server session, as the login user."""
        self.ensure_connection()
        if self.pooled and self.get_autocommit() and self.alias != NO_DB_ALIAS:
            raise RuntimeError(
                "Raw SQL behind a transaction pooler (DATABASE_POOL_MODE=transaction) must run inside "
                "transaction.atomic(): the role and tenant settings last one transaction."
            )
        self._sync_rls()

    def pinned(self):
        """A context in which several statements share one server session: a transaction behind a
        transaction pooler when none is open yet (e.g. for a psycopg pipeline), else nothing."""
        if self.pooled and self.get_autocommit():
            return transaction.atomic(using=self.alias)
        return nullcontext()

    def _sync_rls(self) -> None:
        wanted = self._wanted_rls()
        if wanted == self._rls_applied:
            return
        if self.pooled:
            # First statement of the transaction: the role and the tenant, all transaction-local.
            role = "set_config('role', %s, true), " if self.app_role else ""
            self.connection.execute(
                f"SELECT {role}set_config('app.tenant_id', %s, true), set_config('app.bypass_rls', %s, true)",
                [self.app_role, *wanted] if self.app_role else list(wanted),
            )
            self._rls_applied = wanted
            return
        local = self.in_atomic_block
        self.connection.execute(
            "SELECT set_config('app.tenant_id', %s, %s), set_config('app.bypass_rls', %s, %s)",
            [wanted[0], local, wanted[1], local],
        )
        self._rls_applied = wanted
        if not local:
            self._rls_session = wanted

    def _rls_guard(self, execute, sql, params, many, context):
        if self.pooled and self.alias != NO_DB_ALIAS and self.get_autocommit():
            # A statement outside any transaction: give it one, so that the settings made by
            # _sync_rls and the statement run on the same server session.
            with transaction.atomic(using=self.alias):
                self._sync_rls()
                return execute(sql, params, many, context)
        if self.alias != NO_DB_ALIAS or not self.pooled:
            self._sync_rls()
        return execute(sql, params, many, context)

    # A commit ends transaction-local settings; a rollback also reverts session-level ones made in
    # the transaction, so what is in force is unknown until the next query sets it.
    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._rls_applied = self._rls_session  # behind a pooler: None, the next one sets it again

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._rls_applied = self._rls_session = None

    def _savepoint_rollback(self, sid):
        # Must not go through _rls_guard first: the transaction is aborted until this runs.
        with self.cursor() as cursor:
            cursor.cursor.execute(self.ops.savepoint_rollback_sql(sid))
        self._rls_applied = None

    def _close(self):
        self._rls_applied = self._rls_session = None
        return super()._close()


class _PreparingCursor(base.ServerBindingCursor):
    """Server-side binding, and every statement prepared (psycopg keeps the last 100 per connection)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)
