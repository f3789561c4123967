"""The ticket's status machine (erp.workflow.DocumentWorkflow): which action each status and kind
allows, why one is refused, the timestamps each status stamps and the timeline (TicketEvent).

    open -> approved -> awaiting_return -> goods_received -> refunding -> completed
      \\-> rejected / cancelled (before any goods came back)

    refund_only:    open -> approved -> refunding -> completed
    return_refund:  open -> approved [-> awaiting_return] -> goods_received -> refunding -> completed
    exchange:       open -> approved [-> awaiting_return] -> goods_received -> completed (a reship order goes out)
    reship:         open -> approved -> completed (a reship order goes out)
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp.workflow import ALLOW, Action, DocumentWorkflow, Stamp

from ..models import REFUND_KINDS, RETURN_KINDS, TERMINAL, EventKind, Ticket, TicketEvent, TicketKind
from ..models import TicketStatus as S


def _late_return(ticket: Ticket) -> bool:
    """Goods that arrive after the platform completed the refund are still taken back into stock."""
    return ticket.status == S.COMPLETED and ticket.kind in RETURN_KINDS and ticket.goods_received_at is None


def _goods_come_back(ticket: Ticket) -> str:
    if ticket.kind not in RETURN_KINDS:
        return _("A %(kind)s ticket has no goods coming back.") % {"kind": ticket.get_kind_display()}
    return ""


def _late_return_allowed(ticket: Ticket):
    return ALLOW if _late_return(ticket) else ""


def _refund_allowed(ticket: Ticket):
    if ticket.kind not in REFUND_KINDS:
        return _("A %(kind)s ticket sends goods, not money.") % {"kind": ticket.get_kind_display()}
    needed = S.APPROVED if ticket.kind == TicketKind.REFUND_ONLY else S.GOODS_RECEIVED
    if ticket.status != needed:
        return _("Ticket %(no)s is %(status)s; a refund needs it %(needed)s.") % {
            "no": ticket.number, "status": ticket.get_status_display(), "needed": S(needed).label}
    return ALLOW


def _complete_allowed(ticket: Ticket):
    needed = {TicketKind.REFUND_ONLY: S.REFUNDING, TicketKind.RETURN_REFUND: S.REFUNDING,
              TicketKind.EXCHANGE: S.GOODS_RECEIVED, TicketKind.RESHIP: S.APPROVED}[ticket.kind]
    if ticket.status != needed:
        return _("Ticket %(no)s is %(status)s; it can be completed when %(needed)s.") % {
            "no": ticket.number, "status": ticket.get_status_display(), "needed": S(needed).label}
    return ALLOW


WORKFLOW = DocumentWorkflow(
    model=Ticket, event_model=TicketEvent, event_fk="ticket", status_kind=EventKind.ACTION, not_found="No such ticket.",
    refusal=gettext_lazy("Ticket %(no)s is %(status)s: cannot %(action)s it."),
    actions={
        "approve": Action({S.OPEN}, gettext_lazy("approve")),
        "reject": Action({S.OPEN, S.APPROVED, S.AWAITING_RETURN}, gettext_lazy("reject")),
        "await_return": Action({S.APPROVED}, gettext_lazy("mark return shipped"), guards=(_goods_come_back,)),
        "receive_goods": Action({S.APPROVED, S.AWAITING_RETURN}, gettext_lazy("receive goods"),
                                guards=(_goods_come_back, _late_return_allowed)),
        "refund": Action(None, gettext_lazy("refund"), guards=(_refund_allowed,)),
        "complete": Action(None, gettext_lazy("complete"), guards=(_complete_allowed,)),
        "cancel": Action({S.OPEN, S.APPROVED, S.AWAITING_RETURN}, gettext_lazy("cancel")),
    },
    stamps=[Stamp("approved_at", {S.APPROVED, S.AWAITING_RETURN, S.REFUNDING, S.COMPLETED}, keep_first=True),
            Stamp("goods_received_at", {S.GOODS_RECEIVED}, keep_first=True), Stamp("closed_at", TERMINAL)],
)

allowed_actions = WORKFLOW.allowed_actions
action_refusal = WORKFLOW.refusal
