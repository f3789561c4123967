"""Pinduoduo (PDD router): incremental order and refund lists, bills, stock, online shipment.

PDD line ids are ``<goods_id>-<sku_id>``; PDD gives no per-line paid amount, so the order's
discount is shared over the lines in proportion to their price x quantity."""

from __future__ import annotations

import time
from datetime import timedelta

from ..normalized import (
    NormalizedAddress,
    NormalizedBillLine,
    NormalizedCoupon,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderState,
)
from .base import (
    AdapterError,
    CouponSendResult,
    RefundAction,
    RefundDecisionResult,
    ShipmentResult,
    StockResult,
)
from .common import money, parse_cst, split_evenly, text, to_fen, unix
from .router import RouterAdapter

ENVELOPE = {
    "pdd.order.number.list.increment.get": "order_sn_increment_get_response",
    "pdd.order.list.get": "order_list_get_response",
    "pdd.order.information.get": "order_info_get_response",
    "pdd.refund.list.increment.get": "refund_increment_get_response",
    "pdd.finance.bill.list.get": "finance_bill_list_get_response",
    "pdd.goods.quantity.update": "goods_quantity_update_response",
    "pdd.logistics.online.send": "logistics_online_send_response",
    "pdd.time.get": "time_get_response",
    "pdd.refund.agree": "refund_agree_response",
    "pdd.refund.returngoods.agree": "refund_returngoods_agree_response",
    "pdd.refund.reject": "refund_reject_response",
    "pdd.promotion.coupon.send": "promotion_coupon_send_response",
    "pdd.promotion.coupon.info.query": "promotion_coupon_info_query_response",
    "pdd.promotion.coupon.close": "promotion_coupon_close_response",
}
SELLER_COUPON_PROMOTION = 16  # promotion_detail_list entry of a merchant coupon [mock]
LINE_REFUND = {1: "", 2: "requested", 3: "requested", 4: "refunded"}
REFUND_STATUS = {2: "requested", 3: "requested", 4: "agreed", 7: "wait_return", 10: "success", 11: "closed",
                 6: "refused"}
BILL_KIND = {1: "sale", 2: "refund", 3: "commission", 4: "service_fee", 5: "freight"}
# carrier code -> PDD logistics_id; a numeric code passes through.
CARRIERS = {"SF": 44, "YTO": 85, "ZTO": 115, "STO": 1, "YUNDA": 121, "EMS": 118, "JD": 120, "BEST": 3}


def _line_id(goods_id, sku_id) -> str:
    return f"{text(goods_id)}-{text(sku_id)}"


class Adapter(RouterAdapter):
    platform = "pdd"
    default_url = "https://gw-api.pinduoduo.com/api/router"
    max_window = timedelta(minutes=30)
    page_size = 100
    stock_batch_size = 50

    def system_params(self, method: str) -> dict:
        return {"type": method, "client_id": self.app_key, "access_token": self.access_token,
                "timestamp": int(time.time()), "data_type": "JSON", "version": "V1"}

    def error_of(self, data: dict):
        error = data.get("error_response")
        if error is None:
            return None
        code = text(error.get("error_code"))
        message = " ".join(filter(None, [text(error.get("error_msg")), text(error.get("sub_code")),
                                         text(error.get("sub_msg"))]))
        return (code, message, code in ("70031", "50000") or data.get("_http_status", 200) >= 500)

    def _call(self, method: str, params: dict | None = None) -> dict:
        return self.call(method, params).get(ENVELOPE[method]) or {}

    def platform_now(self):
        return parse_cst(self._call("pdd.time.get").get("time"))

    # -- pulls ---------------------------------------------------------------------------------
    def fetch_orders_page(self, *, start, end, page):
        body = self._call("pdd.order.number.list.increment.get", {
            "start_updated_at": unix(start), "end_updated_at": unix(end), "order_status": 5, "refund_status": 5,
            "page": page, "page_size": self.page_size, "use_has_next": "false"})
        items, bad = self.map_many(self.map_order, body.get("order_sn_list") or [])
        return self.page_of(items, body.get("total_count") or 0, page, bad)

    def fetch_refunds_page(self, *, start, end, page):
        body = self._call("pdd.refund.list.increment.get", {
            "start_updated_at": unix(start), "end_updated_at": unix(end), "after_sales_status": 1,
            "after_sales_type": 1, "page": page, "page_size": self.page_size})
        items, bad = self.map_many(self.map_refund, body.get("refund_list") or [])
        return self.page_of(items, body.get("total_count") or 0, page, bad)

    def fetch_bills_page(self, *, start, end, page):
        body = self._call("pdd.finance.bill.list.get", {"start_time": unix(start), "end_time": unix(end), "page": page,
                                                        "page_size": self.page_size})
        items, bad = self.map_many(self.map_bill, body.get("bill_list") or [])
        return self.page_of(items, body.get("total_count") or 0, page, bad)

    # -- mapping -------------------------------------------------------------------------------
    def map_order(self, raw: dict) -> NormalizedOrder:
        order_status = int(raw["order_status"])
        refund_status = int(raw.get("refund_status") or 1)
        if order_status == 1:
            state = OrderState.CANCELLED if refund_status == 4 else OrderState.PAID
        elif order_status == 2:
            state = OrderState.SHIPPED
        else:
            state = OrderState.COMPLETED
        blocked = ""
        group_status = int(raw.get("group_status", 1) if raw.get("group_status") is not None else 1)
        if int(raw.get("risk_control_status") or 0) == 1:
            blocked = "risk_review"
        elif group_status == 0:
            blocked = "group_forming"
        elif group_status == 2:
            blocked = "group_failed"
        is_presale = int(raw.get("trade_type") or 0) == 1 or int(raw.get("is_pre_sale") or 0) == 1
        step = raw.get("step_order_info") or {}
        fully_paid = (not is_presale) or int(step.get("step_trade_status") or 2) == 2
        items = raw.get("item_list") or []
        gross = [money(i.get("goods_price")) * int(i.get("goods_count") or 0) for i in items]
        discount = money(raw.get("discount_amount"))
        shares = split_evenly(discount, gross)
        line_refund = LINE_REFUND.get(refund_status, "requested")
        lines = [
            NormalizedLine(
                platform_line_id=_line_id(i.get("goods_id"), i.get("sku_id")), platform_item_id=text(i.get("goods_id")),
                platform_sku_id=text(i.get("sku_id")), outer_id=text(i.get("outer_id") or i.get("outer_goods_id")),
                title=text(i.get("goods_name")), quantity=int(i.get("goods_count") or 0),
                price=money(i.get("goods_price")), discount=share, paid=g - share, refund_status=line_refund,
                sku_properties=text(i.get("goods_spec")),
            )
            for i, g, share in zip(items, gross, shares, strict=True)
        ]
        status_text = f"order_status={order_status} refund_status={refund_status}"
        return NormalizedOrder(
            platform=self.platform,
            platform_order_id=text(raw["order_sn"]),
            state=state,
            platform_status=status_text,
            modified_at=parse_cst(raw["updated_at"]),
            created_at=parse_cst(raw.get("created_time")) or parse_cst(raw["updated_at"]),
            paid_at=parse_cst(raw.get("pay_time")),
            ship_by=parse_cst(raw.get("last_ship_time")),
            buyer_message=text(raw.get("buyer_memo")),
            seller_memo=text(raw.get("remark")),
            seller_flag=int(raw.get("remark_tag") or 0),
            receiver=NormalizedAddress(
                name=text(raw.get("receiver_name_mask") or raw.get("receiver_name")),
                phone=text(raw.get("receiver_phone_mask") or raw.get("receiver_phone")),
                province=text(raw.get("province")), city=text(raw.get("city")), district=text(raw.get("town")),
                address=text(raw.get("receiver_address_mask") or raw.get("address")),
                merge_key=text(raw.get("open_address_id")),
            ),
            goods_amount=money(raw.get("goods_amount")),
            discount_amount=discount,
            freight_amount=money(raw.get("postage")),
            paid_amount=money(raw.get("pay_amount")),
            is_presale=is_presale,
            presale_fully_paid=fully_paid,
            ship_blocked_reason=blocked,
            lines=lines,
            coupons=[NormalizedCoupon(platform_coupon_id=text(p.get("promotion_id"))[:64],
                                      amount=money(p.get("discount_amount")))
                     for p in raw.get("promotion_detail_list") or []
                     if int(p.get("promotion_type") or 0) == SELLER_COUPON_PROMOTION and text(p.get("promotion_id"))],
            raw=raw,
        )

    def map_refund(self, raw: dict) -> NormalizedRefund:
        status = int(raw["after_sales_status"])
        return NormalizedRefund(
            platform=self.platform,
            platform_refund_id=text(raw["id"]),
            platform_order_id=text(raw["order_sn"]),
            platform_line_id=_line_id(raw.get("goods_id"), raw.get("sku_id")) if raw.get("goods_id") else "",
            status=REFUND_STATUS.get(status, "requested"),
            platform_status=str(status),
            amount=money(raw.get("refund_amount")),
            reason=text(raw.get("after_sale_reason")),
            has_goods_return=int(raw.get("after_sales_type") or 2) == 3,
            phase="after_shipment" if int(raw.get("shipping_status") or 0) == 1 else "before_shipment",
            modified_at=parse_cst(raw["updated_time"]),
            version=int(raw.get("version") or 0),
            raw=raw,
        )

    def map_bill(self, raw: dict) -> NormalizedBillLine:
        return NormalizedBillLine(
            platform=self.platform, platform_bill_id=text(raw["bill_id"]), platform_order_id=text(raw.get("order_sn")),
            kind=BILL_KIND.get(int(raw.get("bill_type") or 0), "other"), amount=money(raw.get("amount")),
            booked_at=parse_cst(raw["created_at"]), description=text(raw.get("type_name") or raw.get("memo")),
            raw=raw,
        )

    # -- pushes --------------------------------------------------------------------------------
    def push_stock(self, updates):
        results = []
        for update in updates:
            params = {"goods_id": update.platform_item_id, "quantity": int(update.quantity), "update_type": 1}
            if update.platform_sku_id and update.platform_sku_id != "0":
                params["sku_id"] = update.platform_sku_id
            else:
                params["outer_id"] = update.outer_id
            try:
                body = self._call("pdd.goods.quantity.update", params)
            except AdapterError as exc:
                if exc.retryable:
                    raise
                results.append(StockResult(update=update, ok=False, error=str(exc)))
                continue
            ok = bool(body.get("is_success"))
            results.append(StockResult(update=update, ok=ok, error="" if ok else f"not accepted: {body}"))
        return results

    def push_shipment(self, *, platform_order_id, carrier_code, tracking_no, lines=None):
        carrier = str(carrier_code).upper()
        logistics_id = int(carrier) if carrier.isdigit() else CARRIERS.get(carrier)
        if logistics_id is None:
            return ShipmentResult(ok=False, error=f"no PDD logistics id for {carrier_code!r}")
        try:
            body = self._call("pdd.logistics.online.send", {"order_sn": platform_order_id, "logistics_id": logistics_id,
                                                            "tracking_number": tracking_no})
        except AdapterError as exc:
            if "ALREADY_SHIPPED" in str(exc) and self._tracking(platform_order_id) == tracking_no:
                return ShipmentResult(ok=True, response={"already_sent": True})
            if exc.retryable:
                raise
            return ShipmentResult(ok=False, error=str(exc))
        ok = bool(body.get("is_success"))
        return ShipmentResult(ok=ok, error="" if ok else f"not accepted: {body}", response=body)

    def _tracking(self, order_sn: str) -> str:
        body = self._call("pdd.order.information.get", {"order_sn": order_sn})
        return text((body.get("order_info") or {}).get("tracking_number"))

    # -- refund decisions ------------------------------------------------------------------------
    # pdd.refund.agree (refund only, or after a return: the goods arrived) [confirmed name/params],
    # pdd.refund.returngoods.agree [mock], pdd.refund.reject [unverified]. Errors 52101 + sub_code.
    def push_refund_decision(self, decision):
        base = {"after_sales_id": decision.platform_refund_id, "order_sn": decision.platform_order_id}
        action = decision.action
        if action in (RefundAction.AGREE_REFUND, RefundAction.CONFIRM_RECEIPT):
            method, params = "pdd.refund.agree", {**base, "operate_desc": (decision.reason or "同意退款")[:200]}
        elif action == RefundAction.AGREE_RETURN:
            address = decision.return_address or {}
            method = "pdd.refund.returngoods.agree"
            params = {**base, "receiver_name": text(address.get("name")), "receiver_phone": text(address.get("phone")),
                      "receiver_address": text(address.get("address"))}
            if address.get("address_id"):
                params["address_id"] = address["address_id"]
        elif action == RefundAction.REFUSE:
            method, params = "pdd.refund.reject", {**base, "reject_reason": (decision.reason or "拒绝退款")[:200]}
        else:
            return RefundDecisionResult(ok=False, error=f"unknown refund action {action!r}")
        try:
            body = self._call(method, params)
        except AdapterError as exc:
            if "ALREADY_DONE" in str(exc):
                return RefundDecisionResult(ok=True, already=True, response={"already": True, "error": str(exc)})
            if exc.retryable:
                raise
            return RefundDecisionResult(ok=False, error=str(exc))
        result = body.get("result") or {}
        ok = bool(result.get("succ"))
        return RefundDecisionResult(ok=ok, error="" if ok else f"not accepted: {body}", response=result)

    # -- seller coupons: pdd.promotion.coupon.send / info.query / close (PROTOCOL.md) -------------
    def send_coupon(self, coupon):
        if coupon.kind != "amount":
            return CouponSendResult(ok=False, error="pdd: merchant coupons take an amount off; a percent coupon "
                                                    "cannot be sent")
        method = "pdd.promotion.coupon.send"
        params = {"request_id": coupon.request_id, "buyer_id": coupon.buyer_id, "discount": to_fen(coupon.amount_off),
                  "min_order_amount": to_fen(coupon.threshold), "end_time": unix(coupon.valid_until),
                  "batch_desc": (coupon.title or "")[:30]}
        if coupon.valid_from is not None:
            params["start_time"] = unix(coupon.valid_from)
        try:
            body = self._call(method, params)
        except AdapterError as exc:
            if exc.retryable:
                raise
            return CouponSendResult(ok=False, error=str(exc))
        ok = bool(body.get("success")) and bool(text(body.get("coupon_id")))
        return CouponSendResult(ok=ok, platform_coupon_id=text(body.get("coupon_id")), already=bool(body.get("is_repeat")),
                                error="" if ok else f"not accepted: {body}", response=body)

    def query_coupon(self, *, platform_coupon_id):
        info = self._call("pdd.promotion.coupon.info.query", {"coupon_id": platform_coupon_id}).get("coupon") or {}
        state = {0: "unused", 1: "used", 2: "expired", 3: "cancelled"}.get(int(info.get("status", -1)), "unknown") \
            if info else "unknown"
        return {"state": state, "order_id": text(info.get("order_sn")), "raw": info}

    def cancel_coupon(self, *, platform_coupon_id):
        try:
            body = self._call("pdd.promotion.coupon.close", {"coupon_id": platform_coupon_id})
        except AdapterError as exc:
            if "ALREADY_DONE" in str(exc):
                return CouponSendResult(ok=True, platform_coupon_id=platform_coupon_id, already=True)
            if exc.retryable:
                raise
            return CouponSendResult(ok=False, platform_coupon_id=platform_coupon_id, error=str(exc))
        return CouponSendResult(ok=bool(body.get("success")), platform_coupon_id=platform_coupon_id, response=body)
