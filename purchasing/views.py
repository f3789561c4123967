"""Operator pages of purchasing: the purchase order list (filters, attention cards), a purchase
order's detail with its actions, receive form, receipts and timeline, its CSV/XLSX export, and the
reorder suggestions grouped by supplier with the one-click "create purchase orders"."""


from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from erp.api.exceptions import Conflict
from erp.exports import table_response
from erp.views_helpers import error_text, filtered, keyset_page, tenant_page

from . import selectors, services
from .access import may_receive, may_write, receiving_page
from .models import GoodsReceipt, POLine, POStatus, PurchaseOrder, Supplier

PAGE = 50




@tenant_page(app_label="purchasing")
def po_list(request):
    qs, applied = filtered(request, selectors.po_filter, PurchaseOrder.objects.all())
    page = keyset_page(request, qs.select_related("supplier", "warehouse"), size=PAGE)
    rows, next_url, params = page.rows, page.next_url, page.params
    counts = selectors.status_counts()
    context = {
        "orders": rows, "next_url": next_url, "applied": applied, "params": params,
        "attention": selectors.attention_counts(),
        "status_counts": [(value, label, counts.get(value, 0)) for value, label in POStatus.choices],
        "statuses": POStatus.choices,
        "suppliers": Supplier.objects.order_by("code").values("id", "code", "name"),
    }
    context["unread"] = selectors.unread_notifications(membership=request.membership)
    chart = selectors.suggested_vs_on_order()
    chart["labels"] = {"suggested": _("Suggested"), "on_order": _("On order"), "in_transit": _("In transit"),
                       "units": _("units")}
    context["chart"] = chart
    context["chart_rows"] = list(zip(chart["skus"], chart["suggested"], chart["on_order"], chart["in_transit"], strict=True))
    return render(request, "purchasing/po_list.html", context)


def parse_lines(text: str) -> list[dict]:
    """Lines typed by an operator, one per line: ``SKU code, quantity[, unit price]`` (commas, tabs or
    spaces). Unknown codes and bad numbers are a ValidationError naming the line."""
    from inventory.selectors import skus_by_codes

    rows, errors = [], []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        parts = [p for p in raw.replace("\t", ",").replace("，", ",").replace(" ", ",").split(",") if p.strip()]
        if not parts:
            continue
        if len(parts) not in (2, 3) or not parts[1].strip().isdigit():
            errors.append(_("Line %(n)s: write “SKU code, quantity[, unit price]”.") % {"n": n})
            continue
        row = {"code": parts[0].strip(), "quantity": int(parts[1])}
        if len(parts) == 3:
            row["unit_price"] = parts[2].strip()
        rows.append(row)
    skus = skus_by_codes(codes=[r["code"] for r in rows])
    unknown = [r["code"] for r in rows if r["code"] not in skus]
    if unknown:
        errors.append(_("Unknown SKU codes: %(codes)s.") % {"codes": ", ".join(unknown)})
    if errors:
        raise ValidationError({"lines": errors})
    return [{"sku": skus[r.pop("code")], **r} for r in rows]


def lines_text(po) -> str:
    return "\n".join(f"{ln.sku.code}, {ln.quantity}, {ln.unit_price}"
                     for ln in POLine.objects.filter(purchase_order=po).select_related("sku").order_by("pk"))


@tenant_page(app_label="purchasing")
def po_new(request):
    """A draft purchase order typed by hand: supplier, warehouse, lines as text."""
    from inventory.selectors import warehouses_for_allocation

    form = {"supplier": "", "warehouse": "", "expected_date": "", "note": "", "lines": ""}
    if request.method == "POST":
        form.update({k: request.POST.get(k, "") for k in form})
        try:
            from django.utils.dateparse import parse_date

            expected = parse_date(form["expected_date"]) if form["expected_date"] else None
            if form["expected_date"] and expected is None:
                raise ValidationError({"expected_date": [_("A date (YYYY-MM-DD).")]})
            po = services.po_create(supplier=form["supplier"], warehouse=form["warehouse"], note=form["note"],
                                    expected_date=expected, lines=parse_lines(form["lines"]), actor=request.user)
            messages.success(request, _("Created %(no)s.") % {"no": po.number})
            return redirect("purchasing:detail", pk=po.pk)
        except (Conflict, ValidationError) as exc:
            messages.error(request, error_text(exc))
    context = {
        "form": form, "suppliers": Supplier.objects.filter(is_active=True).order_by("code").values("id", "code", "name"),
        "warehouses": warehouses_for_allocation(),
    }
    return render(request, "purchasing/po_new.html", context)


@tenant_page(app_label="purchasing", write=True)
@require_POST
def po_lines(request, pk):
    po = _po_or_404(pk)
    try:
        services.po_lines_set(po_id=po.pk, lines=parse_lines(request.POST.get("lines", "")), actor=request.user,
                              why=request.POST.get("why", ""))
        messages.success(request, _("Lines saved."))
    except (Conflict, ValidationError) as exc:
        messages.error(request, error_text(exc))
    return redirect("purchasing:detail", pk=po.pk)


def _po_or_404(pk) -> PurchaseOrder:
    po = PurchaseOrder.objects.select_related("supplier", "warehouse").filter(pk=pk).first()
    if po is None:
        raise Http404
    return po


def _labelled(events):
    labels = dict(POStatus.choices)
    for event in events:
        event.from_label = labels.get(event.from_status, event.from_status)
        event.to_label = labels.get(event.to_status, event.to_status)
    return events


@tenant_page(app_label="purchasing")
def po_detail(request, pk):
    po = _po_or_404(pk)
    actions = services.allowed_actions(po)
    context = {
        "po": po, "lines": list(POLine.objects.filter(purchase_order=po).select_related("sku").order_by("pk")),
        "events": _labelled(selectors.po_timeline(po=po)),
        "receipts": GoodsReceipt.objects.filter(purchase_order=po).prefetch_related("lines__sku").order_by("-pk"),
        "actions": [a for a in actions if a in ("approve", "send", "revise", "cancel", "close")] if may_write(request) else [],
        "can_receive": "receive" in actions and may_receive(request),
        "can_return": "return" in actions and may_receive(request),
        "receipt_reference": f"{po.number}-{timezone.now():%Y%m%d%H%M%S}",
        "can_edit": "edit" in actions and may_write(request),
        "lines_text": lines_text(po),
        "asns": selectors.po_asns(po=po),  # the supplier's shipping notices and the differences found
    }
    return render(request, "purchasing/po_detail.html", context)


@tenant_page(app_label="purchasing", write=True)
@require_POST
def po_action(request, pk):
    po = _po_or_404(pk)
    action = request.POST.get("action", "")
    why = request.POST.get("why", "")
    funcs = {
        "approve": lambda: services.po_approve(po_id=po.pk, actor=request.user, why=why),
        "send": lambda: services.po_send(po_id=po.pk, actor=request.user, why=why),
        "cancel": lambda: services.po_cancel(po_id=po.pk, actor=request.user, why=why),
        "close": lambda: services.po_close(po_id=po.pk, actor=request.user, why=why),
        "revise": lambda: services.po_revise(po_id=po.pk, actor=request.user, why=why),
    }
    if action not in funcs:
        messages.error(request, _("Unknown action."))
    else:
        try:
            funcs[action]()
            messages.success(request, _("Done: %(action)s.") % {"action": services.WORKFLOW.label(action)})
        except (Conflict, ValidationError) as exc:
            messages.error(request, error_text(exc))
    return redirect("purchasing:detail", pk=po.pk)


def _posted_lines(request, po, prefix: str = "qty") -> list[dict]:
    lines = []
    for line_id in POLine.objects.filter(purchase_order=po).values_list("pk", flat=True):
        raw = (request.POST.get(f"{prefix}_{line_id}") or "").strip()
        if raw:
            lines.append({"line": line_id, "quantity": int(raw) if raw.isdigit() else raw})
    return lines


@receiving_page
@require_POST
def po_receive(request, pk):
    po = _po_or_404(pk)
    kind = request.POST.get("kind", "receive")
    try:
        lines = _posted_lines(request, po, prefix="ret" if kind == "return" else "qty")
        if kind == "return":
            receipt = services.po_return(po_id=po.pk, reference=request.POST.get("reference", ""), lines=lines,
                                         why=request.POST.get("why", ""), actor=request.user,
                                         defective=request.POST.get("defective") == "1")
        else:
            receipt = services.po_receive(po_id=po.pk, reference=request.POST.get("reference", ""), lines=lines,
                                          note=request.POST.get("note") or request.POST.get("why", ""), actor=request.user)
        if getattr(receipt, "replayed", False):
            messages.warning(request, _("Reference already recorded as %(no)s: nothing was done again.")
                             % {"no": receipt.number})
        else:
            messages.success(request, _("Recorded %(no)s: %(n)s units.") % {"no": receipt.number, "n": receipt.total_quantity})
    except (Conflict, ValidationError) as exc:
        messages.error(request, error_text(exc))
    return redirect("purchasing:detail", pk=po.pk)


@tenant_page(app_label="purchasing")
def po_export(request, pk):
    """One purchase order as CSV (UTF-8 with BOM, opens in Excel) or XLSX: header, then its lines."""
    po = _po_or_404(pk)
    lines = POLine.objects.filter(purchase_order=po).select_related("sku").order_by("pk")
    header_rows = [
        [_("Purchase order"), po.number], [_("Supplier"), f"{po.supplier.code} {po.supplier.name}"],
        [_("Warehouse"), f"{po.warehouse.code} {po.warehouse.name}"], [_("Status"), po.get_status_display()],
        [_("Expected date"), po.expected_date or ""], [_("Currency"), po.currency],
        [_("Total"), po.total_amount], [],
    ]
    columns = [_("SKU"), pgettext("purchasing", "Name"), _("Supplier's code"), _("Quantity"), _("Unit price"), _("Amount"), _("Received"),
               _("Returned")]
    body = [[ln.sku.code, ln.sku.name, ln.supplier_sku_code, ln.quantity, ln.unit_price, ln.amount,
             ln.received_quantity, ln.returned_quantity] for ln in lines]
    return table_response(po.number, columns, body, request.GET.get("format", "csv"), preamble=header_rows, stamp=False)


@tenant_page(app_label="purchasing")
def suggestions(request):
    supplier = request.GET.get("supplier", "")
    groups = selectors.suggestions_by_supplier(supplier_id=int(supplier) if supplier.isdigit() else None)
    for _supplier, rows, _total in groups:
        for row in rows:
            row.explanation = selectors.suggestion_explanation(row)  # in the reader's language
            row.explanation_parts = selectors.suggestion_explanation_parts(row)
    from inventory.selectors import warehouses_for_allocation

    context = {
        "groups": groups, "supplier": supplier,
        "suppliers": Supplier.objects.filter(is_active=True).order_by("code").values("id", "code", "name"),
        "warehouses": warehouses_for_allocation(),
        "settings": services.purchasing_settings(),
        "computed_at": max((r.computed_at for _s, rows, _t in groups for r in rows), default=None),
    }
    return render(request, "purchasing/suggestions.html", context)


@tenant_page(app_label="purchasing", write=True)
@require_POST
def suggestions_action(request):
    action = request.POST.get("action", "")
    if action == "recompute":
        made = services.suggestions_recompute()
        messages.success(request, _("%(n)s SKUs to reorder.") % {"n": len(made)})
        return redirect("purchasing:suggestions")
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    quantities = {}
    for i in ids:
        raw = (request.POST.get(f"qty_{i}") or "").strip()
        if raw.isdigit() and int(raw) > 0:
            quantities[i] = int(raw)
    warehouse = request.POST.get("warehouse", "")
    try:
        from inventory.selectors import warehouses_for_allocation

        chosen = next((w for w in warehouses_for_allocation() if str(w.pk) == warehouse), None)
        pos = services.suggestions_create_pos(suggestion_ids=ids, actor=request.user, warehouse=chosen,
                                              quantities=quantities)
    except (Conflict, ValidationError) as exc:
        messages.error(request, error_text(exc))
        return redirect("purchasing:suggestions")
    messages.success(request, _("Created %(n)s draft purchase orders: %(numbers)s.")
                     % {"n": len(pos), "numbers": ", ".join(po.number for po in pos)})
    if len(pos) == 1:
        return redirect("purchasing:detail", pk=pos[0].pk)
    return redirect(reverse("purchasing:list") + "?status=draft")


@tenant_page(app_label="purchasing")
def notifications(request):
    """The buyer's in-app notifications (suppliers confirming, refusing, shipping; statements):
    newest first, unread marked; POST marks them all read."""
    if request.method == "POST":
        n = services.notification_mark_read(membership=request.membership)
        messages.success(request, _("%(n)s notifications marked as read.") % {"n": n})
        return redirect("purchasing:notifications")
    page = keyset_page(request, selectors.notifications_for(membership=request.membership), size=50)
    return render(request, "purchasing/notifications.html", {
        "rows": page.rows, "next_url": page.next_url,
        "unread": selectors.unread_notifications(membership=request.membership)})
