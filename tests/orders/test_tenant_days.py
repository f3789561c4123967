"""Dates in orders are the tenant's: a date filter, "shipped today" and daily sales count the days of the
tenant's time zone, not the server's (Asia/Shanghai here, 16 hours from the tenant's Los Angeles)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from erp.tenancy.dates import today_range
from orders import selectors, services
from orders.models import Order, OrderStatus

from .conftest import line, norder

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def far_tenant(in_tenant_a):
    in_tenant_a.tenant.timezone = "America/Los_Angeles"
    in_tenant_a.tenant.save(update_fields=["timezone"])
    return in_tenant_a


def _la(d: date, hh: int) -> datetime:
    return datetime(d.year, d.month, d.day, hh, tzinfo=LA).astimezone(UTC)


def test_a_date_filter_takes_the_tenants_day(far_tenant, world):
    day = date(2026, 11, 2)
    # both are on 2 November in Shanghai; only the first is on 2 November for the tenant
    services.orders_ingest_normalized(shop=world, normalized=[
        norder("DAY", created=_la(day, 1), lines=[line("A")], buyer="b1"),
        norder("EVE", created=_la(day - timedelta(days=1), 23), lines=[line("A")], buyer="b2")])
    found, applied = selectors.order_filter(Order.objects.all(), {"created_from": "2026-11-02",
                                                                   "created_to": "2026-11-02"})
    assert [o.platform_order_id for o in found] == ["DAY"] and applied["created_from"] == "2026-11-02"
    found, _ = selectors.order_filter(Order.objects.all(), {"paid_to": "2026-11-01"})
    assert [o.platform_order_id for o in found] == ["EVE"]
    # a wall-clock time without a zone is the tenant's too
    found, _ = selectors.order_filter(Order.objects.all(), {"created_from": "2026-11-01T23:30:00"})
    assert [o.platform_order_id for o in found] == ["DAY"]


def test_daily_sales_count_the_tenants_days(far_tenant, world):
    day = date(2026, 11, 2)
    services.orders_ingest_normalized(shop=world, normalized=[
        norder("DAY", created=_la(day, 1), lines=[line("A", 2)], buyer="b1"),
        norder("EVE", created=_la(day - timedelta(days=1), 23), lines=[line("A", 3)], buyer="b2")])
    rows = selectors.daily_sales(since=day - timedelta(days=1), until=day)
    assert [(r.day, r.quantity) for r in rows] == [(day - timedelta(days=1), 3), (day, 2)]
    assert [(r.day, r.quantity) for r in selectors.daily_sales(since=day, until=day)] == [(day, 2)]


def test_shipped_today_starts_at_the_tenants_midnight(far_tenant, world):
    services.orders_ingest_normalized(shop=world, normalized=[norder("P1", buyer="b1"), norder("P2", buyer="b2"), norder("P3", buyer="b3")])
    start, _end = today_range()
    assert start.utcoffset() == timezone.now().astimezone(LA).utcoffset()
    for poid, when in (("P1", start + timedelta(minutes=1)), ("P2", start - timedelta(minutes=1)),
                       ("P3", timezone.now())):
        Order.objects.filter(platform_order_id=poid).update(status=OrderStatus.SHIPPED, shipped_at=when)
    assert selectors.shipped_today() == 2
