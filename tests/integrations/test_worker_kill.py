"""A real Celery worker (Redis broker, the test database) is killed with SIGKILL in the middle of a
pull; a new worker gets the task back (acks_late + the broker's visibility timeout) and the ERP ends
with exactly the platform's orders: nothing lost, nothing stored twice.

Needs Redis at TEST_REDIS_URL (default redis://127.0.0.1:6379/15); skipped without it. The worker
runs with a 4 s visibility timeout so the test measures the restore quickly; the production value
is CELERY_VISIBILITY_TIMEOUT (erp/settings.py)."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
from django.conf import settings
from django.db import connection

from erp import events
from integrations.adapters import adapter_class
from integrations.mock_platforms.client import control
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Job, PlatformOrder, SyncCursor, SyncRun
from integrations.services import shop_create
from tests.factories import TenantFactory

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parents[2]
VISIBILITY = 4


def _redis():
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        client.ping()
        return client
    except Exception:  # noqa: BLE001
        return None


pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs Postgres"),
]


def _worker(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "erp", "worker", "-l", "warning", "--concurrency", "1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"killtest{time.time_ns()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_worker_killed_mid_pull_loses_and_duplicates_nothing(monkeypatch):
    broker = _redis()
    if broker is None:
        pytest.skip(f"no Redis at {REDIS_URL}")
    broker.flushdb()
    for name in ("platform_orders.changed",):
        monkeypatch.setitem(events._handlers, name, [])  # the worker process has its own; see env below
    tenant = TenantFactory(slug="killtest")
    db = settings.DATABASES["default"]
    url = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/erp"))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "erp.settings", "REDIS_URL": REDIS_URL,
           "DATABASE_URL": urlunparse(url._replace(path=f"/{db['NAME']}")), "DATABASE_APP_ROLE": db.get("APP_ROLE", ""),
           "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY), "CELERY_UNACKED_RESTORE_INTERVAL": "1",
           "LOG_LEVEL": "WARNING", "CONN_MAX_AGE": "0"}
    with running_mock_platforms(seed=21) as mock_url:
        start = datetime.now(UTC) - timedelta(hours=3)
        control(mock_url, "reset", {"seed": 21, "start_time": start.isoformat().replace("+00:00", "Z")})
        control(mock_url, "config", {"orders_per_hour": 400, "fault_rate": 0, "promotions": False})
        control(mock_url, "advance", {"seconds": (datetime.now(UTC) - start).total_seconds() - 5}, timeout=120)
        # every list call is slow, so the pull is still going when the worker dies
        control(mock_url, "config", {"slow_seconds": 0.25, "shop_faults": {"tb-main": {"fault_rates": {"slow": 1.0}}}})
        from erp.tenancy.context import tenant_context

        with tenant_context(tenant):
            shop, _ = shop_create(code="tb-main", name="tb", platform="taobao",
                                  api_base_url=mock_url + "/taobao/router/rest", initial_lookback_hours=4,
                                  sync_lag_seconds=0, credentials={"app_key": "tb-app-key", "app_secret": "tb-app-secret",
                                                                   "access_token": "tb-session-main"})
        from celery import Celery

        sender = Celery(broker=REDIS_URL)
        worker = _worker(env)
        try:
            sender.send_task("integrations.pull_orders",
                             kwargs={"tenant_id": tenant.pk, "shop_id": shop.pk, "trigger": "killtest"})
            with tenant_context(tenant):
                _wait(lambda: PlatformOrder.objects.filter(shop=shop).count() >= 300, 120, "the pull to be under way")
                os.killpg(worker.pid, signal.SIGKILL)  # the main process and its pool child, no goodbye
                worker.wait(10)
                killed_at = time.monotonic()
                cursor = SyncCursor.objects.get(shop=shop, job=Job.PULL_ORDERS)
                assert cursor.window_end is not None  # really mid-pull
                stored_at_kill = PlatformOrder.objects.filter(shop=shop).count()
                runs_before = SyncRun.objects.filter(shop=shop).count()
                assert SyncRun.objects.filter(shop=shop, status=SyncRun.Status.RUNNING).count() == 1
            control(mock_url, "config", {"shop_faults": {}})  # the rest goes fast

            worker = _worker(env)
            with tenant_context(tenant):
                _wait(lambda: SyncRun.objects.filter(shop=shop).count() > runs_before, VISIBILITY + 60,
                      "the task to come back")
                restored_after = time.monotonic() - killed_at
                _wait(lambda: SyncRun.objects.filter(shop=shop, status=SyncRun.Status.SUCCESS).exists(), 120,
                      "the resumed pull to finish")
                rows = control(mock_url, "orders", platform="taobao", shop="tb-main", timeout=60)["orders"]
                adapter = adapter_class("taobao")(shop)
                expected = {o.platform_order_id: o.modified_at for o in (adapter.map_order(r["order"]) for r in rows)}
                stored = dict(PlatformOrder.objects.filter(shop=shop).values_list("platform_order_id",
                                                                                  "platform_modified_at"))
                assert stored == expected
                assert stored_at_kill < len(expected)
                # nothing was stored twice: every row still has its first version
                assert not PlatformOrder.objects.filter(shop=shop, version__gt=1).exists()
            print(f"\nkilled worker's task came back after {restored_after:.1f}s "
                  f"(visibility_timeout {VISIBILITY}s, restore sweep every 1s)")
        finally:
            for proc in (worker,):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
            broker.flushdb()
