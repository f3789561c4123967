"""The tenant's calendar (erp.tenancy.dates): today and day bounds follow the tenant's zone, not the server's."""

import datetime as dt

import pytest
from django.utils import timezone

from erp.tenancy import dates
from erp.tenancy.context import TenantNotSetError, tenant_context

from .factories import TenantFactory

pytestmark = pytest.mark.django_db


def _at(monkeypatch, when: dt.datetime):
    monkeypatch.setattr(timezone, "now", lambda: when)


@pytest.mark.parametrize(("utc", "shanghai_day"), [
    (dt.datetime(2026, 12, 6, 15, 59, tzinfo=dt.UTC), dt.date(2026, 12, 6)),
    (dt.datetime(2026, 12, 6, 16, 1, tzinfo=dt.UTC), dt.date(2026, 12, 7)),
    (dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC), dt.date(2027, 1, 1)),
])
def test_today_is_the_tenants(monkeypatch, utc, shanghai_day):
    _at(monkeypatch, utc)
    shanghai, london = TenantFactory(slug="sh", timezone="Asia/Shanghai"), TenantFactory(slug="ld", timezone="Europe/London")
    with tenant_context(shanghai):
        assert dates.tenant_today() == shanghai_day
        start, end = dates.today_range()
        assert start <= utc < end and end - start == dt.timedelta(days=1)
    with tenant_context(london):
        assert dates.tenant_today() == utc.date()


def test_day_and_month_ranges(in_tenant_a):
    start, end = dates.day_range(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert (start, end) == dates.month_range(2026, 3)
    assert start.astimezone(dt.UTC) == dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC)
    assert dates.month_range(2026, 12)[1].date() == dt.date(2027, 1, 1)
    assert dates.tenant_date(dt.datetime(2026, 2, 28, 16, 0, tzinfo=dt.UTC)) == dt.date(2026, 3, 1)
    assert dates.tenant_date(dt.date(2026, 1, 2)) == dt.date(2026, 1, 2)


def test_no_tenant_no_today():
    with pytest.raises(TenantNotSetError):
        dates.tenant_today()
