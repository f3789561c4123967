"""The seller's decisions sent back to the platform (integrations.services.refund_decision_enqueue
through aftersales.ports, an outbox row in the same transaction) when the ticket came from a platform
refund: approve -> agree to refund or to the return (with the return address), goods received ->
confirm receipt, reject -> refuse. Manual tickets push nothing. The timeline records the decision
queued, sent (or given up) by the relay, and confirmed when the next refunds pull shows it applied.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp.workflow import actor_label

from .. import ports
from ..models import EventKind, Ticket, TicketEvent, TicketSource
from .common import aftersales_settings
from .workflow import WORKFLOW

AGREE_REFUND, AGREE_RETURN, CONFIRM_RECEIPT, REFUSE = "agree_refund", "agree_return", "confirm_receipt", "refuse"
DECISION_LABELS = {AGREE_REFUND: gettext_lazy("agree to refund"), AGREE_RETURN: gettext_lazy("agree to the return"),
                   CONFIRM_RECEIPT: gettext_lazy("confirm the returned goods arrived"),
                   REFUSE: gettext_lazy("refuse the refund")}
# the platform refund states that show a decision was applied
CONFIRMED_BY = {AGREE_REFUND: frozenset({"agreed", "success"}), AGREE_RETURN: frozenset({"wait_return", "success"}),
                CONFIRM_RECEIPT: frozenset({"success"}), REFUSE: frozenset({"refused"})}
SETTLED_ON_PLATFORM = frozenset({"success", "refused", "closed"})


def _return_address(ticket: Ticket) -> dict:
    """Where the buyer sends the goods: the ticket's return warehouse (else a line's, else the default)."""
    wh_id = ticket.warehouse_id or next((ln.warehouse_id for ln in ticket.lines.all() if ln.warehouse_id), None) \
        or aftersales_settings().default_warehouse_id
    if wh_id is None:
        return {}
    wh = ports.active_warehouse(wh_id)
    if wh is None:
        return {}
    return {"name": wh.name, "address": getattr(wh, "address", "") or ""}


def _push_decision(ticket: Ticket, action: str, *, actor=None, why: str = ""):
    """Send the seller's decision on a platform refund back to the platform (an outbox row in this
    transaction). Manual tickets, and refunds the platform already settled, send nothing."""
    if ticket.source != TicketSource.PLATFORM or not ticket.platform_refund_id or ticket.shop_id is None:
        return None
    label = DECISION_LABELS[action]
    if ticket.platform_refund_state in SETTLED_ON_PLATFORM:
        WORKFLOW.log(ticket, EventKind.SYSTEM, "platform.decision.skipped",
             _("not sent to the platform (%(decision)s): the refund is already %(state)s there")
             % {"decision": label, "state": ticket.platform_refund_state}, actor=actor, data={"action": action})
        return None
    row = ports.refund_decision_enqueue(shop=ticket.shop, platform_refund_id=ticket.platform_refund_id, action=action,
                  amount=ticket.approved_amount if action in (AGREE_REFUND, CONFIRM_RECEIPT) else None,
                  reason=why or "", return_address=_return_address(ticket) if action == AGREE_RETURN else None,
                  operator=actor_label(actor), ref=f"aftersales:{ticket.pk}")
    if row is None:
        return None
    WORKFLOW.log(ticket, EventKind.SYSTEM, "platform.decision.queued",
         _("queued for the platform: %(decision)s") % {"decision": label}, actor=actor,
         data={"action": action, "outbox_id": row.pk})
    return row


def _confirm_decisions(ticket: Ticket, refund) -> None:
    """The pulled refund shows a decision we sent was applied: say so on the timeline (once each)."""
    if ticket.source != TicketSource.PLATFORM:
        return
    sent = [e for e in TicketEvent.objects.filter(ticket=ticket, code__in=["platform.decision.queued",
                                                                            "platform.decision.confirmed"])
            .values_list("code", "data")]
    confirmed = {data.get("action") for code, data in sent if code == "platform.decision.confirmed"}
    for code, data in sent:
        action = (data or {}).get("action")
        if code != "platform.decision.queued" or action in confirmed or refund.status not in CONFIRMED_BY.get(action, ()):
            continue
        confirmed.add(action)
        WORKFLOW.log(ticket, EventKind.PLATFORM, "platform.decision.confirmed",
             _("the platform applied our decision (%(decision)s): refund %(status)s")
             % {"decision": DECISION_LABELS[action], "status": refund.platform_status or refund.status},
             data={"action": action, "status": refund.status, "version": int(refund.version or 0)})


@transaction.atomic
def on_refund_decision_sent(*, shop_id, platform_refund_id, action, status, already=False, error="", outbox_id=None,
                            **_extra):
    """erp.events handler ("platform_refund_decision.sent", integrations' outbox relay): the decision
    left for the platform, or was given up."""
    ticket = Ticket.objects.filter(shop_id=shop_id, platform_refund_id=str(platform_refund_id or "")).first()
    if ticket is None or action not in DECISION_LABELS:
        return None
    label = DECISION_LABELS[action]
    if status == "sent":
        message = (_("sent to the platform (it had already applied it): %(decision)s") if already
                   else _("sent to the platform: %(decision)s")) % {"decision": label}
        return WORKFLOW.log(ticket, EventKind.SYSTEM, "platform.decision.sent", message,
                    data={"action": action, "outbox_id": outbox_id, "already": bool(already)})
    return WORKFLOW.log(ticket, EventKind.SYSTEM, "platform.decision.failed",
                _("the platform did not take our decision (%(decision)s): %(error)s") % {"decision": label,
                                                                                          "error": error or status},
                data={"action": action, "outbox_id": outbox_id, "error": (error or "")[:500]})
