"""How a ticket ends: the refund issued, completion, ``aftersales.refunded`` published once when
money went back (docs/INTERFACES.md), and the replacement order of an exchange or reship (through orders).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp import events

from .. import ports
from ..models import OUTGOING_KINDS, EventKind, Ticket, TicketKind
from ..models import TicketStatus as S
from .common import EVENT_KIND, _amount
from .workflow import WORKFLOW


@transaction.atomic
def ticket_refund(*, ticket_id: int, actor=None, amount=None, why: str = "") -> Ticket:
    """The refund is issued (on the platform or by transfer); complete it once it has gone through."""
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "refund")
    if amount not in (None, ""):
        ticket.approved_amount = _amount(amount, field="amount", maximum=ticket.requested_amount)
    elif ticket.approved_amount is None:
        ticket.approved_amount = ticket.requested_amount
    WORKFLOW.set_status(ticket, S.REFUNDING, why=why or _("refund issued"), code="refunding", actor=actor,
                data={"amount": str(ticket.approved_amount)})
    return ticket


def _publish_refunded(ticket: Ticket) -> bool:
    """aftersales.refunded, once per ticket (docs/INTERFACES.md), when money went back."""
    if ticket.refund_published_at is not None:
        return False
    amount = ticket.refund_amount
    if not amount or amount <= 0:
        return False
    ticket.refunded_at = ticket.refunded_at or timezone.now()
    ticket.refund_published_at = timezone.now()
    ticket.save(update_fields=["refunded_at", "refund_published_at", "updated_at"])
    events.publish("aftersales.refunded", ticket_id=ticket.pk, order_id=ticket.order_id, shop_id=ticket.shop_id,
                   platform_order_id=ticket.platform_order_id, amount=amount, currency=ticket.currency,
                   refunded_at=ticket.refunded_at, kind=EVENT_KIND[ticket.kind])
    return True


def _reship(ticket: Ticket, *, actor, why: str) -> int:
    """The outgoing order of an exchange or reship, made once (orders is idempotent on source_ref)."""
    if ticket.reship_order_id:
        return ticket.reship_order_id
    lines: list[tuple[int, int]] = []
    for line in ticket.lines.order_by("pk"):
        sku = line.exchange_sku_id or line.sku_id if ticket.kind == TicketKind.EXCHANGE else line.sku_id
        qty = line.quantity
        if sku is None:
            raise ValidationError({"lines": [_("%(line)s has no SKU to send.") % {"line": line.title or line.pk}]})
        lines.append((int(sku), int(qty)))
    if not lines:
        raise ValidationError({"lines": [_("Nothing to send: the ticket has no lines.")]})
    if ticket.order_id is None:
        raise ValidationError({"order_id": [_("The ticket has no order to send a replacement for.")]})
    order = ports.order_create_reship(order_id=ticket.order_id, lines=lines, actor=actor, source_ref=f"aftersales:{ticket.pk}",
                                      why=why or _("after-sales %(no)s: %(kind)s") % {"no": ticket.number,
                                                                                       "kind": ticket.get_kind_display()})
    ticket.reship_order_id = order.pk
    ticket.save(update_fields=["reship_order_id", "updated_at"])
    WORKFLOW.log(ticket, EventKind.SYSTEM, "reship.created", _("replacement order #%(id)s created") % {"id": order.pk},
         actor=actor, data={"order_id": order.pk})
    return order.pk


@transaction.atomic
def ticket_complete(*, ticket_id: int, actor=None, why: str = "") -> Ticket:
    """Refund kinds: the refund went through (aftersales.refunded is published). Exchange and
    reship: the replacement order is created."""
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "complete")
    if ticket.kind in OUTGOING_KINDS:
        _reship(ticket, actor=actor, why=why)
    WORKFLOW.set_status(ticket, S.COMPLETED, why=why or _("completed"), code="completed", actor=actor)
    _publish_refunded(ticket)
    return ticket
