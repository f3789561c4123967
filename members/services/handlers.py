"""erp.events handlers (order.shipped, aftersales.refunded): they run in the publisher's transaction,
in a savepoint, so a failure here never undoes a shipment or a refund; it is retried by a task after
the publisher commits.
"""

from __future__ import annotations

from django.db import transaction

from erp.tenancy.context import require_tenant

from .common import logger
from .points import points_clawback_for_refund, points_earn_for_order


def _safely(what: str, fn, retry) -> None:
    """Run ``fn`` in a savepoint: a failure here must never undo the publisher's work (a shipment, a
    refund). It is logged and retried by a task after the publisher commits."""
    try:
        with transaction.atomic():
            fn()
    except Exception:  # noqa: BLE001
        logger.exception("members: %s failed; retrying after commit", what)
        tenant_id = require_tenant().pk
        transaction.on_commit(lambda: retry(tenant_id))


def on_order_shipped(*, order_id: int, **_payload) -> None:
    from .. import tasks

    _safely(f"points for order {order_id}", lambda: points_earn_for_order(order_id=order_id),
            lambda tenant_id: tasks.earn_for_order.delay(tenant_id=tenant_id, order_id=order_id))


def on_aftersales_refunded(*, ticket_id: int, amount, order_id: int | None = None, shop_id: int | None = None,
                           platform_order_id: str = "", **_payload) -> None:
    from .. import tasks

    kwargs = {"ticket_id": ticket_id, "amount": str(amount), "order_id": order_id, "shop_id": shop_id,
              "platform_order_id": platform_order_id or ""}
    _safely(f"clawback for ticket {ticket_id}", lambda: points_clawback_for_refund(**kwargs),
            lambda tenant_id: tasks.clawback_for_refund.delay(tenant_id=tenant_id, **kwargs))
