"""The purchase order's status machine (erp.workflow.DocumentWorkflow): which action each status
allows, why one is refused, the timestamps each status stamps and the timeline (PurchaseOrderEvent).

    draft -> approved -> sent -> [confirmed by the supplier] -> partially_received -> received -> closed
                          \\-> refused by the supplier (with its reason) -> cancelled
                                                                      \\-> revised: back to draft, edited, approved and sent again
      \\-> cancelled (draft, approved, sent or confirmed with nothing received)
    partially_received -> closed (short-closed: the rest will not come)
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp.workflow import Action, DocumentWorkflow, Stamp

from ..models import EventKind, PurchaseOrder, PurchaseOrderEvent
from ..models import POStatus as S


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
        "confirm": Action({S.SENT}, gettext_lazy("confirm")),
        "refuse": Action({S.SENT}, gettext_lazy("refuse")),
        "ship": Action({S.SENT, S.CONFIRMED, S.PARTIALLY_RECEIVED}, gettext_lazy("send a shipping notice for")),
        "receive": Action({S.SENT, S.CONFIRMED, S.PARTIALLY_RECEIVED}, gettext_lazy("receive goods against")),
        "return": Action({S.PARTIALLY_RECEIVED, S.RECEIVED, S.CLOSED}, gettext_lazy("return goods of")),
        "cancel": Action({S.DRAFT, S.APPROVED, S.SENT, S.CONFIRMED, S.REFUSED}, gettext_lazy("cancel"),
                         checks=(_no_cancel_after_receipt,)),
        "close": Action({S.PARTIALLY_RECEIVED, S.RECEIVED}, gettext_lazy("close")),
        "revise": Action({S.REFUSED}, gettext_lazy("revise"), checks=(_no_cancel_after_receipt,)),
    },
    stamps=[Stamp("approved_at", {S.APPROVED}), Stamp("sent_at", {S.SENT}), Stamp("confirmed_at", {S.CONFIRMED}),
            Stamp("received_at", {S.RECEIVED}),
            Stamp("closed_at", {S.CLOSED, S.CANCELLED})],
)

allowed_actions = WORKFLOW.allowed_actions
action_refusal = WORKFLOW.refusal
