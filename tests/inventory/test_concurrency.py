"""Many reservers at once on Postgres: never oversell, never deadlock, never leak a 500."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from erp.tenancy.context import tenant_context
from inventory import services
from inventory.models import Reservation, StockLevel

from .conftest import Stock
from .factories import SKUFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency proofs need Postgres"),
]

THREADS = 12


def run_in_threads(tenant, fn, n):
    barrier = threading.Barrier(n)

    def worker(i):
        try:
            with tenant_context(tenant):  # ContextVars do not cross threads
                barrier.wait(timeout=30)
                return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(worker, range(n)))


def attempt(fn):
    try:
        fn()
        return "ok"
    except services.InsufficientStock:
        return "short"


def test_last_units_are_reserved_exactly_once(tenant_a):
    with tenant_a.context():
        world = Stock(tenant_a)
        services.stock_receive(warehouse=world.wh1, sku=world.sku, quantity=5)

    results = run_in_threads(tenant_a.tenant, lambda i: attempt(lambda: services.stock_reserve(
        warehouse=world.wh1, sku=world.sku, quantity=1, ref_type="order_line", ref_id=f"L{i}")), THREADS)

    assert results.count("ok") == 5 and results.count("short") == THREADS - 5
    with tenant_a.context():
        level = StockLevel.objects.get(warehouse=world.wh1, sku=world.sku)
        assert (level.on_hand, level.reserved) == (5, 5)
        assert Reservation.objects.count() == 5
        assert services.stock_verify() == []


def test_same_reference_at_once_reserves_once(tenant_a):
    with tenant_a.context():
        world = Stock(tenant_a)
        services.stock_receive(warehouse=world.wh1, sku=world.sku, quantity=100)

    results = run_in_threads(tenant_a.tenant, lambda i: attempt(lambda: services.stock_reserve(
        warehouse=world.wh1, sku=world.sku, quantity=3, ref_type="order_line", ref_id="same")), THREADS)

    assert results == ["ok"] * THREADS
    with tenant_a.context():
        assert StockLevel.objects.get(warehouse=world.wh1, sku=world.sku).reserved == 3
        assert services.stock_verify() == []


def test_bundles_plain_lines_and_releases_mixed_never_oversell_or_deadlock(tenant_a):
    """Bundles lock several levels; plain lines take the one-statement path; multi-line orders lock
    levels in reverse order of listing. All at once: no deadlock, no oversell, no drift."""
    with tenant_a.context():
        world = Stock(tenant_a)
        services.stock_receive(warehouse=world.wh1, sku=world.sku, quantity=7)
        services.stock_receive(warehouse=world.wh1, sku=world.sku3, quantity=7)
        bundle = SKUFactory(tenant=tenant_a.tenant, code="SET")
        services.sku_set_components(bundle=bundle, components=[(world.sku, 1), (world.sku3, 1)])
        bundle.refresh_from_db()

    def work(i):
        if i % 3 == 0:
            return attempt(lambda: services.stock_reserve(warehouse=world.wh1, sku=bundle, quantity=1,
                                                          ref_type="order_line", ref_id=f"B{i}"))
        if i % 3 == 1:
            return attempt(lambda: services.stock_reserve_many(lines=[
                dict(warehouse=world.wh1, sku=world.sku3, quantity=1, ref_type="order_line", ref_id=f"M{i}a"),
                dict(warehouse=world.wh1, sku=world.sku, quantity=1, ref_type="order_line", ref_id=f"M{i}b"),
            ]))
        return attempt(lambda: services.stock_reserve(warehouse=world.wh1, sku=world.sku, quantity=1,
                                                      ref_type="order_line", ref_id=f"P{i}"))

    results = run_in_threads(tenant_a.tenant, work, THREADS)
    assert set(results) <= {"ok", "short"}
    with tenant_a.context():
        levels = {lv.sku_id: lv for lv in StockLevel.objects.filter(warehouse=world.wh1)}
        assert levels[world.sku.pk].reserved <= 7 and levels[world.sku3.pk].reserved <= 7
        assert services.stock_verify() == []
        # every success holds its units, every refusal holds none
        held = sum(r.quantity for r in Reservation.objects.filter(status="open"))
        assert held == levels[world.sku.pk].reserved + levels[world.sku3.pk].reserved


def test_api_adjustments_at_once_answer_201_or_400_never_500(tenant_a):
    with tenant_a.context():
        world = Stock(tenant_a)
        services.stock_receive(warehouse=world.wh1, sku=world.sku, quantity=4)
    client_token = tenant_a.token()

    def call(i):
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {client_token}")
        response = client.post("/api/v1/inventory/adjustments/", {
            "warehouse": world.wh1.pk, "sku": world.sku.pk, "quantity": -1, "reason": "count"}, format="json")
        return response.status_code

    codes = run_in_threads(None, call, 8)
    assert sorted(codes) == [201] * 4 + [400] * 4
    with tenant_a.context():
        assert StockLevel.objects.get(warehouse=world.wh1, sku=world.sku).on_hand == 0
        assert services.stock_verify() == []
