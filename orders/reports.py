"""Sales analytics: what the seller's manager reads every morning (read-only selectors).

Everything is counted by *platform order* (kind "platform") and by paid time, in the tenant's time
zone. Lines are read through the platform order they came from (``OrderLine.origin_order``), so a
merged shipment or a split part never counts an order twice; reshipments are not sales.

Each line of a paid platform order falls in exactly one bucket:

- cancelled before shipment: it never left the warehouse and was stopped (cancelled or refunded
  before shipment), or its platform order was cancelled;
- sold (GMV): everything else, including goods refunded after they shipped;
- refunded after shipment is the part of "sold" whose line the platform reports refunded once the
  order had shipped. Orders records refunds on lines only as the platform reports them on the
  order; refunds handled as after-sales tickets are booked by finance (see its profit report).

GMV = the paid amount of the sold lines + the freight of the orders with a sold line. A paid order
is a platform order with at least one sold line; an order with none is a cancelled order.
Parcels are shipments (merged shipments and split parts count as one parcel each) by shipped time.

A constant number of queries whatever the range or the number of orders (no per-day or per-order
query): lines by (day, shop), orders by (day, shop), parcels by (day, shop), medians, top SKUs,
hours, provinces and the shops' names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, ExtractHour, NullIf, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.tenancy.dates import day_range, day_start, tenant_date, tenant_today, tenant_zone
from integrations.selectors import platform_choices, platform_values, shop_names

from .models import Order, OrderKind, OrderLine, OrderStatus, RefundState
from .ports import province_key

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
MAX_DAYS = 366
TOP = 10
SHIPPED = (OrderStatus.SHIPPED, OrderStatus.COMPLETED)
PRESETS = ("today", "yesterday", "last7", "last30", "this_month", "custom")
PRESET_LABELS = {
    "today": _("Today"), "yesterday": _("Yesterday"), "last7": _("Last 7 days"), "last30": _("Last 30 days"),
    "this_month": _("This month"), "custom": _("Custom"),
}


# --- parameters -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportParams:
    date_from: date
    date_to: date
    shop_id: int | None = None
    platform: str = ""
    preset: str = "custom"

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        """The period of equal length just before this one."""
        prev_to = self.date_from - timedelta(days=1)
        return prev_to - timedelta(days=self.days - 1), prev_to

    def query(self) -> dict[str, str]:
        out = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}
        if self.shop_id is not None:
            out["shop"] = str(self.shop_id)
        if self.platform:
            out["platform"] = self.platform
        return out


def preset_range(preset: str, today: date) -> tuple[date, date]:
    if preset == "today":
        return today, today
    if preset == "yesterday":
        y = today - timedelta(days=1)
        return y, y
    if preset == "last30":
        return today - timedelta(days=29), today
    if preset == "this_month":
        return today.replace(day=1), today
    return today - timedelta(days=6), today  # last7, the default


def report_params(params, *, today: date | None = None) -> ReportParams:
    """Parse ``date_from``, ``date_to`` (YYYY-MM-DD), ``shop`` (id), ``platform`` and ``range`` (a
    preset; explicit dates win). Missing dates: the last 7 days. Raises ValidationError naming each
    bad field: a malformed date, from after to, a range longer than 366 days, an unknown platform."""
    today = today or tenant_today()
    errors: dict[str, list[str]] = {}
    preset = (params.get("range") or "").strip()
    if preset and preset not in PRESETS:
        errors["range"] = [str(_("One of: %(values)s.") % {"values": ", ".join(PRESETS)})]
        preset = ""
    default_from, default_to = preset_range(preset or "last7", today)

    def day(name: str, default: date) -> date | None:
        value = (params.get(name) or "").strip()
        if not value or (preset and preset != "custom"):
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors[name] = [str(_("A date as YYYY-MM-DD."))]
            return None

    date_from = day("date_from", default_from)
    date_to = day("date_to", default_to)
    if date_from and date_to:
        if date_from > date_to:
            errors["date_from"] = [str(_("The start date is after the end date."))]
        elif (date_to - date_from).days + 1 > MAX_DAYS:
            errors["date_to"] = [str(_("A range of at most %(days)d days.") % {"days": MAX_DAYS})]
    shop_id = None
    shop = (params.get("shop") or "").strip()
    if shop:
        if shop.isdigit():
            shop_id = int(shop)
        else:
            errors["shop"] = [str(_("A shop id (a whole number)."))]
    platform = (params.get("platform") or "").strip()
    if platform and platform not in platform_values():
        errors["platform"] = [str(_("One of: %(values)s.") % {"values": ", ".join(platform_values())})]
    if errors:
        raise ValidationError(errors)
    if not preset:
        preset = "custom" if (params.get("date_from") or params.get("date_to")) else "last7"
    return ReportParams(date_from=date_from, date_to=date_to, shop_id=shop_id, platform=platform, preset=preset)


# --- results ----------------------------------------------------------------------------------------
def _money(value) -> Decimal:
    if value is None:
        return ZERO
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT)


def _ratio(part, whole, scale=Decimal(100)) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass
class Figures:
    """Summable figures of a day, a shop, a platform or a period (median hours are set apart)."""

    orders: int = 0  # paid orders with at least one sold line
    all_orders: int = 0  # every paid platform order, cancelled ones included
    units: int = 0
    goods: Decimal = ZERO  # paid amount of the sold lines
    freight: Decimal = ZERO  # freight of the paid orders
    cancelled_amount: Decimal = ZERO
    refunded_amount: Decimal = ZERO
    parcels: int = 0
    promised: int = 0  # parcels with a ship-by promise
    on_time: int = 0  # ... shipped by then
    median_hours: Decimal | None = None

    def add(self, other: Figures) -> None:
        for name in ("orders", "all_orders", "units", "goods", "freight", "cancelled_amount", "refunded_amount",
                     "parcels", "promised", "on_time"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def gmv(self) -> Decimal:
        return self.goods + self.freight

    @property
    def aov(self) -> Decimal | None:
        return (self.gmv / self.orders).quantize(CENT, rounding=ROUND_HALF_UP) if self.orders else None

    @property
    def cancelled_orders(self) -> int:
        return self.all_orders - self.orders

    @property
    def on_time_rate(self) -> Decimal | None:
        return _ratio(self.on_time, self.promised)

    def as_dict(self) -> dict:
        return {
            "paid_orders": self.orders, "units": self.units, "gmv": self.gmv, "goods": self.goods,
            "freight": self.freight, "average_order_value": self.aov, "cancelled_orders": self.cancelled_orders,
            "cancelled_amount": self.cancelled_amount, "refunded_after_shipment": self.refunded_amount,
            "shipped_parcels": self.parcels, "parcels_with_promise": self.promised, "shipped_on_time": self.on_time,
            "on_time_ship_rate": self.on_time_rate, "median_hours_to_ship": self.median_hours,
        }


KPIS = ("paid_orders", "units", "gmv", "average_order_value", "cancelled_orders", "cancelled_amount",
        "refunded_after_shipment", "shipped_parcels", "on_time_ship_rate", "median_hours_to_ship")
KPI_LABELS = {
    "paid_orders": _("Paid orders"), "units": _("Units"), "gmv": _("GMV"), "average_order_value": _("Average order value"),
    "cancelled_orders": _("Cancelled before shipment"), "cancelled_amount": _("Cancelled amount"),
    "refunded_after_shipment": _("Refunded after shipment"), "shipped_parcels": _("Shipped parcels"),
    "on_time_ship_rate": _("On-time ship rate"), "median_hours_to_ship": _("Median hours to ship"),
}
# a rise is good news for these; for the others (cancellations, refunds, hours to ship) it is bad news
HIGHER_IS_BETTER = {"paid_orders", "units", "gmv", "average_order_value", "shipped_parcels", "on_time_ship_rate"}


def change_pct(current, previous) -> Decimal | None:
    """% change from the previous period; None when there is nothing to compare with."""
    if current is None or previous is None or not previous:
        return None
    return ((Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass
class DayRow:
    day: date
    figures: Figures


@dataclass
class GroupRow:
    key: object
    label: str
    figures: Figures


@dataclass
class SkuRow:
    sku_id: int | None
    sku_code: str
    title: str
    units: int
    gmv: Decimal


@dataclass
class ProvinceRow:
    province: str
    orders: int
    units: int
    gmv: Decimal
    share: Decimal | None  # % of the period's goods amount


@dataclass
class SalesReport:
    params: ReportParams
    timezone: str
    days: list[DayRow]
    total: Figures
    previous: Figures
    by_shop: list[GroupRow]
    by_platform: list[GroupRow]
    top_skus_by_units: list[SkuRow]
    top_skus_by_gmv: list[SkuRow]
    hours: list[tuple[int, int]]  # (hour of day 0-23, paid orders)
    provinces: list[ProvinceRow]
    kpis: list[dict] = field(default_factory=list)

    @property
    def previous_range(self) -> tuple[date, date]:
        return self.params.previous

    def as_dict(self) -> dict:
        """Plain data for the API (Decimals kept; DRF renders them as strings)."""
        prev_from, prev_to = self.params.previous
        return {
            "date_from": self.params.date_from, "date_to": self.params.date_to,
            "previous_from": prev_from, "previous_to": prev_to, "timezone": self.timezone,
            "shop": self.params.shop_id, "platform": self.params.platform or None,
            "totals": self.total.as_dict(), "previous": self.previous.as_dict(),
            "change_pct": {k["key"]: k["change"] for k in self.kpis},
            "days": [{"day": d.day, **d.figures.as_dict()} for d in self.days],
            "by_shop": [{"shop": g.key, "name": g.label, **g.figures.as_dict()} for g in self.by_shop],
            "by_platform": [{"platform": g.key, "name": g.label, **g.figures.as_dict()} for g in self.by_platform],
            "top_skus_by_units": [vars(s) for s in self.top_skus_by_units],
            "top_skus_by_gmv": [vars(s) for s in self.top_skus_by_gmv],
            "hours": [{"hour": h, "paid_orders": n} for h, n in self.hours],
            "provinces": [vars(p) for p in self.provinces],
        }


# --- queries ----------------------------------------------------------------------------------------
class Median(Aggregate):
    """PERCENTILE_CONT(0.5) (PostgreSQL); other databases compute it in Python (see _medians)."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _scoped_orders(p: ReportParams, prefix: str = "") -> Q:
    q = Q()
    if p.shop_id is not None:
        q &= Q(**{f"{prefix}shop_id": p.shop_id})
    if p.platform:
        q &= Q(**{f"{prefix}platform": p.platform})
    return q


def sales_lines(p: ReportParams, start: datetime, end: datetime):
    """Lines of the platform orders paid in [start, end) (with the filters), with the alias
    ``origin_shipped_by_us`` (some line of the platform order went out in one of our parcels)."""
    committed = OrderLine.objects.filter(origin_order=OuterRef("origin_order"), is_committed=True)
    return (OrderLine.objects.filter(origin_order__kind=OrderKind.PLATFORM, origin_order__paid_at__gte=start,
                                     origin_order__paid_at__lt=end)
            .filter(_scoped_orders(p, "origin_order__"))
            .alias(origin_shipped_by_us=Exists(committed)))


# A line is cancelled before shipment when it did not leave in one of our parcels and its platform
# order was cancelled, or it was stopped while the order had not shipped outside the ERP (an order
# the platform reports shipped without any of our parcels: its stopped lines were refunded after).
_SHIPPED_OUTSIDE = Q(origin_order__status__in=SHIPPED) & Q(origin_shipped_by_us=False)
LINE_CANCELLED = Q(is_committed=False) & (Q(origin_order__status=OrderStatus.CANCELLED)
                                          | (Q(is_stopped=True) & ~_SHIPPED_OUTSIDE))
LINE_SOLD = ~LINE_CANCELLED
LINE_REFUNDED = LINE_SOLD & Q(refund_state=RefundState.REFUNDED)


def sales_orders(p: ReportParams, start: datetime, end: datetime):
    """Platform orders paid in [start, end) with the aliases the ORDER_SOLD condition needs."""
    lines = OrderLine.objects.filter(origin_order=OuterRef("pk"))
    return (Order.objects.filter(kind=OrderKind.PLATFORM, paid_at__gte=start, paid_at__lt=end)
            .filter(_scoped_orders(p))
            .alias(has_committed=Exists(lines.filter(is_committed=True)),
                   has_open=Exists(lines.filter(is_stopped=False))))


# the order has a sold line (the same rule as LINE_SOLD, seen from the order)
ORDER_SOLD = Q(has_committed=True) | (~Q(status=OrderStatus.CANCELLED) & (Q(has_open=True) | Q(status__in=SHIPPED)))


def parcels(p: ReportParams, start: datetime, end: datetime):
    """Shipments that left in [start, end): platform orders shipped whole, merged shipments and split
    parts; a platform order merged into a shipment is inside that parcel; reshipments are not sales."""
    return (Order.objects.filter(shipped_at__gte=start, shipped_at__lt=end, merged_into__isnull=True,
                                 status__in=SHIPPED)
            .exclude(kind=OrderKind.RESHIP).filter(_scoped_orders(p)))


_TO_SHIP = ExpressionWrapper(F("shipped_at") - F("paid_at"), output_field=DurationField())


def _hours(value) -> Decimal | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value) / 1_000_000
    return (Decimal(str(seconds)) / 3600).quantize(TENTH, rounding=ROUND_HALF_UP)


def _median_py(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _medians(qs, tz, split: datetime) -> tuple[dict[date, Decimal | None], Decimal | None, Decimal | None]:
    """Median hours from paid to shipped: per shipped day, for the period (shipped >= split) and the
    previous one. Two queries on PostgreSQL; one (durations in Python) elsewhere."""
    qs = qs.filter(paid_at__isnull=False)
    if connection.vendor == "postgresql":
        per_day = {r["day"]: _hours(r["m"]) for r in qs.annotate(day=TruncDate("shipped_at", tzinfo=tz))
                   .values("day").annotate(m=Median(_TO_SHIP)).order_by()}
        totals = qs.aggregate(cur=Median(_TO_SHIP, filter=Q(shipped_at__gte=split)),
                              prev=Median(_TO_SHIP, filter=Q(shipped_at__lt=split)))
        return per_day, _hours(totals["cur"]), _hours(totals["prev"])
    by_day: dict[date, list[timedelta]] = {}
    cur, prev = [], []
    for shipped, paid in qs.values_list("shipped_at", "paid_at"):
        delta = shipped - paid
        by_day.setdefault(shipped.astimezone(tz).date(), []).append(delta)
        (cur if shipped >= split else prev).append(delta)
    return ({d: _hours(_median_py(v)) for d, v in by_day.items()}, _hours(_median_py(cur)), _hours(_median_py(prev)))


def _sku_rows(qs, order: str) -> list[SkuRow]:
    rows = (qs.filter(LINE_SOLD).values("sku_id", code=Coalesce(NullIf("sku_code", Value("")), "outer_id"))
            .annotate(units=Sum("quantity"), gmv=Sum("paid"), title=Max("title")).order_by(order, "code")[:TOP])
    return [SkuRow(sku_id=r["sku_id"], sku_code=r["code"] or "", title=r["title"] or "", units=int(r["units"] or 0),
                   gmv=_money(r["gmv"])) for r in rows]


def sales_report(*, params: ReportParams) -> SalesReport:
    """The sales report of ``params`` (see the module docstring for what each figure means)."""
    tz = tenant_zone()
    p = params
    prev_from, _prev_to = p.previous
    wide_start, end = day_range(prev_from, p.date_to)
    start = day_start(p.date_from)

    days = {p.date_from + timedelta(days=i): Figures() for i in range(p.days)}
    total, previous = Figures(), Figures()
    shops: dict[int, Figures] = {}
    shop_platform: dict[int, str] = {}

    def bucket(day: date, shop_id: int, platform: str) -> list[Figures]:
        shop_platform.setdefault(shop_id, platform)
        if day < p.date_from:
            return [previous]
        return [days[day], total, shops.setdefault(shop_id, Figures())]

    # 1. lines by (paid day, shop): units, goods, cancelled and refunded amounts
    lines = sales_lines(p, wide_start, end)
    for r in (lines.annotate(day=TruncDate("origin_order__paid_at", tzinfo=tz))
              .values("day", "origin_order__shop_id", "origin_order__platform")
              .annotate(units=Sum("quantity", filter=LINE_SOLD), goods=Sum("paid", filter=LINE_SOLD),
                        cancelled=Sum("paid", filter=LINE_CANCELLED), refunded=Sum("paid", filter=LINE_REFUNDED))
              .order_by()):
        for f in bucket(r["day"], r["origin_order__shop_id"], r["origin_order__platform"]):
            f.units += int(r["units"] or 0)
            f.goods += _money(r["goods"])
            f.cancelled_amount += _money(r["cancelled"])
            f.refunded_amount += _money(r["refunded"])

    # 2. orders by (paid day, shop): paid orders, all orders, freight
    orders = sales_orders(p, wide_start, end)
    for r in (orders.annotate(day=TruncDate("paid_at", tzinfo=tz)).values("day", "shop_id", "platform")
              .annotate(n=Count("id", filter=ORDER_SOLD), all=Count("id"),
                        freight=Sum("freight_amount", filter=ORDER_SOLD)).order_by()):
        for f in bucket(r["day"], r["shop_id"], r["platform"]):
            f.orders += r["n"]
            f.all_orders += r["all"]
            f.freight += _money(r["freight"])

    # 3. parcels by (shipped day, shop): parcels, promised, on time
    shipped = parcels(p, wide_start, end)
    promised = Q(ship_by__isnull=False)
    for r in (shipped.annotate(day=TruncDate("shipped_at", tzinfo=tz)).values("day", "shop_id", "platform")
              .annotate(n=Count("id"), promised=Count("id", filter=promised),
                        on_time=Count("id", filter=promised & Q(shipped_at__lte=F("ship_by")))).order_by()):
        for f in bucket(r["day"], r["shop_id"], r["platform"]):
            f.parcels += r["n"]
            f.promised += r["promised"]
            f.on_time += r["on_time"]

    # 4. median hours from paid to shipped
    per_day, total.median_hours, previous.median_hours = _medians(shipped, tz, start)
    for day, figures in days.items():
        figures.median_hours = per_day.get(day)

    # 5. top SKUs (period only)
    current_lines = sales_lines(p, start, end)
    by_units = _sku_rows(current_lines, "-units")
    by_gmv = _sku_rows(current_lines, "-gmv")

    # 6. paid orders by hour of day
    per_hour = dict(sales_orders(p, start, end).filter(ORDER_SOLD).annotate(hour=ExtractHour("paid_at", tzinfo=tz))
                    .values_list("hour").annotate(n=Count("id")).order_by())
    hours = [(h, per_hour.get(h, 0)) for h in range(24)]

    # 7. provinces (spellings of one province merged: 浙江省 = 浙江)
    merged: dict[str, list] = {}
    for r in (current_lines.filter(LINE_SOLD).values("origin_order__receiver_province")
              .annotate(orders=Count("origin_order", distinct=True), units=Sum("quantity"), gmv=Sum("paid")).order_by()):
        name = (r["origin_order__receiver_province"] or "").strip()
        key = province_key(name)
        row = merged.setdefault(key, [name, 0, 0, ZERO])
        if len(name) > len(row[0]):
            row[0] = name
        row[1] += r["orders"]
        row[2] += int(r["units"] or 0)
        row[3] += _money(r["gmv"])
    provinces = [ProvinceRow(province=name or "—", orders=n, units=u, gmv=g, share=_ratio(g, total.goods))
                 for name, n, u, g in sorted(merged.values(), key=lambda x: (-x[3], -x[1], x[0]))[:TOP]]

    # 8. breakdowns by shop and by platform
    names = shop_names(ids=list(shops)) if shops else {}
    by_shop = sorted((GroupRow(key=k, label=names.get(k, f"#{k}"), figures=f) for k, f in shops.items()),
                     key=lambda g: (-g.figures.gmv, -g.figures.orders, g.label))
    platforms: dict[str, Figures] = {}
    for shop_id, f in shops.items():
        platforms.setdefault(shop_platform[shop_id], Figures()).add(f)
    labels = dict(platform_choices())
    by_platform = sorted((GroupRow(key=k, label=str(labels.get(k, k)), figures=f) for k, f in platforms.items()),
                         key=lambda g: (-g.figures.gmv, -g.figures.orders, g.label))

    report = SalesReport(params=p, timezone=str(tz), days=[DayRow(d, f) for d, f in days.items()], total=total,
                         previous=previous, by_shop=by_shop, by_platform=by_platform, top_skus_by_units=by_units,
                         top_skus_by_gmv=by_gmv, hours=hours, provinces=provinces)
    cur, prev = total.as_dict(), previous.as_dict()
    report.kpis = [{"key": k, "label": KPI_LABELS[k], "value": cur[k], "previous": prev[k],
                    "change": change_pct(cur[k], prev[k]), "higher_is_better": k in HIGHER_IS_BETTER} for k in KPIS]
    return report


def gmv_today_vs_yesterday() -> tuple[Decimal, Decimal | None]:
    """GMV paid today (tenant's day) and its % change from yesterday up to the same time of day (a
    morning is not compared with a whole day), for the dashboard. Two queries."""
    now = timezone.now()
    today = tenant_date(now)
    yesterday = today - timedelta(days=1)
    start, split = day_range(yesterday)
    end = day_range(today)[1]
    same_time = now - timedelta(days=1)
    p = ReportParams(date_from=yesterday, date_to=today)
    lines = sales_lines(p, start, end).filter(LINE_SOLD).aggregate(
        t=Sum("paid", filter=Q(origin_order__paid_at__gte=split)),
        y=Sum("paid", filter=Q(origin_order__paid_at__lt=min(split, same_time))))
    freight = sales_orders(p, start, end).filter(ORDER_SOLD).aggregate(
        t=Sum("freight_amount", filter=Q(paid_at__gte=split)),
        y=Sum("freight_amount", filter=Q(paid_at__lt=min(split, same_time))))
    today_gmv = _money(lines["t"]) + _money(freight["t"])
    yesterday_gmv = _money(lines["y"]) + _money(freight["y"])
    return today_gmv, change_pct(today_gmv, yesterday_gmv)
