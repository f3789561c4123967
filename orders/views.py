"""The operators' order workbench: queues by status and hold reason, filters, bulk actions, an
order's detail with its timeline, CSV/XLSX export. Keyset pagination (no OFFSET, no COUNT of the
whole list), so it stays fast with 100,000 orders."""

import csv
import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from erp.api.exceptions import Conflict
from erp.views_helpers import keyset_page, tenant_page
from integrations.models import Shop

from . import selectors, services
from .models import HoldReason, Order, OrderLine, OrderStatus, Waybill

PAGE = 50
EXPORT_LIMIT = 100_000
EXPORT_COLUMNS = [
    ("id", "ID"), ("platform", "platform"), ("platform_order_id", "platform order id"), ("kind", "kind"),
    ("status", "status"), ("hold_reasons", "hold reasons"), ("shop__name", "shop"), ("buyer_id", "buyer"),
    ("receiver_name", "receiver"), ("receiver_province", "province"), ("receiver_city", "city"),
    ("receiver_address", "address"), ("goods_amount", "goods"), ("discount_amount", "discounts"),
    ("freight_amount", "freight"), ("paid_amount", "paid"), ("total_quantity", "quantity"),
    ("platform_created_at", "ordered at"), ("paid_at", "paid at"), ("ship_by", "ship by"),
    ("carrier_code", "carrier"), ("tracking_no", "tracking number"), ("shipped_at", "shipped at"),
]


def _filtered(request):
    """The filters of the query string; a malformed one is shown as an error and left out."""
    try:
        return selectors.order_filter(Order.objects.all(), request.GET)
    except ValidationError as exc:
        for field, problems in exc.message_dict.items():
            messages.error(request, f"{field}: {'; '.join(problems)}")
        good = request.GET.copy()
        for field in exc.message_dict:
            good.pop(field, None)
        return selectors.order_filter(Order.objects.all(), good)


@tenant_page(app_label="orders")
def workbench(request):
    qs, applied = _filtered(request)
    page = keyset_page(request, qs.select_related("shop"), size=PAGE)
    rows, next_url, base = page.rows, page.next_url, page.params
    export_params = base.copy()
    counts = selectors.status_counts()
    context = {
        "orders": rows, "next_url": next_url, "applied": applied, "params": base,
        "status_counts": [(value, label, counts.get(value)) for value, label in OrderStatus.choices],
        "shipped_today": selectors.shipped_today(),
        "hold_counts": [(value, label, n) for (value, label), n in
                        zip(HoldReason.choices, selectors.hold_reason_counts().values(), strict=True) if n],
        "out_of_stock": selectors.attention_counts()["out_of_stock"],
        "shops": Shop.objects.order_by("name").values("id", "name"),
        "statuses": OrderStatus.choices, "hold_reasons": HoldReason.choices,
        "bulk_actions": [("approve", pgettext("order action", "Approve")), ("hold", _("Hold")), ("release", _("Release")),
                         ("allocate", _("Allocate")), ("pick", _("Start picking")), ("ship", _("Ship")),
                         ("cancel", _("Cancel"))],
        "export_query": export_params.urlencode(),
    }
    return render(request, "orders/workbench.html", context)


@tenant_page(app_label="orders", write=True)
@require_POST
def bulk_action(request):
    action = request.POST.get("action", "")
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    back = request.POST.get("next") or reverse("orders:workbench")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("orders:workbench")
    if not ids:
        messages.error(request, _("Pick at least one order."))
        return redirect(back)
    if action == "merge":
        try:
            target = services.orders_merge(order_ids=ids, actor=request.user, why=request.POST.get("why", ""))
            messages.success(request, _("Merged into %(no)s.") % {"no": target.display_no})
        except Conflict as exc:
            messages.error(request, str(exc.detail))
        return redirect(back)
    try:
        results = services.orders_bulk_action(action=action, order_ids=ids, actor=request.user,
                                              why=request.POST.get("why", ""))
    except Exception as exc:  # noqa: BLE001 - a bad action name: say so
        messages.error(request, str(exc))
        return redirect(back)
    ok = sum(1 for r in results.values() if r == "ok")
    failed = {k: v for k, v in results.items() if v != "ok"}
    messages.success(request, _("%(action)s: %(ok)d done.") % {"action": action, "ok": ok})
    for oid, why in list(failed.items())[:10]:
        messages.error(request, f"#{oid}: {why}")
    return redirect(back)


@tenant_page(app_label="orders")
def detail(request, pk):
    order = Order.objects.select_related("shop", "merged_into", "split_from").filter(pk=pk).first()
    if order is None:
        raise Http404
    lines = list(OrderLine.objects.filter(order=order).order_by("pk"))
    origin_lines = [] if lines else list(OrderLine.objects.filter(origin_order=order).select_related("order").order_by("pk"))
    context = {
        "order": order, "lines": lines, "origin_lines": origin_lines,
        "events": selectors.order_timeline(order=order),
        "waybills": Waybill.objects.filter(order=order),
        "sources": Order.objects.filter(merged_into=order).order_by("pk"),
        "parts": Order.objects.filter(split_from=order).order_by("pk"),
        "actions": [a for a, states in services.ACTION_STATES.items() if order.status in states
                    and a not in ("merge",) and (a != "unmerge" or order.kind == "merged")],
    }
    return render(request, "orders/detail.html", context)


@tenant_page(app_label="orders", write=True)
@require_POST
def detail_action(request, pk):
    action = request.POST.get("action", "")
    why = request.POST.get("why", "")
    funcs = {
        "approve": lambda: services.order_approve(order_id=pk, actor=request.user, why=why),
        "hold": lambda: services.order_hold(order_id=pk, actor=request.user, why=why),
        "release": lambda: services.order_release(order_id=pk, actor=request.user, why=why),
        "allocate": lambda: services.order_allocate(order_id=pk, actor=request.user),
        "deallocate": lambda: services.order_deallocate(order_id=pk, actor=request.user, why=why),
        "pick": lambda: services.order_pick(order_id=pk, actor=request.user),
        "ship": lambda: services.order_ship(order_id=pk, actor=request.user),
        "cancel": lambda: services.order_cancel(order_id=pk, actor=request.user, why=why),
        "unmerge": lambda: services.order_unmerge(order_id=pk, actor=request.user, why=why),
        "split": lambda: services.order_split(order_id=pk, mode="presale", actor=request.user, why=why),
    }
    if action not in funcs:
        messages.error(request, _("Unknown action."))
    else:
        try:
            funcs[action]()
            messages.success(request, _("Done: %(action)s.") % {"action": action})
        except Conflict as exc:
            messages.error(request, str(exc.detail))
        except Exception as exc:  # noqa: BLE001 - validation errors from the services
            if exc.__class__.__name__ != "ValidationError":
                raise
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("orders:detail", pk=pk)


def _naive(value):
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).replace(tzinfo=None)
    return value


class _Echo:
    def write(self, value):
        return value


def _export_rows(request):
    qs, _applied = _filtered(request)
    fields = [f for f, _label in EXPORT_COLUMNS]
    return qs.order_by("-pk").values_list(*fields)[:EXPORT_LIMIT].iterator(chunk_size=2000)


@tenant_page(app_label="orders")
def export(request):
    try:  # an export never quietly widens: a malformed filter sends the operator back to fix it
        selectors.order_filter(Order.objects.none(), request.GET)
    except ValidationError:
        query = request.GET.copy()
        query.pop("format", None)
        _filtered(request)  # queues the messages
        return redirect(reverse("orders:workbench") + "?" + query.urlencode())
    fmt = request.GET.get("format", "csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    header = [label for _f, label in EXPORT_COLUMNS]
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("orders")
        ws.append(header)
        for row in _export_rows(request):
            ws.append([_naive(v) for v in row])
        response = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.xlsx"'
        wb.save(response)
        return response
    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff" + writer.writerow(header)
        for row in _export_rows(request):
            yield writer.writerow(["" if v is None else v for v in row])

    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.csv"'
    return response
