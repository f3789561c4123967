"""What the warehouse app writes on an order: timeline entries from the warehouse floor and the
carrier (parcel packed, tracking events). Status changes stay with the other services."""

from __future__ import annotations

from django.db import transaction

from ..models import EventKind, Order
from ._common import WORKFLOW


@transaction.atomic
def order_timeline_note(*, order_id: int, code: str, message: str, data: dict | None = None, actor=None) -> None:
    """Add one entry to the order's timeline (no status change). Unknown order: nothing."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return
    WORKFLOW.event(order, EventKind.ACTION if actor else EventKind.SYSTEM, code, message, actor=actor,
                   data=data or {}).save()
