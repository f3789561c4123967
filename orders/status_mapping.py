"""How platform states become our order statuses, explicitly.

Adapters (integrations) turn each platform's status text into ``NormalizedOrder.state`` plus flags
(presale paid, ship block). This module maps that to our status and to the *platform holds* (hold
reasons only the platform can clear). ``PLATFORM_STATUSES`` lists every raw status of each platform
we know (docs: ../shared/design/PLATFORMS.md) with the state and status it must end up as; it is the
fallback when an adapter sends a state we do not know, and the tests check the whole table.
"""

from dataclasses import dataclass

from integrations.ports import NormalizedOrder, OrderState

from .models import HoldReason, OrderStatus

STATE_TO_STATUS: dict[str, str] = {
    OrderState.UNPAID: OrderStatus.ON_HOLD,  # held (reason "unpaid") until the payment arrives
    OrderState.PAID: OrderStatus.PENDING_REVIEW,
    OrderState.PART_SHIPPED: OrderStatus.SHIPPED,
    OrderState.SHIPPED: OrderStatus.SHIPPED,
    OrderState.COMPLETED: OrderStatus.COMPLETED,
    OrderState.CANCELLED: OrderStatus.CANCELLED,
}

# platform -> raw status -> (coarse state, the platform forbids shipping)
PLATFORM_STATUSES: dict[str, dict[str, tuple[str, bool]]] = {
    "taobao": {
        "WAIT_BUYER_PAY": (OrderState.UNPAID, False),
        "TRADE_NO_CREATE_PAY": (OrderState.UNPAID, False),
        "WAIT_SELLER_SEND_GOODS": (OrderState.PAID, False),
        "PAID_FORBID_CONSIGN": (OrderState.PAID, True),
        "SELLER_CONSIGNED_PART": (OrderState.PART_SHIPPED, False),
        "WAIT_BUYER_CONFIRM_GOODS": (OrderState.SHIPPED, False),
        "TRADE_BUYER_SIGNED": (OrderState.COMPLETED, False),
        "TRADE_FINISHED": (OrderState.COMPLETED, False),
        "TRADE_CLOSED": (OrderState.CANCELLED, False),
        "TRADE_CLOSED_BY_TAOBAO": (OrderState.CANCELLED, False),
    },
    "jd": {
        "WAIT_SELLER_STOCK_OUT": (OrderState.PAID, False),
        "WAIT_SELLER_DELIVERY": (OrderState.PAID, False),
        "LOCKED": (OrderState.PAID, True),
        "POP_ORDER_PAUSE": (OrderState.PAID, True),
        "WAIT_GOODS_RECEIVE_CONFIRM": (OrderState.SHIPPED, False),
        "FINISHED_L": (OrderState.COMPLETED, False),
        "TRADE_CANCELED": (OrderState.CANCELLED, False),
    },
    "pdd": {  # order_status; a cancellation arrives as refund_status 4 (refunded) with order_status 1
        "1": (OrderState.PAID, False),
        "2": (OrderState.SHIPPED, False),
        "3": (OrderState.COMPLETED, False),
    },
}

PRE_SHIPMENT = frozenset({OrderStatus.PENDING_REVIEW, OrderStatus.ON_HOLD, OrderStatus.APPROVED,
                          OrderStatus.ALLOCATED, OrderStatus.PICKING})
SHIPPED_STATES = frozenset({OrderState.PART_SHIPPED, OrderState.SHIPPED, OrderState.COMPLETED})


@dataclass(frozen=True)
class Mapped:
    state: str
    status: str
    platform_holds: frozenset
    explanation: str


def coarse_state(normalized: NormalizedOrder) -> tuple[str, bool]:
    """The order's coarse state and whether the platform forbids shipping, from the adapter's state,
    falling back to the raw status table."""
    known = PLATFORM_STATUSES.get(normalized.platform, {}).get(str(normalized.platform_status))
    blocked = bool(normalized.ship_blocked_reason) or bool(known and known[1])
    if normalized.state in STATE_TO_STATUS:
        return normalized.state, blocked
    if known:
        return known[0], blocked
    return OrderState.PAID, True  # unknown: keep it, but never ship it on a guess


def map_order(normalized: NormalizedOrder) -> Mapped:
    state, blocked = coarse_state(normalized)
    holds: set[str] = set()
    why = [f"platform state {state} ({normalized.platform_status or '-'})"]
    if state == OrderState.UNPAID:
        holds.add(HoldReason.UNPAID)
    if state == OrderState.PAID:
        if normalized.is_presale and not normalized.presale_fully_paid:
            holds.add(HoldReason.PRESALE_UNPAID)
            why.append("presale: only the deposit is paid")
        if blocked:
            holds.add(HoldReason.PLATFORM_BLOCKED)
            why.append(f"platform blocks shipping: {normalized.ship_blocked_reason or normalized.platform_status}")
    status = STATE_TO_STATUS[state]
    if status == OrderStatus.PENDING_REVIEW and holds:
        status = OrderStatus.ON_HOLD
    return Mapped(state=state, status=status, platform_holds=frozenset(holds), explanation="; ".join(why))
