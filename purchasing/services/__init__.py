"""Purchasing writes, one entry point for every caller (api, views, tasks, seed, admin, other apps, tests).

- ``workflow``: the purchase order's status machine (erp.workflow.DocumentWorkflow, PurchaseOrderEvent).
- ``orders``: purchase orders (create, edit in draft, approve, send, cancel, close).
- ``receiving`` / ``returns``: goods receipts and returns to the supplier (stock through
  inventory.services, ``purchase.received`` / ``purchase.returned`` for finance); idempotent on the
  client's ``reference``.
- ``suppliers``: suppliers' items; ``suggestions``: reorder suggestions and the orders made from them.
- ``portal``: the supplier online: supplier users, confirm / refuse a sent order, shipping notices
  (ASN) and receiving against them with differences; ``notifications``: ``notify`` (in-app + e-mail).
- ``common``: settings, input cleaning, totals and document numbers.

A wrong-state action raises erp.api.exceptions.Conflict (409 with the reason); bad input raises
Django ValidationError (400 with field messages). Lines are edited only in draft.
"""

from .common import MAX_QUANTITY, purchasing_settings
from .notifications import notification_emails_send, notification_mark_read, notify, recipients
from .orders import po_approve, po_cancel, po_close, po_create, po_lines_set, po_revise, po_send, po_update
from .portal import asn_create, asn_receive, po_confirm, po_refuse, supplier_user_invite
from .receiving import po_receive
from .returns import po_return
from .suggestions import suggestions_create_pos, suggestions_recompute
from .suppliers import supplier_item_for, supplier_item_save
from .workflow import WORKFLOW, action_refusal, allowed_actions

__all__ = [
    "asn_create", "asn_receive", "notification_emails_send", "notification_mark_read", "notify", "po_confirm",
    "po_refuse", "recipients", "supplier_user_invite",
    "MAX_QUANTITY", "WORKFLOW", "action_refusal", "allowed_actions", "po_approve", "po_cancel", "po_close", "po_revise",
    "po_create", "po_lines_set", "po_receive", "po_return", "po_send", "po_update", "purchasing_settings",
    "suggestions_create_pos", "suggestions_recompute", "supplier_item_for", "supplier_item_save",
]
