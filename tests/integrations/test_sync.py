"""The pull engine against an in-memory platform: windows, backwards paging, cursor, lock."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations import sync
from integrations.models import Job, PlatformOrder, SyncCursor, SyncRun
from integrations.normalized import OrderState

from .fakes import make_order

pytestmark = pytest.mark.django_db


def _stored(shop):
    return {o.platform_order_id: (o.state, o.platform_modified_at) for o in PlatformOrder.objects.filter(shop=shop)}


def _expected(fake):
    return {pid: (o.state, o.modified_at) for pid, o in fake.orders.items()}


def _seed(fake, n, now):
    for i in range(n):
        fake.put(make_order(f"O{i:04d}", now - timedelta(hours=30) + timedelta(minutes=i * 2)))


def test_full_pull_across_windows_with_duplicates_reordering_and_failures(shop, fake_platform):
    now = timezone.now()
    _seed(fake_platform, 250, now)
    fake_platform.duplicate = fake_platform.shuffle = True

    # While we page, some orders change (leave the window for a later one) and new ones arrive.
    changed = {"n": 0}

    def mutate(fake, start, end, page):
        changed["n"] += 1
        if changed["n"] % 7 == 0:
            victim = fake.rng.choice(sorted(fake.orders))
            fake.put(make_order(victim, timezone.now() - timedelta(seconds=30), state=OrderState.SHIPPED))

    fake_platform.on_call = mutate
    fake_platform.fail_every = 9  # an error that survived the client's retries: the run fails, the next resumes

    for _ in range(60):
        run = sync.run_job(shop=shop, job=Job.PULL_ORDERS, trigger="test")
        if run.status == SyncRun.Status.SUCCESS:
            break
    fake_platform.on_call = None
    fake_platform.fail_every = 0
    # changes made during the last run are caught by the next (overlap)
    run = sync.run_job(shop=shop, job=Job.PULL_ORDERS, trigger="test")
    assert run.status == SyncRun.Status.SUCCESS
    assert _stored(shop) == _expected(fake_platform)
    assert SyncRun.objects.filter(status=SyncRun.Status.FAILED).exists()

    # a replay of everything changes nothing
    SyncCursor.objects.filter(shop=shop).update(watermark=None)
    run = sync.run_job(shop=shop, job=Job.PULL_ORDERS, trigger="test")
    assert run.status == SyncRun.Status.SUCCESS
    assert (run.created, run.updated) == (0, 0) and run.fetched > 250


def test_pages_are_read_from_the_last_backwards_and_cursor_moves_per_page(shop, fake_platform):
    now = timezone.now()
    for i in range(35):
        fake_platform.put(make_order(f"O{i:03d}", now - timedelta(minutes=60) + timedelta(seconds=i)))
    shop.initial_lookback_hours = 2
    seen = []
    fake_platform.on_call = lambda fake, start, end, page: seen.append(page)
    run = sync.run_job(shop=shop, job=Job.PULL_ORDERS)
    assert run.status == SyncRun.Status.SUCCESS
    # one window covers the hour: probe page 1, then 4, 3, 2, 1
    assert seen[:5] == [1, 4, 3, 2, 1]
    cursor = SyncCursor.objects.get(shop=shop, job=Job.PULL_ORDERS)
    assert cursor.next_page is None and cursor.window_end is None
    assert cursor.watermark >= now - timedelta(seconds=shop.sync_lag_seconds + 5)
    assert run.created == 35


def test_a_crash_mid_window_resumes_at_the_next_uncommitted_page(shop, fake_platform):
    now = timezone.now()
    for i in range(35):
        fake_platform.put(make_order(f"O{i:03d}", now - timedelta(minutes=60) + timedelta(seconds=i)))
    shop.initial_lookback_hours = 2
    seen = []

    def crash_on_page_2(fake, start, end, page):
        seen.append(page)
        if page == 2 and len(seen) < 5:
            raise KeyboardInterrupt  # not an adapter error: like a killed worker, nothing handles it

    fake_platform.on_call = crash_on_page_2
    with pytest.raises(KeyboardInterrupt):
        sync.run_job(shop=shop, job=Job.PULL_ORDERS)
    cursor = SyncCursor.objects.get(shop=shop, job=Job.PULL_ORDERS)
    assert cursor.next_page == 2 and cursor.window_end is not None
    run = sync.run_job(shop=shop, job=Job.PULL_ORDERS)
    assert seen[:6] == [1, 4, 3, 2, 2, 1]
    assert run.status == SyncRun.Status.SUCCESS
    assert len(_stored(shop)) == 35


def test_the_lock_keeps_two_pulls_of_one_shop_apart(shop, fake_platform):
    with sync.shop_job_lock(shop.pk, Job.PULL_ORDERS) as got:
        assert got
        # another connection tries the same lock
        from django.db import connections

        other = connections.create_connection("default")
        try:
            other.ensure_connection()
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [sync._lock_key(shop.pk, Job.PULL_ORDERS)])
                assert cursor.fetchone()[0] is False
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [sync._lock_key(shop.pk, Job.PULL_REFUNDS)])
                assert cursor.fetchone()[0] is True
        finally:
            other.close()


def test_windows_never_exceed_the_platform_maximum(shop, fake_platform):
    windows = []
    fake_platform.on_call = lambda fake, start, end, page: windows.append((start, end))
    run = sync.run_job(shop=shop, job=Job.PULL_ORDERS)
    assert run.status == SyncRun.Status.SUCCESS
    assert len(windows) >= 72 / 6
    assert all(end - start <= timedelta(hours=6) for start, end in windows)
    assert all(b[0] == a[1] for a, b in zip(windows, windows[1:], strict=False))  # contiguous


def test_budget_makes_a_partial_run(shop, fake_platform):
    _seed(fake_platform, 40, timezone.now())
    run = sync.run_job(shop=shop, job=Job.PULL_ORDERS, budget_seconds=0.000001)
    assert run.status == SyncRun.Status.PARTIAL and run.pages == 1


def test_a_record_that_moves_inside_the_window_while_paging_triggers_a_re_read(shop, fake_platform):
    now = timezone.now()
    for i in range(35):
        fake_platform.put(make_order(f"O{i:03d}", now - timedelta(minutes=60) + timedelta(seconds=i)))
    shop.initial_lookback_hours = 2
    shop.sync_lag_seconds = 0
    moved = {}

    def move_once(fake, start, end, page):
        if page == 2 and not moved:
            # modified again but still inside this window: it jumps to page 1 and everything newer
            # shifts one place towards the last page, so O015 slides from page 2 into page 3 (read)
            moved["at"] = end - timedelta(seconds=1)
            fake.put(make_order("O000", moved["at"], state=OrderState.SHIPPED))

    fake_platform.on_call = move_once
    run = sync.run_job(shop=shop, job=Job.PULL_ORDERS)
    assert run.status == SyncRun.Status.SUCCESS
    assert _stored(shop) == _expected(fake_platform)
    assert _stored(shop)["O000"] == (OrderState.SHIPPED, moved["at"])


def test_beat_tick_fans_out_one_task_per_due_shop_with_its_tenant(shop, tenant_b, monkeypatch):
    from erp.tenancy.context import tenant_context
    from integrations import tasks
    from integrations.services import shop_create

    with tenant_context(tenant_b.tenant):
        other, _ = shop_create(code="jd1", name="JD", platform="jd")
        shop_create(code="off", name="off", platform="pdd", pull_orders_enabled=False)
        shop_create(code="web", name="web", platform="own")
    sent = []
    monkeypatch.setattr(tasks.pull_orders, "apply_async", lambda kwargs, **opts: sent.append((kwargs, opts)))
    with tenant_context(None):
        assert tasks.pull_orders_tick.apply().get() == 2
    assert sorted((k["tenant_id"], k["shop_id"]) for k, _ in sent) == sorted(
        [(shop.tenant_id, shop.pk), (tenant_b.tenant.pk, other.pk)])
    assert all(opts["expires"] == 60 for _, opts in sent)
    # a shop whose interval has not passed is not due
    SyncCursor.objects.create(shop=shop, job=Job.PULL_ORDERS, last_started_at=timezone.now())
    sent.clear()
    with tenant_context(None):
        tasks.pull_orders_tick.apply()
    assert [k["shop_id"] for k, _ in sent] == [other.pk]


def test_shop_task_runs_under_its_tenant_and_continues_a_partial_pull(shop, fake_platform, monkeypatch):
    from erp.tenancy.context import tenant_context
    from integrations import tasks

    _seed(fake_platform, 40, timezone.now())
    monkeypatch.setattr(tasks, "PULL_BUDGET_SECONDS", 0.000001)
    calls = []
    real = tasks.pull_orders.apply_async
    monkeypatch.setattr(tasks.pull_orders, "apply_async", lambda kwargs, **o: calls.append(kwargs) or real(
        kwargs={**kwargs, "trigger": "done"}) if len(calls) < 50 else None)
    with tenant_context(None):
        tasks.pull_orders.apply(kwargs={"tenant_id": shop.tenant_id, "shop_id": shop.pk})
    assert calls and calls[0]["trigger"] == "continue"
    assert PlatformOrder.objects.filter(shop=shop).count() == 40
