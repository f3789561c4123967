"""The one normalised form every platform adapter maps its payloads to (and the inbound channel
API accepts). Amounts are Decimal yuan; times are aware UTC datetimes. The raw payload rides along."""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class OrderState:
    """Coarse platform-side state; the orders app maps it (plus flags) to its own statuses."""

    UNPAID = "unpaid"  # created, not paid (Taobao WAIT_BUYER_PAY, presale deposit unpaid)
    PAID = "paid"  # paid, waiting for the seller to ship
    PART_SHIPPED = "part_shipped"  # Taobao SELLER_CONSIGNED_PART
    SHIPPED = "shipped"  # waiting for the buyer to confirm
    COMPLETED = "completed"  # received / finished
    CANCELLED = "cancelled"  # closed before shipment (unpaid timeout, cancel, full refund)
    CHOICES = [UNPAID, PAID, PART_SHIPPED, SHIPPED, COMPLETED, CANCELLED]


@dataclass
class NormalizedAddress:
    name: str = ""
    phone: str = ""
    province: str = ""
    city: str = ""
    district: str = ""
    address: str = ""  # street and number
    merge_key: str = ""  # the platform's receiver merge key (Taobao OAID...), when it gives one


@dataclass
class NormalizedLine:
    platform_line_id: str  # Taobao oid, JD/PDD: item id + sku id
    platform_item_id: str
    platform_sku_id: str
    outer_id: str  # the merchant code (商家编码) the seller set on the platform
    title: str
    quantity: int
    price: Decimal  # unit price
    discount: Decimal = Decimal("0.00")  # discount shared to this line
    paid: Decimal = Decimal("0.00")  # what the buyer paid for this line
    refund_status: str = ""  # "" none, "requested", "refunded", "closed"
    sku_properties: str = ""
    is_presale: bool = False  # this line ships later than the rest (Taobao sub-order estimate_con_time)


@dataclass
class NormalizedCoupon:
    """A seller coupon redeemed on the order: the platform's own coupon id (Taobao shopbonus number,
    JD couponId, PDD promotion id), or our coupon code (the own web shop sends that), and its discount."""

    platform_coupon_id: str = ""
    code: str = ""
    amount: Decimal = Decimal("0.00")


@dataclass
class NormalizedOrder:
    platform: str  # integrations.models.Platform value
    platform_order_id: str
    state: str  # OrderState
    platform_status: str  # the platform's own status text, as received
    modified_at: datetime
    created_at: datetime
    paid_at: datetime | None = None
    ship_by: datetime | None = None  # promised ship-by time
    buyer_id: str = ""  # buyer nick / open id / masked id
    buyer_message: str = ""
    seller_memo: str = ""
    seller_flag: int = 0
    receiver: NormalizedAddress = field(default_factory=NormalizedAddress)
    currency: str = "CNY"
    goods_amount: Decimal = Decimal("0.00")
    discount_amount: Decimal = Decimal("0.00")
    freight_amount: Decimal = Decimal("0.00")
    paid_amount: Decimal = Decimal("0.00")
    is_presale: bool = False
    presale_fully_paid: bool = True  # False while only the deposit is paid (must not ship)
    ship_blocked_reason: str = ""  # platform says do not ship yet: "risk_review", "group_forming"...
    lines: list[NormalizedLine] = field(default_factory=list)
    coupons: list[NormalizedCoupon] = field(default_factory=list)  # seller coupons redeemed on the order
    raw: dict = field(default_factory=dict)


@dataclass
class NormalizedRefund:
    platform: str
    platform_refund_id: str
    platform_order_id: str
    platform_line_id: str  # "" = whole order
    status: str  # "requested", "agreed", "wait_return", "refused", "closed", "success"
    platform_status: str
    amount: Decimal
    reason: str
    has_goods_return: bool
    phase: str  # "before_shipment" or "after_shipment"
    modified_at: datetime
    version: int = 0  # a newer version supersedes an older one
    raw: dict = field(default_factory=dict)


@dataclass
class NormalizedBillLine:
    platform: str
    platform_bill_id: str
    platform_order_id: str
    kind: str  # "sale", "refund", "commission", "service_fee", "freight", "other"
    amount: Decimal  # signed: income positive, fees/refunds negative
    booked_at: datetime
    description: str = ""
    raw: dict = field(default_factory=dict)
