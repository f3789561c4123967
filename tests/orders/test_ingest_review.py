from datetime import timedelta
from decimal import Decimal

import pytest

from integrations.normalized import OrderState
from orders.models import BlacklistEntry, HoldReason, Order, OrderEvent, OrderLine, OrderSettings, OrderStatus
from orders.services import order_settings, orders_ingest_normalized

from .conftest import T0, address, line, norder

pytestmark = pytest.mark.django_db


def ingest(shop, *orders):
    return orders_ingest_normalized(shop=shop, normalized=list(orders))


def settings(**kw):
    s = order_settings()
    for k, v in kw.items():
        setattr(s, k, v)
    s.save()
    return s


def test_clean_order_is_approved_and_allocated_with_reasons(world, inv):
    inv.stock(1, "A", 10)
    ingest(world, norder("P1"))
    order = Order.objects.get(platform_order_id="P1")
    assert order.status == OrderStatus.ALLOCATED
    assert order.warehouse_id == 1 and order.carrier_code == "MOCK"
    codes = list(OrderEvent.objects.filter(order=order).values_list("code", flat=True))
    assert codes[:2] == ["created", "approved.auto"] and "allocated" in codes and "carrier" in codes
    assert order.line_count == 1 and order.total_quantity == 1
    assert order.paid_amount == Decimal("10.00")


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"buyer_message": "please send red"}, HoldReason.BUYER_MESSAGE),
    ({"seller_memo": "gift"}, HoldReason.SELLER_MEMO),
    ({"lines": [line("NOPE")]}, HoldReason.UNMATCHED_SKU),
    ({"receiver": address(address="")}, HoldReason.INCOMPLETE_ADDRESS),
    ({"receiver": address(phone="")}, HoldReason.INCOMPLETE_ADDRESS),
    ({"paid_amount": Decimal("5000.00")}, HoldReason.AMOUNT),
    ({"is_presale": True, "presale_fully_paid": False}, HoldReason.PRESALE_UNPAID),
    ({"ship_blocked_reason": "risk_review"}, HoldReason.PLATFORM_BLOCKED),
])
def test_review_rules_hold_with_their_reason(world, kwargs, reason):
    settings(hold_amount_over=Decimal("1000.00"))
    ingest(world, norder("P1", **kwargs))
    order = Order.objects.get(platform_order_id="P1")
    assert order.status == OrderStatus.ON_HOLD
    assert reason in order.hold_reason_list
    assert OrderEvent.objects.filter(order=order, code=f"hold.{reason}").exists()


def test_rules_can_be_switched_off(world, inv):
    settings(hold_on_buyer_message=False, hold_on_seller_memo=False, auto_allocate=False)
    ingest(world, norder("P1", buyer_message="hi", seller_memo="memo"))
    assert Order.objects.get().status == OrderStatus.APPROVED


def test_auto_review_off_leaves_orders_for_operators(world):
    settings(auto_review=False)
    ingest(world, norder("P1"), norder("P2", state=OrderState.UNPAID, platform_status="WAIT_BUYER_PAY"))
    assert Order.objects.get(platform_order_id="P1").status == OrderStatus.PENDING_REVIEW
    assert Order.objects.get(platform_order_id="P2").status == OrderStatus.ON_HOLD


@pytest.mark.parametrize("kind,value,receiver", [
    ("buyer", "bad-buyer", {}),
    ("phone", "138-0000-0000", {}),
    ("address", "浙江省杭州市西湖区文三路1号", {}),
])
def test_blacklist(world, kind, value, receiver):
    BlacklistEntry.objects.create(kind=kind, value=value, reason="fraud")
    ingest(world, norder("P1", buyer="bad-buyer" if kind == "buyer" else "ok"))
    order = Order.objects.get()
    assert order.status == OrderStatus.ON_HOLD and order.hold_reason_list == [HoldReason.BLACKLIST]


def test_many_orders_to_one_address_is_a_risk(world):
    settings(risk_orders_per_address=3, risk_window_hours=24, auto_merge=False)
    ingest(world, norder("P1", buyer="b1", receiver=address(name="甲")), norder("P2", buyer="b2", receiver=address(name="乙")))
    assert set(Order.objects.values_list("status", flat=True)) != {OrderStatus.ON_HOLD}
    ingest(world, norder("P3", buyer="b3", receiver=address(name="丙", phone="13900000000")))
    third = Order.objects.get(platform_order_id="P3")
    assert HoldReason.RISK in third.hold_reason_list


def test_repeated_and_older_updates_change_nothing(world, inv):
    inv.stock(1, "A", 10)
    n = norder("P1", modified=T0 + timedelta(minutes=5))
    ingest(world, n)
    snapshot = list(Order.objects.values())
    lines = list(OrderLine.objects.values())
    n_events = OrderEvent.objects.count()
    reserved = dict(inv.reservations)
    result = ingest(world, n, n)
    older = norder("P1", modified=T0 + timedelta(minutes=1), state=OrderState.CANCELLED, platform_status="TRADE_CLOSED")
    result2 = ingest(world, older)
    assert (result.created, result.updated, result.skipped) == (0, 0, 1)
    assert (result2.created, result2.updated, result2.skipped) == (0, 0, 1)
    assert list(Order.objects.values()) == snapshot
    assert list(OrderLine.objects.values()) == lines
    assert OrderEvent.objects.count() == n_events and inv.reservations == reserved


def test_payment_arrives_then_review_runs(world, inv):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1", state=OrderState.UNPAID, platform_status="WAIT_BUYER_PAY"))
    order = Order.objects.get()
    assert order.status == OrderStatus.ON_HOLD and order.hold_reason_list == [HoldReason.UNPAID]
    ingest(world, norder("P1", modified=T0 + timedelta(hours=1)))
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and order.hold_reasons == ""


def test_presale_final_payment_releases_the_platform_hold(world, inv):
    inv.stock(1, "A", 5)
    ingest(world, norder("P1", is_presale=True, presale_fully_paid=False))
    assert Order.objects.get().hold_reason_list == [HoldReason.PRESALE_UNPAID]
    ingest(world, norder("P1", is_presale=True, presale_fully_paid=True, modified=T0 + timedelta(days=3)))
    assert Order.objects.get().status == OrderStatus.ALLOCATED


def test_settings_are_per_tenant(world, tenant_b):
    settings(auto_merge=False)
    with tenant_b.context():
        assert order_settings().auto_merge is True
    assert OrderSettings.objects.count() == 1


def test_masked_receivers_without_merge_key_never_share_a_hash(world):
    masked = address(name="张*", phone="138****0000", address="文三路**号")
    ingest(world, norder("P1", receiver=masked), norder("P2", receiver=masked))
    a, b = Order.objects.order_by("pk")
    assert a.address_hash != b.address_hash
    keyed = address(name="张*", phone="138****0000", merge_key="OAID-1")
    ingest(world, norder("P3", receiver=keyed), norder("P4", receiver=keyed))
    c, d = Order.objects.filter(platform_order_id__in=["P3", "P4"]).order_by("pk")
    assert c.address_hash == d.address_hash


def test_a_page_costs_a_constant_number_of_queries(world, inv):
    """Set-based ingestion: 60 orders cost the same queries as 5 (lookup, review context, inserts,
    merge pool, allocation reads and writes; the fake inventory answers in memory)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    inv.stock(1, "A", 10_000)
    inv.stock(1, "B", 10_000)

    def page(prefix, n):
        return [norder(f"{prefix}{i}", buyer=f"{prefix}b{i}", receiver=address(address=f"{prefix} 路 {i}"),
                       lines=[line("A"), line("B", 2)], buyer_message="hi" if i % 5 == 0 else "") for i in range(n)]

    ingest(world, *page("W", 3))
    with CaptureQueriesContext(connection) as small:
        ingest(world, *page("S", 5))
    with CaptureQueriesContext(connection) as big:
        ingest(world, *page("B", 60))
    assert len(big) == len(small) <= 20, [q["sql"][:80] for q in big]
    assert Order.objects.filter(platform_order_id__startswith="B", status=OrderStatus.ALLOCATED).count() == 48
    assert Order.objects.filter(platform_order_id__startswith="B", status=OrderStatus.ON_HOLD).count() == 12
    assert OrderEvent.objects.filter(order__platform_order_id="B1", code__in=["created", "approved.auto", "allocated",
                                                                              "carrier"]).count() == 4
