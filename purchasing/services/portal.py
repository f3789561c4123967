"""Working with the supplier online: supplier users, the supplier's answer to a sent purchase order
(confirm as is, confirm with changed quantities or date, or refuse with a reason), advance shipping
notices (ASN) and receiving against an ASN with its differences (short, over, damaged).

Every supplier-side call takes ``supplier_id`` (the supplier user's, erp.tenancy.supplier_access) and
treats another supplier's purchase order as not found (404). Each step notifies the other side
(``notify``): the supplier's users and the buyer (the PO's creator, else the operators).
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.tenancy.context import require_tenant
from erp.tenancy.dates import tenant_today
from erp.tenancy.models import Membership
from erp.tenancy.roles import Role
from erp.tenancy.services import membership_add
from erp.workflow import actor_user, why_required

from ..models import (
    AdvanceShippingNotice,
    ASNLine,
    ASNStatus,
    DifferenceKind,
    EventKind,
    POLine,
    PurchaseOrder,
    ReceiptDifference,
)
from ..models import POStatus as S
from .common import _create_numbered, _quantity, _supplier, _totals, purchasing_settings
from .notifications import notify
from .receiving import po_receive
from .workflow import WORKFLOW


# --- supplier users -------------------------------------------------------------------------------
@transaction.atomic
def supplier_user_invite(*, supplier, username: str, email: str = "", password: str | None = None) -> Membership:
    """A supplier user of ``supplier`` (this tenant's): a new or existing user gets a supplier
    membership. A staff member of this tenant cannot be made a supplier user (400)."""
    supplier = _supplier(supplier)
    username = str(username or "").strip()
    if not username:
        raise ValidationError({"username": [_("This field is required.")]})
    tenant = require_tenant()
    existing = Membership.objects.filter(tenant=tenant, user__username=username).first()
    if existing is not None and (existing.role != Role.SUPPLIER or existing.supplier_id != supplier.pk):
        raise ValidationError({"username": [_("This user already belongs to this company with another role.")]})
    if existing is not None:
        return existing
    membership = membership_add(tenant=tenant, username=username, role=Role.OPERATOR, email=email, password=password)
    # membership_add knows no supplier: turn the fresh membership into a supplier user in one update
    Membership.objects.filter(pk=membership.pk).update(role=Role.SUPPLIER, supplier_id=supplier.pk)
    membership.refresh_from_db()
    return membership


# --- helpers --------------------------------------------------------------------------------------
def _own_po(po_id, supplier_id: int | None) -> PurchaseOrder:
    """The purchase order, row-locked; a supplier user asking for another supplier's is a 404."""
    po = WORKFLOW.lock(po_id)
    if supplier_id is not None and po.supplier_id != int(supplier_id):
        raise Http404(WORKFLOW.not_found)
    return po


def _buyer_ids(po: PurchaseOrder) -> dict:
    if po.created_by_id:
        found = list(Membership.objects.filter(tenant_id=po.tenant_id, user_id=po.created_by_id, is_active=True)
                     .exclude(role=Role.SUPPLIER).values_list("pk", flat=True))
        if found:
            return {"membership_ids": found}
    return {"role": Role.OPERATOR}


def _tell_buyer(po: PurchaseOrder, code: str, subject: str, body: str) -> None:
    notify(**_buyer_ids(po), subject=subject, body=body, code=code,
           url=reverse("purchasing:detail", args=[po.pk]))


def _tell_supplier(po: PurchaseOrder, code: str, subject: str, body: str) -> None:
    notify(supplier_id=po.supplier_id, subject=subject, body=body, code=code,
           url=reverse("purchasing:portal-po", args=[po.pk]))


def po_sent_notify(*, po: PurchaseOrder) -> None:
    """Tell the supplier's users that a purchase order was sent to them (po_send calls it)."""
    _tell_supplier(po, "po_sent", _("New purchase order %(no)s") % {"no": po.number},
                   _("Purchase order %(no)s: %(q)s units, %(amount)s %(cur)s, expected %(date)s. Please confirm it.")
                   % {"no": po.number, "q": po.total_quantity, "amount": po.total_amount, "cur": po.currency,
                      "date": po.expected_date or "—"})


def _date(value, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({field: [_("A date (YYYY-MM-DD).")]}) from None


# --- the supplier's answer ------------------------------------------------------------------------
@transaction.atomic
def po_confirm(*, po_id, supplier_id: int | None, actor=None, lines=None, expected_date=None,
               note: str = "") -> PurchaseOrder:
    """The supplier confirms a sent purchase order: as it is, or with changed line quantities
    (``lines``: [{line, quantity}], quantity 1 or more) and/or another ``expected_date`` (not in the
    past). The changes are applied to the order, recorded in its timeline and told to the buyer."""
    po = _own_po(po_id, supplier_id)
    WORKFLOW.check(po, "confirm")
    changes: dict = {}
    new_date = _date(expected_date, "expected_date")
    if new_date is not None and new_date != po.expected_date:
        if new_date < tenant_today():
            raise ValidationError({"expected_date": [_("The date is in the past.")]})
        changes["expected_date"] = [str(po.expected_date or ""), str(new_date)]
        po.expected_date = new_date
    if lines:
        if not isinstance(lines, (list, tuple)):
            raise ValidationError({"lines": [_("Expected a list of {line, quantity}.")]})
        po_lines = {ln.pk: ln for ln in POLine.objects.select_for_update(of=("self",)).select_related("sku")
                    .filter(purchase_order=po)}
        changed = {}
        for n, raw in enumerate(lines, start=1):
            if not isinstance(raw, dict):
                raise ValidationError({"lines": [_("Line %(n)s: expected an object with line and quantity.") % {"n": n}]})
            ref = getattr(raw.get("line"), "pk", raw.get("line"))
            try:
                line = po_lines.get(int(ref))
            except (TypeError, ValueError):
                line = None
            if line is None:
                raise ValidationError({"lines": [_("Line %(n)s: not a line of purchase order %(no)s.") % {"n": n, "no": po.number}]})
            try:
                quantity = _quantity(raw.get("quantity"), field="quantity")
            except ValidationError:
                raise ValidationError({"lines": [_("Line %(n)s: the quantity must be a whole number, 1 or more.") % {"n": n}]}) from None
            if quantity != line.quantity:
                changed[line.sku.code] = [line.quantity, quantity]
                line.quantity = quantity
                line.save(update_fields=["quantity"])
        if changed:
            changes["lines"] = changed
            _totals(po)
    po.supplier_note = str(note or "")[:1000]
    code = "confirmed_changed" if changes else "confirmed"
    message = (_("Confirmed by the supplier with changes.") if changes else _("Confirmed by the supplier."))
    if note:
        message = f"{message} {note}"
    WORKFLOW.set_status(po, S.CONFIRMED, why=message, code=code, actor=actor, kind=EventKind.SUPPLIER,
                        data={"changes": changes} if changes else None)
    details = []
    if "expected_date" in changes:
        details.append(_("expected date %(a)s → %(b)s") % {"a": changes["expected_date"][0] or "—", "b": changes["expected_date"][1]})
    for sku, (a, b) in changes.get("lines", {}).items():
        details.append(_("%(sku)s: %(a)s → %(b)s units") % {"sku": sku, "a": a, "b": b})
    _tell_buyer(po, code, _("%(no)s confirmed by the supplier") % {"no": po.number},
                "; ".join(details) or _("Confirmed as ordered."))
    return po


@transaction.atomic
def po_refuse(*, po_id, supplier_id: int | None, why: str, actor=None) -> PurchaseOrder:
    """The supplier refuses a sent purchase order, saying why (400 without a reason)."""
    po = _own_po(po_id, supplier_id)
    WORKFLOW.check(po, "refuse")
    why = why_required(why)
    po.supplier_note = why[:1000]
    WORKFLOW.set_status(po, S.REFUSED, why=why, code="refused", actor=actor, kind=EventKind.SUPPLIER)
    _tell_buyer(po, "refused", _("%(no)s refused by the supplier") % {"no": po.number}, why)
    return po


# --- ASN --------------------------------------------------------------------------------------------
def _pending_shipped(po_line_ids) -> dict[int, int]:
    rows = (ASNLine.objects.filter(po_line_id__in=list(po_line_ids), asn__status=ASNStatus.SENT)
            .values("po_line_id").annotate(q=Sum("quantity")))
    return {r["po_line_id"]: r["q"] for r in rows}


@transaction.atomic
def asn_create(*, po_id, supplier_id: int | None, lines, expected_arrival, tracking_number: str = "",
               carrier: str = "", note: str = "", actor=None) -> AdvanceShippingNotice:
    """The supplier's shipping notice: ``lines`` [{line, quantity}] (what is in the shipment; at most
    what is still open on the line, net of other ASNs in transit, plus the receiving tolerance), the
    expected arrival date and the tracking number."""
    po = _own_po(po_id, supplier_id)
    WORKFLOW.check(po, "ship")
    arrival = _date(expected_arrival, "expected_arrival")
    if arrival is None:
        raise ValidationError({"expected_arrival": [_("This field is required.")]})
    if arrival < tenant_today():
        raise ValidationError({"expected_arrival": [_("The date is in the past.")]})
    tracking_number, carrier = str(tracking_number or "").strip(), str(carrier or "").strip()
    if len(tracking_number) > 64:
        raise ValidationError({"tracking_number": [_("At most 64 characters.")]})
    if len(carrier) > 60:
        raise ValidationError({"carrier": [_("At most 60 characters.")]})
    if not isinstance(lines, (list, tuple)) or not lines:
        raise ValidationError({"lines": [_("Give at least one line.")]})
    po_lines = {ln.pk: ln for ln in POLine.objects.select_for_update(of=("self",)).select_related("sku")
                .filter(purchase_order=po)}
    pending = _pending_shipped(po_lines)
    tolerance = purchasing_settings().over_receipt_tolerance_percent
    wanted: dict[int, int] = {}
    problems = []
    for n, raw in enumerate(lines, start=1):
        if not isinstance(raw, dict):
            raise ValidationError({"lines": [_("Line %(n)s: expected an object with line and quantity.") % {"n": n}]})
        ref = getattr(raw.get("line"), "pk", raw.get("line"))
        try:
            line = po_lines.get(int(ref))
        except (TypeError, ValueError):
            line = None
        if line is None:
            raise ValidationError({"lines": [_("Line %(n)s: not a line of purchase order %(no)s.") % {"n": n, "no": po.number}]})
        try:
            quantity = _quantity(raw.get("quantity"), field="quantity", allow_zero=True)
        except ValidationError:
            raise ValidationError({"lines": [_("Line %(n)s: the quantity must be a whole number, 0 or more.") % {"n": n}]}) from None
        if line.pk in wanted:
            raise ValidationError({"lines": [_("Line %(n)s: %(sku)s appears twice.") % {"n": n, "sku": line.sku.code}]})
        if quantity == 0:
            continue
        limit = math.floor(line.quantity * (Decimal(100) + tolerance) / Decimal(100))
        room = limit - line.received_quantity - pending.get(line.pk, 0)
        if quantity > room:
            problems.append(_("%(sku)s: %(q)s units shipped but only %(room)s are still open.")
                            % {"sku": line.sku.code, "q": quantity, "room": max(room, 0)})
        wanted[line.pk] = quantity
    if problems:
        raise ValidationError({"lines": problems})
    if not wanted:
        raise ValidationError({"lines": [_("Nothing to do: every quantity is 0.")]})
    asn = _create_numbered(AdvanceShippingNotice, "ASN", purchase_order=po, expected_arrival=arrival,
                           tracking_number=tracking_number, carrier=carrier, note=str(note or "")[:500],
                           created_by=actor_user(actor), total_quantity=sum(wanted.values()))
    ASNLine.objects.bulk_create([ASNLine(tenant_id=po.tenant_id, asn=asn, po_line=po_lines[pk], sku_id=po_lines[pk].sku_id,
                                         quantity=q) for pk, q in sorted(wanted.items())])
    WORKFLOW.log(po, EventKind.SUPPLIER, "asn_sent",
                 _("Shipping notice %(asn)s: %(q)s units, arriving %(date)s, tracking %(t)s.")
                 % {"asn": asn.number, "q": asn.total_quantity, "date": arrival, "t": tracking_number or "—"},
                 actor=actor, data={"asn": asn.number, "lines": [[pk, q] for pk, q in sorted(wanted.items())]})
    _tell_buyer(po, "asn_sent", _("%(no)s: shipping notice %(asn)s") % {"no": po.number, "asn": asn.number},
                _("%(q)s units arriving %(date)s, tracking %(t)s.")
                % {"q": asn.total_quantity, "date": arrival, "t": tracking_number or "—"})
    return asn


@transaction.atomic
def asn_receive(*, asn_id, reference: str, lines, actor=None, note: str = "") -> AdvanceShippingNotice:
    """The warehouse receives an ASN: ``lines`` [{asn_line, quantity, damaged?}] — ``quantity`` good
    units (taken into stock through po_receive), ``damaged`` units found broken (recorded, not stocked).
    An ASN line left out received nothing. Against what was shipped: fewer is a SHORT difference, more
    an OVER one; damaged units a DAMAGED one. Differences are told to the supplier and the buyer."""
    try:
        pk = int(getattr(asn_id, "pk", asn_id))
    except (TypeError, ValueError):
        raise Http404(_("No such shipping notice.")) from None
    asn = AdvanceShippingNotice.objects.select_for_update().filter(pk=pk).first()
    if asn is None:
        raise Http404(_("No such shipping notice."))
    if asn.status != ASNStatus.SENT:
        raise Conflict(_("Shipping notice %(no)s is %(status)s: it cannot be received again.")
                       % {"no": asn.number, "status": asn.get_status_display()})
    asn_lines = {ln.pk: ln for ln in ASNLine.objects.select_related("sku").filter(asn=asn)}
    if not isinstance(lines, (list, tuple)) or not lines:
        raise ValidationError({"lines": [_("Give at least one line.")]})
    counted: dict[int, tuple[int, int]] = {}
    for n, raw in enumerate(lines, start=1):
        if not isinstance(raw, dict):
            raise ValidationError({"lines": [_("Line %(n)s: expected an object with asn_line and quantity.") % {"n": n}]})
        ref = getattr(raw.get("asn_line"), "pk", raw.get("asn_line"))
        try:
            line = asn_lines.get(int(ref))
        except (TypeError, ValueError):
            line = None
        if line is None or line.pk in counted:
            raise ValidationError({"lines": [_("Line %(n)s: not a line of shipping notice %(no)s (or given twice).")
                                             % {"n": n, "no": asn.number}]})
        try:
            good = _quantity(raw.get("quantity", 0), field="quantity", allow_zero=True)
            damaged = _quantity(raw.get("damaged", 0) or 0, field="damaged", allow_zero=True)
        except ValidationError:
            raise ValidationError({"lines": [_("Line %(n)s: quantities must be whole numbers, 0 or more.") % {"n": n}]}) from None
        counted[line.pk] = (good, damaged)
    po = asn.purchase_order
    receipt = None
    good_lines = [{"line": asn_lines[pk].po_line_id, "quantity": g} for pk, (g, _d) in sorted(counted.items()) if g]
    if good_lines:
        receipt = po_receive(po_id=po.pk, reference=reference, lines=good_lines, actor=actor,
                             note=note or _("Against shipping notice %(no)s") % {"no": asn.number})
    else:
        WORKFLOW.check(WORKFLOW.lock(po.pk), "receive")
    differences = []
    for pk, line in sorted(asn_lines.items()):
        good, damaged = counted.get(pk, (0, 0))
        line.received_quantity, line.damaged_quantity = good, damaged
        line.save(update_fields=["received_quantity", "damaged_quantity"])
        gap = line.quantity - good - damaged
        for kind, quantity in ((DifferenceKind.SHORT, gap), (DifferenceKind.OVER, -gap), (DifferenceKind.DAMAGED, damaged)):
            if quantity > 0:
                differences.append(ReceiptDifference(tenant_id=asn.tenant_id, asn=asn, asn_line=line, purchase_order=po,
                                                     sku_id=line.sku_id, kind=kind, quantity=quantity,
                                                     note=str(note or "")[:500]))
    ReceiptDifference.objects.bulk_create(differences)
    asn.status, asn.received_at, asn.receipt = ASNStatus.RECEIVED, timezone.now(), receipt
    asn.save(update_fields=["status", "received_at", "receipt", "updated_at"])
    if differences:
        po = PurchaseOrder.objects.get(pk=po.pk)
        text = "; ".join(f"{d.sku_id and asn_lines[d.asn_line_id].sku.code}: {d.get_kind_display()} {d.quantity}"
                         for d in differences)
        WORKFLOW.log(po, EventKind.RECEIPT, "asn_differences",
                     _("Shipping notice %(asn)s received with differences: %(d)s") % {"asn": asn.number, "d": text},
                     actor=actor, data={"asn": asn.number, "differences": [[d.sku_id, d.kind, d.quantity] for d in differences]})
        subject = _("%(no)s: differences on receipt of %(asn)s") % {"no": po.number, "asn": asn.number}
        _tell_supplier(po, "receipt_differences", subject, text)
        _tell_buyer(po, "receipt_differences", subject, text)
    return asn
