"""Purchase orders: creation (lines cleaned against the supplier's items), header and line edits in
draft, approve, send, cancel and close. Every change is a PurchaseOrderEvent with who and why.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.tenancy.dates import tenant_today
from erp.workflow import actor_user, why_required

from ..models import (
    OPEN_STATUSES,
    EventKind,
    POLine,
    POSource,
    PurchaseOrder,
    ReorderSuggestion,
    Supplier,
    SupplierItem,
)
from ..models import POStatus as S
from .common import (
    _create_numbered,
    _price,
    _quantity,
    _sku,
    _supplier,
    _totals,
    _warehouse,
    purchasing_settings,
)
from .portal import po_sent_notify
from .suppliers import supplier_item_for
from .workflow import WORKFLOW


def _clean_lines(supplier: Supplier, lines, field: str = "lines") -> list[dict]:
    """[{sku, quantity, unit_price?}] -> [{sku, quantity, unit_price, supplier_sku_code}], refusing
    duplicates, bundles, unknown SKUs and bad numbers. A missing price comes from the supplier item."""
    if not isinstance(lines, (list, tuple)) or not lines:
        raise ValidationError({field: [_("Give at least one line.")]})
    cleaned, seen = [], set()
    for n, raw in enumerate(lines, start=1):
        if not isinstance(raw, dict):
            raise ValidationError({field: [_("Line %(n)s: expected an object with sku and quantity.") % {"n": n}]})
        try:
            sku = _sku(raw.get("sku"), "sku")
            quantity = _quantity(raw.get("quantity"), field="quantity")
            item = supplier_item_for(supplier=supplier, sku_id=sku.pk)
            price = raw.get("unit_price")
            if price is None or price == "":
                if item is None:
                    raise ValidationError({"unit_price": [_("No price: %(sku)s has no supplier item for this supplier.")
                                                          % {"sku": sku.code}]})
                price = item.unit_price
            price = _price(price, field="unit_price")
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise ValidationError({field: [_("Line %(n)s: %(problems)s") % {"n": n, "problems": problems}]}) from None
        if sku.pk in seen:
            raise ValidationError({field: [_("Line %(n)s: %(sku)s appears twice; one line per SKU.") % {"n": n, "sku": sku.code}]})
        seen.add(sku.pk)
        cleaned.append({"sku": sku, "quantity": quantity, "unit_price": price,
                        "supplier_sku_code": item.supplier_sku_code if item else ""})
    return cleaned


@transaction.atomic
def po_create(*, supplier, warehouse, lines, expected_date: date | None = None, note: str = "", currency: str | None = None,
              actor=None, source: str = POSource.MANUAL, why: str = "") -> PurchaseOrder:
    """A draft purchase order. ``lines``: dicts with ``sku`` (object or id), ``quantity`` and an
    optional ``unit_price`` (default: the supplier item's price)."""
    supplier = _supplier(supplier)
    if not supplier.is_active:
        raise ValidationError({"supplier": [_("This supplier is not active.")]})
    warehouse = _warehouse(warehouse)
    cleaned = _clean_lines(supplier, lines)
    if expected_date is not None and not isinstance(expected_date, date):
        raise ValidationError({"expected_date": [_("A date (YYYY-MM-DD).")]})
    po = _create_numbered(PurchaseOrder, "PO", supplier=supplier, warehouse=warehouse, expected_date=expected_date,
                          note=note or "", currency=currency or supplier.currency, created_by=actor_user(actor),
                          source=source)
    POLine.objects.bulk_create([POLine(purchase_order=po, tenant_id=po.tenant_id, **line) for line in cleaned])
    _totals(po)
    po.save()
    WORKFLOW.log(po, EventKind.STATUS, "created", why or _("Created."), actor=actor, to_status=S.DRAFT,
         data={"lines": len(cleaned), "source": source})
    return po


@transaction.atomic
def po_update(*, po_id, actor=None, **fields) -> PurchaseOrder:
    """Header changes: warehouse and note in draft; the expected date while goods are still due."""
    po = WORKFLOW.lock(po_id)
    allowed = {"expected_date", "note", "warehouse"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({k: [_("Cannot be changed here.")] for k in unknown})
    changes = {}
    if "warehouse" in fields or "note" in fields:
        WORKFLOW.check(po, "edit")
    if "expected_date" in fields and po.status not in OPEN_STATUSES:
        raise Conflict(_("Purchase order %(no)s is %(status)s: its expected date is history.")
                       % {"no": po.number, "status": po.get_status_display()})
    if "warehouse" in fields:
        warehouse = _warehouse(fields["warehouse"])
        if warehouse.pk != po.warehouse_id:
            changes["warehouse"] = [po.warehouse_id, warehouse.pk]
            po.warehouse = warehouse
    if "note" in fields and (fields["note"] or "") != po.note:
        changes["note"] = True
        po.note = fields["note"] or ""
    if "expected_date" in fields and fields["expected_date"] != po.expected_date:
        value = fields["expected_date"]
        if value is not None and not isinstance(value, date):
            raise ValidationError({"expected_date": [_("A date (YYYY-MM-DD).")]})
        changes["expected_date"] = [str(po.expected_date or ""), str(value or "")]
        po.expected_date = value
    if changes:
        po.save()
        WORKFLOW.log(po, EventKind.EDIT, "edited", _("Changed: %(fields)s.") % {"fields": ", ".join(changes)}, actor=actor,
             data={k: v for k, v in changes.items() if v is not True})
    return po


@transaction.atomic
def po_lines_set(*, po_id, lines, actor=None, why: str = "") -> PurchaseOrder:
    """Replace the lines of a draft purchase order."""
    po = WORKFLOW.lock(po_id)
    WORKFLOW.check(po, "edit")
    cleaned = _clean_lines(po.supplier, lines)
    before = {ln.sku_id: (ln.quantity, str(ln.unit_price)) for ln in POLine.objects.filter(purchase_order=po)}
    POLine.objects.filter(purchase_order=po).delete()
    POLine.objects.bulk_create([POLine(purchase_order=po, tenant_id=po.tenant_id, **line) for line in cleaned])
    _totals(po)
    po.save()
    after = {ln["sku"].pk: (ln["quantity"], str(ln["unit_price"])) for ln in cleaned}
    WORKFLOW.log(po, EventKind.EDIT, "lines_set", why or _("Lines changed."), actor=actor,
         data={"before": {str(k): v for k, v in before.items()}, "after": {str(k): v for k, v in after.items()}})
    return po


@transaction.atomic
def po_approve(*, po_id, actor=None, why: str = "") -> PurchaseOrder:
    po = WORKFLOW.lock(po_id)
    WORKFLOW.check(po, "approve")
    if not POLine.objects.filter(purchase_order=po).exists():
        raise Conflict(_("Purchase order %(no)s has no lines to approve.") % {"no": po.number})
    WORKFLOW.set_status(po, S.APPROVED, why=why or _("Approved."), code="approved", actor=actor)
    return po


@transaction.atomic
def po_send(*, po_id, actor=None, why: str = "", expected_date: date | None = None) -> PurchaseOrder:
    """Approved -> sent to the supplier. Without an expected date, today + the longest lead time of
    the lines' supplier items (default settings' lead time)."""
    po = WORKFLOW.lock(po_id)
    WORKFLOW.check(po, "send")
    if expected_date is not None:
        po.expected_date = expected_date
    elif po.expected_date is None:
        sku_ids = list(POLine.objects.filter(purchase_order=po).values_list("sku_id", flat=True))
        leads = list(SupplierItem.objects.filter(supplier=po.supplier, sku_id__in=sku_ids)
                     .values_list("lead_time_days", flat=True))
        lead = max(leads) if leads else purchasing_settings().default_lead_time_days
        po.expected_date = tenant_today() + timedelta(days=lead)
    WORKFLOW.set_status(po, S.SENT, why=why or _("Sent to the supplier."), code="sent", actor=actor,
                data={"expected_date": str(po.expected_date)})
    po_sent_notify(po=po)
    return po


@transaction.atomic
def po_revise(*, po_id, actor=None, why: str = "") -> PurchaseOrder:
    """A purchase order the supplier refused goes back to draft, to be edited (lines, expected date),
    approved and sent again; the supplier's refusal stays in the timeline."""
    po = WORKFLOW.lock(po_id)
    WORKFLOW.check(po, "revise")
    WORKFLOW.set_status(po, S.DRAFT, why=why or _("Back to draft after the supplier's refusal: edit and send again."),
                        code="revised", actor=actor)
    return po


@transaction.atomic
def po_cancel(*, po_id, actor=None, why: str) -> PurchaseOrder:
    po = WORKFLOW.lock(po_id)
    WORKFLOW.check(po, "cancel")
    why = why_required(why)
    WORKFLOW.set_status(po, S.CANCELLED, why=why, code="cancelled", actor=actor)
    ReorderSuggestion.objects.filter(purchase_order=po).update(purchase_order=None)
    return po


@transaction.atomic
def po_close(*, po_id, actor=None, why: str = "") -> PurchaseOrder:
    """Close a received order, or short-close a partially received one (``why`` required): what was
    not delivered is no longer on order."""
    po = WORKFLOW.lock(po_id)
    WORKFLOW.check(po, "close")
    if po.status == S.PARTIALLY_RECEIVED:
        why = why_required(why)
    open_units = {str(ln.sku_id): ln.open_quantity for ln in POLine.objects.filter(purchase_order=po) if ln.open_quantity}
    WORKFLOW.set_status(po, S.CLOSED, why=why or _("Closed."), code="closed", actor=actor,
                data={"not_delivered": open_units} if open_units else None)
    return po
