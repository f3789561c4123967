"""Operator pages of after-sales: the queue by status with filters and bulk approve, a ticket's
detail with its timeline and action forms, a manual ticket for a shipped order, and the refund
report (rate and reasons by SKU and shop)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from erp.api.exceptions import Conflict
from erp.views_helpers import error_text, keyset_page, tenant_page
from integrations import selectors as integrations

from . import ports, selectors, services
from .models import LineCondition, Ticket, TicketKind, TicketStatus

PAGE = 50



@tenant_page(app_label="aftersales")
def queue(request):
    qs, applied = selectors.ticket_filter(Ticket.objects.all(), request.GET)
    page = keyset_page(request, qs.select_related("shop"), size=PAGE)
    rows, next_url, params = page.rows, page.next_url, page.params
    counts = selectors.status_counts()
    attention = selectors.attention_counts()
    context = {
        "tickets": rows, "next_url": next_url, "applied": applied, "params": params,
        "status_counts": [(value, label, counts.get(value, 0)) for value, label in TicketStatus.choices],
        "attention": attention, "statuses": TicketStatus.choices, "kinds": TicketKind.choices,
        "shops": integrations.shop_options(),
    }
    return render(request, "aftersales/queue.html", context)


@tenant_page(app_label="aftersales", write=True)
@require_POST
def bulk_approve(request):
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    back = request.POST.get("next") or reverse("aftersales:queue")
    if not back.startswith("/") or back.startswith("//"):
        back = reverse("aftersales:queue")
    if not ids:
        messages.error(request, _("Pick at least one ticket."))
        return redirect(back)
    results = services.tickets_bulk_approve(ticket_ids=ids, actor=request.user, why=request.POST.get("why", ""))
    ok = sum(1 for r in results.values() if r == "ok")
    messages.success(request, _("Approved: %(ok)d.") % {"ok": ok})
    for pk, why in [(k, v) for k, v in results.items() if v != "ok"][:10]:
        messages.error(request, f"#{pk}: {why}")
    return redirect(back)


@tenant_page(app_label="aftersales")
def detail(request, pk):
    ticket = Ticket.objects.select_related("shop").filter(pk=pk).first()
    if ticket is None:
        raise Http404
    labels = dict(TicketStatus.choices)
    events = list(selectors.ticket_timeline(ticket=ticket))
    for e in events:
        e.from_label, e.to_label = labels.get(e.from_status, e.from_status), labels.get(e.to_status, e.to_status)
    context = {
        "ticket": ticket, "lines": list(ticket.lines.order_by("pk")), "events": events,
        "actions": services.allowed_actions(ticket), "conditions": [LineCondition.RESELLABLE, LineCondition.DEFECTIVE],
    }
    return render(request, "aftersales/detail.html", context)


@tenant_page(app_label="aftersales", write=True)
@require_POST
def detail_action(request, pk):
    action = request.POST.get("action", "")
    post = request.POST
    why = post.get("why", "")
    amount = post.get("amount") or None

    def receive():
        ticket = Ticket.objects.filter(pk=pk).first()
        if ticket is None:
            raise Http404
        lines = [{"line": ln.pk, "condition": post.get(f"condition_{ln.pk}") or LineCondition.RESELLABLE,
                  "quantity": post.get(f"quantity_{ln.pk}") or None} for ln in ticket.lines.order_by("pk")]
        wh = post.get("warehouse_id") or ""
        return services.ticket_receive_goods(ticket_id=pk, actor=request.user, lines=lines,
                                             warehouse_id=int(wh) if wh.isdigit() else None, why=why)

    funcs = {
        "approve": lambda: services.ticket_approve(ticket_id=pk, actor=request.user, amount=amount, why=why),
        "reject": lambda: services.ticket_reject(ticket_id=pk, actor=request.user, why=why),
        "await_return": lambda: services.ticket_await_return(ticket_id=pk, actor=request.user,
                                                             tracking_no=post.get("tracking_no", ""), why=why),
        "receive_goods": receive,
        "refund": lambda: services.ticket_refund(ticket_id=pk, actor=request.user, amount=amount, why=why),
        "complete": lambda: services.ticket_complete(ticket_id=pk, actor=request.user, why=why),
        "cancel": lambda: services.ticket_cancel(ticket_id=pk, actor=request.user, why=why),
    }
    if action not in funcs:
        messages.error(request, _("Unknown action."))
    else:
        try:
            funcs[action]()
            messages.success(request, _("Done: %(action)s.") % {"action": services.WORKFLOW.label(action)})
        except (Conflict, ValidationError) as exc:
            messages.error(request, error_text(exc))
    return redirect("aftersales:detail", pk=pk)


@tenant_page(app_label="aftersales")
def new(request):
    """A manual ticket: look up a shipped order by id, pick lines and quantities."""
    order_id = (request.POST.get("order_id") or request.GET.get("order") or "").strip()
    snapshot = ports.order_snapshot(int(order_id)) if order_id.isdigit() else None
    if request.method == "POST" and snapshot is not None:
        lines = []
        for ln in snapshot.lines:
            if post_qty := request.POST.get(f"qty_{ln.id}", "").strip():
                if post_qty != "0":
                    lines.append({"order_line_id": ln.id, "quantity": post_qty,
                                  "exchange_sku_id": request.POST.get(f"exchange_{ln.id}") or None})
        try:
            ticket = services.ticket_create(
                order_id=snapshot.id, kind=request.POST.get("kind", ""), reason=request.POST.get("reason", ""),
                lines=lines, requested_amount=request.POST.get("requested_amount") or None,
                note=request.POST.get("note", ""), actor=request.user)
        except (ValidationError, Conflict) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("Ticket %(no)s opened.") % {"no": ticket.number})
            return redirect("aftersales:detail", pk=ticket.pk)
    if order_id and snapshot is None:
        messages.error(request, _("No such order."))
    context = {"order_id": order_id, "order": snapshot, "kinds": TicketKind.choices, "post": request.POST,
               "shipped": ports.order_shipped(snapshot) if snapshot else False}
    return render(request, "aftersales/new.html", context)


@tenant_page(app_label="aftersales")
def report(request):
    since = until = None
    try:
        since = parse_date(request.GET.get("since") or "") if request.GET.get("since") else None
        until = parse_date(request.GET.get("until") or "") if request.GET.get("until") else None
    except ValueError:
        messages.error(request, _("Dates are YYYY-MM-DD."))
    shop = request.GET.get("shop") or ""
    data = selectors.refund_report(since=since, until=until, shop_id=int(shop) if shop.isdigit() else None)
    return render(request, "aftersales/report.html", {
        "report": data, "shops": integrations.shop_options(), "shop": shop,
        "charts": selectors.refund_report_charts(data)})
