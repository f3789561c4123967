"""Behind PgBouncer in transaction pooling mode nothing of ours is left at session level.

`make test` runs the tenancy/RLS, sync, concurrency and compiled-query tests a second time through a
PgBouncer in transaction mode (started by .ci/db-services on 127.0.0.1:6432) with
DATABASE_POOL_MODE=transaction; these tests check what only that pass can see: the server sessions
the pooler hands to the next client carry no role, no tenant and no lock of ours. In the direct
pass they check the connection-independent parts (the lock helper, the settings)."""

import threading

import psycopg
import pytest
from django.db import connection, transaction

from erp.db.locks import advisory_lock
from erp.tenancy.context import system_context
from tests.tenantapp.models import Widget

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PgBouncer sits in front of Postgres")
pooled_only = pytest.mark.skipif(
    not getattr(connection, "pooled", False),
    reason="runs in the pooled pass of `make test` (DATABASE_POOL_MODE=transaction through PgBouncer)")
LOCK_KEY = 7_311_099_001


def _bare_sessions(n: int) -> list[tuple]:
    """What n plain clients of the pooler (no role switch, no settings of their own) find in the
    server sessions they are given, each inside one transaction."""
    params = connection.get_connection_params()
    dsn = dict(dbname=params["dbname"], user=params["user"], host=params["host"], port=params["port"])
    clients = [psycopg.connect(**dsn, autocommit=True) for _ in range(n)]
    try:
        return [c.execute(
            "SELECT current_user, coalesce(current_setting('app.tenant_id', true), ''),"
            " coalesce(current_setting('app.bypass_rls', true), ''),"
            " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())"
        ).fetchone() for c in clients]
    finally:
        for c in clients:
            c.close()


@pooled_only
@pytest.mark.django_db(transaction=True)
def test_server_sessions_carry_nothing_of_ours_to_the_next_client(tenant_a):
    with tenant_a.context():
        Widget.objects.create(code="auto")  # a statement outside any transaction
        with transaction.atomic():
            Widget.objects.create(code="tx")
            with advisory_lock(LOCK_KEY) as got:
                assert got
        assert Widget.objects.count() == 2
    with system_context("test: a system read"):
        assert Widget.all_tenants.count() == 2
    connection.close()
    # Transaction pooling hands the most recently used server sessions out first: these are the
    # ones our statements just ran on. The login user is a superuser: a leaked SET ROLE would show
    # as erp_app, a leaked tenant setting as its id, a leaked session lock in pg_locks.
    for user, tenant, bypass, locks in _bare_sessions(4):
        assert user != "erp_app"
        assert tenant == "" and bypass in ("", "off")
        assert locks == 0


@pooled_only
@pytest.mark.django_db(transaction=True)
def test_every_statement_runs_as_the_app_role_with_the_tenant(tenant_a):
    assert connection.connection.prepare_threshold is None  # PgBouncer 1.18 carries no prepared statements
    with tenant_a.context(), connection.cursor() as cursor:
        for _ in range(3):  # three autocommit statements: each its own transaction, each set up
            cursor.execute("SELECT current_user, current_setting('app.tenant_id')")
            assert cursor.fetchone() == ("erp_app", str(tenant_a.tenant.pk))
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_setting('app.tenant_id', true)")
        assert cursor.fetchone() == ("erp_app", "")


@pooled_only
@pytest.mark.django_db(transaction=True)
def test_raw_sql_outside_a_transaction_is_refused_behind_the_pooler(tenant_a):
    with tenant_a.context():
        with pytest.raises(RuntimeError, match="transaction"):
            connection.apply_tenant_setting()
        with transaction.atomic():
            connection.apply_tenant_setting()  # fine inside one
            assert connection.connection.execute("SELECT current_user").fetchone()[0] == "erp_app"


@pytest.mark.django_db(transaction=True)
def test_advisory_lock_holds_for_the_block_and_excludes_others(db):
    seen = {}

    def other():
        with advisory_lock(LOCK_KEY) as got:
            seen["other"] = got
        connection.close()

    with advisory_lock(LOCK_KEY) as got:
        assert got
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert seen["other"] is False
        with connection.cursor() as cursor:  # the ordinary connection commits freely meanwhile
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            assert cursor.fetchone()[0] is False
    with advisory_lock(LOCK_KEY) as again:
        assert again  # released with the block


def test_pool_mode_setting_is_checked():
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_POOL_MODE": "statement", "DJANGO_SETTINGS_MODULE": "erp.settings"}
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "DATABASE_POOL_MODE" in result.stderr
