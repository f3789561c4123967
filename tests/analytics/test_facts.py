"""The per-order sales facts: a dirty day is summed from its orders' facts, which the order events
keep current (a change shows at once, equal to the orders sales report), idempotent, never
overwritten by an older read, healed by the day refresh after a lost event, and per tenant."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from analytics import selectors, services
from analytics.models import DirtyDay, FactDay, OrderFact, OrderLineFact
from analytics.services import facts as facts_service
from orders import selectors as order_selectors
from orders.models import Order, OrderKind
from tests.analytics.test_rollups import assert_same, orders_report, refresh_all, summary
from tests.orders.conftest import line, norder
from tests.orders.test_reports import DAY, at, ingest, one, who

pytestmark = pytest.mark.django_db(transaction=False)


def _rows():
    return (sorted(OrderFact.objects.values_list("order_id", *facts_service.FIELDS)),
            sorted(OrderLineFact.objects.values_list("order_id", *facts_service.LINE_FIELDS), key=str))


@pytest.fixture
def built(sales):
    """Rollups and facts written for the days around DAY, then DAY and the day before dirty."""
    refresh_all()
    services.days_mark_dirty(days=[DAY - timedelta(days=1), DAY])
    return sales


@pytest.fixture
def no_live_reads(monkeypatch):
    """The reports must not read a built dirty day's orders."""
    def refuse(**_kw):
        raise AssertionError("read live from the orders")

    monkeypatch.setattr(order_selectors, "sales_facts", refuse)


def _norm(rows):
    def value(v):
        return v.quantize(Decimal("0.01")) if isinstance(v, Decimal) else v

    return sorted(([(k, value(v)) for k, v in sorted(r.items())] for r in rows), key=str)


def test_order_facts_summed_are_the_windows_sales_facts(sales):
    OrderFact.objects.all().delete()
    for first, last in [(DAY, DAY), (DAY - timedelta(days=1), DAY + timedelta(days=1))]:
        start, end = selectors.day_range(first, last)
        live = order_selectors.sales_facts(start=start, end=end)
        ids = order_selectors.sales_order_ids(start=start, end=end)
        facts_service.facts_write(order_selectors.order_facts(order_ids=ids), read_at=facts_service.db_now())
        summed = selectors.fact_rows([first + timedelta(days=i) for i in range((last - first).days + 1)])
        for key in ("hours", "skus", "provinces"):
            assert _norm(summed[key]) == _norm(r for r in live[key] if first <= r["day"] <= last), key


def _same_as_sales_facts(day):
    start, end = selectors.day_range(day)
    live = order_selectors.sales_facts(start=start, end=end)
    facts = order_selectors.order_facts(order_ids=order_selectors.sales_order_ids(start=start, end=end))
    OrderFact.objects.all().delete()
    OrderLineFact.objects.all().delete()
    facts_service.facts_write(facts, read_at=facts_service.db_now())
    summed = selectors.fact_rows([day])
    return all(_norm(summed[k]) == _norm(r for r in live[k] if r["day"] == day) for k in ("hours", "skus", "provinces"))


def test_the_rules_per_order_are_the_reports_rules_case_by_case(sales):
    """order_facts applies LINE_SOLD / LINE_CANCELLED / LINE_REFUNDED / ORDER_SOLD in Python: every
    combination of an order's status and a line's flags gives what the SQL rules give."""
    from itertools import product

    from orders.models import OrderLine, OrderStatus, RefundState

    p1 = one("P1")  # two lines: A (committed, shipped) and B
    other = OrderLine.objects.get(origin_order=p1, outer_id="B")
    for status, committed, stopped, refund, other_committed in product(
            [OrderStatus.PENDING_REVIEW, OrderStatus.ALLOCATED, OrderStatus.SHIPPED, OrderStatus.COMPLETED,
             OrderStatus.CANCELLED, OrderStatus.CLOSED],
            [False, True], [False, True], [RefundState.NONE, RefundState.REFUNDED], [False, True]):
        Order.objects.filter(pk=p1.pk).update(status=status)
        OrderLine.objects.filter(origin_order=p1, outer_id="A").update(is_committed=committed, is_stopped=stopped,
                                                                       refund_state=refund)
        OrderLine.objects.filter(pk=other.pk).update(is_committed=other_committed)
        assert _same_as_sales_facts(DAY), (status, committed, stopped, refund, other_committed)


def test_a_dirty_built_day_is_summed_from_the_facts(built, no_live_reads):
    assert set(FactDay.objects.values_list("day", flat=True)) >= {DAY - timedelta(days=1), DAY}
    out = summary(DAY, DAY)
    assert out["live_days"] == [DAY] and out["totals"]["gmv"] == Decimal("157.00")


def test_a_dirty_day_never_built_is_read_live(built):
    FactDay.objects.all().delete()
    OrderFact.objects.all().delete()
    for first, last in [(DAY, DAY), (DAY - timedelta(days=6), DAY + timedelta(days=1))]:
        assert_same(summary(first, last), orders_report(first, last))


def _line_ids(poid: str) -> dict[str, str]:
    from orders.models import OrderLine

    return dict(OrderLine.objects.filter(origin_order=one(poid)).values_list("outer_id", "platform_line_id"))


@pytest.mark.parametrize("change", ["new order", "shipped", "cancelled", "refunded after shipment",
                                    "refunded before shipment"])
def test_a_change_a_moment_ago_shows_at_once(built, change, no_live_reads, django_capture_on_commit_callbacks, inv):
    from orders import services as order_services

    today = selectors.tenant_today()
    services.rollups_refresh_days(first=today, last=today)
    services.days_mark_dirty(days=[today])
    prior = {d: summary(d, d)["totals"] for d in (DAY, today)}
    with django_capture_on_commit_callbacks(execute=True):
        if change == "new order":
            ingest(built, norder("N1", created=at(DAY, 8), lines=[line("B", 2, "12.50")], **who(21)))
            services.on_platform_orders_changed(shop_id=built.pk, platform_order_ids=["N1"])
        elif change == "shipped":
            order = one("P6")
            order_services.order_ship(order_id=order.pk)
            services.on_order_changed(order_id=order.pk)
        elif change == "cancelled":
            order = one("P6")
            order_services.order_cancel(order_id=order.pk, why="test")
            services.on_order_changed(order_id=order.pk)
        elif change == "refunded after shipment":
            # the platform's refund of a shipped line, recorded by orders (order.after_sale_opened)
            from orders.models import OrderLine, RefundState

            p1 = one("P1")
            OrderLine.objects.filter(origin_order=p1, outer_id="A").update(refund_state=RefundState.REFUNDED)
            services.on_order_changed(order_id=p1.pk)
        else:
            lid = _line_ids("P6")
            ingest(built, norder("P6", created=at(DAY, 23, 30), modified=at(DAY, 23, 50),
                                 lines=[line("B", 1, "7.00", lid=lid["B"], refund_status="refunded")], **who(6)))
            services.on_platform_orders_changed(shop_id=built.pk, platform_order_ids=["P6"])
    assert DAY in selectors.dirty_days(DAY, DAY)
    for first, last in [(DAY, DAY), (DAY - timedelta(days=6), DAY + timedelta(days=1)), (today, today)]:
        assert_same(summary(first, last), orders_report(first, last))
    moved = today if change == "shipped" else DAY  # shipped now: today's parcels
    assert summary(moved, moved)["totals"] != prior[moved]
    before = {d: {**summary(d, d), "live_days": []} for d in (DAY, today)}
    assert services.rollups_refresh_dirty() >= 1  # folded in: the same figures from the rollups
    assert {d: summary(d, d) for d in (DAY, today)} == before


def test_the_same_event_twice_changes_nothing(built, django_capture_on_commit_callbacks):
    p1 = one("P1")
    with django_capture_on_commit_callbacks(execute=True):
        services.on_order_changed(order_id=p1.pk)
    once = _rows()
    with django_capture_on_commit_callbacks(execute=True):
        services.on_order_changed(order_id=p1.pk)
        services.on_platform_orders_changed(shop_id=built.pk, platform_order_ids=["P1", "P2"])
    assert _rows() == once
    assert_same(summary(DAY, DAY), orders_report(DAY, DAY))


def test_an_older_read_never_replaces_a_later_one(built):
    p6 = one("P6")
    stale = order_selectors.order_facts(order_ids=[p6.pk])
    earlier = facts_service.db_now() - timedelta(seconds=1)
    Order.objects.filter(pk=p6.pk).update(freight_amount=Decimal("3.00"))
    assert facts_service.facts_refresh_orders(order_ids=[p6.pk]) >= {DAY}
    fresh = OrderFact.objects.get(order_id=p6.pk)
    assert fresh.freight == Decimal("3.00")
    # a writer that read before the change stores after it: nothing changes
    assert facts_service.facts_write(stale, read_at=earlier) == 0
    assert OrderFact.objects.get(order_id=p6.pk).freight == Decimal("3.00")
    assert_same(summary(DAY, DAY), orders_report(DAY, DAY))


def test_a_lost_event_is_healed_by_the_repair_and_refresh(built):
    # the order changed and its handler never ran (a crash between the commit and the handler)
    p6 = one("P6")
    Order.objects.filter(pk=p6.pk).update(freight_amount=Decimal("4.00"))
    OrderFact.objects.filter(order_id=one("P2").pk).delete()  # and a row lost
    assert summary(DAY, DAY)["totals"]["gmv"] != orders_report(DAY, DAY)["totals"]["gmv"]
    DirtyDay.objects.all().delete()
    services.rollups_repair()  # marks the days of the orders changed since its watermark
    services.rollups_refresh_dirty()
    assert_same(summary(DAY, DAY), orders_report(DAY, DAY))
    services.days_mark_dirty(days=[DAY])  # and read from the facts, they agree
    assert_same(summary(DAY, DAY), orders_report(DAY, DAY))


def test_an_order_that_stops_counting_keeps_a_row_without_a_day(built):
    merged = Order.objects.get(kind=OrderKind.MERGED)
    facts = order_selectors.order_facts(order_ids=[merged.pk, 10**12])
    by_id = {f["order_id"]: f for f in facts}
    assert by_id[merged.pk]["parcels"] == 1 and by_id[merged.pk]["paid_day"] is None  # a parcel, not a sale
    assert by_id[10**12]["paid_day"] is None and by_id[10**12]["ship_day"] is None  # no such order
    facts_service.facts_write(facts, read_at=facts_service.db_now())
    assert OrderFact.objects.filter(order_id=10**12, paid_day=None, ship_day=None).exists()


def test_bigscreen_reads_today_and_yesterday_from_the_facts(built, monkeypatch):
    import time_machine

    from orders import facts as order_facts

    windows = []

    def window(**kw):  # only the rest of yesterday's hour may be read from the orders (minutes of them)
        windows.append(kw["end"] - kw["start"])
        return order_facts.sales_facts(**kw)

    monkeypatch.setattr(order_selectors, "sales_facts", window)
    eleventh = DAY + timedelta(days=1)
    services.days_mark_dirty(days=[eleventh])
    with time_machine.travel(at(eleventh, 20, 30), tick=False):
        screen = selectors.bigscreen()
    assert windows == []  # today, yesterday and the rest of yesterday's hour: all from the facts
    with time_machine.travel(at(eleventh, 23, 40), tick=False):
        late = selectors.bigscreen()
    assert late["yesterday_same_time"]["gmv"] == Decimal("157.00")  # P6 at 23:30, inside the hour
    DirtyDay.objects.filter(day=DAY).delete()
    FactDay.objects.filter(day=DAY).delete()  # never built: the rest of the hour is read from the orders
    with time_machine.travel(at(eleventh, 23, 40), tick=False):
        assert selectors.bigscreen()["yesterday_same_time"]["gmv"] == Decimal("157.00")
    assert windows and all(w <= timedelta(hours=1) for w in windows)
    assert screen["today"]["gmv"] == orders_report(eleventh, eleventh)["totals"]["gmv"] == Decimal("9.00")
    assert [h["yesterday"] for h in screen["hours"]] == [h["paid_orders"] for h in orders_report(DAY, DAY)["hours"]]
    assert screen["yesterday_same_time"]["gmv"] == Decimal("157.00") - Decimal("7.00")  # P6 was paid at 23:30


def test_other_tenants_facts_never_count(built, tenant_b):
    p1 = one("P1").pk
    with tenant_b.context():
        assert OrderFact.objects.count() == 0 and OrderLineFact.objects.count() == 0
        services.days_mark_dirty(days=[DAY])
        FactDay.objects.create(day=DAY, built_at=facts_service.db_now())
        assert summary(DAY, DAY)["totals"]["paid_orders"] == 0
        with connection.cursor() as cursor:  # row-level security: raw SQL sees the tenant's rows only
            cursor.execute("SELECT count(*) FROM analytics_orderfact")
            assert cursor.fetchone()[0] == 0
        # the same order ids written under another tenant are rows of their own (tenant in the key)
        facts_service.facts_write(order_selectors.order_facts(order_ids=[p1]), read_at=facts_service.db_now())
        assert OrderFact.objects.get(order_id=p1).paid_day is None  # tenant B sees no such order
    assert OrderFact.objects.get(order_id=p1).paid_day == DAY
    assert_same(summary(DAY, DAY), orders_report(DAY, DAY))
