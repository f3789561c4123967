"""Order reads: the workbench queues, filters, list and detail."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce, StrIndex
from django.db.models.lookups import GreaterThan

from erp.db.compiled import CompiledValues, rows_together
from erp.tenancy.dates import day_range, day_start, tenant_zone, today_range

from .models import HoldReason, Order, OrderEvent, OrderKind, OrderLine, OrderStatus


def q_hold_reason(reason: str) -> Q:
    # strpos() > 0 rather than LIKE '%,x,%': the planner guesses a LIKE matches almost nothing and
    # sorts every held order; with this it walks (tenant, status, -id) and stops after one page.
    return Q(GreaterThan(StrIndex("hold_reasons", Value(f",{reason},")), 0))


# Queues an operator works through: counted exactly. Finished orders (shipped, completed, cancelled,
# closed) are the tenant's history and grow without end: counting them would make every page load
# slower each day, so the workbench shows "shipped today" instead.
OPEN_STATUSES = (OrderStatus.PENDING_REVIEW, OrderStatus.ON_HOLD, OrderStatus.APPROVED, OrderStatus.ALLOCATED,
                 OrderStatus.PICKING)


def attention_counts() -> dict[str, int]:
    row = Order.objects.filter(status__in=[OrderStatus.PENDING_REVIEW, OrderStatus.ON_HOLD, OrderStatus.APPROVED]).aggregate(
        pending_review=Count("id", filter=Q(status=OrderStatus.PENDING_REVIEW)),
        on_hold=Count("id", filter=Q(status=OrderStatus.ON_HOLD)),
        out_of_stock=Count("id", filter=Q(status=OrderStatus.APPROVED, out_of_stock_since__isnull=False)),
    )
    return {k: v or 0 for k, v in row.items()}


def status_counts() -> dict[str, int]:
    """Orders per open status (index range scans over the open ones only)."""
    counts = dict(Order.objects.filter(status__in=OPEN_STATUSES).order_by().values_list("status").annotate(n=Count("id")))
    return {value: counts.get(value, 0) for value in OPEN_STATUSES}


def shipped_today() -> int:
    """Orders shipped since midnight in the tenant's timezone."""
    start, end = today_range()
    return Order.objects.filter(shipped_at__gte=start, shipped_at__lt=end,
                                status__in=[OrderStatus.SHIPPED, OrderStatus.COMPLETED]).count()


def hold_reason_counts() -> dict[str, int]:
    held = Order.objects.filter(status=OrderStatus.ON_HOLD)
    row = held.aggregate(**{r: Count("id", filter=q_hold_reason(r)) for r in HoldReason.values})
    return {r: row.get(r) or 0 for r in HoldReason.values}


FILTER_KEYS = ("status", "queue", "hold_reason", "shop", "warehouse", "platform", "buyer", "q", "platform_order_id",
               "sku", "created_from", "created_to", "paid_from", "paid_to")


def order_filter(queryset, params) -> tuple:
    """Apply the workbench / API filters from a dict-like of strings. Returns (queryset, applied).

    A malformed value (an unknown status, a date that is not one) raises Django's ValidationError
    naming each bad field, never a silent "no filter" that would answer with every order."""
    from django.core.exceptions import ValidationError
    from django.utils.dateparse import parse_date, parse_datetime

    applied, errors = {}, {}

    def when(key, end=False):
        value = (params.get(key) or "").strip()
        if not value:
            return None
        try:
            dt = parse_datetime(value) if "T" in value else None
            d = None if dt is not None else parse_date(value)
        except ValueError:
            dt = d = None
        if d is not None:  # the tenant's day: from its first instant, or up to its last one
            dt = day_range(d)[1] - timedelta(microseconds=1) if end else day_start(d)
        elif dt is not None and dt.tzinfo is None:  # a wall-clock time in the tenant's zone
            from django.utils import timezone

            dt = timezone.make_aware(dt, tenant_zone())
        if dt is None:
            errors[key] = ["not a date (YYYY-MM-DD) or an ISO 8601 date and time"]
        return dt

    def choice(key, values):
        value = params.get(key) or ""
        if value and value not in values:
            errors[key] = [f"one of: {', '.join(values)}"]
            return ""
        return value

    status = choice("status", OrderStatus.values)
    if status:
        queryset = queryset.filter(status=status)
        applied["status"] = status
    queue = choice("queue", ["out_of_stock"])
    if queue == "out_of_stock":
        queryset = queryset.filter(status=OrderStatus.APPROVED, out_of_stock_since__isnull=False)
        applied["queue"] = queue
    reason = choice("hold_reason", HoldReason.values)
    if reason:
        queryset = queryset.filter(q_hold_reason(reason))
        applied["hold_reason"] = reason
    for key in ("shop", "warehouse"):
        value = (params.get(key) or "").strip()
        if value and not value.isdigit():
            errors[key] = ["an id (a whole number)"]
        elif value:
            queryset = queryset.filter(**{f"{key}_id": int(value)})
            applied[key] = value
    platform = params.get("platform") or ""
    if platform:
        queryset = queryset.filter(platform=platform)
        applied["platform"] = platform
    buyer = (params.get("buyer") or "").strip()
    if buyer:
        queryset = queryset.filter(buyer_id=buyer)
        applied["buyer"] = buyer
    number = (params.get("q") or params.get("platform_order_id") or "").strip()
    if number:
        queryset = queryset.filter(Q(platform_order_id=number) | Q(tracking_no=number))
        applied["q"] = number
    sku = (params.get("sku") or "").strip()
    if sku:
        lines = OrderLine.objects.filter(order=OuterRef("pk"))
        lines = lines.filter(sku_id=int(sku)) if sku.isdigit() else lines.filter(Q(sku_code=sku) | Q(outer_id=sku))
        queryset = queryset.filter(Exists(lines))
        applied["sku"] = sku
    for key, field, end in (("created_from", "platform_created_at__gte", False), ("created_to", "platform_created_at__lte", True),
                            ("paid_from", "paid_at__gte", False), ("paid_to", "paid_at__lte", True)):
        value = when(key, end)
        if value is not None:
            queryset = queryset.filter(**{field: value})
            applied[key] = params.get(key)
    if errors:
        raise ValidationError(errors)
    if applied.keys() & {"created_to", "paid_to"}:
        queryset = _pin_bounded_range(queryset)
    return queryset, applied


BOUNDED_RANGE_IDS = 5000


def _pin_bounded_range(queryset):
    """A date range with an end (``created_to`` / ``paid_to``) may lie far in the past: newest-first
    pages would then walk the id index through every newer order before reaching it (Postgres
    expects matches all along the index). When the range holds at most BOUNDED_RANGE_IDS orders, read
    their ids through the date index first and pin the page to them as one array parameter: one
    descent of the primary key per id, newest first, so an old week costs what a recent one does."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return queryset
    ids = list(queryset.order_by().values_list("pk", flat=True)[: BOUNDED_RANGE_IDS + 1])
    if len(ids) > BOUNDED_RANGE_IDS:
        return queryset
    return queryset.extra(where=[f'"{Order._meta.db_table}"."id" = ANY(%s)'], params=[ids])


def order_timeline(*, order: Order):
    return OrderEvent.objects.filter(order=order).select_related("actor").order_by("id")


_T, _K = -7_000_000_001, -7_000_000_002


def _detail_queries():
    from .api.serializers import (
        BENEFIT_COLUMNS,
        EVENT_COLUMNS,
        LINE_COLUMNS,
        ORDER_DETAIL_COLUMNS,
        WAYBILL_COLUMNS,
    )
    from .models import OrderBenefit, Waybill  # noqa: F401  (the join below)

    sentinels = {"t": _T, "k": _K}
    return (
        CompiledValues(lambda t, k: Order.all_tenants.filter(tenant_id=t, pk=k)
                        .values(*ORDER_DETAIL_COLUMNS, *WAYBILL_COLUMNS).order_by()[:1], sentinels),
        CompiledValues(lambda t, k: OrderLine.all_tenants.filter(tenant_id=t, order_id=k).order_by("id")
                        .values(*LINE_COLUMNS), sentinels),
        CompiledValues(lambda t, k: OrderEvent.all_tenants.filter(tenant_id=t, order_id=k).order_by("id")
                        .values(*EVENT_COLUMNS), sentinels),
        CompiledValues(lambda t, k: OrderBenefit.all_tenants.filter(tenant_id=t, order_id=k).order_by("id")
                        .values(*BENEFIT_COLUMNS), sentinels),
    )


_DETAIL = None


def order_detail_rows(*, order_id: int):
    """(order row with its waybill's columns, line rows, event rows, benefit rows) for the API
    detail, or None: four queries, compiled once per process and sent together (one round trip on Postgres). The
    waybill comes in the order's query: an order has at most one (uniq_waybill_tenant_order)."""
    from erp.tenancy.context import require_tenant

    global _DETAIL
    if _DETAIL is None:
        _DETAIL = _detail_queries()
    values = {"t": require_tenant().pk, "k": order_id}
    found, lines, events, benefits = rows_together([(query, values) for query in _DETAIL])
    return (found[0], lines, events, benefits) if found else None


# --- the list's common pages (no filter, or only a status), compiled once per shape ---------------
_STATUS_SENTINEL, _POSITION_SENTINEL = "\x00status\x00", -7_000_000_003
_LIST_SQL: dict[tuple, CompiledValues] = {}


class CompiledListPage:
    """What DRF's CursorPagination asks of a queryset (order_by, a filter on the ordering field, a
    slice, iteration), answered with SQL compiled once per shape: the default list and the status
    queues are the workbench's most frequent requests and their SQL never changes."""

    def __init__(self, *, columns: list[str], status: str | None):
        self.columns, self.status = columns, status
        self.ordering, self.position, self.window = ("-id",), None, (0, None)

    def _copy(self, **changes):
        clone = CompiledListPage(columns=self.columns, status=self.status)
        clone.ordering, clone.position, clone.window = self.ordering, self.position, self.window
        for k, v in changes.items():
            setattr(clone, k, v)
        return clone

    def order_by(self, *fields):
        return self._copy(ordering=tuple(fields))

    def filter(self, **kwargs):
        ((lookup, value),) = kwargs.items()
        if lookup not in ("id__lt", "id__gt"):
            raise ValueError(lookup)
        try:
            return self._copy(position=(lookup, int(value)))
        except (TypeError, ValueError):
            from rest_framework.exceptions import NotFound

            raise NotFound("Invalid cursor") from None

    def __getitem__(self, window):
        return self._copy(window=(window.start or 0, window.stop))

    def __iter__(self):
        from erp.tenancy.context import require_tenant

        shape = (self.status is not None, self.ordering, self.position[0] if self.position else None, self.window)
        compiled = _LIST_SQL.get(shape)
        if compiled is None:
            compiled = CompiledValues(self._builder(), {"t": _T, "s": _STATUS_SENTINEL, "p": _POSITION_SENTINEL})
            if len(_LIST_SQL) < 64:  # page sizes and offsets vary a little; never grow without bound
                _LIST_SQL[shape] = compiled
        return iter(compiled.rows(t=require_tenant().pk, s=self.status, p=self.position[1] if self.position else None))

    def _builder(self):
        has_status, ordering, position, (start, stop) = (self.status is not None, self.ordering,
                                                         self.position[0] if self.position else None, self.window)
        columns = self.columns

        def build(t, s, p):
            qs = Order.all_tenants.filter(tenant_id=t)
            if has_status:
                qs = qs.filter(status=s)
            qs = qs.order_by(*ordering)
            if position:
                qs = qs.filter(**{position: p})
            return qs.values(*columns)[start:stop]

        return build


# --- what other apps read (docs/INTERFACES.md) ------------------------------------------------------
@dataclass(frozen=True)
class OrderLineSnapshot:
    id: int
    order_id: int
    platform_order_id: str
    platform_line_id: str
    sku_id: int | None
    sku_code: str
    title: str
    quantity: int
    price: Decimal
    discount: Decimal
    paid: Decimal
    refund_state: str
    is_stopped: bool
    warehouse_id: int | None


@dataclass(frozen=True)
class OrderSnapshot:
    id: int
    shop_id: int
    platform: str
    platform_order_id: str
    kind: str
    status: str
    buyer_id: str
    receiver_name: str
    receiver_phone: str
    receiver_province: str
    receiver_city: str
    currency: str
    goods_amount: Decimal
    discount_amount: Decimal
    freight_amount: Decimal
    paid_amount: Decimal
    paid_at: datetime | None
    shipped_at: datetime | None
    warehouse_id: int | None
    carrier_code: str
    tracking_no: str
    lines: tuple[OrderLineSnapshot, ...]

    @property
    def status_display(self) -> str:
        """The status as a person reads it (in the active language)."""
        return str(OrderStatus(self.status).label) if self.status in OrderStatus.values else self.status


_SNAPSHOT_FIELDS = [f.name for f in fields(OrderSnapshot) if f.name != "lines"]
_LINE_SNAPSHOT_FIELDS = [f.name for f in fields(OrderLineSnapshot)]


def _snapshots(orders: list[dict], *, owner: str) -> list[OrderSnapshot]:
    """Snapshots of ``orders`` with their lines: those they hold (owner="order_id") or those that
    came from them (owner="origin_order_id")."""
    by_order: dict[int, list[OrderLineSnapshot]] = {o["id"]: [] for o in orders}
    if orders:
        rows = (OrderLine.objects.filter(**{f"{owner}__in": list(by_order)}).order_by("id")
                .values(*_LINE_SNAPSHOT_FIELDS, "origin_order_id"))
        for row in rows:
            key = row[owner]
            del row["origin_order_id"]
            by_order[key].append(OrderLineSnapshot(**row))
    return [OrderSnapshot(**o, lines=tuple(by_order[o["id"]])) for o in orders]


def order_snapshots(*, order_ids: list[int]) -> list[OrderSnapshot]:
    """The orders (any kind) with the lines they hold now, in id order; two queries."""
    orders = list(Order.objects.filter(pk__in=list(order_ids)).order_by("id").values(*_SNAPSHOT_FIELDS))
    return _snapshots(orders, owner="order_id")


def order_snapshots_by_platform_ids(*, shop_id: int, platform_order_ids: list[str]) -> dict[str, OrderSnapshot]:
    """{platform order id: its original (platform-kind) order with the lines that came from it,
    wherever they are now (a merged shipment, a split part)}; two queries."""
    orders = list(Order.objects.filter(shop_id=shop_id, kind=OrderKind.PLATFORM,
                                       platform_order_id__in=list(platform_order_ids))
                  .order_by("id").values(*_SNAPSHOT_FIELDS))
    snaps = _snapshots(orders, owner="origin_order_id")
    return {s.platform_order_id: s for s in snaps}


@dataclass(frozen=True)
class DailySales:
    day: date
    sku_id: int
    quantity: int
    amount: Decimal


_NOT_SOLD = (OrderStatus.CANCELLED,)


def daily_sales(*, since: date, until: date | None = None, sku_ids: list[int] | None = None) -> list[DailySales]:
    """Units and paid amount sold per SKU and day (the tenant's timezone, by paid time), from the
    lines of platform orders: cancelled orders and stopped (refunded/cancelled) lines do not count,
    reshipments are not sales, and a merged or split order counts once (lines are read through the
    platform order they came from)."""
    from django.db.models.functions import TruncDate

    tz = tenant_zone()
    qs = OrderLine.objects.filter(origin_order__kind=OrderKind.PLATFORM, origin_order__paid_at__gte=day_start(since),
                                  is_stopped=False, sku_id__isnull=False).exclude(origin_order__status__in=_NOT_SOLD)
    if until is not None:
        qs = qs.filter(origin_order__paid_at__lt=day_range(since, until)[1])
    if sku_ids is not None:
        qs = qs.filter(sku_id__in=list(sku_ids))
    rows = (qs.annotate(day=TruncDate("origin_order__paid_at", tzinfo=tz)).values("day", "sku_id")
            .annotate(quantity=Sum("quantity"), amount=Sum("paid")).order_by("day", "sku_id"))
    return [DailySales(day=r["day"], sku_id=r["sku_id"], quantity=int(r["quantity"]),
                       amount=r["amount"] if r["amount"] is not None else Decimal("0.00")) for r in rows]


# --- sales facts for the analytics rollups (orders/facts.py) ----------------------------------------
def sales_facts(*, start: datetime, end: datetime) -> dict[str, list[dict]]:
    from .facts import sales_facts as facts

    return facts(start=start, end=end)


def sales_paid_days(*, order_ids=(), shop_id: int | None = None, platform_order_ids=()) -> set[date]:
    from .facts import sales_paid_days as paid_days

    return paid_days(order_ids=order_ids, shop_id=shop_id, platform_order_ids=platform_order_ids)


def order_facts(*, order_ids) -> list[dict]:
    from .facts import order_facts as facts

    return facts(order_ids=order_ids)


def sales_order_ids(*, start: datetime, end: datetime) -> set[int]:
    from .facts import sales_order_ids as ids

    return ids(start=start, end=end)


def sales_related_orders(*, order_ids=(), shop_id: int | None = None, platform_order_ids=()) -> set[int]:
    from .facts import sales_related_orders as related

    return related(order_ids=order_ids, shop_id=shop_id, platform_order_ids=platform_order_ids)


def sales_days_changed_since(*, since: datetime) -> set[date]:
    from .facts import sales_days_changed_since as changed

    return changed(since=since)


def orders_ready_to_ship(*, warehouse_id: int, exclude_ids=(), limit: int = 200) -> list[OrderSnapshot]:
    """Orders allocated to ``warehouse_id`` and not picked yet (the warehouse app's wave candidates)
    in shipping priority (allocation.priority_key: ship-by deadline, member level, age), with the
    lines they hold."""
    orders = list(Order.objects.filter(status=OrderStatus.ALLOCATED, warehouse_id=warehouse_id)
                  .exclude(pk__in=list(exclude_ids))
                  .order_by(F("ship_by").asc(nulls_last=True), "-buyer_level",
                            Coalesce("paid_at", "platform_created_at", "created_at"), "id")
                  .values(*_SNAPSHOT_FIELDS)[:limit])
    return _snapshots(orders, owner="order_id")


def order_find_by_ref(*, ref: str) -> OrderSnapshot | None:
    """The order whose platform order id or tracking number is ``ref`` (a scanned code), newest first."""
    ref = (ref or "").strip()
    if not ref:
        return None
    row = (Order.objects.filter(Q(platform_order_id=ref) | Q(tracking_no=ref)).exclude(kind=OrderKind.MERGED)
           .order_by("-id").values(*_SNAPSHOT_FIELDS).first())
    return _snapshots([row], owner="order_id")[0] if row else None


def order_ids_with_sku(*, sku_code: str) -> list[int]:
    """Ids of the orders holding a line of the SKU code (members' "bought SKU X" campaign segment)."""
    code = (sku_code or "").strip()
    if not code:
        return []
    return list(OrderLine.objects.filter(sku_code=code).order_by().values_list("order_id", flat=True).distinct())


def sales_lines_in_window(*, shop_ids, sku_ids, start: datetime, end: datetime) -> list[dict]:
    """Sales of ``sku_ids`` in ``shop_ids`` paid in [start, end): per platform order and SKU, the
    units, GMV (list price × units), discount and paid amount (promotion attribution). Counted as
    daily_sales counts: cancelled orders and stopped lines do not, lines are read through the
    platform order they came from (a merged or split order counts once)."""
    from django.db.models import DecimalField, ExpressionWrapper, F

    line_gmv = ExpressionWrapper(F("price") * F("quantity"), output_field=DecimalField(max_digits=16, decimal_places=2))
    rows = (OrderLine.objects.filter(origin_order__kind=OrderKind.PLATFORM, origin_order__shop_id__in=list(shop_ids),
                                     origin_order__paid_at__gte=start, origin_order__paid_at__lt=end,
                                     sku_id__in=list(sku_ids), is_stopped=False)
            .exclude(origin_order__status__in=_NOT_SOLD)
            .values("origin_order_id", "origin_order__shop_id", "sku_id").order_by("origin_order_id", "sku_id")
            .annotate(units=Sum("quantity"), gmv=Sum(line_gmv), discounts=Sum("discount"), paid_total=Sum("paid")))
    zero = Decimal("0.00")
    return [{"order_id": r["origin_order_id"], "shop_id": r["origin_order__shop_id"], "sku_id": r["sku_id"],
             "quantity": int(r["units"]), "gmv": r["gmv"] or zero, "discount": r["discounts"] or zero,
             "paid": r["paid_total"] or zero} for r in rows]


def historical_buyer_totals(*, keys) -> dict[tuple[str, str], tuple]:
    """{(platform, buyer id): (paid for goods, orders, first paid, last paid)} of the imported
    historical orders (``source_ref`` "hist:", completed; cancelled ones are no sale) of these
    buyers: what a members import books as their opening purchase history. One aggregate query."""
    from django.db.models import Max, Min

    keys = {(p, b) for p, b in keys if p and b}
    if not keys:
        return {}
    rows = (Order.objects.filter(source_ref__startswith="hist:", status=OrderStatus.COMPLETED,
                                 platform__in={p for p, _b in keys}, buyer_id__in={b for _p, b in keys})
            .values("platform", "buyer_id")
            .annotate(paid=Sum(F("paid_amount") - F("freight_amount")), n=Count("id"), first=Min("paid_at"),
                      last=Max("paid_at")))
    return {(r["platform"], r["buyer_id"]): (r["paid"], r["n"], r["first"], r["last"]) for r in rows
            if (r["platform"], r["buyer_id"]) in keys}
