"""stock_reserve_batch: the set-based reservation for order ingestion, and skus_for_platform_lines."""

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erp.tenancy.context import tenant_context
from inventory import selectors, services
from inventory.models import PlatformSkuMapping, Reservation, StockLevel, StockLock, StockLockEvent
from inventory.services import ReserveLine, ReserveRequest

from .conftest import Stock, make_shop
from .factories import SKUFactory


def line(wh, sku, qty, ref, shop=None):
    return ReserveLine(warehouse=wh, sku=sku, quantity=qty, ref_type="order_line", ref_id=ref, shop=shop)


def level(wh, sku):
    lv = StockLevel.objects.filter(warehouse=wh, sku=sku).first()
    return (lv.on_hand, lv.reserved, lv.locked) if lv else (0, 0, 0)


def lock_for(shop, sku, wh, quantity):
    now = timezone.now()
    return services.stock_lock_create(shop=shop, sku=sku, warehouse=wh, quantity=quantity, starts_at=now,
                                      ends_at=now + datetime.timedelta(hours=2), name="promo")


@pytest.mark.django_db
def test_earlier_requests_win_and_each_is_all_or_nothing(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=3)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku2, quantity=10)
    out = services.stock_reserve_batch(requests=[
        ReserveRequest(key="A", lines=(line(stock.wh1, stock.sku, 2, "A1"),)),
        ReserveRequest(key="B", lines=(line(stock.wh1, stock.sku2, 4, "B1"), line(stock.wh1, stock.sku, 2, "B2"))),
        ReserveRequest(key="C", lines=(line(stock.wh1, stock.sku, 1, "C1"),)),
    ])
    assert [(o.key, o.reserved) for o in out] == [("A", True), ("B", False), ("C", True)]
    short = out[1].shortage
    assert (short.sku_id, short.warehouse_id, short.requested, short.available) == (stock.sku.pk, stock.wh1.pk, 2, 1)
    assert level(stock.wh1, stock.sku) == (3, 3, 0)
    assert level(stock.wh1, stock.sku2) == (10, 0, 0)  # B's first line was rolled back with its request
    assert not Reservation.objects.filter(ref_id__startswith="B").exists()
    assert services.stock_verify() == []


@pytest.mark.django_db
def test_bundles_reserve_components_and_report_whole_bundles(stock):
    bundle = SKUFactory(tenant=stock.tenant, code="GIFTSET")
    services.sku_set_components(bundle=bundle, components=[(stock.sku, 2), (stock.sku2, 1)])
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=5)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku2, quantity=5)
    out = services.stock_reserve_batch(requests=[
        ReserveRequest(key=1, lines=(line(stock.wh1, bundle.pk, 2, "X1"),)),
        ReserveRequest(key=2, lines=(line(stock.wh1, bundle.pk, 1, "X2"),)),
    ])
    assert [o.reserved for o in out] == [True, False]
    assert (out[1].shortage.sku_id, out[1].shortage.available) == (bundle.pk, 0)
    assert level(stock.wh1, stock.sku) == (5, 4, 0) and level(stock.wh1, stock.sku2) == (5, 2, 0)
    rows = {r.sku_id: r for r in Reservation.objects.filter(ref_id="X1")}
    assert {s: (r.quantity, r.requested, r.bundle_id) for s, r in rows.items()} == {
        stock.sku.pk: (4, 2, bundle.pk), stock.sku2.pk: (2, 2, bundle.pk)}
    assert services.stock_verify() == []


@pytest.mark.django_db
def test_promotion_locks_own_shop_first_others_cannot_touch(stock):
    other = make_shop(stock.tenant, "jd1", platform="jd")
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    lock = lock_for(stock.shop, stock.sku, stock.wh1, 4)
    out = services.stock_reserve_batch(requests=[
        ReserveRequest(key="other", lines=(line(stock.wh1, stock.sku, 7, "O1", shop=other),)),
        ReserveRequest(key="none", lines=(line(stock.wh1, stock.sku, 7, "N1"),)),
        ReserveRequest(key="own", lines=(line(stock.wh1, stock.sku, 8, "S1", shop=stock.shop),)),
        ReserveRequest(key="own2", lines=(line(stock.wh1, stock.sku, 2, "S2", shop=stock.shop.pk),)),
    ])
    assert [o.reserved for o in out] == [False, False, True, True]
    assert out[0].shortage.available == 6
    lock.refresh_from_db()
    assert (lock.remaining, lock.used) == (0, 4)
    assert level(stock.wh1, stock.sku) == (10, 10, 0)
    s1 = Reservation.objects.get(ref_id="S1")
    assert (s1.quantity, s1.from_lock, s1.lock_id) == (8, 4, lock.pk)
    assert Reservation.objects.get(ref_id="S2").from_lock == 0
    assert list(StockLockEvent.objects.filter(lock=lock, kind="use").values_list("quantity", "ref_id")) == [(4, "S1")]
    # releasing gives the units back to the active lock, as for one-by-one reservations
    assert services.stock_release(ref_type="order_line", ref_id="S1") == 8
    lock.refresh_from_db()
    assert lock.remaining == 4
    assert services.stock_verify() == []


@pytest.mark.django_db
def test_idempotent_per_reference(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    req = ReserveRequest(key="A", lines=(line(stock.wh1, stock.sku, 3, "A1"),))
    first = services.stock_reserve_batch(requests=[req, req])
    assert [(o.reserved, o.already) for o in first] == [(True, False), (True, True)]
    again = services.stock_reserve_batch(requests=[req])
    assert (again[0].reserved, again[0].already) == (True, True)
    assert level(stock.wh1, stock.sku) == (10, 3, 0)
    different = services.stock_reserve_batch(requests=[ReserveRequest(key="A", lines=(line(stock.wh1, stock.sku, 4, "A1"),))])
    assert not different[0].reserved and isinstance(different[0].error, ValidationError)
    # released, then reserved again: the row is reopened, not duplicated
    services.stock_release(ref_type="order_line", ref_id="A1")
    assert services.stock_reserve_batch(requests=[ReserveRequest(key="A", lines=(line(stock.wh1, stock.sku, 5, "A1"),))])[0].reserved
    assert Reservation.objects.filter(ref_id="A1").count() == 1
    assert level(stock.wh1, stock.sku) == (10, 5, 0)
    assert services.stock_verify() == []


@pytest.mark.django_db
def test_bad_input_refuses_only_its_request(stock, tenant_b):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    with tenant_b.context():
        foreign = SKUFactory(tenant=tenant_b.tenant, code="FOREIGN")
    out = services.stock_reserve_batch(requests=[
        {"key": "bad-qty", "lines": [dict(warehouse=stock.wh1, sku=stock.sku, quantity=0, ref_type="order_line", ref_id="Q")]},
        {"key": "foreign", "lines": [dict(warehouse=stock.wh1, sku=foreign.pk, quantity=1, ref_type="order_line", ref_id="F")]},
        {"key": "good", "lines": [dict(warehouse=stock.wh1.pk, sku=stock.sku.pk, quantity=1, ref_type="order_line", ref_id="G")]},
    ])
    assert [(o.key, o.reserved, o.error is not None) for o in out] == [("bad-qty", False, True), ("foreign", False, True),
                                                                        ("good", True, False)]
    with pytest.raises(ValidationError):
        services.stock_reserve_many(lines=[dict(warehouse=stock.wh1, sku=foreign.pk, quantity=1, ref_type="o", ref_id="F")])
    with pytest.raises(services.InsufficientStock) as exc:
        services.stock_reserve_many(lines=[line(stock.wh1, stock.sku, 99, "Z")])
    assert (exc.value.requested, exc.value.available) == (99, 9)


@pytest.mark.django_db
def test_constant_number_of_queries(stock):
    skus = [stock.sku, stock.sku2, stock.sku3] + [SKUFactory(tenant=stock.tenant) for _ in range(5)]
    for sku in skus:
        services.stock_receive(warehouse=stock.wh1, sku=sku, quantity=1000)
        services.stock_receive(warehouse=stock.wh2, sku=sku, quantity=1000)

    def batch(n, tag):
        return [ReserveRequest(key=i, lines=tuple(line((stock.wh1, stock.wh2)[i % 2], skus[(i + k) % len(skus)].pk, 1,
                                                        f"{tag}-{i}-{k}", shop=stock.shop) for k in range(3)))
                for i in range(n)]

    counts = []
    for n, tag in ((2, "s"), (60, "l")):
        requests = batch(n, tag)
        with CaptureQueriesContext(connection) as ctx:
            assert all(o.reserved for o in services.stock_reserve_batch(requests=requests))
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 12, counts
    assert services.stock_verify() == []


# --- equivalence with the one-by-one path ----------------------------------------------------------

LINE = st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(1, 5), st.integers(0, 3), st.integers(0, 2))
REQUESTS = st.lists(st.lists(LINE, min_size=1, max_size=3), min_size=1, max_size=8)


def snapshot():
    levels = sorted(StockLevel.objects.values_list("warehouse_id", "sku_id", "on_hand", "reserved", "locked"))
    reservations = sorted(Reservation.objects.values_list("ref_type", "ref_id", "warehouse_id", "sku_id", "bundle_id",
                                                          "quantity", "requested", "status", "from_lock", "lock_id"))
    locks = sorted(StockLock.objects.values_list("id", "remaining", "used"))
    events = sorted(StockLockEvent.objects.filter(kind="use").values_list("lock_id", "quantity", "ref_id"))
    return levels, reservations, locks, events


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stock_on=st.lists(st.integers(0, 8), min_size=4, max_size=4), locks=st.lists(st.integers(0, 3), min_size=2, max_size=2),
       pre=st.lists(LINE, max_size=3), released=st.booleans(), batch=REQUESTS)
@pytest.mark.django_db
def test_batch_equals_one_by_one(stock, stock_on, locks, pre, released, batch):
    """Random batches give exactly the levels, reservations, lock figures and per-request answers of
    the same requests reserved one after the other (each in its own all-or-nothing transaction)."""
    with transaction.atomic():
        other = make_shop(stock.tenant, "pdd-eq", platform="pdd")
        shops = [None, stock.shop, other]
        bundle = SKUFactory(code="EQ-BUNDLE")
        services.sku_set_components(bundle=bundle, components=[(stock.sku, 2), (stock.sku2, 1)])
        bundle.refresh_from_db()
        whs, skus = [stock.wh1, stock.wh2], [stock.sku, stock.sku2, bundle]
        for n, qty in enumerate(stock_on):
            if qty:
                services.stock_receive(warehouse=whs[n // 2], sku=skus[n % 2], quantity=qty)
        for shop, qty in zip((stock.shop, other), locks, strict=True):
            lv = StockLevel.objects.filter(warehouse=stock.wh1, sku=stock.sku).first()
            if qty and lv is not None and lv.available >= qty:
                lock_for(shop, stock.sku, stock.wh1, qty)

        def to_line(spec):
            w, s, q, r, sh = spec
            # a reference belongs to one ordered SKU; quantities may differ (then it is refused)
            return line(whs[w], skus[s], q, f"s{s}-r{r}", shop=shops[sh])

        for spec in pre:  # references that already hold (or held) a reservation
            try:
                services.stock_reserve(**to_line(spec).__dict__)
            except ValidationError:
                pass
        if released and pre:
            services.stock_release(ref_type="order_line", ref_id=to_line(pre[0]).ref_id)

        requests = [ReserveRequest(key=i, lines=tuple(to_line(spec) for spec in specs)) for i, specs in enumerate(batch)]
        sid = transaction.savepoint()
        outcomes = services.stock_reserve_batch(requests=requests)
        got = snapshot()
        transaction.savepoint_rollback(sid)

        expected = []
        for request in requests:
            try:
                with transaction.atomic():
                    for ln in request.lines:
                        services.stock_reserve(**ln.__dict__)
                expected.append(("ok", None))
            except services.InsufficientStock as exc:
                expected.append(("short", (exc.sku_id, exc.warehouse_id, exc.requested, exc.available)))
            except ValidationError:
                expected.append(("error", None))
        want = snapshot()
        answers = [("ok", None) if o.reserved else ("short", (o.shortage.sku_id, o.shortage.warehouse_id, o.shortage.requested,
                                                              o.shortage.available)) if o.shortage else ("error", None)
                   for o in outcomes]
        assert answers == expected
        assert got == want
        for lv in StockLevel.objects.all():
            assert lv.reserved + lv.locked <= lv.on_hand
        assert services.stock_verify() == []
        transaction.set_rollback(True)


# --- concurrency -----------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency proofs need Postgres")
def test_overlapping_batches_at_once_never_oversell_or_deadlock(tenant_a):
    with tenant_a.context():
        world = Stock(tenant_a)
        skus = [world.sku, world.sku2, world.sku3]
        for sku in skus:
            services.stock_receive(warehouse=world.wh1, sku=sku, quantity=40)
    threads = 6
    barrier = threading.Barrier(threads)

    def worker(t):
        try:
            with tenant_context(tenant_a.tenant):
                order = skus if t % 2 else list(reversed(skus))  # lines listed in opposite orders
                requests = [ReserveRequest(key=(t, i), lines=tuple(line(world.wh1, s, 1 + (i + t) % 3, f"T{t}-{i}-{s.pk}")
                                                                   for s in order)) for i in range(12)]
                barrier.wait(timeout=30)
                results = []
                for _round in range(2):
                    results += services.stock_reserve_batch(requests=requests[_round * 6:(_round + 1) * 6])
                return results
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = [o for batch in pool.map(worker, range(threads)) for o in batch]
    assert any(o.reserved for o in results) and any(not o.reserved for o in results)
    with tenant_a.context():
        for sku in skus:
            lv = StockLevel.objects.get(warehouse=world.wh1, sku=sku)
            assert lv.reserved <= lv.on_hand == 40
        ok_refs = {ln for o in results if o.reserved for ln in [o.key]}
        held = Reservation.objects.filter(status="open").count()
        assert held == 3 * len(ok_refs)  # every reserved request holds all its lines, every refused one none
        assert services.stock_verify() == []


# --- skus_for_platform_lines -------------------------------------------------------------------------

@pytest.mark.django_db
def test_skus_for_platform_lines_maps_matches_and_queues(stock):
    mapped = services.sku_mapping_create(shop=stock.shop, platform_item_id="I1", platform_sku_id="S1", sku=stock.sku3)
    waiting = services.sku_mapping_create(shop=stock.shop, platform_item_id="I2", platform_sku_id="")
    lines = [("I1", "S1", "whatever", "t"), ("I2", "", stock.sku2.code, "t"), ("I3", "x", stock.sku.code, "new"),
             ("I4", "y", "NO-SUCH", "unknown"), ("I3", "x", stock.sku.code, "new")]
    with CaptureQueriesContext(connection) as ctx:
        found = selectors.skus_for_platform_lines(shop=stock.shop, lines=lines)
    assert len(ctx.captured_queries) <= 8
    assert found == {lines[0]: stock.sku3, lines[1]: stock.sku2, lines[2]: stock.sku, lines[3]: None}
    waiting.refresh_from_db()
    assert (waiting.sku_id, waiting.match_method, waiting.outer_id) == (stock.sku2.pk, "auto", stock.sku2.code)
    new = PlatformSkuMapping.objects.get(platform_item_id="I3")
    assert (new.sku_id, new.match_method, new.title) == (stock.sku.pk, "auto", "new")
    queued = PlatformSkuMapping.objects.get(platform_item_id="I4")
    assert queued.sku_id is None and queued in selectors.unmatched_mappings(shop=stock.shop)
    assert PlatformSkuMapping.objects.get(pk=mapped.pk).sku_id == stock.sku3.pk
    # dict lines (keyed by their (item, sku, outer) tuple) and a second sighting change nothing
    again = selectors.skus_for_platform_lines(shop=stock.shop, lines=[
        {"platform_item_id": "I4", "platform_sku_id": "y", "outer_id": "NO-SUCH"},
        {"platform_item_id": "I3", "platform_sku_id": "x", "outer_id": stock.sku.code}])
    assert again == {("I4", "y", "NO-SUCH"): None, ("I3", "x", stock.sku.code): stock.sku}
    assert PlatformSkuMapping.objects.filter(shop=stock.shop).count() == 4


@pytest.mark.django_db
def test_skus_for_platform_lines_equals_one_by_one(stock):
    codes = [stock.sku.code, stock.sku2.code, "NOPE", ""]
    lines = [(f"I{i % 5}", f"S{i % 3}", codes[i % 4], f"title {i}") for i in range(20)]
    sid = transaction.savepoint()
    batch = selectors.skus_for_platform_lines(shop=stock.shop, lines=lines)
    got = sorted(PlatformSkuMapping.objects.values_list("platform_item_id", "platform_sku_id", "outer_id", "sku_id",
                                                        "match_method", "title"))
    transaction.savepoint_rollback(sid)
    one = {ln: selectors.sku_for_platform_line(shop=stock.shop, platform_item_id=ln[0], platform_sku_id=ln[1],
                                               outer_id=ln[2], title=ln[3]) for ln in lines}
    want = sorted(PlatformSkuMapping.objects.values_list("platform_item_id", "platform_sku_id", "outer_id", "sku_id",
                                                         "match_method", "title"))
    assert batch == one
    assert got == want
