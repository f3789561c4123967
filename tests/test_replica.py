"""Reads under read_replica() go to a streaming replica, and row-level security holds there.

.ci/db-services starts a hot standby of the test cluster on 127.0.0.1:5433 (pg_basebackup, streaming
replication); TEST_DATABASE_REPLICA_URL points elsewhere. The tests add the ``replica`` alias at run
time (as DATABASE_REPLICA_URL would), pointing at the test database's copy on the standby; rows are
committed on the primary (transactional tests) and read after the standby has replayed them. Without
a reachable standby the tests that need one skip, saying why."""

import os
import time
from urllib.parse import urlparse

import psycopg
import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test.utils import CaptureQueriesContext

from erp.db.routers import REPLICA_ALIAS, read_alias, read_replica, reader
from erp.tenancy.context import system_context, tenant_context
from tests.tenantapp.models import Widget

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="streaming replication is Postgres")
REPLICA_URL = os.environ.get("TEST_DATABASE_REPLICA_URL", "postgres://postgres@127.0.0.1:5433/erp")
REPLAY_WAIT = 60  # seconds at most for the standby to replay a commit (a bound, not a timed assertion)


def _standby_params() -> dict:
    url = urlparse(REPLICA_URL)
    return {"host": url.hostname or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres"}


def _wait_for_replay(raw) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        lsn = cursor.fetchone()[0]
    deadline = time.monotonic() + REPLAY_WAIT
    while not raw.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]).fetchone()[0]:
        if time.monotonic() > deadline:
            pytest.fail(f"the standby did not replay {lsn} within {REPLAY_WAIT}s")
        time.sleep(0.02)


@pytest.fixture
def replica(transactional_db):
    """The ``replica`` alias on the standby's copy of this test database, for the test's duration."""
    params = _standby_params()
    try:
        probe = psycopg.connect(dbname="postgres", connect_timeout=3, autocommit=True, **params)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no streaming replica at {REPLICA_URL} (bash .ci/db-services starts one): {exc}".strip())
    try:
        if not probe.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
            pytest.skip(f"{REPLICA_URL} is not a standby")
        _wait_for_replay(probe)  # the test database and its schema have arrived
    finally:
        probe.close()
    allowed = _allow_in_this_test(REPLICA_ALIAS)
    default = connections[DEFAULT_DB_ALIAS].settings_dict
    connections.settings[REPLICA_ALIAS] = {
        **default, "HOST": params["host"], "PORT": str(params["port"]), "USER": params["user"],
        "REPLICA": True, "POOL_MODE": "session", "PREPARE_HOT_QUERIES": False, "ATOMIC_REQUESTS": False,
        "TEST": {**default["TEST"], "MIRROR": DEFAULT_DB_ALIAS},
    }
    try:
        yield connections[REPLICA_ALIAS]
    finally:
        connections[REPLICA_ALIAS].close()
        del connections[REPLICA_ALIAS]
        del connections.settings[REPLICA_ALIAS]
        if allowed is not None:
            allowed.databases = allowed.databases - {REPLICA_ALIAS}


def _allow_in_this_test(alias: str):
    """Let this test's Django test case open the alias added at run time (Django refuses aliases a
    test did not declare, and an alias can only be declared when it exists before the session)."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    for cell in getattr(BaseDatabaseWrapper.ensure_connection, "__closure__", None) or ():
        case = cell.cell_contents
        if isinstance(case, type) and hasattr(case, "databases"):
            case.databases = frozenset({*case.databases, alias})
            return case
    return None


def test_without_a_replica_everything_reads_the_primary(db):
    assert REPLICA_ALIAS not in connections.settings
    with read_replica():
        assert read_alias() == DEFAULT_DB_ALIAS and reader() is connections[DEFAULT_DB_ALIAS]
    assert Widget.objects.db_manager().db == DEFAULT_DB_ALIAS


def test_declared_replica_views_exist():
    """Every name in READ_REPLICA_VIEWS is a view of the project (a renamed report must be re-declared)."""
    from django.urls import get_resolver

    names = set()

    def walk(resolver, namespace=""):
        for pattern in resolver.url_patterns:
            if hasattr(pattern, "url_patterns"):
                ns = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else (
                    pattern.namespace or namespace)
                walk(pattern, ns)
            elif pattern.name:
                names.update({pattern.name, f"{namespace}:{pattern.name}" if namespace else pattern.name})

    walk(get_resolver())
    assert set(settings.READ_REPLICA_VIEWS) - names == set()


def test_reads_under_read_replica_come_from_the_standby_and_writes_stay_on_the_primary(replica, tenant_a):
    with tenant_a.context():
        Widget.objects.create(code="on-primary", quantity=3)
    _wait_for_replay(_ensure(replica))
    with tenant_a.context(), CaptureQueriesContext(replica) as on_replica:
        with read_replica():
            assert read_alias() == REPLICA_ALIAS
            rows = list(Widget.objects.values_list("code", "quantity"))
            with reader().cursor() as cursor:
                cursor.execute("SELECT pg_is_in_recovery(), current_user")
                in_recovery, user = cursor.fetchone()
            Widget.objects.create(code="written-under-replica-reads")  # a write still goes to the primary
        assert read_alias() == DEFAULT_DB_ALIAS
    assert rows == [("on-primary", 3)]
    assert in_recovery is True and user == "erp_app"  # the standby, as the ordinary role
    assert any('"tenantapp_widget"' in q["sql"] for q in on_replica.captured_queries)
    assert not any("INSERT" in q["sql"] for q in on_replica.captured_queries)
    with tenant_a.context():
        assert Widget.objects.filter(code="written-under-replica-reads").exists()


def _ensure(conn):
    conn.ensure_connection()
    return conn.connection


def test_row_level_security_holds_on_the_replica(replica, tenant_a, tenant_b):
    with tenant_a.context():
        Widget.objects.create(code="secret-a")
    with tenant_b.context():
        Widget.objects.create(code="b")
    _wait_for_replay(_ensure(replica))
    with replica.cursor() as cursor:
        with tenant_context(tenant_b.tenant):
            cursor.execute("SELECT code FROM tenantapp_widget")
            assert [r[0] for r in cursor.fetchall()] == ["b"]
            cursor.execute("SELECT count(*) FROM tenantapp_widget WHERE code = 'secret-a'")
            assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM tenantapp_widget")  # no tenant: nothing
        assert cursor.fetchone()[0] == 0
        with system_context("test: count on the replica"):
            cursor.execute("SELECT count(*) FROM tenantapp_widget")
            assert cursor.fetchone()[0] == 2
    with tenant_context(tenant_b.tenant), read_replica():
        assert list(Widget.objects.values_list("code", flat=True)) == ["b"]
        assert Widget.all_tenants.count() == 1  # the standby's policy hides tenant A even unscoped


def test_report_endpoints_read_the_replica(replica, tenant_a):
    """The declared report views (READ_REPLICA_VIEWS) run their queries on the standby; sign-in and
    the token lookup stay on the primary."""
    client = tenant_a.api()
    client.get("/api/v1/finance/reports/reconciliation/")  # the token exists on the primary only so far
    _wait_for_replay(_ensure(replica))
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connection) as on_primary:
        response = client.get("/api/v1/finance/reports/reconciliation/")
    assert response.status_code == 200, response.content
    replica_sql = " ".join(q["sql"] or "" for q in on_replica.captured_queries)
    assert "finance_" in replica_sql
    assert not any("finance_" in (q["sql"] or "") for q in on_primary.captured_queries)
    assert "tenancy_" not in replica_sql and "auth_user" not in replica_sql
