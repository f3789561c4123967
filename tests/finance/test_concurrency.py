"""Many posters at once on Postgres: voucher numbers stay unique and gapless per period, and the
same business event delivered concurrently posts exactly once."""

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, transaction

from erp.tenancy.context import tenant_context
from finance import chart, services
from finance.models import PostingIssue, Voucher
from finance.selectors import books_verify

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrency proofs need Postgres"),
]
THREADS = 8
DAY = datetime.date(2026, 11, 5)


def run_in_threads(tenant, fn, n=THREADS):
    barrier = threading.Barrier(n)

    def worker(i):
        try:
            with tenant_context(tenant):
                barrier.wait(timeout=30)
                with transaction.atomic():
                    return fn(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(worker, range(n)))


def test_numbers_are_unique_and_gapless(tenant_a):
    with tenant_a.context():
        chart.chart_ensure()

    def post(i):
        return services.voucher_create(date=DAY, memo=f"v{i}", post=True, lines=[
            services.LineSpec(account=chart.BANK, debit=Decimal("1.00")),
            services.LineSpec(account="3001", credit=Decimal("1.00"))]).number

    numbers = run_in_threads(tenant_a.tenant, post)
    assert sorted(numbers) == list(range(1, THREADS + 1))


def test_same_event_at_once_posts_once(tenant_a):
    with tenant_a.context():
        chart.chart_ensure()
        services.period_get(year=2026, month=11)
    payload = dict(receipt_id=77, purchase_order_id=1, supplier_id=2, warehouse_id=3,
                   received_at=datetime.datetime(2026, 11, 5, 3, 0, tzinfo=datetime.UTC), currency="CNY",
                   amount=Decimal("12.00"), lines=[{"sku_id": 1, "quantity": 2, "unit_cost": Decimal("6.00")}])
    run_in_threads(tenant_a.tenant, lambda i: services.on_purchase_received(**payload))
    with tenant_a.context():
        assert Voucher.objects.filter(source_type="purchase.received", source_ref="77").count() == 1
        assert not PostingIssue.objects.exists()
        assert books_verify() == []
