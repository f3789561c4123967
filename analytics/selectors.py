"""Reads of analytics: the sales summary and the big screen from the rollups (the dirty days live).

The sales summary answers what the orders sales report answers (orders/reports.py: the same
rules, summed in orders/facts.py) for any range up to 366 days, with a constant number of queries
over rollup rows (a few hundred per day) plus, for each day whose orders changed since its rows
were written (analytics.models.DirtyDay; in practice today and yesterday), the sums of that day's
per-order facts (OrderFact, OrderLineFact, kept current by the order events: see
analytics/services/facts.py), or the day's orders read live if its facts were never built.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, Max, OuterRef, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftersales import selectors as aftersales_selectors
from erp.tenancy.context import require_tenant
from erp.tenancy.dates import day_range, tenant_date, tenant_today, tenant_zone
from integrations import selectors as integrations_selectors
from inventory import selectors as inventory_selectors
from orders import selectors as order_selectors

from .models import DirtyDay, FactDay, OrderFact, OrderLineFact, SalesHour, SalesProvinceDay, SalesSkuDay

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
MAX_DAYS = 366
TOP = 10
SUMS = ("orders", "all_orders", "units", "goods", "freight", "cancelled_amount", "refunded_amount",
        "parcels", "promised", "on_time")
MONEY = ("goods", "freight", "cancelled_amount", "refunded_amount")


# --- parameters -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    date_from: date
    date_to: date
    shop_id: int | None = None
    platform: str = ""

    @property
    def days(self) -> int:
        return (self.date_to - self.date_from).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        prev_to = self.date_from - timedelta(days=1)
        return prev_to - timedelta(days=self.days - 1), prev_to


def summary_params(params, *, today: date | None = None) -> Params:
    """``date_from``, ``date_to`` (YYYY-MM-DD; default the last 7 days), ``shop`` (id),
    ``platform``; ValidationError naming each bad field."""
    today = today or tenant_today()
    errors: dict[str, list[str]] = {}

    def day(name: str, default: date) -> date | None:
        value = (params.get(name) or "").strip()
        if not value:
            return default
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors[name] = [str(_("A date as YYYY-MM-DD."))]
            return None

    date_from = day("date_from", today - timedelta(days=6))
    date_to = day("date_to", today)
    if date_from and date_to:
        if date_from > date_to:
            errors["date_from"] = [str(_("The start date is after the end date."))]
        elif (date_to - date_from).days + 1 > MAX_DAYS:
            errors["date_to"] = [str(_("A range of at most %(days)d days.") % {"days": MAX_DAYS})]
    shop_id = None
    shop = (params.get("shop") or "").strip()
    if shop:
        if shop.isdigit() and len(shop) < 19:
            shop_id = int(shop)
        else:
            errors["shop"] = [str(_("A shop id (a whole number)."))]
    platform = (params.get("platform") or "").strip()
    if platform and platform not in integrations_selectors.platform_values():
        errors["platform"] = [str(_("One of: %(values)s.") % {"values": ", ".join(integrations_selectors.platform_values())})]
    if errors:
        raise ValidationError(errors)
    return Params(date_from=date_from, date_to=date_to, shop_id=shop_id, platform=platform)


# --- figures ----------------------------------------------------------------------------------------
def _ratio(part, whole, scale=Decimal(100)) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * scale / Decimal(whole)).quantize(TENTH, rounding=ROUND_HALF_UP)


def change_pct(current, previous) -> Decimal | None:
    if current is None or previous is None or not previous:
        return None
    return ((Decimal(current) - Decimal(previous)) * 100 / Decimal(previous)).quantize(TENTH, rounding=ROUND_HALF_UP)


def _blank() -> dict:
    return {k: (ZERO if k in MONEY else 0) for k in SUMS}


def _add(into: dict, row: dict) -> None:
    for k in SUMS:
        value = row.get(k) or 0
        into[k] += Decimal(value).quantize(CENT) if k in MONEY else int(value)


def figures(f: dict) -> dict:
    """The report's figures (orders/reports.Figures.as_dict, less the median hours to ship)."""
    gmv = f["goods"] + f["freight"]
    return {
        "paid_orders": f["orders"], "units": f["units"], "gmv": gmv, "goods": f["goods"], "freight": f["freight"],
        "average_order_value": (gmv / f["orders"]).quantize(CENT, rounding=ROUND_HALF_UP) if f["orders"] else None,
        "cancelled_orders": f["all_orders"] - f["orders"], "cancelled_amount": f["cancelled_amount"],
        "refunded_after_shipment": f["refunded_amount"], "shipped_parcels": f["parcels"],
        "parcels_with_promise": f["promised"], "shipped_on_time": f["on_time"],
        "on_time_ship_rate": _ratio(f["on_time"], f["promised"]),
    }


# --- rollups + live days ----------------------------------------------------------------------------
def dirty_days(first: date, last: date) -> list[date]:
    return sorted(DirtyDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True))


def _dirty_and_built(first: date, last: date) -> tuple[list[date], set[date]]:
    """The dirty days of first..last, and those of them whose facts are built (one query)."""
    rows = (DirtyDay.objects.filter(day__gte=first, day__lte=last)
            .annotate(built=Exists(FactDay.objects.filter(day=OuterRef("day")))).values_list("day", "built"))
    rows = sorted(rows)
    return [d for d, _ in rows], {d for d, built in rows if built}


def _merge(out: dict, key: tuple, init: dict, values: dict) -> None:
    row = out.setdefault(key, {**init, **{k: (ZERO if k in MONEY else 0) for k in SUMS}})
    for k, v in values.items():
        row[k] += v or 0


def fact_rows(days: list[date]) -> dict[str, list[dict]]:
    """What orders.selectors.sales_facts answers for ``days``, summed from the per-order facts
    (three grouped queries over the days' rows, index on the paid and the shipped day)."""
    if not days:
        return {"hours": [], "skus": [], "provinces": []}
    hours: dict[tuple, dict] = {}
    paid = ("orders", "all_orders", "units", "goods", "freight", "cancelled_amount", "refunded_amount")
    for r in (OrderFact.objects.filter(paid_day__in=days).values("paid_day", "paid_hour", "shop_id", "platform")
              .annotate(**{k: Sum(k) for k in paid}).order_by()):
        key = (r["paid_day"], r["paid_hour"], r["shop_id"], r["platform"])
        _merge(hours, key, dict(zip(("day", "hour", "shop_id", "platform"), key, strict=True)), {k: r[k] for k in paid})
    shipped = ("parcels", "promised", "on_time")
    for r in (OrderFact.objects.filter(ship_day__in=days).values("ship_day", "ship_hour", "shop_id", "platform")
              .annotate(**{k: Sum(k) for k in shipped}).order_by()):
        key = (r["ship_day"], r["ship_hour"], r["shop_id"], r["platform"])
        _merge(hours, key, dict(zip(("day", "hour", "shop_id", "platform"), key, strict=True)),
               {k: r[k] for k in shipped})
    skus = [{"day": r["paid_day"], "shop_id": r["shop_id"], "platform": r["platform"], "sku_id": r["sku_id"],
             "sku_code": r["sku_code"], "title": r["title"] or "", "units": int(r["units"] or 0),
             "gmv": Decimal(r["gmv"] or 0)}
            for r in (OrderLineFact.objects.filter(paid_day__in=days)
                      .values("paid_day", "shop_id", "platform", "sku_id", "sku_code")
                      .annotate(units=Sum("units"), gmv=Sum("gmv"), title=Max("title")).order_by())]
    provinces: dict[tuple, dict] = {}
    for r in (OrderFact.objects.filter(paid_day__in=days, sold_lines__gt=0)
              .values("paid_day", "shop_id", "platform", "province", "province_name")
              .annotate(n=Count("id"), units=Sum("units"), gmv=Sum("goods")).order_by()):
        key = (r["paid_day"], r["shop_id"], r["platform"], r["province"])
        out = provinces.setdefault(key, {"day": key[0], "shop_id": key[1], "platform": key[2], "province": key[3],
                                         "name": r["province_name"], "orders": 0, "units": 0, "gmv": ZERO})
        if len(r["province_name"]) > len(out["name"]):
            out["name"] = r["province_name"]
        out["orders"] += r["n"]
        out["units"] += int(r["units"] or 0)
        out["gmv"] += Decimal(r["gmv"] or 0)
    return {"hours": list(hours.values()), "skus": skus, "provinces": list(provinces.values())}


def _live_facts(days: list[date]) -> dict[str, list[dict]]:
    """Facts of ``days`` read from the orders (a run of consecutive days in one window)."""
    out: dict[str, list[dict]] = {"hours": [], "skus": [], "provinces": []}
    wanted = set(days)
    runs: list[list[date]] = []
    for d in sorted(days):
        if runs and d - runs[-1][1] == timedelta(days=1):
            runs[-1][1] = d
        else:
            runs.append([d, d])
    for first, last in runs:
        start, end = day_range(first, last)
        facts = order_selectors.sales_facts(start=start, end=end)
        for key in out:
            out[key].extend(r for r in facts[key] if r["day"] in wanted)
    return out


def _scoped(qs, p: Params):
    if p.shop_id is not None:
        qs = qs.filter(shop_id=p.shop_id)
    if p.platform:
        qs = qs.filter(platform=p.platform)
    return qs


def _in_scope(row: dict, p: Params) -> bool:
    return (p.shop_id is None or row["shop_id"] == p.shop_id) and (not p.platform or row["platform"] == p.platform)


class Source:
    """Rollup rows of first..last for the clean days; for the dirty ones the sums of their orders'
    facts, or the orders read live for a dirty day whose facts were never built."""

    def __init__(self, first: date, last: date, p: Params):
        self.first, self.last, self.p = first, last, p
        self.dirty, built = _dirty_and_built(first, last)
        self.live = fact_rows(sorted(built))
        unbuilt = [d for d in self.dirty if d not in built]
        if unbuilt:
            for key, rows in _live_facts(unbuilt).items():
                self.live[key].extend(rows)

    def rows(self, model, first: date | None = None, last: date | None = None):
        qs = model.objects.filter(day__gte=first or self.first, day__lte=last or self.last)
        if self.dirty:
            qs = qs.exclude(day__in=self.dirty)
        return _scoped(qs, self.p)

    def live_rows(self, key: str, first: date | None = None, last: date | None = None):
        first, last = first or self.first, last or self.last
        return [r for r in self.live[key] if first <= r["day"] <= last and _in_scope(r, self.p)]

    def by_day_shop(self) -> list[dict]:
        """[{day, shop_id, platform, SUMS...}] (SQL-grouped rollups + the live days)."""
        rows = list(self.rows(SalesHour).values("day", "shop_id", "platform")
                    .annotate(**{k: Sum(k) for k in SUMS}).order_by())
        return rows + self.live_rows("hours")

    def by_hour(self, first: date, last: date) -> dict[int, dict]:
        out = defaultdict(_blank)
        for r in (self.rows(SalesHour, first, last).values("hour").annotate(**{k: Sum(k) for k in SUMS}).order_by()):
            _add(out[r["hour"]], r)
        for r in self.live_rows("hours", first, last):
            _add(out[r["hour"]], r)
        return out

    def skus(self, first: date, last: date) -> list[dict]:
        merged: dict[tuple, dict] = {}
        grouped = (self.rows(SalesSkuDay, first, last).values("sku_id", "sku_code")
                   .annotate(units=Sum("units"), gmv=Sum("gmv"), title=Max("title")).order_by())
        for r in list(grouped) + self.live_rows("skus", first, last):
            m = merged.setdefault((r["sku_id"], r["sku_code"]), {"sku_id": r["sku_id"], "sku_code": r["sku_code"],
                                                                 "title": "", "units": 0, "gmv": ZERO})
            m["units"] += int(r["units"] or 0)
            m["gmv"] += Decimal(r["gmv"] or 0)
            m["title"] = max(m["title"], r["title"] or "")
        return list(merged.values())

    def provinces(self, first: date, last: date) -> list[dict]:
        merged: dict[str, dict] = {}
        grouped = (self.rows(SalesProvinceDay, first, last).values("province")
                   .annotate(orders=Sum("orders"), units=Sum("units"), gmv=Sum("gmv"), name=Max("name")).order_by())
        for r in list(grouped) + self.live_rows("provinces", first, last):
            m = merged.setdefault(r["province"], {"province": r["province"], "name": "", "orders": 0, "units": 0,
                                                  "gmv": ZERO})
            if len(r["name"] or "") > len(m["name"]):
                m["name"] = r["name"]
            m["orders"] += r["orders"] or 0
            m["units"] += int(r["units"] or 0)
            m["gmv"] += Decimal(r["gmv"] or 0)
        return list(merged.values())


def _top_skus(rows: list[dict], key: str) -> list[dict]:
    rows = sorted(rows, key=lambda r: (-r[key], r["sku_code"] or ""))[:TOP]
    return [{**r, "gmv": Decimal(r["gmv"]).quantize(CENT)} for r in rows]


def _province_rows(rows: list[dict], goods: Decimal, limit: int | None = TOP) -> list[dict]:
    rows = sorted(rows, key=lambda r: (-r["gmv"], -r["orders"], r["name"]))
    if limit:
        rows = rows[:limit]
    return [{"province": r["name"] or "—", "key": r["province"], "orders": r["orders"], "units": r["units"],
             "gmv": Decimal(r["gmv"]).quantize(CENT), "share": _ratio(r["gmv"], goods)} for r in rows]


def sales_summary(*, params: Params) -> dict:
    """The sales report of ``params`` from the rollups: totals and the previous period, change %,
    days, shops, platforms, top SKUs by units and GMV, paid orders by hour, top provinces."""
    p = params
    prev_from, prev_to = p.previous
    src = Source(prev_from, p.date_to, p)
    days = {p.date_from + timedelta(days=i): _blank() for i in range(p.days)}
    total, previous = _blank(), _blank()
    shops: dict[int, dict] = {}
    shop_platform: dict[int, str] = {}
    for r in src.by_day_shop():
        if r["day"] < p.date_from:
            _add(previous, r)
            continue
        shop_platform.setdefault(r["shop_id"], r["platform"])
        for into in (days[r["day"]], total, shops.setdefault(r["shop_id"], _blank())):
            _add(into, r)
    names = integrations_selectors.shop_names(ids=list(shops)) if shops else {}
    by_shop = sorted(({"shop": k, "name": names.get(k, f"#{k}"), **figures(f)} for k, f in shops.items()),
                     key=lambda g: (-g["gmv"], -g["paid_orders"], g["name"]))
    platforms: dict[str, dict] = {}
    for shop_id, f in shops.items():
        _add(platforms.setdefault(shop_platform[shop_id], _blank()), f)
    labels = dict(integrations_selectors.platform_choices())
    by_platform = sorted(({"platform": k, "name": str(labels.get(k, k)), **figures(f)} for k, f in platforms.items()),
                         key=lambda g: (-g["gmv"], -g["paid_orders"], g["name"]))
    hours = src.by_hour(p.date_from, p.date_to)
    skus = src.skus(p.date_from, p.date_to)
    cur, prev = figures(total), figures(previous)
    return {
        "date_from": p.date_from, "date_to": p.date_to, "previous_from": prev_from, "previous_to": prev_to,
        "timezone": str(tenant_zone()), "shop": p.shop_id, "platform": p.platform or None,
        "totals": cur, "previous": prev, "change_pct": {k: change_pct(cur[k], prev[k]) for k in cur},
        "days": [{"day": d, **figures(f)} for d, f in days.items()],
        "by_shop": by_shop, "by_platform": by_platform,
        "top_skus_by_units": _top_skus(skus, "units"), "top_skus_by_gmv": _top_skus(skus, "gmv"),
        "hours": [{"hour": h, "paid_orders": hours[h]["orders"] if h in hours else 0} for h in range(24)],
        "provinces": _province_rows(src.provinces(p.date_from, p.date_to), total["goods"]),
        "live_days": [d for d in src.dirty if d >= p.date_from],
    }


# --- the big screen ---------------------------------------------------------------------------------
STOCK_TTL = 60


def _stock_alerts() -> dict:
    """Out-of-stock and at-risk SKUs (inventory's stock health); cached a minute per tenant (it
    reads 30 days of shipments, the wall display polls every few seconds)."""
    key = f"analytics:stock-alerts:{require_tenant().pk}"
    value = cache.get(key)
    if value is None:
        lines = inventory_selectors.stock_health()
        counts = defaultdict(int)
        for line in lines:
            counts[line.status] += 1
        alerts = sorted((x for x in lines if x.status in ("out", "risk")),
                        key=lambda x: (x.status != "out", x.days_of_cover or 0, x.code))[:8]
        value = {"out": counts["out"], "risk": counts["risk"], "slow": counts["slow"],
                 "lines": [{"sku_id": x.sku_id, "code": x.code, "name": x.name, "available": x.available,
                            "days_of_cover": x.days_of_cover, "status": x.status} for x in alerts]}
        cache.set(key, value, STOCK_TTL)
    return value


def _same_time_yesterday(src: Source, yesterday: date, now: datetime) -> dict:
    """Figures of yesterday up to the same time of day: the rollups' whole hours before it plus the
    rest of that hour from its orders' facts (read live if yesterday's facts were never built)."""
    same_time = now - timedelta(days=1)
    local = same_time.astimezone(tenant_zone())
    hour_start = local.replace(minute=0, second=0, microsecond=0)
    out = _blank()
    if yesterday in src.dirty:
        rows = [r for r in src.live_rows("hours", yesterday, yesterday) if r["hour"] < local.hour]
    else:
        rows = list(src.rows(SalesHour, yesterday, yesterday).filter(hour__lt=local.hour)
                    .values("shop_id").annotate(**{k: Sum(k) for k in SUMS}).order_by())
    for r in rows:
        _add(out, r)
    if tenant_date(hour_start) == yesterday and FactDay.objects.filter(day=yesterday).exists():
        paid = ("orders", "all_orders", "units", "goods", "freight", "cancelled_amount", "refunded_amount")
        part = _scoped(OrderFact.objects.filter(paid_day=yesterday, paid_at__gte=hour_start, paid_at__lt=same_time),
                       src.p).aggregate(**{k: Sum(k) for k in paid})
        _add(out, part)
    elif tenant_date(hour_start) == yesterday:
        part = order_selectors.sales_facts(start=hour_start, end=same_time)
        for r in part["hours"]:
            if r["day"] == yesterday and _in_scope(r, src.p):
                _add(out, {**r, "parcels": 0, "promised": 0, "on_time": 0})
    return out


def bigscreen(*, now: datetime | None = None) -> dict:
    """Everything the wall display shows, from the same rollups as the sales summary."""
    now = now or timezone.now()
    today = tenant_date(now)
    yesterday = today - timedelta(days=1)
    p = Params(date_from=today, date_to=today)
    src = Source(yesterday, today, p)
    total = _blank()
    shops: dict[int, dict] = {}
    platforms: dict[str, dict] = {}
    for r in src.by_day_shop():
        if r["day"] != today:
            continue
        _add(total, r)
        _add(shops.setdefault(r["shop_id"], _blank()), r)
        _add(platforms.setdefault(r["platform"], _blank()), r)
    at_same_time = _same_time_yesterday(src, yesterday, now)
    hours_today = src.by_hour(today, today)
    hours_yesterday = src.by_hour(yesterday, yesterday)
    names = integrations_selectors.shop_names(ids=list(shops)) if shops else {}
    labels = dict(integrations_selectors.platform_choices())
    cur, prev = figures(total), figures(at_same_time)
    counts = order_selectors.attention_counts()
    statuses = order_selectors.status_counts()
    health = []
    for h in integrations_selectors.shops_health():
        failures = max((j.consecutive_failures for j in h.jobs), default=0)
        last = max((j.last_success_at for j in h.jobs if j.last_success_at), default=None)
        health.append({"shop": h.shop.pk, "name": h.shop.name, "platform": h.shop.platform, "tone": h.tone,
                       "failures": failures, "failed_pushes": h.failed_pushes, "pending_pushes": h.pending_pushes,
                       "last_success_at": last})
    after = aftersales_selectors.attention_counts()
    return {
        "now": now, "day": today, "timezone": str(tenant_zone()),
        "today": cur, "yesterday_same_time": prev,
        "change_pct": {"gmv": change_pct(cur["gmv"], prev["gmv"]),
                       "paid_orders": change_pct(cur["paid_orders"], prev["paid_orders"])},
        "hours": [{"hour": h, "today": hours_today[h]["orders"] if h in hours_today else 0,
                   "yesterday": hours_yesterday[h]["orders"] if h in hours_yesterday else 0} for h in range(24)],
        "queues": {"review": counts.get("pending_review", 0), "on_hold": counts.get("on_hold", 0),
                   "out_of_stock": counts.get("out_of_stock", 0),
                   "to_ship": statuses.get("allocated", 0) + statuses.get("picking", 0),
                   "shipped_today": order_selectors.shipped_today()},
        "by_platform": sorted(({"platform": k, "name": str(labels.get(k, k)), "gmv": f["goods"] + f["freight"],
                                "paid_orders": f["orders"]} for k, f in platforms.items()), key=lambda g: -g["gmv"]),
        "by_shop": sorted(({"shop": k, "name": names.get(k, f"#{k}"), "gmv": f["goods"] + f["freight"],
                            "paid_orders": f["orders"]} for k, f in shops.items()), key=lambda g: -g["gmv"]),
        "top_skus": _top_skus(src.skus(today, today), "gmv"),
        "provinces": _province_rows(src.provinces(today, today), total["goods"], limit=None),
        "stock": _stock_alerts(),
        "aftersales": {"open": after.get("active", 0), "overdue": after.get("overdue", 0),
                       "awaiting_return": after.get("awaiting_return", 0)},
        "sync": health,
    }


# --- BI feeds: the bi_* views, paged by their stable key (analytics.services.bi) ---------------
BI_PAGE_DEFAULT = 500
BI_PAGE_MAX = 1000


def bi_params(dataset: str, params) -> dict:
    """Validate a BI page request: ``after`` (the key of the last row read), ``limit`` (1-1000),
    ``changed_since`` / ``changed_before`` (ISO date or date-time; a date is the tenant's midnight)."""
    from django.utils.dateparse import parse_date, parse_datetime

    from .services.bi import DATASETS

    if dataset not in DATASETS:
        raise ValidationError({"dataset": _("Unknown dataset.")})
    errors, out = {}, {"dataset": DATASETS[dataset]}
    after = (params.get("after") or "").strip()
    limit = (params.get("limit") or "").strip()
    try:
        out["after"] = int(after) if after else None
        if out["after"] is not None and not 0 <= out["after"] < 2**63:
            raise ValueError
    except ValueError:
        errors["after"] = _("A row key (whole number) from the previous page's next_after.")
    try:
        out["limit"] = int(limit) if limit else BI_PAGE_DEFAULT
        if not 1 <= out["limit"] <= BI_PAGE_MAX:
            raise ValueError
    except ValueError:
        errors["limit"] = _("A whole number from 1 to %(max)s.") % {"max": BI_PAGE_MAX}
    for name in ("changed_since", "changed_before"):
        raw = (params.get(name) or "").strip()
        out[name] = None
        if not raw:
            continue
        try:
            moment = parse_datetime(raw)
            if moment is None:
                day = parse_date(raw)
                moment = day_range(day)[0] if day else None
            elif timezone.is_naive(moment):
                moment = timezone.make_aware(moment, tenant_zone())
        except ValueError:
            moment = None
        if moment is None:
            errors[name] = _("A date (YYYY-MM-DD) or an ISO 8601 date-time.")
        out[name] = moment
    if errors:
        raise ValidationError(errors)
    return out


def _bi_value(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


_BI_VIEW_BODIES: dict[tuple[str, str], str] = {}


def _bi_view_body(connection, view: str) -> str:
    """The view's defining query (pg_get_viewdef), read once per process. The API reads it as a
    subquery rather than the view: a security_barrier view is planned on its own, so a page in
    key order would scan and sort all the tenant's rows; inlined, the key's index is walked and
    stops after one page. The body keeps the view's tenant rule (and the tables' RLS applies)."""
    key = (connection.alias, view)
    if key not in _BI_VIEW_BODIES:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_viewdef(%s::regclass)", [view])
            # a literal % in the body must not read as a query parameter
            _BI_VIEW_BODIES[key] = cursor.fetchone()[0].strip().rstrip(";").replace("%", "%%")
    return _BI_VIEW_BODIES[key]


def bi_page(*, dataset, after: int | None = None, limit: int = BI_PAGE_DEFAULT, changed_since=None,
            changed_before=None) -> dict:
    """One page of a BI view for the current tenant, in key order: {rows, next_after, as_of}. The
    rows are the view's columns less tenant_id; money is a decimal string. For an incremental pull,
    keep as_of of the first page and pass it as changed_since next time."""
    from psycopg import sql

    from erp.db.routers import reader

    tenant = require_tenant()
    as_of = timezone.now()
    # the view admits the current tenant's rows only; saying so with a constant as well lets the
    # planner use the (tenant, key) indexes and estimate the tenant's share from the statistics
    where, args = [sql.SQL("tenant_id = %s")], [tenant.pk]
    if after is not None:
        where.append(sql.SQL("{} > %s").format(sql.Identifier(dataset.key)))
        args.append(after)
    if changed_since is not None:
        where.append(sql.SQL("{} >= %s").format(sql.Identifier(dataset.changed)))
        args.append(changed_since)
    if changed_before is not None:
        where.append(sql.SQL("{} < %s").format(sql.Identifier(dataset.changed)))
        args.append(changed_before)
    connection = reader()
    query = sql.SQL("SELECT * FROM ({body}) bi{where} ORDER BY {key} LIMIT %s").format(
        body=sql.SQL(_bi_view_body(connection, dataset.view)), key=sql.Identifier(dataset.key),
        where=sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where))
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(cursor.cursor), [*args, limit + 1])
        names = [col.name for col in cursor.description]
        fetched = cursor.fetchall()
    rows = [{n: _bi_value(v) for n, v in zip(names, row, strict=True) if n != "tenant_id"} for row in fetched[:limit]]
    next_after = rows[-1][dataset.key] if len(fetched) > limit else None
    return {"dataset": dataset.name, "rows": rows, "next_after": next_after, "as_of": as_of}
