"""The seller's own web shop: it pushes orders and refunds to the inbound channel API
(/api/v1/channels/<shop_code>/...), in our normalised JSON. Nothing is pulled; stock and shipments
are read by the web shop from the ERP rather than pushed, and so are coupons (the channel API
/api/v1/members/coupons/benefits/ answers a buyer's open coupons; an order redeeming one carries its
code in ``coupons``)."""

from __future__ import annotations

from ..codec import order_from_dict, refund_from_dict
from .base import CouponSendResult, NotSupported, PlatformAdapter, ShipmentResult


class Adapter(PlatformAdapter):
    platform = "own"
    supports_pull = False

    @classmethod
    def for_shop(cls, shop):
        return cls(shop)

    def map_order(self, raw: dict):
        order = order_from_dict(raw, raw=raw)
        order.platform = self.platform
        return order

    def map_refund(self, raw: dict):
        refund = refund_from_dict(raw, raw=raw)
        refund.platform = self.platform
        return refund

    def push_stock(self, updates):
        raise NotSupported("own web shop: stock is read from the ERP, not pushed")

    def push_shipment(self, *, platform_order_id, carrier_code, tracking_no, lines=None):
        return ShipmentResult(ok=True, response={"note": "own web shop: nothing to send"})

    def send_coupon(self, coupon):
        return CouponSendResult(ok=True, platform_coupon_id="", response={
            "note": "own web shop: the shop reads the buyer's coupons through the channel API"})
