"""Sales facts for the analytics rollups: the sales report's figures (orders/reports.py, the same
rules: LINE_SOLD, ORDER_SOLD, parcels) summed per tenant day, hour, shop and platform, plus the
SKU and province breakdowns per day and shop. Other apps read them through ``orders.selectors``
(sales_facts, sales_paid_days, sales_days_changed_since).

Every figure is summable over days, hours and shops, so a rollup of these rows answers the sales
report's totals, days, shops, platforms, hours, top SKUs and provinces (the median hours to ship
is not summable and stays with the orders report). Five grouped queries per window, bounded by
the window's orders (index on paid_at / shipped_at).

``order_facts`` gives the same facts per order (the paid part of a platform order, the parcel part
of a shipment, the sold lines per SKU): summed over a window's orders (``sales_order_ids``) they
are ``sales_facts`` of the window. analytics keeps them per order for the days whose rollups are
stale, rewriting an order's row when an event says it changed (``sales_related_orders``: the
orders whose facts a change of the given ones touches).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from django.db.models import Count, F, Max, Q, Sum, Value
from django.db.models.functions import Coalesce, ExtractHour, NullIf, TruncDate

from erp.tenancy.dates import tenant_date, tenant_zone

from .models import Order, OrderKind, OrderLine, OrderStatus, RefundState
from .ports import province_key
from .reports import (
    LINE_CANCELLED,
    LINE_REFUNDED,
    LINE_SOLD,
    ORDER_SOLD,
    SHIPPED,
    ReportParams,
    parcels,
    sales_lines,
    sales_orders,
)

ZERO = Decimal("0.00")
HOUR_FIGURES = ("orders", "all_orders", "units", "goods", "freight", "cancelled_amount", "refunded_amount",
                "parcels", "promised", "on_time")


def _d(value) -> Decimal:
    return ZERO if value is None else Decimal(value)


def sales_facts(*, start: datetime, end: datetime) -> dict[str, list[dict]]:
    """{"hours": [...], "skus": [...], "provinces": [...]} for the orders paid (parcels: shipped) in
    [start, end). Hour rows: day, hour, shop_id, platform and HOUR_FIGURES (paid figures by paid
    hour, parcel figures by shipped hour); SKU rows: day, shop_id, platform, sku_id, sku_code,
    title, units, gmv (sold lines); province rows: day, shop_id, platform, province (one spelling,
    orders.ports.province_key), name (the longest spelling seen), orders, units, gmv."""
    tz = tenant_zone()
    p = ReportParams(date_from=tenant_date(start), date_to=tenant_date(end))
    hours: dict[tuple, dict] = {}

    def row(day: date, hour: int, shop_id: int, platform: str) -> dict:
        key = (day, hour, shop_id, platform)
        if key not in hours:
            hours[key] = {"day": day, "hour": hour, "shop_id": shop_id, "platform": platform,
                          **{name: (ZERO if name in ("goods", "freight", "cancelled_amount", "refunded_amount") else 0)
                             for name in HOUR_FIGURES}}
        return hours[key]

    paid_day = TruncDate("origin_order__paid_at", tzinfo=tz)
    paid_hour = ExtractHour("origin_order__paid_at", tzinfo=tz)
    # the window's platform orders first (index on paid_at), then their lines by origin order (its
    # index): joined in one statement the planner hashes every line of the tenant for a day's orders
    window = list(Order.objects.filter(kind=OrderKind.PLATFORM, paid_at__gte=start, paid_at__lt=end)
                  .order_by().values_list("id", flat=True))
    lines = sales_lines(p, start, end).filter(origin_order_id__in=window)
    for r in (lines.annotate(day=paid_day, hour=paid_hour)
              .values("day", "hour", "origin_order__shop_id", "origin_order__platform")
              .annotate(units=Sum("quantity", filter=LINE_SOLD), goods=Sum("paid", filter=LINE_SOLD),
                        cancelled=Sum("paid", filter=LINE_CANCELLED), refunded=Sum("paid", filter=LINE_REFUNDED))
              .order_by()):
        f = row(r["day"], r["hour"], r["origin_order__shop_id"], r["origin_order__platform"])
        f["units"] += int(r["units"] or 0)
        f["goods"] += _d(r["goods"])
        f["cancelled_amount"] += _d(r["cancelled"])
        f["refunded_amount"] += _d(r["refunded"])

    for r in (sales_orders(p, start, end)
              .annotate(day=TruncDate("paid_at", tzinfo=tz), hour=ExtractHour("paid_at", tzinfo=tz))
              .values("day", "hour", "shop_id", "platform")
              .annotate(n=Count("id", filter=ORDER_SOLD), all=Count("id"),
                        freight=Sum("freight_amount", filter=ORDER_SOLD)).order_by()):
        f = row(r["day"], r["hour"], r["shop_id"], r["platform"])
        f["orders"] += r["n"]
        f["all_orders"] += r["all"]
        f["freight"] += _d(r["freight"])

    promised = Q(ship_by__isnull=False)
    for r in (parcels(p, start, end)
              .annotate(day=TruncDate("shipped_at", tzinfo=tz), hour=ExtractHour("shipped_at", tzinfo=tz))
              .values("day", "hour", "shop_id", "platform")
              .annotate(n=Count("id"), promised=Count("id", filter=promised),
                        on_time=Count("id", filter=promised & Q(shipped_at__lte=F("ship_by")))).order_by()):
        f = row(r["day"], r["hour"], r["shop_id"], r["platform"])
        f["parcels"] += r["n"]
        f["promised"] += r["promised"]
        f["on_time"] += r["on_time"]

    sold = lines.filter(LINE_SOLD).annotate(day=paid_day)
    skus = [{"day": r["day"], "shop_id": r["origin_order__shop_id"], "platform": r["origin_order__platform"],
             "sku_id": r["sku_id"], "sku_code": r["code"] or "", "title": r["title"] or "",
             "units": int(r["units"] or 0), "gmv": _d(r["gmv"])}
            for r in (sold.values("day", "origin_order__shop_id", "origin_order__platform", "sku_id",
                                  code=Coalesce(NullIf("sku_code", Value("")), "outer_id"))
                      .annotate(units=Sum("quantity"), gmv=Sum("paid"), title=Max("title")).order_by())]

    provinces: dict[tuple, dict] = {}
    for r in (sold.values("day", "origin_order__shop_id", "origin_order__platform", "origin_order__receiver_province")
              .annotate(orders=Count("origin_order", distinct=True), units=Sum("quantity"), gmv=Sum("paid"))
              .order_by()):
        name = (r["origin_order__receiver_province"] or "").strip()
        key = (r["day"], r["origin_order__shop_id"], r["origin_order__platform"], province_key(name))
        out = provinces.setdefault(key, {"day": key[0], "shop_id": key[1], "platform": key[2], "province": key[3],
                                         "name": name, "orders": 0, "units": 0, "gmv": ZERO})
        if len(name) > len(out["name"]):
            out["name"] = name
        out["orders"] += r["orders"]
        out["units"] += int(r["units"] or 0)
        out["gmv"] += _d(r["gmv"])
    return {"hours": list(hours.values()), "skus": skus, "provinces": list(provinces.values())}


def sales_paid_days(*, order_ids=(), shop_id: int | None = None, platform_order_ids=()) -> set[date]:
    """The tenant days on which the given orders (and the platform orders their lines came from)
    were paid, and the days they shipped: the days whose sales facts a change of them touches."""
    q = Q(pk__in=list(order_ids)) | Q(pk__in=OrderLine.objects.filter(order_id__in=list(order_ids))
                                     .values("origin_order_id")) if order_ids else Q(pk__in=[])
    if shop_id is not None and platform_order_ids:
        q |= Q(shop_id=shop_id, kind=OrderKind.PLATFORM, platform_order_id__in=list(platform_order_ids))
    days = set()
    for paid, shipped in Order.objects.filter(q).values_list("paid_at", "shipped_at"):
        days.update(tenant_date(t) for t in (paid, shipped) if t is not None)
    return days


def sales_days_changed_since(*, since: datetime) -> set[date]:
    """Paid and shipped days of the orders changed (updated_at) since ``since``: the repair job's
    incremental refresh (catches changes made without an event)."""
    days = set()
    qs = Order.objects.filter(updated_at__gte=since).exclude(kind=OrderKind.RESHIP)
    for paid, shipped in qs.values_list("paid_at", "shipped_at").distinct():
        days.update(tenant_date(t) for t in (paid, shipped) if t is not None)
    return days


# every paid platform order / every parcel, whenever: order_facts selects by id
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FOREVER = datetime(3000, 1, 1, tzinfo=UTC)
FACT_BATCH = 5000


def _empty_fact(order_id: int) -> dict:
    return {"order_id": order_id, "shop_id": 0, "platform": "", "paid_at": None, "paid_day": None, "paid_hour": None,
            "orders": 0, "all_orders": 0, "units": 0, "goods": ZERO, "freight": ZERO, "cancelled_amount": ZERO,
            "refunded_amount": ZERO, "sold_lines": 0, "province": "", "province_name": "", "shipped_at": None,
            "ship_day": None, "ship_hour": None, "parcels": 0, "promised": 0, "on_time": 0, "lines": []}


def _line_cancelled(line: dict, origin: dict, shipped_by_us: bool) -> bool:
    """LINE_CANCELLED (orders/reports.py) for one line of a platform order."""
    shipped_outside = origin["status"] in SHIPPED and not shipped_by_us
    return not line["is_committed"] and (origin["status"] == OrderStatus.CANCELLED
                                         or (line["is_stopped"] and not shipped_outside))


def _order_sold(origin: dict, lines: list[dict]) -> bool:
    """ORDER_SOLD (orders/reports.py): the platform order has a sold line."""
    has_committed = any(x["is_committed"] for x in lines)
    has_open = any(not x["is_stopped"] for x in lines)
    return has_committed or (origin["status"] != OrderStatus.CANCELLED and (has_open or origin["status"] in SHIPPED))


def order_facts(*, order_ids) -> list[dict]:
    """One dict per id (an id that is no order, or an order that counts for nothing, answers an
    empty one: no day): order_id, shop_id, platform; the paid part of a platform order (paid_at,
    paid_day, paid_hour in the tenant's zone, orders, all_orders, units, goods, freight,
    cancelled_amount, refunded_amount, sold_lines, province (province_key), province_name); the
    parcel part of a shipment (shipped_at, ship_day, ship_hour, parcels, promised, on_time); lines:
    the sold lines per SKU and title [{sku_id, sku_code, title, units, gmv}].

    Summed over a window's orders they are sales_facts of the window: the same rules (LINE_SOLD,
    LINE_CANCELLED, LINE_REFUNDED, ORDER_SOLD; parcels() as is), applied in Python to the rows of
    three queries per 5,000 orders that follow the keys (the orders by id, their lines by origin
    order, the parcels by id): in SQL the rules' EXISTS over the lines made the planner hash every
    line of the tenant for a few thousand orders (tests/analytics/test_facts.py holds the two
    forms equal, case by case)."""
    tz = tenant_zone()
    ids = sorted({int(i) for i in order_ids})
    out = {i: _empty_fact(i) for i in ids}
    p = ReportParams(date_from=date.min, date_to=date.max)
    for n in range(0, len(ids), FACT_BATCH):
        chunk = ids[n:n + FACT_BATCH]
        origins = {r["id"]: r for r in Order.objects.filter(pk__in=chunk, kind=OrderKind.PLATFORM, paid_at__isnull=False)
                   .values("id", "shop_id", "platform", "status", "paid_at", "freight_amount", "receiver_province")}
        lines: dict[int, list[dict]] = {i: [] for i in origins}
        if origins:
            for r in (OrderLine.objects.filter(origin_order_id__in=list(origins))
                      .values("origin_order_id", "is_committed", "is_stopped", "refund_state", "quantity", "paid",
                              "sku_id", "sku_code", "outer_id", "title")):
                lines[r["origin_order_id"]].append(r)
        for order_id, origin in origins.items():
            mine = lines[order_id]
            shipped_by_us = any(x["is_committed"] for x in mine)
            sold = _order_sold(origin, mine)
            local = origin["paid_at"].astimezone(tz)
            name = (origin["receiver_province"] or "").strip()
            f = out[order_id]
            f.update(shop_id=origin["shop_id"], platform=origin["platform"], paid_at=origin["paid_at"],
                     paid_day=local.date(), paid_hour=local.hour, orders=int(sold), all_orders=1,
                     freight=_d(origin["freight_amount"]) if sold else ZERO, province=province_key(name),
                     province_name=name)
            skus: dict[tuple, dict] = {}
            for x in mine:
                if _line_cancelled(x, origin, shipped_by_us):
                    f["cancelled_amount"] += _d(x["paid"])
                    continue
                f["units"] += x["quantity"]
                f["goods"] += _d(x["paid"])
                f["sold_lines"] += 1
                if x["refund_state"] == RefundState.REFUNDED:
                    f["refunded_amount"] += _d(x["paid"])
                key = (x["sku_id"], x["sku_code"] or x["outer_id"] or "", x["title"] or "")
                sku = skus.setdefault(key, {"sku_id": key[0], "sku_code": key[1], "title": key[2], "units": 0,
                                            "gmv": ZERO})
                sku["units"] += x["quantity"]
                sku["gmv"] += _d(x["paid"])
            f["lines"] = list(skus.values())
        for r in (parcels(p, EPOCH, FOREVER).filter(pk__in=chunk)
                  .values("id", "shop_id", "platform", "shipped_at", "ship_by")):
            f = out[r["id"]]
            local = r["shipped_at"].astimezone(tz)
            promised = r["ship_by"] is not None
            f.update(shop_id=r["shop_id"], platform=r["platform"], shipped_at=r["shipped_at"], ship_day=local.date(),
                     ship_hour=local.hour, parcels=1, promised=int(promised),
                     on_time=int(promised and r["shipped_at"] <= r["ship_by"]))
    return list(out.values())


def sales_order_ids(*, start: datetime, end: datetime) -> set[int]:
    """Ids of the platform orders paid and of the parcels shipped in [start, end): the orders whose
    facts make sales_facts of that window."""
    p = ReportParams(date_from=tenant_date(start), date_to=tenant_date(end))
    paid = Order.objects.filter(kind=OrderKind.PLATFORM, paid_at__gte=start, paid_at__lt=end).values_list("id", flat=True)
    return set(paid.order_by()) | set(parcels(p, start, end).values_list("id", flat=True).order_by())


def sales_related_orders(*, order_ids=(), shop_id: int | None = None, platform_order_ids=()) -> set[int]:
    """The given orders (and the platform orders of ``shop_id`` with these platform ids), the
    platform orders their lines came from and the shipments holding those orders' lines (merged
    shipments, split parts): every order whose facts a change of the given ones may change."""
    base = {int(i) for i in order_ids}
    if shop_id is not None and platform_order_ids:
        base |= set(Order.objects.filter(shop_id=shop_id, kind=OrderKind.PLATFORM,
                                         platform_order_id__in=list(platform_order_ids)).values_list("id", flat=True))
    if not base:
        return set()
    related = set()
    for order_id, origin_id in (OrderLine.objects.filter(Q(order_id__in=base) | Q(origin_order_id__in=base))
                                .values_list("order_id", "origin_order_id").distinct()):
        related.update(i for i in (order_id, origin_id) if i is not None)
    return base | related
