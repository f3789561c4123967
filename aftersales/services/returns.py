"""Goods coming back: the operator's inspection (resellable or defective per line), stock returned
once per line through inventory (aftersales.goods_returned), also after the platform completed the refund.
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp import events

from .. import ports
from ..models import REFUND_KINDS, EventKind, LineCondition, Ticket, TicketLine
from ..models import TicketStatus as S
from .common import aftersales_settings
from .decisions import CONFIRM_RECEIPT, _push_decision
from .workflow import WORKFLOW, _late_return


def _inspection(ticket: Ticket, lines: list[dict] | None) -> dict[int, tuple[int, str]]:
    """{ticket line id: (quantity received, condition)} from the operator's input."""
    own = {ln.pk: ln for ln in ticket.lines.all()}
    if not lines:
        return {pk: (ln.quantity, LineCondition.RESELLABLE) for pk, ln in own.items()}
    result: dict[int, tuple[int, str]] = {}
    errors: list[str] = []
    for i, item in enumerate(lines):
        try:
            pk = int(item.get("line") or item.get("line_id"))
        except (TypeError, ValueError, AttributeError):
            errors.append(_("Line %(n)d: give the ticket line id.") % {"n": i + 1})
            continue
        line = own.get(pk)
        if line is None:
            errors.append(_("Line %(n)d: not a line of this ticket.") % {"n": i + 1})
            continue
        condition = item.get("condition") or (LineCondition.DEFECTIVE if item.get("defective") else LineCondition.RESELLABLE)
        if condition not in (LineCondition.RESELLABLE, LineCondition.DEFECTIVE):
            errors.append(_("Line %(n)d: condition is resellable or defective.") % {"n": i + 1})
            continue
        qty = item.get("quantity")
        try:
            qty = line.quantity if qty in (None, "") else int(qty)
        except (TypeError, ValueError):
            qty = -1
        if qty < 0 or qty > line.quantity:
            errors.append(_("Line %(n)d: quantity must be 0 to %(max)d.") % {"n": i + 1, "max": line.quantity})
            continue
        if pk in result:
            errors.append(_("Line %(n)d: the same ticket line twice.") % {"n": i + 1})
            continue
        result[pk] = (qty, condition)
    if errors:
        raise ValidationError({"lines": errors})
    return result


@transaction.atomic
def ticket_receive_goods(*, ticket_id: int, actor=None, lines: list[dict] | None = None,
                         warehouse_id: int | None = None, why: str = "") -> Ticket:
    """The goods came back and were inspected: each line is resellable (back to sellable stock) or
    defective (inventory's defective bucket). Stock is returned once per line, whatever happens next."""
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "receive_goods")
    inspection = _inspection(ticket, lines)
    settings = aftersales_settings()
    fallback = warehouse_id or ticket.warehouse_id or settings.default_warehouse_id
    now = timezone.now()
    returned: dict[int, list[dict]] = defaultdict(list)
    skipped: list[str] = []
    for line in TicketLine.objects.select_for_update().filter(ticket=ticket).order_by("pk"):
        qty, condition = inspection.get(line.pk, (0, ""))
        line.received_quantity, line.condition = qty, condition
        if qty and line.stock_returned_at is None:
            wh = warehouse_id or line.warehouse_id or fallback
            if line.sku_id is None:
                skipped.append(line.title or str(line.pk))
            elif wh is None:
                raise ValidationError({"warehouse_id": [_("Say which warehouse received the goods.")]})
            else:
                ports.stock_return(warehouse_id=wh, sku_id=line.sku_id, quantity=qty, source_doc=f"aftersales:{ticket.number}",
                                   defective=condition == LineCondition.DEFECTIVE, user=actor,
                                   reason=f"after-sales {ticket.number} ({condition})")
                line.stock_returned_at = now
                line.warehouse_id = wh
                returned[wh].append({"sku_id": line.sku_id, "quantity": qty,
                                     "defective": condition == LineCondition.DEFECTIVE})
        line.save(update_fields=["received_quantity", "condition", "stock_returned_at", "warehouse_id"])
    if ticket.warehouse_id is None and returned:
        ticket.warehouse_id = next(iter(returned))
    summary = {str(pk): {"quantity": q, "condition": c} for pk, (q, c) in inspection.items()}
    if _late_return(ticket):  # the ticket stays completed; the goods are recorded
        ticket.goods_received_at = now
        ticket.save()
        WORKFLOW.log(ticket, EventKind.ACTION, "goods_received.late", why or _("goods received after the refund completed"),
             actor=actor, data={"lines": summary})
    else:
        WORKFLOW.set_status(ticket, S.GOODS_RECEIVED, why=why or _("goods received and inspected"), code="goods_received",
                    actor=actor, data={"lines": summary})
        if ticket.kind in REFUND_KINDS:
            _push_decision(ticket, CONFIRM_RECEIPT, actor=actor, why=why)
    if skipped:
        WORKFLOW.log(ticket, EventKind.SYSTEM, "stock.skipped",
             _("no SKU for %(lines)s: no stock returned") % {"lines": ", ".join(skipped)})
    for wh, items in returned.items():
        WORKFLOW.log(ticket, EventKind.SYSTEM, "stock.returned",
             _("returned to warehouse %(wh)s: %(n)d units") % {"wh": wh, "n": sum(i["quantity"] for i in items)},
             data={"warehouse_id": wh, "lines": items})
        events.publish("aftersales.goods_returned", ticket_id=ticket.pk, warehouse_id=wh, lines=items)
    return ticket
