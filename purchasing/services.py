"""Purchasing writes: suppliers' preferred items, purchase orders and their status machine, goods
receipts and returns (stock through inventory.services, events for finance), reorder suggestions.

Status machine (every change is a PurchaseOrderEvent with who and why)::

    draft -> approved -> sent -> partially_received -> received -> closed
      \\-> cancelled (draft, approved, or sent with nothing received)
    partially_received -> closed (short-closed: the rest will not come)

A wrong-state action raises erp.api.exceptions.Conflict (409 with the reason); bad input raises
Django ValidationError (400 with field messages). Lines are edited only in draft.

Receipts are idempotent on the client's ``reference``: the same reference returns the receipt
already made and receives nothing again. Each receipt puts stock in (inventory.stock_receive),
updates the SKU's moving average cost (inventory.sku_cost_update_on_receipt) and publishes
``purchase.received`` (docs/INTERFACES.md) in its transaction; a return to the supplier takes the
stock out (inventory.stock_adjust, or stock_scrap_defective for defective units) and publishes
``purchase.returned``.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp import events
from erp.api.exceptions import Conflict
from erp.money import CENT, to_money
from erp.workflow import Action, DocumentWorkflow, Stamp, actor_user, why_required

from . import planning
from .models import (
    OPEN_STATUSES,
    EventKind,
    GoodsReceipt,
    GoodsReceiptLine,
    POLine,
    POSource,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchasingSettings,
    ReceiptKind,
    ReorderSuggestion,
    SuggestionStatus,
    Supplier,
    SupplierItem,
)
from .models import POStatus as S

logger = logging.getLogger("purchasing")
MAX_QUANTITY = 1_000_000


# --- settings ------------------------------------------------------------------------------------
def purchasing_settings() -> PurchasingSettings:
    found = PurchasingSettings.objects.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return PurchasingSettings.objects.create()
    except IntegrityError:
        return PurchasingSettings.objects.get()


# --- helpers -------------------------------------------------------------------------------------
def _quantity(value, *, field: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: [_("Must be a whole number.")]})
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValidationError({field: [_("Must be a whole number.")]})
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError({field: [_("Must be at least 1.") if not allow_zero else _("Must not be negative.")]})
    if value > MAX_QUANTITY:
        raise ValidationError({field: [_("Too large.")]})
    return value


def _price(value, *, field: str) -> Decimal:
    if isinstance(value, float):
        raise ValidationError({field: [_("Give the amount as a decimal string, not a float.")]})
    try:
        amount = to_money(value)
    except (TypeError, ValueError):
        raise ValidationError({field: [_("Not a valid amount.")]}) from None
    if amount < 0:
        raise ValidationError({field: [_("The amount cannot be negative.")]})
    if amount >= Decimal("1000000000000"):
        raise ValidationError({field: [_("Too large.")]})
    return amount


def _own(model, obj, field: str):
    if obj is None or obj == "":
        raise ValidationError({field: [_("This field is required.")]})
    pk = getattr(obj, "pk", obj)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise ValidationError({field: [_("Unknown %(what)s.") % {"what": model._meta.verbose_name}]}) from None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise ValidationError({field: [_("Unknown %(what)s.") % {"what": model._meta.verbose_name}]})
    return found


def _sku(obj, field: str = "sku"):
    from inventory.models import SKU

    sku = _own(SKU, obj, field)
    if sku.is_bundle:
        raise ValidationError({field: [_("A bundle is not purchased; purchase its components.")]})
    return sku


def _warehouse(obj, field: str = "warehouse"):
    from inventory.models import Warehouse

    warehouse = _own(Warehouse, obj, field)
    if not warehouse.is_active:
        raise ValidationError({field: [_("This warehouse is not active.")]})
    return warehouse


def _totals(po: PurchaseOrder) -> None:
    row = POLine.objects.filter(purchase_order=po).aggregate(q=Sum("quantity"), r=Sum("received_quantity"),
                                                             a=Sum(F("quantity") * F("unit_price")))
    po.total_quantity = row["q"] or 0
    po.received_quantity = row["r"] or 0
    po.total_amount = Decimal(row["a"] or 0).quantize(CENT)


def _no_cancel_after_receipt(po: PurchaseOrder) -> str:
    if po.received_quantity:
        return _("Purchase order %(no)s has received goods: close it instead of cancelling.") % {"no": po.number}
    return ""


WORKFLOW = DocumentWorkflow(
    model=PurchaseOrder, event_model=PurchaseOrderEvent, event_fk="purchase_order", status_kind=EventKind.STATUS,
    not_found="No such purchase order.",
    refusal=gettext_lazy("Purchase order %(no)s is %(status)s: cannot %(action)s it."),
    actions={
        "edit": Action({S.DRAFT}, gettext_lazy("edit the lines of")),
        "approve": Action({S.DRAFT}, gettext_lazy("approve")),
        "send": Action({S.APPROVED}, gettext_lazy("send")),
        "receive": Action({S.SENT, S.PARTIALLY_RECEIVED}, gettext_lazy("receive goods against")),
        "return": Action({S.PARTIALLY_RECEIVED, S.RECEIVED, S.CLOSED}, gettext_lazy("return goods of")),
        "cancel": Action({S.DRAFT, S.APPROVED, S.SENT}, gettext_lazy("cancel"), checks=(_no_cancel_after_receipt,)),
        "close": Action({S.PARTIALLY_RECEIVED, S.RECEIVED}, gettext_lazy("close")),
    },
    stamps=[Stamp("approved_at", {S.APPROVED}), Stamp("sent_at", {S.SENT}), Stamp("received_at", {S.RECEIVED}),
            Stamp("closed_at", {S.CLOSED, S.CANCELLED})],
)
allowed_actions = WORKFLOW.allowed_actions
action_refusal = WORKFLOW.refusal


# --- suppliers -----------------------------------------------------------------------------------
@transaction.atomic
def supplier_item_save(*, item: SupplierItem) -> SupplierItem:
    """Save a supplier item; making it preferred takes the flag from the SKU's other items."""
    if item.is_preferred:
        SupplierItem.objects.filter(sku_id=item.sku_id, is_preferred=True).exclude(pk=item.pk).update(is_preferred=False)
    item.save()
    return item


def supplier_item_for(*, supplier: Supplier, sku_id: int) -> SupplierItem | None:
    return SupplierItem.objects.filter(supplier=supplier, sku_id=sku_id).first()


# --- purchase orders -----------------------------------------------------------------------------
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


def _next_number(prefix: str, model) -> str:
    stem = f"{prefix}{timezone.localdate():%Y%m%d}-"
    last = (model.objects.filter(number__startswith=stem).order_by("-number").values_list("number", flat=True).first())
    n = int(last.rsplit("-", 1)[1]) + 1 if last and last.rsplit("-", 1)[1].isdigit() else 1
    return f"{stem}{n:04d}"


def _create_numbered(model, prefix: str, **fields):
    """Create a row with the next free number of the day (retry on a concurrent duplicate)."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return model.objects.create(number=_next_number(prefix, model), **fields)
        except IntegrityError:
            continue
    return model.objects.create(number=f"{prefix}{timezone.now():%Y%m%d%H%M%S%f}", **fields)


@transaction.atomic
def po_create(*, supplier, warehouse, lines, expected_date: date | None = None, note: str = "", currency: str | None = None,
              actor=None, source: str = POSource.MANUAL, why: str = "") -> PurchaseOrder:
    """A draft purchase order. ``lines``: dicts with ``sku`` (object or id), ``quantity`` and an
    optional ``unit_price`` (default: the supplier item's price)."""
    supplier = _own(Supplier, supplier, "supplier")
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
        po.expected_date = timezone.localdate() + timedelta(days=lead)
    WORKFLOW.set_status(po, S.SENT, why=why or _("Sent to the supplier."), code="sent", actor=actor,
                data={"expected_date": str(po.expected_date)})
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


def _receipt_lines(po: PurchaseOrder, lines, field: str = "lines") -> list[tuple[POLine, int]]:
    """[{line | sku, quantity}] -> [(locked PO line, quantity > 0)] (zero quantities are skipped)."""
    if not isinstance(lines, (list, tuple)) or not lines:
        raise ValidationError({field: [_("Give at least one line.")]})
    po_lines = {ln.pk: ln for ln in POLine.objects.select_for_update(of=("self",)).select_related("sku")
                .filter(purchase_order=po).order_by("pk")}
    by_sku = {ln.sku_id: ln for ln in po_lines.values()}
    wanted: dict[int, int] = defaultdict(int)
    for n, raw in enumerate(lines, start=1):
        if not isinstance(raw, dict):
            raise ValidationError({field: [_("Line %(n)s: expected an object with line and quantity.") % {"n": n}]})
        ref_line, ref_sku = raw.get("line"), raw.get("sku")
        ref_line = getattr(ref_line, "pk", ref_line)
        ref_sku = getattr(ref_sku, "pk", ref_sku)
        try:
            line = po_lines.get(int(ref_line)) if ref_line not in (None, "") else by_sku.get(int(ref_sku)) if ref_sku not in (None, "") else None
        except (TypeError, ValueError):
            line = None
        if line is None:
            raise ValidationError({field: [_("Line %(n)s: not a line of purchase order %(no)s.") % {"n": n, "no": po.number}]})
        try:
            quantity = _quantity(raw.get("quantity"), field="quantity", allow_zero=True)
        except ValidationError:
            raise ValidationError({field: [_("Line %(n)s: the quantity must be a whole number, 0 or more.") % {"n": n}]}) from None
        wanted[line.pk] += quantity
    chosen = [(po_lines[pk], q) for pk, q in sorted(wanted.items()) if q > 0]
    if not chosen:
        raise ValidationError({field: [_("Nothing to do: every quantity is 0.")]})
    return chosen


def _existing(kind: str, reference: str, po: PurchaseOrder) -> GoodsReceipt | None:
    found = GoodsReceipt.objects.filter(kind=kind, reference=reference).first()
    if found is not None and found.purchase_order_id != po.pk:
        raise Conflict(_("Reference %(ref)s was already used on purchase order %(no)s.")
                       % {"ref": reference, "no": found.purchase_order.number})
    if found is not None:
        found.replayed = True
    return found


def _payload(receipt: GoodsReceipt, po: PurchaseOrder, lines: list[GoodsReceiptLine]) -> dict:
    return {
        "receipt_id": receipt.pk, "purchase_order_id": po.pk, "supplier_id": po.supplier_id,
        "warehouse_id": receipt.warehouse_id, "received_at": receipt.received_at, "currency": receipt.currency,
        "amount": receipt.total_amount,
        "lines": [{"sku_id": ln.sku_id, "quantity": ln.quantity, "unit_cost": ln.unit_cost} for ln in lines],
    }


def _reference(reference) -> str:
    reference = str(reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [_("Give a reference (e.g. the delivery note number): a retried request "
                                               "with the same reference receives nothing twice.")]})
    if len(reference) > 100:
        raise ValidationError({"reference": [_("At most 100 characters.")]})
    return reference


@transaction.atomic
def po_receive(*, po_id, reference: str, lines, actor=None, note: str = "", received_at=None) -> GoodsReceipt:
    """Receive goods against a sent purchase order: stock in, cost updated, purchase.received
    published. A line may receive up to its quantity plus the tolerance of the settings; more is
    refused (400). The same ``reference`` again returns the first receipt (``replayed``) and
    changes nothing."""
    from inventory import services as inventory

    reference = _reference(reference)
    po = WORKFLOW.lock(po_id)
    found = _existing(ReceiptKind.RECEIPT, reference, po)
    if found is not None:
        return found
    WORKFLOW.check(po, "receive")
    chosen = _receipt_lines(po, lines)
    tolerance = purchasing_settings().over_receipt_tolerance_percent
    problems = []
    for line, quantity in chosen:
        limit = math.floor(line.quantity * (Decimal(100) + tolerance) / Decimal(100))
        if line.received_quantity + quantity > limit:
            problems.append(_("%(sku)s: %(q)s more would make %(total)s received of %(ordered)s ordered (at most %(limit)s).")
                            % {"sku": line.sku.code, "q": quantity, "total": line.received_quantity + quantity,
                               "ordered": line.quantity, "limit": limit})
    if problems:
        raise ValidationError({"lines": problems})
    receipt = _create_numbered(GoodsReceipt, "GR", purchase_order=po, kind=ReceiptKind.RECEIPT, reference=reference,
                               warehouse_id=po.warehouse_id, received_at=received_at or timezone.now(),
                               received_by=actor_user(actor), currency=po.currency, note=(note or "")[:500])
    receipt_lines = []
    for line, quantity in chosen:
        inventory.stock_receive(warehouse=po.warehouse, sku=line.sku, quantity=quantity,
                                reason=f"purchase receipt {po.number}", source_doc=receipt.number, user=actor_user(actor))
        if po.currency == line.sku.currency:
            inventory.sku_cost_update_on_receipt(sku=line.sku, quantity=quantity, unit_cost=line.unit_price)
        line.received_quantity += quantity
        line.save(update_fields=["received_quantity"])
        receipt_lines.append(GoodsReceiptLine(receipt=receipt, tenant_id=po.tenant_id, po_line=line, sku_id=line.sku_id,
                                              quantity=quantity, unit_cost=line.unit_price))
    _store_lines(receipt, receipt_lines)
    _totals(po)
    complete = all(ln.received_quantity >= ln.quantity for ln in POLine.objects.filter(purchase_order=po))
    data = {"receipt": receipt.number, "reference": reference,
            "lines": [[ln.sku_id, ln.quantity] for ln in receipt_lines]}
    message = _("Received %(n)s units (%(ref)s).") % {"n": receipt.total_quantity, "ref": reference}
    to = S.RECEIVED if complete else S.PARTIALLY_RECEIVED
    if to != po.status:
        WORKFLOW.set_status(po, to, why=message, code="received" if complete else "partially_received", actor=actor, data=data)
    else:
        po.save()
        WORKFLOW.log(po, EventKind.RECEIPT, "receipt", message, actor=actor, data=data)
    events.publish("purchase.received", **_payload(receipt, po, receipt_lines))
    receipt.replayed = False
    return receipt


def _store_lines(receipt: GoodsReceipt, receipt_lines: list[GoodsReceiptLine]) -> None:
    """Insert a receipt's (or return's) lines and keep its totals."""
    GoodsReceiptLine.objects.bulk_create(receipt_lines)
    receipt.total_quantity = sum(ln.quantity for ln in receipt_lines)
    receipt.total_amount = sum((ln.unit_cost * ln.quantity for ln in receipt_lines), Decimal("0")).quantize(CENT)
    receipt.save(update_fields=["total_quantity", "total_amount"])


@transaction.atomic
def po_return(*, po_id, reference: str, lines, why: str, actor=None, defective: bool = False) -> GoodsReceipt:
    """Send received goods back to the supplier: stock out of the order's warehouse (sellable
    units through stock_adjust, defective ones through stock_scrap_defective), purchase.returned
    published. Idempotent on ``reference`` like a receipt."""
    from inventory import services as inventory

    reference = _reference(reference)
    po = WORKFLOW.lock(po_id)
    found = _existing(ReceiptKind.RETURN, reference, po)
    if found is not None:
        return found
    WORKFLOW.check(po, "return")
    why = why_required(why)
    chosen = _receipt_lines(po, lines)
    problems = [_("%(sku)s: %(q)s to return, only %(left)s received and not yet returned.")
                % {"sku": line.sku.code, "q": quantity, "left": line.received_quantity - line.returned_quantity}
                for line, quantity in chosen if quantity > line.received_quantity - line.returned_quantity]
    if problems:
        raise ValidationError({"lines": problems})
    receipt = _create_numbered(GoodsReceipt, "RT", purchase_order=po, kind=ReceiptKind.RETURN, reference=reference,
                               warehouse_id=po.warehouse_id, received_by=actor_user(actor), currency=po.currency,
                               defective=bool(defective), note=why[:500])
    receipt_lines = []
    for line, quantity in chosen:
        reason = f"return to supplier {po.number}: {why}"[:200]
        if defective:
            inventory.stock_scrap_defective(warehouse=po.warehouse, sku=line.sku, quantity=quantity, reason=reason,
                                            source_doc=receipt.number, user=actor_user(actor), publish_adjusted=False)
        else:  # purchase.returned books the return: no inventory.adjusted (it would book a loss too)
            inventory.stock_adjust(warehouse=po.warehouse, sku=line.sku, quantity=-quantity, reason=reason,
                                   source_doc=receipt.number, user=actor_user(actor), publish_adjusted=False)
        line.returned_quantity += quantity
        line.save(update_fields=["returned_quantity"])
        receipt_lines.append(GoodsReceiptLine(receipt=receipt, tenant_id=po.tenant_id, po_line=line, sku_id=line.sku_id,
                                              quantity=quantity, unit_cost=line.unit_price))
    _store_lines(receipt, receipt_lines)
    WORKFLOW.log(po, EventKind.RETURN, "returned", why, actor=actor,
         data={"receipt": receipt.number, "reference": reference, "defective": bool(defective),
               "lines": [[ln.sku_id, ln.quantity] for ln in receipt_lines]})
    events.publish("purchase.returned", **_payload(receipt, po, receipt_lines))
    receipt.replayed = False
    return receipt


# --- planning ------------------------------------------------------------------------------------
def _dec(value: float, places: str = "0.001") -> Decimal:
    return Decimal(str(round(value, 6))).quantize(Decimal(places))


@transaction.atomic
def suggestions_recompute(*, today: date | None = None, sku_ids: list[int] | None = None) -> list[ReorderSuggestion]:
    """Replace the open reorder suggestions with fresh ones, one per SKU that needs buying. The SKUs
    planned are those with an active supplier item or with sales in the last year (bundles' sales
    count for their components)."""
    from inventory import selectors as inventory
    from orders import selectors as orders

    from . import selectors

    settings = purchasing_settings()
    today = today or timezone.localdate()
    window = settings.history_days
    review = settings.review_period_days
    z = float(settings.service_level_z)
    since = today - timedelta(days=planning.YEAR_DAYS + window)
    items = list(SupplierItem.objects.filter(is_active=True, supplier__is_active=True).select_related("supplier"))
    if sku_ids is not None:
        items = [it for it in items if it.sku_id in set(sku_ids)]
    history: dict[int, dict[date, int]] = defaultdict(dict)
    sold = orders.daily_sales(since=since, until=today - timedelta(days=1))  # all: bundles sell components too
    sold_ids = {row.sku_id for row in sold}
    parts = inventory.bundle_components(sku_ids=list(sold_ids))
    for row in sold:
        for component, per in parts.get(row.sku_id, [(row.sku_id, 1)]):
            history[component][row.day] = history[component].get(row.day, 0) + row.quantity * per
    candidates = sorted({it.sku_id for it in items} | set(history))
    if sku_ids is not None:
        candidates = sorted(set(candidates) & {int(pk) for pk in sku_ids})
    skus = {pk: sku for pk, sku in inventory.skus_by_ids(sku_ids=candidates).items()
            if not sku.is_bundle and sku.status == "active"}
    avail = defaultdict(int)
    for (_w, sku_id), n in inventory.available_by_warehouse(sku_ids=list(skus)).items():
        avail[sku_id] += n
    on_order = selectors.on_order_by_sku(sku_ids=list(skus))
    preferred: dict[int, SupplierItem] = {}
    for item in sorted(items, key=lambda it: (not it.is_preferred, it.unit_price, it.pk)):
        preferred.setdefault(item.sku_id, item)
    stale = ReorderSuggestion.objects.filter(status=SuggestionStatus.OPEN)
    if sku_ids is not None:
        stale = stale.filter(sku_id__in=list(sku_ids))
    stale.delete()
    # ordered suggestions whose purchase order was cancelled explain nothing any more
    ReorderSuggestion.objects.filter(status=SuggestionStatus.ORDERED, purchase_order__isnull=True).delete()
    rows = []
    now = timezone.now()
    for sku_id, sku in sorted(skus.items()):
        item = preferred.get(sku_id)
        lead = item.lead_time_days if item else settings.default_lead_time_days
        moq = item.min_order_quantity if item else 1
        multiple = item.order_multiple if item else 1
        p = planning.plan(planning.PlanInput(
            today=today, history=history.get(sku_id, {}), available=avail[sku_id], on_order=on_order.get(sku_id, 0),
            lead_time_days=lead, review_period_days=review, service_level_z=z, history_days=window,
            min_order_quantity=moq, order_multiple=multiple))
        if p.suggested_quantity <= 0:
            continue
        price = item.unit_price if item else Decimal(sku.unit_cost or 0)
        rows.append(ReorderSuggestion(
            tenant_id=sku.tenant_id, sku=sku, supplier=item.supplier if item else None, supplier_item=item,
            computed_at=now, daily_demand=_dec(p.daily_demand), base_daily_demand=_dec(p.base_daily_demand),
            demand_std_dev=_dec(p.demand_std_dev), seasonal_factor=_dec(p.seasonal_factor), season_basis=p.season_basis,
            lead_time_days=lead, review_period_days=review, service_level_z=settings.service_level_z,
            safety_stock=p.safety_stock, available=avail[sku_id], on_order=on_order.get(sku_id, 0),
            reorder_point=p.reorder_point, target_stock=p.target_stock,
            days_of_cover=_dec(p.days_of_cover, "0.1") if p.days_of_cover is not None else None,
            net_requirement=p.net_requirement, min_order_quantity=moq, order_multiple=multiple,
            suggested_quantity=p.suggested_quantity, unit_price=price,
            currency=item.supplier.currency if item else sku.currency,
            amount=(price * p.suggested_quantity).quantize(CENT), urgent=p.urgent,
        ))
    for row in rows:
        row.explanation = selectors.suggestion_explanation(row)  # a snapshot; pages and API explain afresh
    return ReorderSuggestion.objects.bulk_create(rows)


@transaction.atomic
def suggestions_create_pos(*, suggestion_ids, actor=None, warehouse=None, quantities: dict | None = None,
                           expected_date: date | None = None) -> list[PurchaseOrder]:
    """Turn open suggestions into draft purchase orders, one per supplier (destination: the given
    warehouse, else the first active warehouse by priority). ``quantities`` may override the
    suggested quantity per suggestion id. A suggestion already ordered is a 409."""
    from inventory import selectors as inventory

    if not isinstance(suggestion_ids, (list, tuple, set)) or not suggestion_ids:
        raise ValidationError({"suggestions": [_("Pick at least one suggestion.")]})
    try:
        ids = sorted({int(getattr(i, "pk", i)) for i in suggestion_ids})
    except (TypeError, ValueError):
        raise ValidationError({"suggestions": [_("Suggestion ids are whole numbers.")]}) from None
    found = {s.pk: s for s in ReorderSuggestion.objects.select_for_update(of=("self",)).filter(pk__in=ids)
             .select_related("sku", "supplier", "purchase_order")}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({"suggestions": [_("Unknown suggestions: %(ids)s.") % {"ids": ", ".join(map(str, missing))}]})
    ordered = [s for s in found.values() if s.status != SuggestionStatus.OPEN]
    if ordered:
        s = ordered[0]
        raise Conflict(_("The suggestion for %(sku)s was already ordered (%(po)s); recompute the suggestions.")
                       % {"sku": s.sku.code, "po": s.purchase_order.number if s.purchase_order else "—"})
    orphans = [s.sku.code for s in found.values() if s.supplier is None]
    if orphans:
        raise ValidationError({"suggestions": [_("No supplier for %(skus)s: add a supplier item first.")
                                               % {"skus": ", ".join(sorted(orphans))}]})
    if warehouse is None:
        choices = inventory.warehouses_for_allocation()
        if not choices:
            raise ValidationError({"warehouse": [_("No active warehouse to receive the goods.")]})
        warehouse = choices[0]
    quantities = {int(k): v for k, v in (quantities or {}).items()}
    groups: dict[int, list[ReorderSuggestion]] = defaultdict(list)
    for s in found.values():
        groups[s.supplier_id].append(s)
    pos = []
    for supplier_id in sorted(groups):
        suggestions = sorted(groups[supplier_id], key=lambda s: s.sku_id)
        lines = [{"sku": s.sku, "quantity": quantities.get(s.pk, s.suggested_quantity), "unit_price": s.unit_price}
                 for s in suggestions]
        po = po_create(supplier=suggestions[0].supplier, warehouse=warehouse, lines=lines, actor=actor,
                       expected_date=expected_date, source=POSource.SUGGESTION,
                       why=_("From %(n)s reorder suggestions.") % {"n": len(suggestions)})
        ReorderSuggestion.objects.filter(pk__in=[s.pk for s in suggestions]).update(
            status=SuggestionStatus.ORDERED, purchase_order=po)
        pos.append(po)
    return pos
