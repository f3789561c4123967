"""What integrations hands to the other apps, as types: the one normalised form of a platform's
orders, refunds and settlement bill lines (see integrations/normalized.py for the fields).

Other apps import these from here, never from integrations.normalized or integrations.models (the
import-linter contracts in pyproject.toml enforce it). The records themselves are read through
integrations.selectors (normalized_orders, normalized_refunds, normalized_bill_lines) when an
erp.events message (platform_orders.changed, platform_refunds.changed, platform_bills.changed) names
them; shops through the shop selectors there.
"""

from .normalized import (
    NormalizedAddress,
    NormalizedBillLine,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderState,
)

__all__ = [
    "NormalizedAddress",
    "NormalizedBillLine",
    "NormalizedLine",
    "NormalizedOrder",
    "NormalizedRefund",
    "OrderState",
]
