"""The one interface every platform adapter implements, and what it returns.

An adapter speaks its platform's own field names and statuses over HTTP (signed, paged, rate
limited, retried: see integrations.adapters.http) and maps every payload to the normalised forms of
integrations.normalized, keeping the raw payload in ``.raw``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal


class AdapterError(Exception):
    """The platform refused or failed the call after retries (message says why)."""

    def __init__(self, message: str, *, code: str = "", retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.status = status


class NotSupported(AdapterError):
    """The platform (or this shop's kind) has no such operation, e.g. pulling from an own web shop."""


@dataclass
class Page:
    """One page of a window. ``total`` is the platform's total for the whole window."""

    items: list
    total: int
    page: int
    page_size: int
    malformed: int = 0  # records the adapter could not map (counted as failed, raw kept in the log)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size)) if self.total else 1


@dataclass
class StockUpdate:
    """Set the sellable quantity of one platform SKU (full quantity, not a delta)."""

    platform_item_id: str
    platform_sku_id: str
    outer_id: str
    quantity: int
    ref: object = None  # the caller's handle (mapping id, version) to acknowledge


@dataclass
class StockResult:
    update: StockUpdate
    ok: bool
    error: str = ""


@dataclass
class ShipmentResult:
    ok: bool
    error: str = ""
    response: dict = field(default_factory=dict)


class RefundAction:
    """The seller's answers to a buyer's refund that the ERP pushes to a platform."""

    AGREE_REFUND = "agree_refund"  # refund only: the platform pays the buyer
    AGREE_RETURN = "agree_return"  # the buyer may send the goods back (to ``return_address``)
    CONFIRM_RECEIPT = "confirm_receipt"  # the returned goods arrived: the platform pays the buyer
    REFUSE = "refuse"  # with a reason
    ALL = (AGREE_REFUND, AGREE_RETURN, CONFIRM_RECEIPT, REFUSE)


@dataclass
class RefundDecision:
    """One decision on one platform refund. ``version`` / ``phase`` are the refund's as last pulled
    (Taobao/Tmall want them back); ``amount`` (yuan) defaults to the refund's amount."""

    action: str
    platform_refund_id: str
    platform_order_id: str = ""
    amount: Decimal | None = None
    reason: str = ""
    return_address: dict = field(default_factory=dict)  # name, phone, address, zip
    phase: str = ""  # "before_shipment" | "after_shipment"
    version: int = 0
    operator: str = ""


@dataclass
class RefundDecisionResult:
    """``ok`` when the platform applied the decision; ``already`` when it had applied it before (a
    retried send): that is done too, nothing was applied twice."""

    ok: bool
    already: bool = False
    error: str = ""
    response: dict = field(default_factory=dict)


@dataclass
class CouponSend:
    """A seller coupon to deliver to one platform buyer. ``request_id`` is the ERP's idempotency key:
    sending it again answers the coupon already made. Amounts in yuan."""

    request_id: str
    buyer_id: str
    code: str  # our coupon code (the buyer never sees it on a platform; the platform makes its own id)
    title: str
    amount_off: Decimal
    threshold: Decimal
    valid_until: datetime
    valid_from: datetime | None = None
    currency: str = "CNY"
    kind: str = "amount"  # "amount" or "percent": the platforms' shop coupons take an amount off


@dataclass
class CouponSendResult:
    """``ok`` with the platform's coupon id; ``already`` when the platform had it from a previous send
    of the same request id. A refusal is ``ok=False`` with the platform's reason; transient failures
    raise a retryable AdapterError instead."""

    ok: bool
    platform_coupon_id: str = ""
    already: bool = False
    error: str = ""
    response: dict = field(default_factory=dict)


class PlatformAdapter:
    """Base class. Subclasses set ``platform``, ``max_window`` and implement the fetch/push calls."""

    platform: str = ""
    max_window: timedelta = timedelta(days=1)  # longest modified-time window one query may cover
    page_size: int = 100
    stock_batch_size: int = 50
    supports_pull: bool = True

    def __init__(self, shop, *, client=None):
        self.shop = shop
        self.client = client

    def platform_now(self) -> datetime | None:
        """The platform's clock (pull windows end there), or None to use the local clock."""
        return None

    # -- pulls: one page of [start, end) by modified time -------------------------------------
    def fetch_orders_page(self, *, start: datetime, end: datetime, page: int) -> Page:
        raise NotSupported(f"{self.platform}: pulling orders is not supported")

    def fetch_refunds_page(self, *, start: datetime, end: datetime, page: int) -> Page:
        raise NotSupported(f"{self.platform}: pulling refunds is not supported")

    def fetch_bills_page(self, *, start: datetime, end: datetime, page: int) -> Page:
        raise NotSupported(f"{self.platform}: pulling settlement bills is not supported")

    # -- pushes --------------------------------------------------------------------------------
    def push_stock(self, updates: list[StockUpdate]) -> list[StockResult]:
        raise NotSupported(f"{self.platform}: pushing stock is not supported")

    def push_shipment(self, *, platform_order_id: str, carrier_code: str, tracking_no: str,
                      lines: list | None = None) -> ShipmentResult:
        raise NotSupported(f"{self.platform}: pushing shipments is not supported")

    def push_refund_decision(self, decision: RefundDecision) -> RefundDecisionResult:
        """Send a seller's refund decision. Transient failures raise a retryable AdapterError; a
        refusal answers ``ok=False`` with the platform's reason."""
        raise NotSupported(f"{self.platform}: pushing refund decisions is not supported")

    # -- seller coupons ------------------------------------------------------------------------
    def send_coupon(self, coupon: CouponSend) -> CouponSendResult:
        """Deliver a seller coupon to a buyer (idempotent on ``coupon.request_id``)."""
        raise NotSupported(f"{self.platform}: sending coupons is not supported")

    def query_coupon(self, *, platform_coupon_id: str) -> dict:
        """The platform's state of a coupon sent: {"state": unused|used|expired|cancelled, "order_id": ...}."""
        raise NotSupported(f"{self.platform}: querying coupons is not supported")

    def cancel_coupon(self, *, platform_coupon_id: str) -> CouponSendResult:
        """Withdraw an unused coupon (``already`` when it was withdrawn before)."""
        raise NotSupported(f"{self.platform}: cancelling coupons is not supported")

    # -- mapping (also used for push-style messages arriving on the channel API) --------------
    def map_order(self, raw: dict):
        raise NotSupported(f"{self.platform}: no order mapping")

    def map_refund(self, raw: dict):
        raise NotSupported(f"{self.platform}: no refund mapping")

    def map_bill(self, raw: dict):
        raise NotSupported(f"{self.platform}: no bill mapping")

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
