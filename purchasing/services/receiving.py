"""Goods receipts against a sent purchase order: idempotent on the client's ``reference``; stock in
(inventory.stock_receive), the SKU's moving average cost updated, ``purchase.received`` published
(docs/INTERFACES.md) in the same transaction. Also the receipt-lines store shared with returns.
"""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp import events
from erp.api.exceptions import Conflict
from erp.money import CENT
from erp.workflow import actor_user

from ..models import EventKind, GoodsReceipt, GoodsReceiptLine, POLine, PurchaseOrder, ReceiptKind
from ..models import POStatus as S
from .common import _create_numbered, _quantity, _totals, purchasing_settings
from .workflow import WORKFLOW


def _reference(reference) -> str:
    reference = str(reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [_("Give a reference (e.g. the delivery note number): a retried request "
                                               "with the same reference receives nothing twice.")]})
    if len(reference) > 100:
        raise ValidationError({"reference": [_("At most 100 characters.")]})
    return reference


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


def _store_lines(receipt: GoodsReceipt, receipt_lines: list[GoodsReceiptLine]) -> None:
    """Insert a receipt's (or return's) lines and keep its totals."""
    GoodsReceiptLine.objects.bulk_create(receipt_lines)
    receipt.total_quantity = sum(ln.quantity for ln in receipt_lines)
    receipt.total_amount = sum((ln.unit_cost * ln.quantity for ln in receipt_lines), Decimal("0")).quantize(CENT)
    receipt.save(update_fields=["total_quantity", "total_amount"])


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
