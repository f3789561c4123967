"""After-sales writes, one entry point for every caller (api, views, tasks, seed, event handlers, tests):
tickets from platform refunds and from operators, the status machine, and its effects (stock back through
inventory, a reship order through orders, events for finance, decisions back to the platform).

- ``workflow``: the ticket's status machine (erp.workflow.DocumentWorkflow, TicketEvent).
- ``tickets``: opening a ticket, the automatic approval, approve / reject / await return / cancel, SLA.
- ``returns``: goods received and inspected, stock back. ``refunds``: refund, completion, reship.
- ``platform``: platform refunds followed (idempotent on the refund version).
- ``decisions``: the seller's decisions pushed to the platform (outbox) and their confirmation.
- ``common``: settings and amount input.

A wrong-state action raises erp.api.exceptions.Conflict (409, with the reason); bad input raises
Django ValidationError (400, field messages).
"""

from .common import aftersales_settings
from .decisions import on_refund_decision_sent
from .platform import (
    on_order_after_sale_opened,
    on_platform_refunds_changed,
    ticket_sync_platform_refund,
    tickets_follow_platform_refunds,
)
from .refunds import _reship, ticket_complete, ticket_refund
from .returns import ticket_receive_goods
from .tickets import (
    ticket_approve,
    ticket_await_return,
    ticket_cancel,
    ticket_create,
    ticket_reject,
    tickets_bulk_approve,
    tickets_flag_overdue,
)
from .workflow import WORKFLOW, action_refusal, allowed_actions

__all__ = [
    "WORKFLOW", "_reship", "action_refusal", "aftersales_settings", "allowed_actions", "on_order_after_sale_opened",
    "on_platform_refunds_changed", "on_refund_decision_sent", "ticket_approve", "ticket_await_return", "ticket_cancel",
    "ticket_complete", "ticket_create", "ticket_receive_goods", "ticket_refund", "ticket_reject",
    "ticket_sync_platform_refund", "tickets_bulk_approve", "tickets_flag_overdue", "tickets_follow_platform_refunds",
]
