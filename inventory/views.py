"""Operator pages: stock by SKU and warehouse, one SKU's move history, the unmatched platform SKUs
queue, promotion locks and the stock health report."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.views_helpers import tenant_page

from . import selectors, services
from .models import (
    SKU,
    LockStatus,
    MoveKind,
    PlatformSkuMapping,
    Promotion,
    StockLevel,
    StockLock,
    StockMove,
    Warehouse,
)

PAGE = 50


def _int(value):
    return int(value) if value and str(value).isdigit() else None


@tenant_page(app_label="inventory")
def stock_list(request):
    q = request.GET.get("q", "").strip()
    warehouse_id = _int(request.GET.get("warehouse"))
    only = request.GET.get("only", "")
    levels = (StockLevel.objects.select_related("sku", "warehouse")
              .annotate(available_units=F("on_hand") - F("reserved") - F("locked"))
              .order_by("sku__code", "warehouse__priority"))
    if q:
        levels = levels.filter(Q(sku__code__icontains=q) | Q(sku__name__icontains=q) | Q(sku__barcode=q))
    if warehouse_id:
        levels = levels.filter(warehouse_id=warehouse_id)
    if only == "low":
        levels = levels.filter(available_units__lte=5)
    elif only == "stock":
        levels = levels.filter(on_hand__gt=0)
    page = Paginator(levels, PAGE).get_page(request.GET.get("page"))
    return render(request, "inventory/stock_list.html", {
        "page": page, "q": q, "warehouse_id": warehouse_id, "only": only,
        "warehouses": Warehouse.objects.order_by("priority", "code"),
    })


@tenant_page(app_label="inventory")
def sku_moves(request, sku_id):
    sku = get_object_or_404(SKU, pk=sku_id)
    moves = StockMove.objects.filter(sku=sku).select_related("warehouse", "created_by").order_by("-created_at", "-id")
    kind = request.GET.get("kind", "")
    if kind in MoveKind.values:
        moves = moves.filter(kind=kind)
    warehouse_id = _int(request.GET.get("warehouse"))
    if warehouse_id:
        moves = moves.filter(warehouse_id=warehouse_id)
    page = Paginator(moves, PAGE).get_page(request.GET.get("page"))
    return render(request, "inventory/sku_moves.html", {
        "sku": sku, "page": page, "kind": kind, "kinds": MoveKind.choices, "warehouse_id": warehouse_id,
        "warehouses": Warehouse.objects.order_by("priority", "code"), "levels": selectors.sku_stock(sku=sku),
    })


@tenant_page(app_label="inventory")
def unmatched(request):
    if request.method == "POST":
        mapping = get_object_or_404(PlatformSkuMapping, pk=_int(request.POST.get("mapping")) or 0)
        code = request.POST.get("code", "").strip()
        sku = SKU.objects.filter(code=code).first()
        if sku is None:
            messages.error(request, _("No SKU with merchant code %(code)s.") % {"code": code})
        else:
            services.sku_mapping_set(mapping=mapping, sku=sku, user=request.user)
            messages.success(request, _("Mapped %(item)s to %(code)s.") % {"item": mapping.platform_item_id, "code": sku.code})
        return redirect("inventory:unmatched")
    queue = selectors.unmatched_mappings()
    page = Paginator(queue, PAGE).get_page(request.GET.get("page"))
    return render(request, "inventory/unmatched.html", {"page": page})


@tenant_page(app_label="inventory")
def locks(request):
    if request.method == "POST":
        lock = get_object_or_404(StockLock, pk=_int(request.POST.get("lock")) or 0)
        try:
            services.stock_lock_cancel(lock=lock)
            messages.success(request, _("Lock cancelled; its units are back in stock."))
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        return redirect("inventory:locks")
    status = request.GET.get("status", "")
    rows = StockLock.objects.select_related("sku", "shop", "warehouse").order_by("-starts_at", "-id")
    if status in LockStatus.values:
        rows = rows.filter(status=status)
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    return render(request, "inventory/locks.html", {"page": page, "status": status, "statuses": LockStatus.choices})


@tenant_page(app_label="inventory")
def health(request):
    status = request.GET.get("status", "")
    days = _int(request.GET.get("days")) or 30
    days = min(max(days, 1), 365)
    status = status if status in ("out", "risk", "slow", "ok") else ""
    every = selectors.stock_health(days=days)  # one read: the charts show every SKU, the table the filter
    lines = [line for line in every if line.status == status] if status else every
    page = Paginator(lines, PAGE).get_page(request.GET.get("page"))
    return render(request, "inventory/health.html", {"page": page, "status": status, "days": days,
                                                     "charts": selectors.stock_health_charts(every)})


# --- promotions ---------------------------------------------------------------------------------------
def _decimal_param(value, default):
    from decimal import Decimal, InvalidOperation

    try:
        number = Decimal(value) if value not in (None, "") else Decimal(default)
    except InvalidOperation:
        return Decimal(default)
    return number if number.is_finite() and abs(number) <= 1000 else Decimal(default)


def _promotion_form(request) -> list[str]:
    """Create a promotion from the page's form; returns the error messages (none: created)."""
    import datetime

    def day(name):
        try:
            return datetime.date.fromisoformat(request.POST.get(name, ""))
        except ValueError:
            return None

    start, end = day("starts_on"), day("ends_on")
    errors = []
    if start is None or end is None:
        errors.append(_("Give the first and the last day as YYYY-MM-DD."))
        return errors
    try:
        services.promotion_create(name=request.POST.get("name", ""), shops=[_int(v) for v in request.POST.getlist("shops") if _int(v)],
                                  skus=[_int(v) for v in request.POST.getlist("skus") if _int(v)], starts_at=start,
                                  ends_at=end, spend=request.POST.get("spend") or "0", note=request.POST.get("note", ""),
                                  user=request.user)
    except ValidationError as exc:
        errors.extend(exc.messages)
    return errors


@tenant_page(app_label="inventory")
def promotions(request):
    from integrations.selectors import shops as shop_rows

    from .promotion_analysis import promotions_report

    errors = []
    if request.method == "POST":
        errors = _promotion_form(request)
        if not errors:
            messages.success(request, _("Promotion saved."))
            return redirect("inventory:promotions")
    margin_below = _decimal_param(request.GET.get("margin_below"), "10")
    uplift = _decimal_param(request.GET.get("uplift"), "1.5")
    rows = promotions_report(margin_below=margin_below, uplift=uplift)
    chart = {"names": [r.promotion.name for r in rows],
             "profit": [str(r.promo.gross_profit) for r in rows],
             "baseline_profit": [str(r.baseline.gross_profit) for r in rows],
             "margin": [None if r.promo.margin is None else str(r.promo.margin) for r in rows],
             "baseline_margin": [None if r.baseline.margin is None else str(r.baseline.margin) for r in rows],
             "text": {"profit": _("Gross profit"), "baseline_profit": _("Baseline gross profit"),
                      "margin": _("Margin %"), "baseline_margin": _("Baseline margin %")}}
    return render(request, "inventory/promotions.html", {
        "rows": rows, "flagged": [r for r in rows if r.flagged_skus], "margin_below": margin_below, "uplift": uplift,
        "chart": chart, "errors": errors, "form": request.POST,
        "shops": shop_rows().order_by("name"), "skus": SKU.objects.order_by("code")[:500],
        "upcoming": Promotion.objects.filter(starts_at__gt=timezone.now()).annotate(n_locks=Count("locks"))
                                      .order_by("starts_at", "id")[:50]})
