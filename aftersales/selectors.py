"""After-sales reads: queue counts, filters, the timeline, and the refund report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone

from erp.tenancy.dates import day_range, tenant_today

from . import ports
from .models import TERMINAL, Ticket, TicketEvent, TicketKind, TicketLine, TicketStatus

ACTIVE_STATES = [s for s in TicketStatus.values if s not in TERMINAL]


def q_overdue(now=None) -> Q:
    return Q(status__in=ACTIVE_STATES, sla_due_at__lt=now or timezone.now())


def attention_counts() -> dict[str, int]:
    row = Ticket.objects.aggregate(
        open=Count("id", filter=Q(status=TicketStatus.OPEN)),
        active=Count("id", filter=Q(status__in=ACTIVE_STATES)),
        overdue=Count("id", filter=q_overdue()),
        awaiting_return=Count("id", filter=Q(status=TicketStatus.AWAITING_RETURN)),
    )
    return {k: v or 0 for k, v in row.items()}


def status_counts() -> dict[str, int]:
    counts = dict(Ticket.objects.order_by().values_list("status").annotate(n=Count("id")))
    return {value: counts.get(value, 0) for value in TicketStatus.values}


def ticket_filter(queryset, params) -> tuple:
    """Apply the queue / API filters from a dict-like of strings. Returns (queryset, applied)."""
    applied: dict[str, str] = {}
    status = params.get("status") or ""
    if status == "active":
        queryset = queryset.filter(status__in=ACTIVE_STATES)
        applied["status"] = status
    elif status in TicketStatus.values:
        queryset = queryset.filter(status=status)
        applied["status"] = status
    kind = params.get("kind") or ""
    if kind in TicketKind.values:
        queryset = queryset.filter(kind=kind)
        applied["kind"] = kind
    source = params.get("source") or ""
    if source in ("platform", "manual"):
        queryset = queryset.filter(source=source)
        applied["source"] = source
    shop = params.get("shop") or ""
    if shop.isdigit():
        queryset = queryset.filter(shop_id=int(shop))
        applied["shop"] = shop
    order = params.get("order") or ""
    if order.isdigit():
        queryset = queryset.filter(order_id=int(order))
        applied["order"] = order
    overdue = (params.get("overdue") or "").lower()
    if overdue in ("1", "true", "yes"):
        queryset = queryset.filter(q_overdue())
        applied["overdue"] = "1"
    elif overdue in ("0", "false", "no"):
        queryset = queryset.exclude(q_overdue())
        applied["overdue"] = "0"
    search = (params.get("search") or params.get("q") or "").strip()
    if search:
        queryset = queryset.filter(Q(number__iexact=search) | Q(platform_order_id=search) | Q(platform_refund_id=search)
                                   | Q(buyer_id=search) | Q(return_tracking_no=search) | Q(reason__icontains=search))
        applied["search"] = search
    return queryset, applied


def ticket_timeline(*, ticket: Ticket):
    return TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("id")


# --- reports ---------------------------------------------------------------------------------------
@dataclass
class SkuRefundRow:
    sku_id: int | None
    sku_code: str
    tickets: int
    units: int
    amount: Decimal
    sold_units: int | None
    refund_rate: Decimal | None  # units in tickets / units sold in the period (None: sales unknown)
    top_reason: str


@dataclass
class ShopRefundRow:
    shop_id: int | None
    shop_name: str
    tickets: int
    refunded: int
    amount: Decimal
    top_reason: str


@dataclass
class ReasonRow:
    reason: str
    tickets: int
    amount: Decimal


@dataclass
class RefundReport:
    since: date
    until: date
    by_sku: list[SkuRefundRow]
    by_shop: list[ShopRefundRow]
    reasons: list[ReasonRow]


def _top_reasons(pairs) -> dict:
    best: dict = {}
    for key, reason, n in pairs:
        if key not in best or n > best[key][1]:
            best[key] = (reason, n)
    return {k: v[0] for k, v in best.items()}


def refund_report(*, since: date | None = None, until: date | None = None, shop_id: int | None = None,
                  limit: int = 50) -> RefundReport:
    """Refund rate and reasons by SKU and by shop over tickets opened in [since, until] (rejected
    and cancelled tickets excluded). A SKU's rate is its units in tickets over the units sold in the
    period (orders.selectors.daily_sales), when orders offers it."""
    today = tenant_today()
    until = until or today
    since = since or until - timedelta(days=29)
    start, end = day_range(since, until)
    tickets = Ticket.objects.filter(created_at__gte=start, created_at__lt=end).exclude(
        status__in=[TicketStatus.REJECTED, TicketStatus.CANCELLED])
    if shop_id:
        tickets = tickets.filter(shop_id=shop_id)
    lines = TicketLine.objects.filter(ticket__in=tickets)
    sku_rows = list(lines.values("sku_id").annotate(tickets=Count("ticket_id", distinct=True), units=Sum("quantity"),
                                                    amount=Sum("amount")).order_by("-units")[:limit])
    codes = dict(lines.exclude(sku_code="").values_list("sku_id", "sku_code").distinct())
    sku_reasons = _top_reasons(lines.values_list("sku_id", "ticket__reason").annotate(n=Count("id")).order_by())
    sold: dict[int, int] | None = None
    sku_ids = [r["sku_id"] for r in sku_rows if r["sku_id"]]
    if sku_ids and not shop_id:
        sales = ports.daily_sales(since=since, until=until, sku_ids=sku_ids)
        if sales is not None:
            sold = {}
            for row in sales:
                sold[row.sku_id] = sold.get(row.sku_id, 0) + int(row.quantity)
    by_sku = []
    for r in sku_rows:
        n_sold = sold.get(r["sku_id"]) if sold is not None else None
        rate = (Decimal(r["units"] or 0) / n_sold).quantize(Decimal("0.0001")) if n_sold else None
        by_sku.append(SkuRefundRow(sku_id=r["sku_id"], sku_code=codes.get(r["sku_id"], ""), tickets=r["tickets"],
                                   units=r["units"] or 0, amount=r["amount"] or Decimal("0.00"), sold_units=n_sold,
                                   refund_rate=rate, top_reason=sku_reasons.get(r["sku_id"], "")))
    shop_rows = list(tickets.values("shop_id", "shop__name").annotate(
        n=Count("id"), refunded=Count("id", filter=Q(refund_published_at__isnull=False)),
        amount=Sum("approved_amount", filter=Q(refund_published_at__isnull=False))).order_by("-n")[:limit])
    shop_reasons = _top_reasons(tickets.values_list("shop_id", "reason").annotate(n=Count("id")).order_by())
    by_shop = [ShopRefundRow(shop_id=r["shop_id"], shop_name=r["shop__name"] or "", tickets=r["n"], refunded=r["refunded"],
                             amount=r["amount"] or Decimal("0.00"), top_reason=shop_reasons.get(r["shop_id"], ""))
               for r in shop_rows]
    reasons = [ReasonRow(reason=r["reason"], tickets=r["n"], amount=r["amount"] or Decimal("0.00"))
               for r in tickets.values("reason").annotate(n=Count("id"), amount=Sum("requested_amount")).order_by("-n")[:limit]]
    return RefundReport(since=since, until=until, by_sku=by_sku, by_shop=by_shop, reasons=reasons)


def refund_report_charts(report: RefundReport, *, top: int = 15) -> dict:
    """Chart specs (static/erp/charts.js) from the refund report's own rows: refund rate (%) and units
    in tickets of its first ``top`` SKUs, tickets by reason (share of the period's tickets)."""
    from django.utils.translation import gettext as _

    skus = report.by_sku[:top]
    return {
        "sku": {"type": "bar", "categories": [r.sku_code or str(r.sku_id or "—") for r in skus],
                "axes": [{"name": _("Refund rate"), "unit": "%"}, {"name": _("Units")}],
                "series": [{"name": _("Refund rate"), "unit": "%",
                            "data": [None if r.refund_rate is None else (r.refund_rate * 100).quantize(Decimal("0.01"))
                                     for r in skus]},
                           {"name": _("Units in tickets"), "type": "line", "axis": 1, "data": [r.units for r in skus]}],
                "empty": _("No tickets in the period.")},
        "reasons": {"type": "pie", "categories": [r.reason or "—" for r in report.reasons],
                    "series": [{"name": _("Tickets"), "data": [r.tickets for r in report.reasons]}],
                    "empty": _("No tickets in the period.")},
    }
