"""The operators' order workbench: queues by status and hold reason, filters, bulk actions, an
order's detail with its timeline, CSV/XLSX export. Keyset pagination (no OFFSET, no COUNT of the
whole list), so it stays fast with 100,000 orders."""

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from erp.api.exceptions import Conflict
from erp.exports import table_response
from erp.tenancy.dates import tenant_today
from erp.views_helpers import filtered, keyset_page, tenant_page
from integrations.selectors import platform_choices, shop_options

from . import ports, selectors, services
from .models import HoldReason, Order, OrderLine, OrderStatus, Waybill
from .services import fulfilment

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
    """The workbench filters of the query string; a malformed one is shown as an error and left out."""
    return filtered(request, selectors.order_filter, Order.objects.all())


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
        "shops": shop_options(),
        "statuses": OrderStatus.choices, "hold_reasons": HoldReason.choices,
        "bulk_actions": [("approve", pgettext("order action", "Approve")), ("hold", _("Hold")), ("release", _("Release")),
                         ("allocate", _("Allocate")), ("pick", _("Start picking")), ("ship", _("Ship")),
                         ("cancel", _("Cancel"))],
        "export_query": export_params.urlencode(),
        "bulk_jobs": _recent_bulk_jobs(),
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
        started = services.bulk_job_start(action=action, order_ids=ids, actor=request.user,
                                          why=request.POST.get("why", ""))
    except ValidationError as exc:  # a bad action name, too many orders: say so
        for problem in exc.messages:
            messages.error(request, problem)
        return redirect(back)
    if started.job is not None:  # a large selection runs in the background: follow it on its page
        messages.info(request, _("Bulk job #%(id)d started for %(n)d orders.") % {"id": started.job.pk, "n": started.job.total})
        return redirect("orders:bulk-job", pk=started.job.pk)
    results = started.results
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
        "benefits": list(order.benefits.order_by("pk")),
        "sources": Order.objects.filter(merged_into=order).order_by("pk"),
        "parts": Order.objects.filter(split_from=order).order_by("pk"),
        "actions": [(a, ACTION_LABELS[a]()) for a, states in services.ACTION_STATES.items() if order.status in states
                    and a in ACTION_LABELS and (a != "unmerge" or order.kind == "merged")],
        "warehouse_name": ports.warehouse_names([order.warehouse_id]).get(order.warehouse_id, order.warehouse_id),
    }
    return render(request, "orders/detail.html", context)


# what an operator may do from an order's page (labels are looked up when shown: the request's language)
ACTION_LABELS = {
    "approve": lambda: pgettext("order action", "Approve"), "hold": lambda: _("Hold"), "release": lambda: _("Release"),
    "allocate": lambda: _("Allocate"), "deallocate": lambda: _("Release stock"), "pick": lambda: _("Start picking"),
    "ship": lambda: _("Ship"), "cancel": lambda: _("Cancel"), "unmerge": lambda: _("Unmerge"),
    "split": lambda: _("Split off presale lines"),
}


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
        "ship": lambda: fulfilment.order_ship_with_waybill(order_id=pk, actor=request.user),
        "cancel": lambda: services.order_cancel(order_id=pk, actor=request.user, why=why),
        "unmerge": lambda: services.order_unmerge(order_id=pk, actor=request.user, why=why),
        "split": lambda: services.order_split(order_id=pk, mode="presale", actor=request.user, why=why),
    }
    if action not in funcs:
        messages.error(request, _("Unknown action."))
    else:
        try:
            funcs[action]()
            messages.success(request, _("Done: %(action)s.") % {"action": ACTION_LABELS[action]()})
        except Conflict as exc:
            messages.error(request, str(exc.detail))
        except Exception as exc:  # noqa: BLE001 - validation errors from the services
            if exc.__class__.__name__ != "ValidationError":
                raise
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("orders:detail", pk=pk)



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
    return table_response("orders", [label for _f, label in EXPORT_COLUMNS], _export_rows(request),
                          request.GET.get("format", "csv"))


# --- sales report (orders.reports) ---------------------------------------------------------------------
def _report_params(request):
    """The report's parameters from the query string; a malformed one is shown as an error and left out."""
    from . import reports

    try:
        return reports.report_params(request.GET)
    except ValidationError as exc:
        for problems in exc.message_dict.values():
            for problem in problems:
                messages.error(request, problem)
        good = request.GET.copy()
        for field in exc.message_dict:
            good.pop(field, None)
        if {"date_from", "date_to"} & set(exc.message_dict):
            good.pop("date_from", None)
            good.pop("date_to", None)
        return reports.report_params(good)


def _nice_ceiling(value):
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (an axis maximum)."""
    import decimal

    value = decimal.Decimal(value)
    if value <= 0:
        return decimal.Decimal(1)
    exponent = value.adjusted()
    for step in (1, 2, decimal.Decimal("2.5"), 5, 10):
        top = decimal.Decimal(step).scaleb(exponent)
        if top >= value:
            return top
    return decimal.Decimal(10).scaleb(exponent)


def _fmt_axis(value) -> str:
    value = float(value)
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _daily_chart(report) -> dict:
    """Geometry of the daily chart (GMV bars, paid orders line), drawn as inline SVG by the template."""
    width, height = 960, 260
    left, right, top, bottom = 56, 44, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    days = report.days
    n = max(len(days), 1)
    gmv_max = _nice_ceiling(max((d.figures.gmv for d in days), default=0))
    orders_max = _nice_ceiling(max((d.figures.orders for d in days), default=0))
    slot = plot_w / n
    bar_w = max(min(slot * 0.7, 40), 1)
    every = max(1, -(-n // 12))  # at most about 12 day labels
    bars, points, dots, labels = [], [], [], []
    for i, d in enumerate(days):
        f = d.figures
        x = left + i * slot + (slot - bar_w) / 2
        h = float(f.gmv / gmv_max) * plot_h
        cx = left + i * slot + slot / 2
        oy = top + plot_h - (f.orders / float(orders_max)) * plot_h
        tip = _("%(day)s: GMV %(gmv)s, %(orders)d paid orders") % {"day": d.day.isoformat(), "gmv": f.gmv, "orders": f.orders}
        # coordinates as text: a localized float ("1,5") would break the SVG
        bars.append({"x": f"{x:.1f}", "y": f"{top + plot_h - h:.1f}", "w": f"{bar_w:.1f}", "h": f"{h:.1f}", "tip": tip})
        points.append(f"{cx:.1f},{oy:.1f}")
        dots.append({"x": f"{cx:.1f}", "y": f"{oy:.1f}"})
        if i % every == 0:
            labels.append({"x": f"{cx:.1f}", "text": d.day.strftime("%m-%d")})
    grid = []
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        grid.append({"y": f"{y:.1f}", "gmv": _fmt_axis(gmv_max * k / 4), "orders": _fmt_axis(orders_max * k / 4)})
    return {"viewbox": f"0 0 {width} {height}", "left": str(left), "right": str(width - right),
            "gmv_x": str(left - 6), "orders_x": str(width - right + 6), "label_y": str(height - 8),
            "bars": bars, "points": " ".join(points), "labels": labels, "grid": grid,
            "dots": dots if n <= 62 else []}


def _kpi_cards(report) -> list[dict]:
    money = {"gmv", "average_order_value", "cancelled_amount", "refunded_after_shipment"}
    cards = []
    for k in report.kpis:
        value, change = k["value"], k["change"]
        if value is None:
            shown = "—"
        elif k["key"] == "on_time_ship_rate":
            shown = f"{value}%"
        elif k["key"] == "median_hours_to_ship":
            shown = _("%(hours)s h") % {"hours": value}
        else:
            shown = f"{value:,}" if k["key"] not in money else f"{value:,.2f}"
        tone = "neutral"
        if change is not None and change != 0:
            tone = "good" if (change > 0) == k["higher_is_better"] else "bad"
        cards.append({"key": k["key"], "label": k["label"], "value": shown, "change": change, "tone": tone,
                      "previous": "—" if k["previous"] is None else k["previous"]})
    return cards


def _may_read_finance(request) -> bool:
    """Margins live on finance's profit page: link to it for the roles that may open it."""
    from django.apps import apps

    from erp.admin_site import role_may

    return apps.is_installed("finance") and role_may(request, "finance", write=False)


@tenant_page(app_label="orders")
def sales_report(request):
    from . import reports

    params = _report_params(request)
    report = reports.sales_report(params=params)
    today = tenant_today()
    base = {k: v for k, v in params.query().items() if k in ("shop", "platform")}
    presets = [{"key": key, "label": reports.PRESET_LABELS[key], "active": params.preset == key,
                "query": urlencode({**base, "range": key})} for key in reports.PRESETS[:-1]]
    hours_max = max((n for _h, n in report.hours), default=0) or 1
    context = {
        "report": report, "params": params, "presets": presets, "custom": params.preset == "custom",
        "previous_from": params.previous[0], "previous_to": params.previous[1],
        "cards": _kpi_cards(report), "chart": _daily_chart(report),
        "breakdowns": [(_("By shop"), "by-shop", _("Shop"), report.by_shop),
                       (_("By platform"), "by-platform", _("Platform"), report.by_platform)],
        "hours": [{"hour": h, "n": n, "pct": round(n * 100 / hours_max)} for h, n in report.hours],
        "shops": shop_options(), "platforms": platform_choices(),
        "export_query": urlencode(params.query()), "today": today,
        "finance_link": _may_read_finance(request),
        "profit_query": urlencode({"by": "shop", "from": params.date_from.isoformat(), "to": params.date_to.isoformat()}),
    }
    return render(request, "orders/reports.html", context)


def _report_tables(report) -> list[tuple[str, list[str], list[list]]]:
    """(sheet name, header, rows) of each table of the report, for the exports."""
    figures_header = [_("Paid orders"), _("Units"), _("GMV"), _("Average order value"), _("Cancelled orders"),
                      _("Cancelled amount"), _("Refunded after shipment"), _("Shipped parcels"), _("On-time ship rate %"),
                      _("Median hours to ship")]

    def figures(f):
        return [f.orders, f.units, f.gmv, f.aov, f.cancelled_orders, f.cancelled_amount, f.refunded_amount, f.parcels,
                f.on_time_rate, f.median_hours]

    prev_from, prev_to = report.params.previous
    days = [[d.day.isoformat(), *figures(d.figures)] for d in report.days]
    days.append([_("Total"), *figures(report.total)])
    days.append([_("Previous period %(from)s to %(to)s") % {"from": prev_from, "to": prev_to}, *figures(report.previous)])
    days.append([_("Change %"), *[k["change"] for k in report.kpis]])
    sku_header = [_("SKU code"), _("Title"), _("Units"), _("GMV")]
    return [
        (_("Days"), [_("Day"), *figures_header], days),
        (_("Shops"), [_("Shop"), *figures_header], [[g.label, *figures(g.figures)] for g in report.by_shop]),
        (_("Platforms"), [_("Platform"), *figures_header], [[g.label, *figures(g.figures)] for g in report.by_platform]),
        (_("Top SKUs by units"), sku_header, [[s.sku_code, s.title, s.units, s.gmv] for s in report.top_skus_by_units]),
        (_("Top SKUs by GMV"), sku_header, [[s.sku_code, s.title, s.units, s.gmv] for s in report.top_skus_by_gmv]),
        (_("Hours"), [_("Hour"), _("Paid orders")], [[f"{h:02d}:00", n] for h, n in report.hours]),
        (_("Provinces"), [_("Province"), _("Orders"), _("Units"), _("GMV"), _("Share of goods %")],
         [[p.province, p.orders, p.units, p.gmv, p.share] for p in report.provinces]),
    ]


def _sales_export(report, fmt: str):
    p = report.params
    name = f"sales-{p.date_from}-{p.date_to}"
    tables = _report_tables(report)
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        for title, header, rows in tables:
            ws = wb.create_sheet(str(title)[:30])
            ws.append([str(h) for h in header])
            for row in rows:
                ws.append([str(v) if isinstance(v, str) else v for v in row])  # Decimals stay numbers
        response = HttpResponse(content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        wb.save(response)
        return response
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for i, (title, header, rows) in enumerate(tables):
        if i:
            writer.writerow([])
        writer.writerow([str(title)])
        writer.writerow([str(h) for h in header])
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@tenant_page(app_label="orders")
def sales_report_export(request):
    from . import reports

    fmt = request.GET.get("format", "csv")
    return _sales_export(reports.sales_report(params=_report_params(request)), "xlsx" if fmt == "xlsx" else "csv")


# --- bulk jobs (large selections of the workbench run in the background) -------------------------------
RECENT_BULK_JOBS = 5
FAILED_SHOWN = 500


def _bulk_action_labels() -> dict[str, str]:
    return {"approve": pgettext("order action", "Approve"), "hold": _("Hold"), "release": _("Release"),
            "allocate": _("Allocate"), "pick": _("Start picking"), "ship": _("Ship"), "cancel": _("Cancel")}


def _recent_bulk_jobs() -> list:
    from .models import BulkJob

    labels = _bulk_action_labels()
    jobs = list(BulkJob.objects.select_related("requested_by").defer("order_ids", "results", "pending")
                .order_by("-pk")[:RECENT_BULK_JOBS])
    for job in jobs:
        job.action_label = labels.get(job.action, job.action)
    return jobs


def _bulk_job_or_404(pk):
    from .models import BulkJob

    job = BulkJob.objects.select_related("requested_by").filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


def _bulk_job_progress(job) -> dict:
    return {"id": job.pk, "status": job.status, "status_label": str(job.get_status_display()), "total": job.total,
            "processed": job.processed, "ok": job.ok_count, "failed": job.failed_count, "percent": job.percent,
            "finished": job.is_finished}


@tenant_page(app_label="orders")
def bulk_job(request, pk):
    """A bulk job's progress (the page polls bulk_job_status while it runs) and, once finished, the
    orders it could not act on with the reason of each."""
    job = _bulk_job_or_404(pk)
    failed = [(int(oid), why) for oid, why in job.results.items() if why != "ok"][:FAILED_SHOWN]
    orders = Order.objects.in_bulk([oid for oid, _why in failed])
    context = {
        "job": job, "action_label": _bulk_action_labels().get(job.action, job.action),
        "failed": [(oid, orders.get(oid), why) for oid, why in failed],
        "failed_more": max(0, job.failed_count - FAILED_SHOWN), "progress": _bulk_job_progress(job),
    }
    return render(request, "orders/bulk_job.html", context)


@tenant_page(app_label="orders")
def bulk_job_status(request, pk):
    """The job's progress as JSON, for the job page's polling script."""
    return JsonResponse(_bulk_job_progress(_bulk_job_or_404(pk)))
