"""Purchasing reads: list filters, counts for the dashboard, stock on order, timelines."""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Sum
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from erp.tenancy.dates import tenant_today

from .models import (
    AWAITING_RECEIPT,
    OPEN_STATUSES,
    POLine,
    POStatus,
    PurchaseOrder,
    PurchaseOrderEvent,
    ReorderSuggestion,
    SuggestionStatus,
)

ON_ORDER_STATUSES = OPEN_STATUSES  # drafts count too: a draft from a suggestion must not be suggested again


def on_order_by_sku(*, sku_ids=None) -> dict[int, int]:
    """Units ordered and not yet received per SKU, over open purchase orders (drafts included)."""
    qs = POLine.objects.filter(purchase_order__status__in=ON_ORDER_STATUSES, quantity__gt=F("received_quantity"))
    if sku_ids is not None:
        qs = qs.filter(sku_id__in=list(sku_ids))
    rows = qs.values("sku_id").annotate(n=Sum(F("quantity") - F("received_quantity")))
    return {r["sku_id"]: int(r["n"] or 0) for r in rows}


def pipeline_by_warehouse_sku(*, sku_ids) -> dict[tuple[int, int], dict[str, int]]:
    """{(warehouse_id, sku_id): {"on_order", "in_transit"}} over open purchase orders (drafts included):
    ``in_transit`` = shipped on a sent advance shipping notice and not received yet, ``on_order`` = the
    rest of the ordered units not received. Two grouped queries."""
    from .models import ASNLine, ASNStatus

    ids = [int(i) for i in sku_ids]
    out: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: {"on_order": 0, "in_transit": 0})
    if not ids:
        return {}
    open_rows = (POLine.objects.filter(purchase_order__status__in=ON_ORDER_STATUSES, quantity__gt=F("received_quantity"),
                                       sku_id__in=ids)
                 .values("purchase_order__warehouse_id", "sku_id").annotate(n=Sum(F("quantity") - F("received_quantity")))
                 .order_by())
    for r in open_rows:
        out[(r["purchase_order__warehouse_id"], r["sku_id"])]["on_order"] += int(r["n"] or 0)
    shipped = (ASNLine.objects.filter(asn__status=ASNStatus.SENT, sku_id__in=ids,
                                      asn__purchase_order__status__in=ON_ORDER_STATUSES)
               .values("asn__purchase_order__warehouse_id", "sku_id").annotate(n=Sum("quantity")).order_by())
    for r in shipped:
        row = out[(r["asn__purchase_order__warehouse_id"], r["sku_id"])]
        moving = min(int(r["n"] or 0), row["on_order"])
        row["in_transit"] += moving
        row["on_order"] -= moving
    return dict(out)


def po_filter(queryset, params) -> tuple:
    """Filter purchase orders by ``status`` (a status, ``open`` or ``awaiting``), ``supplier``,
    ``warehouse``, ``overdue`` (1), ``q`` (number or supplier); bad values are a ValidationError."""
    applied = {}
    errors = {}
    status = (params.get("status") or "").strip()
    if status:
        if status == "open":
            queryset = queryset.filter(status__in=OPEN_STATUSES)
        elif status == "awaiting":
            queryset = queryset.filter(status__in=AWAITING_RECEIPT)
        elif status in POStatus.values:
            queryset = queryset.filter(status=status)
        else:
            errors["status"] = [_("Unknown status.")]
        applied["status"] = status
    for field in ("supplier", "warehouse"):
        value = (params.get(field) or "").strip()
        if value:
            if value.isdigit():
                queryset = queryset.filter(**{f"{field}_id": int(value)})
                applied[field] = value
            else:
                errors[field] = [_("A whole number (id).")]
    overdue = (params.get("overdue") or "").strip()
    if overdue in ("1", "true"):
        queryset = queryset.filter(status__in=OPEN_STATUSES - {POStatus.DRAFT}, expected_date__lt=tenant_today())
        applied["overdue"] = "1"
    elif overdue not in ("", "0", "false"):
        errors["overdue"] = [_("1 or 0.")]
    for field, lookup in (("expected_from", "expected_date__gte"), ("expected_to", "expected_date__lte")):
        value = (params.get(field) or "").strip()
        if value:
            day = parse_date(value) if len(value) == 10 else None
            if day is None:
                errors[field] = [_("A date (YYYY-MM-DD).")]
            else:
                queryset = queryset.filter(**{lookup: day})
                applied[field] = value
    q = (params.get("q") or "").strip()
    if q:
        from django.db.models import Q

        queryset = queryset.filter(Q(number__icontains=q) | Q(supplier__name__icontains=q) | Q(supplier__code__iexact=q))
        applied["q"] = q
    if errors:
        raise ValidationError(errors)
    return queryset, applied


def attention_counts() -> dict[str, int]:
    today = tenant_today()
    return {
        "awaiting_receipt": PurchaseOrder.objects.filter(status__in=AWAITING_RECEIPT).count(),
        "overdue": PurchaseOrder.objects.filter(status__in=OPEN_STATUSES - {POStatus.DRAFT}, expected_date__lt=today).count(),
        "drafts": PurchaseOrder.objects.filter(status=POStatus.DRAFT).count(),
        "to_reorder": ReorderSuggestion.objects.filter(status=SuggestionStatus.OPEN).count(),
    }


def status_counts() -> dict[str, int]:
    rows = PurchaseOrder.objects.values("status").annotate(n=Count("id")).order_by()
    counts = defaultdict(int)
    for row in rows:
        counts[row["status"]] = row["n"]
    return dict(counts)


def po_timeline(*, po) -> list[PurchaseOrderEvent]:
    return list(PurchaseOrderEvent.objects.filter(purchase_order=po).order_by("id"))


def open_suggestions(*, supplier_id=None):
    qs = (ReorderSuggestion.objects.filter(status=SuggestionStatus.OPEN)
          .select_related("sku", "supplier", "supplier_item", "warehouse")
          .order_by("supplier__code", "-urgent", "sku__code", "warehouse_id"))
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    return qs


def suggestions_by_supplier(*, supplier_id=None) -> list[tuple]:
    """[(supplier or None, [suggestions], total amount)] — the open suggestions grouped as the
    purchase orders they would become (no supplier last)."""
    groups: dict = {}
    for s in open_suggestions(supplier_id=supplier_id):
        groups.setdefault(s.supplier_id, (s.supplier, []))[1].append(s)
    ordered = sorted(groups.values(), key=lambda g: (g[0] is None, g[0].code if g[0] else ""))
    return [(supplier, rows, sum((r.amount for r in rows), start=rows[0].amount * 0)) for supplier, rows in ordered]


def supplier_reason_text(s: ReorderSuggestion) -> str:
    """Why this supplier, in the current language."""
    others = len(s.alternatives or [])
    cover = _("%(d)s days") % {"d": s.days_of_cover} if s.days_of_cover is not None else "∞"
    if s.supplier_reason == "cheapest":
        return _("cheapest of %(n)s suppliers that deliver within the stock's cover (%(cover)s): %(price)s, "
                 "lead time %(lead)s d") % {"n": others, "cover": cover, "price": s.unit_price, "lead": s.lead_time_days}
    if s.supplier_reason == "fastest":
        return _("fastest of %(n)s suppliers (%(lead)s d): none delivers before the stock runs out (%(cover)s)") % {
            "n": others, "lead": s.lead_time_days, "cover": cover}
    if s.supplier_reason == "only":
        return _("the only supplier of this SKU")
    return _("no supplier item: default lead time, unit cost")


def suggestion_explanation_parts(s: ReorderSuggestion) -> list[tuple[str, str]]:
    """[(label, text)]: the suggestion's numbers step by step (history, factor, safety stock,
    stock position, rounding, supplier), in the current language."""
    basis = {"yearly": _("same weeks last year"), "trend": _("recent trend"), "mean": _("recent average")}.get(
        s.season_basis, _("no sales"))
    protection = s.lead_time_days + s.review_period_days
    share = _(" (%(p)s%% of the SKU's demand ships from here)") % {"p": round(float(s.warehouse_share) * 100)} \
        if s.warehouse_share < 1 else ""
    parts = [
        (_("History"), _("%(units)s units sold in %(days)s days%(share)s; %(oos)s out-of-stock days imputed (not "
                         "zero demand), %(promo)s promotion days divided by the uplift; cleaned %(base).2f/day "
                         "recently.") % {"units": s.history_units, "days": s.history_days, "share": share,
                                          "oos": s.stockout_days, "promo": s.promotion_days, "base": s.base_daily_demand}),
        (_("Factor"), _("× %(factor).2f (%(basis)s)") % {"factor": s.seasonal_factor, "basis": basis}
         + (_("; promotion uplift × %(uplift).2f on %(n)s coming promotion days") % {
             "uplift": s.promotion_uplift, "n": s.coming_promotion_days} if s.coming_promotion_days else "")
         + _(" = %(demand).2f/day, %(total).1f units over lead time %(lead)s d + review %(review)s d.") % {
             "demand": s.daily_demand, "total": s.forecast_demand, "lead": s.lead_time_days, "review": s.review_period_days}),
        (_("Safety stock"), _("%(z)s × forecast error %(err).1f of the %(days)s-day sum = %(safety)s.") % {
            "z": s.service_level_z, "err": s.forecast_error, "days": protection, "safety": s.safety_stock}),
        (_("Stock position"), _("Order up to %(target)s − (available %(available)s + on order %(on_order)s + in transit "
                                "%(in_transit)s) = %(need)s.") % {
            "target": s.target_stock, "available": s.available, "on_order": s.on_order, "in_transit": s.in_transit,
            "need": s.net_requirement}),
        (_("Rounding"), _("%(need)s raised to MOQ %(moq)s, then to whole cases of %(multiple)s = %(qty)s.") % {
            "need": s.net_requirement, "moq": s.min_order_quantity, "multiple": s.order_multiple,
            "qty": s.suggested_quantity}),
        (_("Supplier"), supplier_reason_text(s)),
    ]
    return parts


def suggestion_explanation(s: ReorderSuggestion) -> str:
    """Why a suggestion says what it says, from its stored figures, in the current language."""
    return " ".join(f"{label}: {text}" for label, text in suggestion_explanation_parts(s))


def suggested_vs_on_order(*, limit: int = 20) -> dict:
    """For the purchasing page's chart: the SKUs with the largest open suggestions, their suggested
    quantity beside what is already on order and in transit for them (sums over warehouses)."""
    rows = (ReorderSuggestion.objects.filter(status=SuggestionStatus.OPEN).values("sku_id", "sku__code")
            .annotate(suggested=Sum("suggested_quantity"), on_order=Sum("on_order"), in_transit=Sum("in_transit"))
            .order_by("-suggested", "sku__code")[:limit])
    rows = list(rows)
    return {"skus": [r["sku__code"] for r in rows], "suggested": [int(r["suggested"] or 0) for r in rows],
            "on_order": [int(r["on_order"] or 0) for r in rows], "in_transit": [int(r["in_transit"] or 0) for r in rows]}


# --- for finance's supplier statements (对账单) -------------------------------------------------------------
def supplier_documents(*, supplier_id: int, start, end) -> list[dict]:
    """The goods receipt and return lines of one supplier received in [start, end) (aware datetimes),
    valued at the purchase order line's price (the price agreed now; the receipt's own unit cost, what
    finance booked at receipt, beside it). Returns are negative quantities."""
    from .models import GoodsReceiptLine, ReceiptKind

    rows = (GoodsReceiptLine.objects
            .filter(receipt__purchase_order__supplier_id=supplier_id, receipt__received_at__gte=start,
                    receipt__received_at__lt=end)
            .select_related("receipt", "receipt__purchase_order", "po_line", "sku")
            .order_by("receipt__received_at", "receipt_id", "id"))
    out = []
    for ln in rows:
        sign = -1 if ln.receipt.kind == ReceiptKind.RETURN else 1
        out.append({
            "receipt_line_id": ln.pk, "receipt_id": ln.receipt_id, "receipt_number": ln.receipt.number,
            "kind": ln.receipt.kind, "purchase_order_id": ln.receipt.purchase_order_id,
            "purchase_order_number": ln.receipt.purchase_order.number, "sku_id": ln.sku_id, "sku_code": ln.sku.code,
            "quantity": sign * ln.quantity, "unit_price": ln.po_line.unit_price, "unit_cost": ln.unit_cost,
            "received_at": ln.receipt.received_at, "currency": ln.receipt.currency,
        })
    return out


def supplier_ids_with_documents(*, start, end) -> list[int]:
    """Suppliers with a receipt or return received in [start, end)."""
    from .models import GoodsReceipt

    return sorted(set(GoodsReceipt.objects.filter(received_at__gte=start, received_at__lt=end)
                      .values_list("purchase_order__supplier_id", flat=True)))


def suppliers_brief(*, ids=None) -> dict[int, dict]:
    """id -> code, name, payment terms (days), currency and e-mail of the tenant's suppliers (those
    in ``ids``, or all)."""
    from .models import Supplier

    qs = Supplier.objects.all()
    if ids is not None:
        qs = qs.filter(pk__in=[int(i) for i in ids])
    return {s.pk: {"id": s.pk, "code": s.code, "name": s.name, "payment_terms_days": s.payment_terms_days,
                   "currency": s.currency, "email": s.email, "label": f"{s.code} {s.name}"}
            for s in qs.order_by("code")}


# --- supplier portal and notifications -------------------------------------------------------------
def supplier_purchase_orders(*, supplier_id: int):
    """What a supplier sees of its purchase orders: sent ones onwards (never drafts or approvals)."""
    from .models import POStatus as S

    return (PurchaseOrder.objects.filter(supplier_id=supplier_id)
            .exclude(status__in=[S.DRAFT, S.APPROVED]).select_related("warehouse"))


def supplier_receipts(*, supplier_id: int, kind: str | None = None):
    from .models import GoodsReceipt

    qs = GoodsReceipt.objects.filter(purchase_order__supplier_id=supplier_id).select_related("purchase_order")
    return qs.filter(kind=kind) if kind else qs


def supplier_items(*, supplier_id: int):
    from .models import SupplierItem

    return SupplierItem.objects.filter(supplier_id=supplier_id, is_active=True).select_related("sku").order_by("sku__code")


def supplier_asns(*, supplier_id: int):
    from .models import AdvanceShippingNotice

    return AdvanceShippingNotice.objects.filter(purchase_order__supplier_id=supplier_id).select_related("purchase_order")


def po_asns(*, po) -> list:
    """The purchase order's shipping notices with their lines and differences, newest first."""
    from .models import AdvanceShippingNotice

    return list(AdvanceShippingNotice.objects.filter(purchase_order=po).order_by("-pk")
                .prefetch_related("lines__sku", "differences__sku"))


def po_differences(*, po):
    from .models import ReceiptDifference

    return ReceiptDifference.objects.filter(purchase_order=po).select_related("sku", "asn").order_by("pk")


def notifications_for(*, membership):
    from .models import Notification

    return Notification.objects.filter(membership_id=membership.pk)


def unread_notifications(*, membership) -> int:
    return notifications_for(membership=membership).filter(read_at__isnull=True).count()


def supplier_users(*, supplier_id: int):
    from erp.tenancy.context import require_tenant
    from erp.tenancy.models import Membership
    from erp.tenancy.roles import Role

    return (Membership.objects.filter(tenant=require_tenant(), role=Role.SUPPLIER, supplier_id=supplier_id)
            .select_related("user").order_by("pk"))
