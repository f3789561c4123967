"""The clock pass of `make test` (tests/clock_plugin.py) and the tenant's dates at its instants.

The date-bound tests (CLOCK_TESTS in the Makefile: reports, dashboards, period close, points
expiry, RFM, planning history, "shipped today") run again with the process clock at 15:59, 16:01
and 23:59 UTC, at a month end and at a year end. These tests check the mechanism and the helper
that every day boundary goes through (erp/tenancy/dates.py) at those instants."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from erp.tenancy import dates
from erp.tenancy.context import tenant_context
from tests.clock_plugin import CLOCKS

SHANGHAI = ZoneInfo("Asia/Shanghai")
# (clock, the tenant's today in Shanghai, the UTC date): they differ at four of the five instants.
EXPECTED = {
    "1559utc": (dt.date(2026, 11, 18), dt.date(2026, 11, 18)),
    "1601utc": (dt.date(2026, 11, 19), dt.date(2026, 11, 18)),
    "2359utc": (dt.date(2026, 11, 19), dt.date(2026, 11, 18)),
    "month-end": (dt.date(2026, 12, 1), dt.date(2026, 11, 30)),
    "year-end": (dt.date(2027, 1, 1), dt.date(2026, 12, 31)),
}


def test_the_clocks_are_the_ones_the_issue_names():
    times = {name: when.astimezone(dt.UTC) for name, when in CLOCKS.items()}
    assert {(t.hour, t.minute) for t in times.values()} >= {(15, 59), (16, 1), (23, 59)}
    assert (times["month-end"] + dt.timedelta(hours=8)).day == 1  # the month has turned in Shanghai
    assert (times["year-end"] + dt.timedelta(hours=8)).timetuple().tm_yday == 1
    assert set(EXPECTED) == set(CLOCKS)


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CLOCKS))
def test_tenant_today_and_ranges_at_every_clock(name, tenant_a):
    tenant_a.tenant.timezone = "Asia/Shanghai"
    tenant_a.tenant.save()
    shanghai_today, utc_today = EXPECTED[name]
    with time_machine.travel(CLOCKS[name], tick=False), tenant_context(tenant_a.tenant):
        now = timezone.now()
        assert now.astimezone(dt.UTC).date() == utc_today
        assert dates.tenant_today() == shanghai_today
        start, end = dates.today_range()
        assert start <= now < end and end - start == dt.timedelta(days=1)
        assert start == dt.datetime.combine(shanghai_today, dt.time(), SHANGHAI)
        month_start, month_end = dates.month_range(shanghai_today.year, shanghai_today.month)
        assert month_start <= now < month_end
        assert dates.tenant_date(now) == shanghai_today


def test_the_clock_pass_moves_the_clock(request):
    """In the clock pass this runs once per clock, with the process clock at that instant."""
    callspec = getattr(request.node, "callspec", None)
    clock_at = callspec.params.get("clock_at") if callspec else None
    if clock_at is None:
        pytest.skip("runs in the clock pass of `make test` (pytest -p tests.clock_plugin --clocks=all)")
    assert dt.timedelta(0) <= timezone.now() - clock_at < dt.timedelta(minutes=10)
