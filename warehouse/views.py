"""Operator pages of the warehouse floor: waves and pick lists, the packing station (made for a
keyboard-wedge scanner: it types the code and Enter), labels, weighing, parcels."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from rest_framework.exceptions import APIException

from erp.views_helpers import error_text, tenant_page
from inventory import selectors as inventory_selectors

from . import pdf, selectors, services
from .models import Parcel, ParcelStatus, PickWave, WaveKind

APP = "warehouse"
SESSION_PARCEL = "warehouse_pack_parcel"


def _wave_or_404(pk) -> PickWave:
    wave = PickWave.objects.filter(pk=pk).first()
    if wave is None:
        raise Http404
    return wave


def _parcel_or_404(pk) -> Parcel:
    parcel = Parcel.objects.filter(pk=pk).first()
    if parcel is None:
        raise Http404
    return parcel


@tenant_page(app_label=APP)
def waves(request):
    if request.method == "POST":
        try:
            wave = services.wave_create(warehouse_id=request.POST.get("warehouse") or 0,
                                        kind=request.POST.get("kind", ""), actor=request.user)
        except (ValidationError, APIException, ValueError) as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, _("Wave %(no)s made with %(n)s orders.") % {"no": wave.number,
                                                                               "n": wave.parcels.count()})
            return redirect("warehouse:wave", wave.pk)
        return redirect("warehouse:waves")
    return render(request, "warehouse/waves.html", {
        "waves": PickWave.objects.order_by("-id")[:50], "warehouses": inventory_selectors.warehouses(active_only=True),
        "kinds": WaveKind.choices})


@tenant_page(app_label=APP)
def wave_detail(request, pk):
    wave = _wave_or_404(pk)
    return render(request, "warehouse/wave.html", {
        "wave": wave, "rows": selectors.pick_list(wave=wave), "parcels": wave.parcels.order_by("seq"),
        "warehouse": inventory_selectors.warehouse_find(warehouse_id=wave.warehouse_id)})


@tenant_page(app_label=APP)
def wave_pdf(request, pk):
    wave = _wave_or_404(pk)
    body = pdf.pick_list_pdf(wave=wave, rows=selectors.pick_list(wave=wave), title=_("Pick list"),
                             headers=(_("Bin"), _("SKU"), pgettext("thing", "Name"), _("Quantity")))
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="pick-list-{wave.number}.pdf"'
    return response


@tenant_page(app_label=APP)
def pack(request):
    """One input for everything: a scan that names a parcel (order or waybill number) opens it;
    any other scan is an item of the open parcel."""
    outcome = None
    parcel = Parcel.objects.filter(pk=request.session.get(SESSION_PARCEL) or 0).first()
    if request.method == "POST":
        code = (request.POST.get("code") or "").strip()
        if request.POST.get("reset"):
            request.session.pop(SESSION_PARCEL, None)
            return redirect("warehouse:pack")
        found = services.parcel_find(code=code)
        if found is not None and (parcel is None or found.pk != parcel.pk):
            parcel = found
            request.session[SESSION_PARCEL] = parcel.pk
            blocked = services.order_block_reason(parcel.order_id)
            outcome = {"ok": not blocked, "message": blocked or _("Parcel %(no)s open: scan its items.") % {
                "no": parcel.order_no}}
        elif parcel is None:
            outcome = {"ok": False, "message": _("Unknown parcel: scan an order number or a waybill first.")}
        elif not code:
            outcome = {"ok": False, "message": _("Scan a code.")}
        else:
            try:
                result = services.pack_scan(parcel_id=parcel.pk, code=code, user=request.user)
            except (ValidationError, APIException) as exc:
                outcome = {"ok": False, "message": error_text(exc)}
            else:
                parcel = result.parcel
                outcome = {"ok": result.ok, "message": result.message}
    counts = services.scanned_counts(parcel) if parcel else {}
    items = []
    if parcel:
        skus = inventory_selectors.skus_by_ids(sku_ids=[int(s) for s in parcel.expected])
        for sku_id, qty in parcel.expected.items():
            sku = skus.get(int(sku_id))
            items.append({"code": getattr(sku, "code", sku_id), "name": getattr(sku, "name", ""),
                          "barcode": getattr(sku, "barcode", ""), "expected": qty, "scanned": counts.get(sku_id, 0)})
    return render(request, "warehouse/pack.html", {
        "parcel": parcel, "outcome": outcome, "items": items,
        "scans": parcel.scans.order_by("-id")[:20] if parcel else [],
        "can_weigh": parcel is not None and parcel.status in (ParcelStatus.PACKED, ParcelStatus.WEIGHED)},
        status=200)


@tenant_page(app_label=APP)
def label(request, pk):
    parcel = _parcel_or_404(pk)
    if not parcel.tracking_no:
        raise Http404
    response = HttpResponse(pdf.label_pdf(parcel=parcel), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="waybill-{parcel.tracking_no}.pdf"'
    return response


@tenant_page(app_label=APP, write=True)
def weigh(request, pk):
    parcel = _parcel_or_404(pk)
    try:
        parcel = services.parcel_weigh_and_ship(parcel_id=parcel.pk, weight_g=request.POST.get("weight_g"),
                                                actor=request.user)
    except (ValidationError, APIException) as exc:
        messages.error(request, error_text(exc, labels={"weight_g": _("Weight (g)")}))
    else:
        messages.success(request, _("Shipped %(no)s with %(carrier)s %(tracking)s, freight %(freight)s.") % {
            "no": parcel.order_no, "carrier": parcel.carrier_code, "tracking": parcel.tracking_no,
            "freight": f"{parcel.freight} {parcel.currency}" if parcel.freight is not None else "—"})
        request.session.pop("warehouse_pack_parcel", None)
    return redirect("warehouse:pack")


@tenant_page(app_label=APP)
def parcels(request):
    status = request.GET.get("status", "")
    if status not in ParcelStatus.values:
        status = ""
    q = (request.GET.get("q") or "").strip()[:80]
    rows = selectors.parcels(status=status, q=q).order_by("-id")[:100]
    return render(request, "warehouse/parcels.html", {
        "parcels": rows, "statuses": ParcelStatus.choices, "status": status, "q": q,
        "stuck": selectors.parcels_stuck()[:50]})


@tenant_page(app_label=APP)
def wms(request):
    """Third-party warehouses: accounts, their documents (outbox and confirmations), the latest
    stock comparison; sync or compare now."""
    from integrations.ports import WmsError

    from .models import WmsAccount, WmsOrder, WmsOrderStatus, WmsStockSnapshot

    accounts = list(WmsAccount.objects.order_by("code"))
    if request.method == "POST":
        account = WmsAccount.objects.filter(pk=request.POST.get("account") or 0).first()
        if account is None:
            messages.error(request, _("No such WMS account."))
        elif request.POST.get("do") == "compare":
            try:
                snap = services.wms_stock_compare(account=account)
            except WmsError as exc:
                messages.error(request, _("The WMS did not answer: %(why)s") % {"why": exc})
            else:
                messages.success(request, _("Stock compared: %(n)s differences of %(items)s items.") % {
                    "n": snap.differences, "items": snap.items})
        else:
            result = services.wms_sync(account=account)
            if result.get("error"):
                messages.error(request, _("The WMS did not answer: %(why)s") % {"why": result["error"]})
            else:
                messages.success(request, _("Synchronised: %(queued)s queued, %(sent)s sent, %(confirmed)s "
                                            "confirmations.") % {
                    "queued": result.get("queued", 0), "sent": result.get("sent", 0),
                    "confirmed": sum((result.get("confirmations") or {}).values())})
        return redirect("warehouse:wms")
    status = request.GET.get("status", "")
    if status not in WmsOrderStatus.values:
        status = ""
    rows = WmsOrder.objects.select_related("account").order_by("-id")
    if status:
        rows = rows.filter(status=status)
    snapshots = []
    for account in accounts:
        snap = WmsStockSnapshot.objects.filter(account=account).prefetch_related("lines").first()
        if snap is not None:
            snapshots.append(snap)
    names = inventory_selectors.warehouse_names(ids=[a.warehouse_id for a in accounts])
    for account in accounts:
        account.warehouse_label = names.get(account.warehouse_id, "")
    return render(request, "warehouse/wms.html", {
        "accounts": accounts, "orders": rows[:100], "statuses": WmsOrderStatus.choices, "status": status,
        "snapshots": snapshots})
