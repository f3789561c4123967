"""Returns to the supplier: received goods go back (sellable units through inventory.stock_adjust,
defective ones through stock_scrap_defective), ``purchase.returned`` published; idempotent on the
``reference`` like a receipt.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from erp import events
from erp.workflow import actor_user, why_required

from ..models import EventKind, GoodsReceipt, GoodsReceiptLine, ReceiptKind
from .common import _create_numbered
from .receiving import _existing, _payload, _receipt_lines, _reference, _store_lines
from .workflow import WORKFLOW


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
