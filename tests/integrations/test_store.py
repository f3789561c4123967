from datetime import timedelta

import pytest
from django.db import transaction

from erp import events
from integrations import selectors, store
from integrations.models import PlatformOrder, PlatformRefund
from integrations.normalized import NormalizedRefund, OrderState

from .fakes import T0, make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def published():
    seen = []

    def handler(**payload):
        seen.append(payload)

    events.subscribe("platform_orders.changed", handler)
    yield seen
    events._handlers["platform_orders.changed"].remove(handler)


@pytest.fixture(params=["copy", "portable"])
def upsert_path(request, monkeypatch):
    """Run a test through the Postgres COPY path and through the portable ORM path (used on the
    embedded SQLite database): both must follow the same rules."""
    if request.param == "portable":
        monkeypatch.setattr(store, "_upsert_copy", store._upsert_portable)
    return request.param


def _store(shop, orders):
    with transaction.atomic():
        return store.store_orders(shop=shop, orders=orders)


def test_insert_update_ignore_older_and_replay(shop, published, upsert_path):
    first = _store(shop, [make_order("A", T0), make_order("B", T0)])
    assert (first.created, first.updated, first.skipped) == (2, 0, 0)
    assert published[-1]["shop_id"] == shop.pk and sorted(published[-1]["platform_order_ids"]) == ["A", "B"]

    newer = _store(shop, [make_order("A", T0 + timedelta(minutes=1), state=OrderState.SHIPPED),
                          make_order("B", T0 - timedelta(minutes=1), state=OrderState.CANCELLED)])
    assert (newer.created, newer.updated, newer.skipped) == (0, 1, 1)
    assert newer.changed_ids == ["A"]
    a = PlatformOrder.objects.get(platform_order_id="A")
    assert a.state == OrderState.SHIPPED and a.version == 2
    assert a.payload["status"] == OrderState.SHIPPED  # the raw payload is kept
    assert PlatformOrder.objects.get(platform_order_id="B").state == OrderState.PAID

    count = len(published)
    replay = _store(shop, [make_order("A", T0 + timedelta(minutes=1), state=OrderState.SHIPPED), make_order("B", T0)])
    assert (replay.created, replay.updated, replay.skipped) == (0, 0, 2)
    assert len(published) == count  # nothing changed: nothing published


def test_duplicates_inside_one_page_keep_the_newest(shop, upsert_path):
    result = _store(shop, [make_order("A", T0), make_order("A", T0 + timedelta(seconds=30), state=OrderState.SHIPPED),
                           make_order("A", T0 - timedelta(seconds=30), state=OrderState.UNPAID)])
    assert (result.fetched, result.created, result.skipped) == (3, 1, 2)
    assert PlatformOrder.objects.get(platform_order_id="A").state == OrderState.SHIPPED


def test_normalized_orders_round_trip(shop):
    order = make_order("A", T0, qty=3)
    _store(shop, [order])
    [back] = selectors.normalized_orders(shop_id=shop.pk, platform_order_ids=["A", "missing"])
    assert back.lines[0].quantity == 3 and back.paid_amount == order.paid_amount
    assert back.modified_at == order.modified_at and back.raw == order.raw


def test_refund_version_wins_over_modified_time(shop):
    def refund(version, modified, status):
        return NormalizedRefund(platform="taobao", platform_refund_id="R1", platform_order_id="A", platform_line_id="",
                                status=status, platform_status=status, amount=5, reason="", has_goods_return=False,
                                phase="before_shipment", modified_at=modified, version=version, raw={"v": version})

    with transaction.atomic():
        store.store_refunds(shop=shop, refunds=[refund(2, T0, "agreed")])
        result = store.store_refunds(shop=shop, refunds=[refund(1, T0 + timedelta(hours=1), "requested")])
    assert result.updated == 0
    assert PlatformRefund.objects.get().status == "agreed"
    [back] = selectors.normalized_refunds(shop_id=shop.pk, platform_refund_ids=["R1"])
    assert back.version == 2


def test_tenant_isolation_of_stored_rows(shop, tenant_b):
    _store(shop, [make_order("A", T0)])
    with tenant_b.context():
        assert PlatformOrder.objects.count() == 0
        assert selectors.normalized_orders(shop_id=shop.pk, platform_order_ids=["A"]) == []


def test_a_failing_subscriber_does_not_lose_the_page(shop):
    def broken(**payload):
        PlatformOrder.objects.update(state="garbage")  # rolled back with the savepoint
        raise RuntimeError("boom")

    events.subscribe("platform_orders.changed", broken)
    try:
        result = _store(shop, [make_order("A", T0)])
    finally:
        events._handlers["platform_orders.changed"].remove(broken)
    assert result.created == 1 and "boom" in result.consumer_error
    assert PlatformOrder.objects.get().state == OrderState.PAID
