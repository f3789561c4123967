"""Order reads: the workbench queues, filters, list and detail."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q

from .models import HoldReason, Order, OrderEvent, OrderLine, OrderStatus


def q_hold_reason(reason: str) -> Q:
    return Q(hold_reasons__contains=f",{reason},")


def attention_counts() -> dict[str, int]:
    row = Order.objects.aggregate(
        pending_review=Count("id", filter=Q(status=OrderStatus.PENDING_REVIEW)),
        on_hold=Count("id", filter=Q(status=OrderStatus.ON_HOLD)),
        out_of_stock=Count("id", filter=Q(status=OrderStatus.APPROVED, out_of_stock_since__isnull=False)),
    )
    return {k: v or 0 for k, v in row.items()}


def status_counts() -> dict[str, int]:
    counts = dict(Order.objects.order_by().values_list("status").annotate(n=Count("id")))
    return {value: counts.get(value, 0) for value in OrderStatus.values}


def hold_reason_counts() -> dict[str, int]:
    held = Order.objects.filter(status=OrderStatus.ON_HOLD)
    row = held.aggregate(**{r: Count("id", filter=q_hold_reason(r)) for r in HoldReason.values})
    return {r: row.get(r) or 0 for r in HoldReason.values}


def order_filter(queryset, params) -> tuple:
    """Apply the workbench / API filters from a dict-like of strings. Returns (queryset, applied)."""
    from django.utils.dateparse import parse_date, parse_datetime

    applied = {}

    def when(value, end=False):
        dt = parse_datetime(value) if value and "T" in value else None
        if dt is None and value:
            d = parse_date(value)
            if d is not None:
                import datetime

                from django.utils import timezone

                dt = timezone.make_aware(datetime.datetime.combine(d, datetime.time.max if end else datetime.time.min))
        return dt

    status = params.get("status") or ""
    if status in OrderStatus.values:
        queryset = queryset.filter(status=status)
        applied["status"] = status
    queue = params.get("queue") or ""
    if queue == "out_of_stock":
        queryset = queryset.filter(status=OrderStatus.APPROVED, out_of_stock_since__isnull=False)
        applied["queue"] = queue
    reason = params.get("hold_reason") or ""
    if reason in HoldReason.values:
        queryset = queryset.filter(q_hold_reason(reason))
        applied["hold_reason"] = reason
    for key in ("shop", "warehouse"):
        value = params.get(key) or ""
        if value.isdigit():
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
        value = when(params.get(key) or "", end)
        if value is not None:
            queryset = queryset.filter(**{field: value})
            applied[key] = params.get(key)
    return queryset, applied


def order_timeline(*, order: Order):
    return OrderEvent.objects.filter(order=order).select_related("actor").order_by("id")


def order_detail_rows(*, order_id: int):
    """(order row with its waybill's columns, line rows, event rows) for the API detail, or None.
    The waybill comes in the order's query: an order has at most one (uniq_waybill_tenant_order)."""
    from .api.serializers import EVENT_COLUMNS, LINE_COLUMNS, ORDER_DETAIL_COLUMNS, WAYBILL_COLUMNS

    row = Order.objects.filter(pk=order_id).values(*ORDER_DETAIL_COLUMNS, *WAYBILL_COLUMNS).first()
    if row is None:
        return None
    lines = OrderLine.objects.filter(order_id=order_id).order_by("id").values(*LINE_COLUMNS)
    events = OrderEvent.objects.filter(order_id=order_id).order_by("id").values(*EVENT_COLUMNS)
    return row, list(lines), list(events)
