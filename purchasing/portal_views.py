"""The supplier portal (/purchasing/portal/): a supplier user's own purchase orders (confirm, confirm
with changes, refuse, send shipping notices), receipts and returns with the differences found, its
items and prices, and its notifications. Every query is filtered by the supplier user's supplier id
(erp.tenancy.supplier_access); another supplier's document is a 404."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from erp.api.exceptions import Conflict
from erp.tenancy.supplier_access import supplier_id_of, supplier_page
from erp.views_helpers import error_text, keyset_page

from . import selectors, services
from .access import receiving_page
from .models import EventKind, POLine, POStatus, PurchaseOrderEvent, ReceiptKind


def _labelled(events):
    """The events with the status they went to in words (``to_label``)."""
    labels = dict(POStatus.choices)
    events = list(events)
    for event in events:
        event.to_label = labels.get(event.to_status, event.to_status)
    return events


# the PO page's form fields a refusal may name
PO_FORM_LABELS = {"expected_date": gettext_lazy("Delivery date"), "expected_arrival": gettext_lazy("Expected arrival"),
                  "carrier": gettext_lazy("Carrier"), "tracking_number": gettext_lazy("Tracking number"),
                  "note": gettext_lazy("Note"), "why": gettext_lazy("Reason for refusing"),
                  "lines": gettext_lazy("Quantities")}

# what the supplier sees of a purchase order's timeline (not the buyer's internal edits)
VISIBLE_EVENTS = (EventKind.STATUS, EventKind.SUPPLIER, EventKind.RECEIPT, EventKind.RETURN)


@supplier_page
def home(request):
    supplier_id = supplier_id_of(request)
    qs = selectors.supplier_purchase_orders(supplier_id=supplier_id)
    status = (request.GET.get("status") or "").strip()
    if status == "to_confirm":
        qs = qs.filter(status=POStatus.SENT)
    elif status == "open":
        qs = qs.filter(status__in=[POStatus.SENT, POStatus.CONFIRMED, POStatus.PARTIALLY_RECEIVED])
    page = keyset_page(request, qs, size=50)
    counts = {
        "to_confirm": selectors.supplier_purchase_orders(supplier_id=supplier_id).filter(status=POStatus.SENT).count(),
        "in_transit": selectors.supplier_asns(supplier_id=supplier_id).filter(status="sent").count(),
    }
    return render(request, "portal/home.html", {"orders": page.rows, "next_url": page.next_url, "params": page.params,
                                                "status": status, "counts": counts})


def _po_or_404(request, pk):
    po = selectors.supplier_purchase_orders(supplier_id=supplier_id_of(request)).filter(pk=pk).first()
    if po is None:
        raise Http404(_("No such purchase order."))
    return po


def _detail(request, po, status=200):
    lines = list(POLine.objects.filter(purchase_order=po).select_related("sku").order_by("pk"))
    actions = services.allowed_actions(po)
    posted = request.POST if request.method == "POST" else {}
    for ln in lines:  # a refused form shows again what the supplier typed, not the defaults
        ln.confirm_value = posted.get(f"qty-{ln.pk}", ln.quantity)
        ln.ship_value = posted.get(f"ship-{ln.pk}", "" if "confirm" in actions else ln.open_quantity)
    context = {
        "po": po, "lines": lines, "asns": selectors.po_asns(po=po),
        "receipts": list(po.receipts.order_by("-pk")),
        "events": _labelled(PurchaseOrderEvent.objects.filter(purchase_order=po, kind__in=VISIBLE_EVENTS).order_by("pk")),
        "can_confirm": "confirm" in actions, "can_ship": "ship" in actions,
        "form": request.POST if request.method == "POST" else {},
    }
    return render(request, "portal/po_detail.html", context, status=status)


@supplier_page
def po_detail(request, pk):
    return _detail(request, _po_or_404(request, pk))


def _lines_from_post(post, prefix: str, lines) -> list[dict]:
    out = []
    for line in lines:
        raw = (post.get(f"{prefix}{line.pk}") or "").strip()
        if raw == "":
            continue
        out.append({"line": line.pk, "quantity": int(raw) if raw.isdigit() else raw})
    return out


@require_POST
@supplier_page
def po_action(request, pk):
    po = _po_or_404(request, pk)
    supplier_id = supplier_id_of(request)
    action = request.POST.get("action", "")
    lines = list(POLine.objects.filter(purchase_order=po).order_by("pk"))
    try:
        if action == "confirm":
            services.po_confirm(po_id=po.pk, supplier_id=supplier_id, actor=request.user,
                                lines=_lines_from_post(request.POST, "qty-", lines),
                                expected_date=request.POST.get("expected_date") or None,
                                note=request.POST.get("note", ""))
            messages.success(request, _("Purchase order %(no)s confirmed.") % {"no": po.number})
        elif action == "refuse":
            services.po_refuse(po_id=po.pk, supplier_id=supplier_id, actor=request.user, why=request.POST.get("why", ""))
            messages.success(request, _("Purchase order %(no)s refused.") % {"no": po.number})
        elif action == "asn":
            asn = services.asn_create(po_id=po.pk, supplier_id=supplier_id, actor=request.user,
                                      lines=_lines_from_post(request.POST, "ship-", lines),
                                      expected_arrival=request.POST.get("expected_arrival") or None,
                                      tracking_number=request.POST.get("tracking_number", ""),
                                      carrier=request.POST.get("carrier", ""), note=request.POST.get("note", ""))
            messages.success(request, _("Shipping notice %(no)s sent.") % {"no": asn.number})
        else:
            messages.error(request, _("Unknown action."))
            return _detail(request, po, status=400)
    except (ValidationError, Conflict) as exc:
        messages.error(request, error_text(exc, labels=PO_FORM_LABELS))
        return _detail(request, _po_or_404(request, pk), status=409 if isinstance(exc, Conflict) else 400)
    return redirect("purchasing:portal-po", pk=po.pk)


@supplier_page
def receipts(request):
    supplier_id = supplier_id_of(request)
    rows = list(selectors.supplier_receipts(supplier_id=supplier_id).order_by("-pk")[:200])
    asns = list(selectors.supplier_asns(supplier_id=supplier_id).order_by("-pk")
                .prefetch_related("differences__sku")[:100])
    return render(request, "portal/receipts.html", {
        "receipts": [r for r in rows if r.kind == ReceiptKind.RECEIPT],
        "returns": [r for r in rows if r.kind == ReceiptKind.RETURN], "asns": asns})


@supplier_page
def items(request):
    return render(request, "portal/items.html", {"items": selectors.supplier_items(supplier_id=supplier_id_of(request))})


@supplier_page
def notifications(request):
    if request.method == "POST":
        services.notification_mark_read(membership=request.membership)
        return redirect("purchasing:portal-notifications")
    page = keyset_page(request, selectors.notifications_for(membership=request.membership), size=50)
    return render(request, "portal/notifications.html", {"rows": page.rows, "next_url": page.next_url})


# --- the buyer's side: receiving against a shipping notice (purchasing:detail shows the form) ----------
@require_POST
@receiving_page
def asn_receive(request, pk):
    from .models import AdvanceShippingNotice

    asn = AdvanceShippingNotice.objects.filter(pk=pk).prefetch_related("lines").first()
    if asn is None:
        raise Http404(_("No such shipping notice."))
    lines = []
    for line in asn.lines.all():
        good = (request.POST.get(f"good_{line.pk}") or "0").strip()
        damaged = (request.POST.get(f"damaged_{line.pk}") or "0").strip()
        lines.append({"asn_line": line.pk, "quantity": int(good) if good.isdigit() else good,
                      "damaged": int(damaged) if damaged.isdigit() else damaged})
    try:
        asn = services.asn_receive(asn_id=asn.pk, reference=request.POST.get("reference", ""), lines=lines,
                                   actor=request.user, note=request.POST.get("note", ""))
        n = asn.differences.count()
        if n:
            messages.warning(request, _("%(no)s received with %(n)s differences.") % {"no": asn.number, "n": n})
        else:
            messages.success(request, _("%(no)s received as shipped.") % {"no": asn.number})
    except (Conflict, ValidationError) as exc:
        messages.error(request, error_text(exc))
    return redirect("purchasing:detail", pk=asn.purchase_order_id)
