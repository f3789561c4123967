"""The tenant's calendar: its time zone, its "now", its "today" and the bounds of its days.

Every date boundary in the project (reports, dashboards, "shipped today", period close, points expiry,
RFM windows, planning history, document numbers) is computed here, in the time zone of the tenant in
context, never in the server's (`timezone.localdate()` / `__date` lookups use the server's zone and
disagree with the tenant's for hours of every day).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import lru_cache

from django.utils import timezone

from .context import require_tenant

DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=64)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def tenant_zone() -> zoneinfo.ZoneInfo:
    """The time zone of the tenant in context."""
    return _zone(require_tenant().timezone or DEFAULT_ZONE)


def tenant_now() -> dt.datetime:
    """Now, as an aware datetime in the tenant's time zone."""
    return timezone.now().astimezone(tenant_zone())


def tenant_today() -> dt.date:
    """Today's date for the tenant in context."""
    return tenant_now().date()


def tenant_date(when: dt.datetime | dt.date | None) -> dt.date | None:
    """The tenant-local calendar date of an aware datetime (a date is returned as is; naive = UTC)."""
    if when is None or not isinstance(when, dt.datetime):
        return when
    if timezone.is_naive(when):
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(tenant_zone()).date()


def day_start(day: dt.date) -> dt.datetime:
    """Midnight that opens `day` in the tenant's zone (aware)."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=tenant_zone())


def day_range(first: dt.date, last: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) aware datetimes covering the tenant-local days first..last (inclusive)."""
    last = first if last is None else last
    return day_start(first), day_start(last + dt.timedelta(days=1))


def today_range() -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the tenant's today."""
    return day_range(tenant_today())


def month_range(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a calendar month in the tenant's zone."""
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return day_start(first), day_start(nxt)
