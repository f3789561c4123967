"""JD (JOS router): order search, refund applications, settlement bills, stock, shipment.

JD line ids are the ``skuId`` (unique per order and the only id a refund application carries)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

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
from .common import ZERO, cst_text, fen, money, parse_cst, text
from .router import RouterAdapter

ORDER_STATE = {
    "WAIT_SELLER_STOCK_OUT": OrderState.PAID,
    "WAIT_SELLER_DELIVERY": OrderState.PAID,
    "LOCKED": OrderState.PAID,
    "POP_ORDER_PAUSE": OrderState.PAID,
    "WAIT_GOODS_RECEIVE_CONFIRM": OrderState.SHIPPED,
    "FINISHED_L": OrderState.COMPLETED,
    "TRADE_CANCELED": OrderState.CANCELLED,
}
BLOCKED = {"LOCKED": "cancel_requested", "POP_ORDER_PAUSE": "risk_review"}
REFUND_STATUS = {0: "requested", 1: "success", 2: "refused", 11: "closed"}
FEE_KIND = {"SALE": "sale", "COMMISSION": "commission", "SERVICE_FEE": "service_fee", "REFUND": "refund",
            "FREIGHT": "freight"}
# carrier code -> JD logistics company id (logiCoprId); a numeric code passes through.
CARRIERS = {"SF": 467, "YTO": 463, "ZTO": 1499, "STO": 470, "YUNDA": 1327, "EMS": 465, "JD": 2087, "BEST": 3046}


class Adapter(RouterAdapter):
    platform = "jd"
    default_url = "https://api.jd.com/routerjson"
    max_window = timedelta(days=1)
    page_size = 100
    stock_batch_size = 50
    _no_clock = False

    def system_params(self, method: str) -> dict:
        return {"method": method, "app_key": self.app_key, "access_token": self.access_token,
                "timestamp": cst_text(datetime.now().astimezone()), "v": "2.0"}

    def build_params(self, method: str, params: dict) -> dict:
        from .common import signed

        business = json.dumps(params, separators=(",", ":"), ensure_ascii=False, default=str)
        return signed({**self.system_params(method), "360buy_param_json": business}, self.app_secret)

    def error_of(self, data: dict):
        error = data.get("error_response")
        if error is None:
            return None
        code = text(error.get("code"))
        message = text(error.get("en_desc") or error.get("zh_desc"))
        return (code, message, code in ("63", "66") or data.get("_http_status", 200) >= 500)

    @staticmethod
    def _body(data: dict, method: str) -> dict:
        return data.get(method.replace(".", "_") + "_responce") or {}

    def platform_now(self):
        if self._no_clock:
            return None
        try:
            body = self._body(self.call("jingdong.time.get"), "jingdong.time.get")
        except AdapterError as exc:
            if exc.code == "20":  # the platform has no clock method: use ours
                type(self)._no_clock = True
                return None
            raise
        return parse_cst(body.get("time"))

    # -- pulls ---------------------------------------------------------------------------------
    def fetch_orders_page(self, *, start, end, page):
        method = "jingdong.pop.order.search"
        body = self._body(self.call(method, {"start_date": cst_text(start), "end_date": cst_text(end), "page": page,
                                             "page_size": self.page_size, "dateType": 0}), method)
        result = body.get("searchorderinfo_result") or {}
        api = result.get("apiResult") or {}
        if api and api.get("success") is False:
            raise AdapterError(f"jd {method}: {api.get('code')} {api.get('englishErrCode')}", code=text(api.get("code")))
        items, bad = self.map_many(self.map_order, result.get("orderInfoList") or [])
        return self.page_of(items, result.get("orderTotal") or 0, page, bad)

    def fetch_refunds_page(self, *, start, end, page):
        method = "jingdong.pop.afs.refundapply.querylist"
        body = self._body(self.call(method, {"modified_start": cst_text(start), "modified_end": cst_text(end),
                                             "page_index": page, "page_size": self.page_size}), method)
        result = body.get("refundApplyResponse") or {}
        items, bad = self.map_many(self.map_refund, result.get("results") or [])
        return self.page_of(items, result.get("totalCount") or 0, page, bad)

    def fetch_bills_page(self, *, start, end, page):
        method = "jingdong.pop.settlement.bill.query"
        body = self._body(self.call(method, {"start_time": cst_text(start), "end_time": cst_text(end), "page": page,
                                             "page_size": self.page_size}), method)
        result = body.get("result") or {}
        items, bad = self.map_many(self.map_bill, result.get("billList") or [])
        return self.page_of(items, result.get("totalCount") or 0, page, bad)

    # -- mapping -------------------------------------------------------------------------------
    def map_order(self, raw: dict) -> NormalizedOrder:
        state_text = text(raw["orderState"])
        coupons: dict[str, object] = {}
        redeemed: dict[str, object] = {}  # seller coupons (41-京东券优惠 with a couponId): id -> discount
        for coupon in raw.get("couponDetailList") or []:
            sku = text(coupon.get("skuId"))
            coupons[sku] = coupons.get(sku, ZERO) + money(coupon.get("couponPrice"))
            coupon_id = text(coupon.get("couponId"))
            if coupon_id:
                redeemed[coupon_id] = redeemed.get(coupon_id, ZERO) + money(coupon.get("couponPrice"))
        lines = []
        for item in raw.get("itemInfoList") or []:
            sku_id = text(item.get("skuId"))
            quantity = int(item.get("itemTotal") or 0)
            price = money(item.get("jdPrice"))
            discount = coupons.get(sku_id, ZERO)
            lines.append(NormalizedLine(
                platform_line_id=sku_id, platform_item_id=text(item.get("wareId")), platform_sku_id=sku_id,
                outer_id=text(item.get("outerSkuId") or item.get("productNo")), title=text(item.get("skuName")),
                quantity=quantity, price=price, discount=discount, paid=price * quantity - discount,
            ))
        consignee = raw.get("consigneeInfo") or {}
        return NormalizedOrder(
            platform=self.platform,
            platform_order_id=text(raw["orderId"]),
            state=ORDER_STATE.get(state_text, OrderState.PAID),
            platform_status=state_text,
            modified_at=parse_cst(raw["modified"]),
            created_at=parse_cst(raw.get("orderStartTime")) or parse_cst(raw["modified"]),
            paid_at=parse_cst(raw.get("paymentConfirmTime")),
            buyer_id=text(raw.get("pin")),
            buyer_message=text(raw.get("orderRemark")),
            seller_memo=text(raw.get("venderRemark")),
            receiver=NormalizedAddress(
                name=text(consignee.get("fullname")), phone=text(consignee.get("mobile") or consignee.get("telephone")),
                province=text(consignee.get("province")), city=text(consignee.get("city")),
                district=text(consignee.get("county")), address=text(consignee.get("fullAddress")),
            ),
            goods_amount=money(raw.get("orderTotalPrice")),
            discount_amount=money(raw.get("sellerDiscount")),
            freight_amount=money(raw.get("freightPrice")),
            paid_amount=money(raw.get("orderPayment")),
            ship_blocked_reason=BLOCKED.get(state_text, ""),
            lines=lines,
            coupons=[NormalizedCoupon(platform_coupon_id=cid[:64], amount=amount) for cid, amount in redeemed.items()],
            raw=raw,
        )

    def map_refund(self, raw: dict) -> NormalizedRefund:
        status = int(raw["status"])
        modified = parse_cst(raw.get("modified") or raw.get("checkTime") or raw.get("applyTime"))
        after = bool(raw.get("afterShipment"))
        return NormalizedRefund(
            platform=self.platform,
            platform_refund_id=text(raw["id"]),
            platform_order_id=text(raw["orderId"]),
            platform_line_id=text(raw.get("skuId")),
            status=REFUND_STATUS.get(status, "requested"),
            platform_status=str(status),
            amount=fen(raw.get("applyRefundSum")),
            reason=text(raw.get("reason")),
            has_goods_return=after,
            phase="after_shipment" if after else "before_shipment",
            modified_at=modified,
            version=0,
            raw=raw,
        )

    def map_bill(self, raw: dict) -> NormalizedBillLine:
        return NormalizedBillLine(
            platform=self.platform, platform_bill_id=text(raw["billId"]), platform_order_id=text(raw.get("orderId")),
            kind=FEE_KIND.get(text(raw.get("feeType")).upper(), "other"), amount=money(raw.get("amount")),
            booked_at=parse_cst(raw["billTime"]), description=text(raw.get("feeName")), raw=raw,
        )

    # -- pushes --------------------------------------------------------------------------------
    def push_stock(self, updates):
        method = "jingdong.stock.write.updateSkuStock"
        results = []
        for update in updates:
            try:
                body = self._body(self.call(method, {"skuId": update.platform_sku_id,
                                                     "stockNum": int(update.quantity)}), method)
            except AdapterError as exc:
                if exc.retryable:
                    raise
                results.append(StockResult(update=update, ok=False, error=str(exc)))
                continue
            if body.get("success") is False:
                results.append(StockResult(update=update, ok=False,
                                           error=f"{body.get('errorCode')} {body.get('errorMsg')}"))
            else:
                results.append(StockResult(update=update, ok=True))
        return results

    def push_shipment(self, *, platform_order_id, carrier_code, tracking_no, lines=None):
        method = "jingdong.pop.order.shipment"
        carrier = str(carrier_code).upper()
        company = int(carrier) if carrier.isdigit() else CARRIERS.get(carrier)
        if company is None:
            return ShipmentResult(ok=False, error=f"no JD carrier id for {carrier_code!r}")
        try:
            body = self._body(self.call(method, {"orderId": platform_order_id, "logiCoprId": company,
                                                 "logiNo": tracking_no}), method)
        except AdapterError as exc:
            if exc.retryable:
                raise
            return ShipmentResult(ok=False, error=str(exc))
        result = body.get("sopjosshipment_result") or {}
        if result.get("success"):
            return ShipmentResult(ok=True, response=result)
        if text(result.get("code")) == "10400003" and self._waybill(platform_order_id) == tracking_no:
            return ShipmentResult(ok=True, response={**result, "already_sent": True})
        return ShipmentResult(ok=False, error=f"{result.get('code')} {result.get('englishErrCode')}", response=result)

    def _waybill(self, order_id: str) -> str:
        method = "jingdong.pop.order.get"
        body = self._body(self.call(method, {"order_id": order_id}), method)
        return text(((body.get("orderDetailInfo") or {}).get("orderInfo") or {}).get("waybill"))

    # -- refund decisions ------------------------------------------------------------------------
    # jingdong.pop.afs.soa.refundapply.replyRefund: status 1 approves (refund only, or after a return:
    # the goods arrived), 2 refuses (rejectType 5 = other); a return is agreed with the mock's
    # jingdong.pop.afs.soa.returnapply.agree [mock]. Results come in ``replyResult``.
    def push_refund_decision(self, decision):
        operator = (decision.operator or "erp")[:50]
        action = decision.action
        if action in (RefundAction.AGREE_REFUND, RefundAction.CONFIRM_RECEIPT, RefundAction.REFUSE):
            method = "jingdong.pop.afs.soa.refundapply.replyRefund"
            refuse = action == RefundAction.REFUSE
            params = {"status": 2 if refuse else 1, "id": decision.platform_refund_id, "checkUserName": operator,
                      "remark": (decision.reason or ("同意退款" if not refuse else "拒绝退款"))[:200]}
            if refuse:
                params["rejectType"] = 5
        elif action == RefundAction.AGREE_RETURN:
            method = "jingdong.pop.afs.soa.returnapply.agree"
            address = decision.return_address or {}
            params = {"id": decision.platform_refund_id, "checkUserName": operator,
                      "contactName": text(address.get("name")), "contactTel": text(address.get("phone")),
                      "returnAddress": text(address.get("address"))}
        else:
            return RefundDecisionResult(ok=False, error=f"unknown refund action {action!r}")
        try:
            body = self._body(self.call(method, params), method)
        except AdapterError as exc:
            if exc.retryable:
                raise
            return RefundDecisionResult(ok=False, error=str(exc))
        result = body.get("replyResult") or {}
        if result.get("success"):
            return RefundDecisionResult(ok=True, response=result)
        if text(result.get("errorCode")) == "ALREADY_DONE":
            return RefundDecisionResult(ok=True, already=True, response=result)
        return RefundDecisionResult(ok=False, error=f"{result.get('errorCode')} {result.get('errorMessage')}",
                                    response=result)

    # -- seller coupons: jingdong.pop.coupon.send / query / cancel (PROTOCOL.md) ------------------
    def send_coupon(self, coupon):
        if coupon.kind != "amount":
            return CouponSendResult(ok=False, error="jd: shop coupons take an amount off; a percent coupon cannot be sent")
        method = "jingdong.pop.coupon.send"
        params = {"requestId": coupon.request_id, "pin": coupon.buyer_id, "discount": str(coupon.amount_off),
                  "quota": str(coupon.threshold), "endTime": cst_text(coupon.valid_until),
                  "name": (coupon.title or "")[:30]}
        if coupon.valid_from is not None:
            params["beginTime"] = cst_text(coupon.valid_from)
        try:
            body = self._body(self.call(method, params), method)
        except AdapterError as exc:
            if exc.retryable:
                raise
            return CouponSendResult(ok=False, error=str(exc))
        result = body.get("sendResult") or {}
        ok = bool(result.get("success")) and bool(text(result.get("couponId")))
        return CouponSendResult(ok=ok, platform_coupon_id=text(result.get("couponId")),
                                already=bool(result.get("repeated")),
                                error="" if ok else f"{text(result.get('code'))} {text(result.get('message'))}".strip(),
                                response=body)

    def query_coupon(self, *, platform_coupon_id):
        method = "jingdong.pop.coupon.query"
        info = self._body(self.call(method, {"couponId": platform_coupon_id}), method).get("couponInfo") or {}
        state = {1: "unused", 2: "used", 3: "expired", 4: "cancelled"}.get(int(info.get("state") or 0), "unknown")
        return {"state": state, "order_id": text(info.get("orderId")), "raw": info}

    def cancel_coupon(self, *, platform_coupon_id):
        method = "jingdong.pop.coupon.cancel"
        try:
            body = self._body(self.call(method, {"couponId": platform_coupon_id}), method)
        except AdapterError as exc:
            if exc.retryable:
                raise
            return CouponSendResult(ok=False, platform_coupon_id=platform_coupon_id, error=str(exc))
        result = body.get("cancelResult") or {}
        if not result.get("success") and text(result.get("code")) == "ALREADY_DONE":
            return CouponSendResult(ok=True, platform_coupon_id=platform_coupon_id, already=True, response=body)
        return CouponSendResult(ok=bool(result.get("success")), platform_coupon_id=platform_coupon_id,
                                error="" if result.get("success") else text(result.get("message")), response=body)
