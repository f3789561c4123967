"""Taobao / Tmall (TOP router): trades, refunds, bills, stock, offline shipment."""

from __future__ import annotations

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
from .common import ZERO, cst_text, fen, money, parse_cst, text, to_fen
from .router import RouterAdapter

TRADE_STATE = {
    "WAIT_BUYER_PAY": OrderState.UNPAID,
    "TRADE_NO_CREATE_PAY": OrderState.UNPAID,
    "WAIT_SELLER_SEND_GOODS": OrderState.PAID,
    "PAID_FORBID_CONSIGN": OrderState.PAID,
    "SELLER_CONSIGNED_PART": OrderState.PART_SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": OrderState.SHIPPED,
    "TRADE_BUYER_SIGNED": OrderState.COMPLETED,
    "TRADE_FINISHED": OrderState.COMPLETED,
    "TRADE_CLOSED": OrderState.CANCELLED,
    "TRADE_CLOSED_BY_TAOBAO": OrderState.CANCELLED,
}
LINE_REFUND = {
    "NO_REFUND": "", "": "",
    "WAIT_SELLER_AGREE": "requested", "WAIT_BUYER_RETURN_GOODS": "requested", "WAIT_SELLER_CONFIRM_GOODS": "requested",
    "SELLER_REFUSE_BUYER": "closed", "CLOSED": "closed", "SUCCESS": "refunded",
}
REFUND_STATUS = {
    "WAIT_SELLER_AGREE": "requested",
    "WAIT_BUYER_RETURN_GOODS": "wait_return",
    "WAIT_SELLER_CONFIRM_GOODS": "wait_return",
    "SELLER_REFUSE_BUYER": "refused",
    "CLOSED": "closed",
    "SUCCESS": "success",
}
BILL_ACCOUNT = {101: "sale", 201: "commission", 202: "service_fee", 301: "refund", 401: "freight"}


class Adapter(RouterAdapter):
    platform = "taobao"
    default_url = "https://eco.taobao.com/router/rest"
    max_window = timedelta(days=1)
    page_size = 100
    stock_batch_size = 50

    def system_params(self, method: str) -> dict:
        return {"method": method, "app_key": self.app_key, "session": self.access_token,
                "timestamp": cst_text(datetime.now().astimezone()), "format": "json", "v": "2.0", "sign_method": "md5"}

    def error_of(self, data: dict):
        error = data.get("error_response")
        if error is None:
            return None
        code = text(error.get("code"))
        sub_code = text(error.get("sub_code"))
        message = " ".join(filter(None, [text(error.get("msg")), sub_code, text(error.get("sub_msg"))]))
        transient = code in ("7", "520") or sub_code.startswith("isp.") or data.get("_http_status", 200) >= 500
        return (f"{code}{':' + sub_code if sub_code else ''}", message, transient)

    @staticmethod
    def _body(data: dict, method: str) -> dict:
        return data.get(method.removeprefix("taobao.").replace(".", "_") + "_response") or {}

    def platform_now(self):
        body = self._body(self.call("taobao.time.get"), "taobao.time.get")
        return parse_cst(body.get("time"))

    # -- pulls ---------------------------------------------------------------------------------
    def _list(self, method: str, params: dict, page: int, wrapper: str, item: str):
        params = {**params, "page_no": page, "page_size": self.page_size, "use_has_next": "false"}
        body = self._body(self.call(method, params), method)
        return (body.get(wrapper) or {}).get(item) or [], body.get("total_results") or 0

    def fetch_orders_page(self, *, start, end, page):
        raws, total = self._list("taobao.trades.sold.increment.get",
                                 {"start_modified": cst_text(start), "end_modified": cst_text(end),
                                  "fields": "tid,status,modified,orders"}, page, "trades", "trade")
        items, bad = self.map_many(self.map_order, raws)
        return self.page_of(items, total, page, bad)

    def fetch_refunds_page(self, *, start, end, page):
        raws, total = self._list("taobao.refunds.receive.get",
                                 {"start_modified": cst_text(start), "end_modified": cst_text(end)}, page,
                                 "refunds", "refund")
        items, bad = self.map_many(self.map_refund, raws)
        return self.page_of(items, total, page, bad)

    def fetch_bills_page(self, *, start, end, page):
        raws, total = self._list("taobao.bill.bills.get",
                                 {"start_time": cst_text(start), "end_time": cst_text(end), "time_type": 1}, page,
                                 "bills", "bill")
        items, bad = self.map_many(self.map_bill, raws)
        return self.page_of(items, total, page, bad)

    # -- mapping -------------------------------------------------------------------------------
    def map_order(self, raw: dict) -> NormalizedOrder:
        status = raw["status"]
        state = TRADE_STATE.get(status, OrderState.PAID)
        is_presale = raw.get("type") == "step" or bool(raw.get("step_trade_status"))
        step = text(raw.get("step_trade_status"))
        fully_paid = (not is_presale) or step in ("", "FRONT_PAID_FINAL_PAID")
        if is_presale and status == "WAIT_BUYER_PAY" and step == "FRONT_PAID_FINAL_NOPAID":
            state = OrderState.PAID  # deposit paid: stock is promised, but it must not ship yet
        blocked = "risk_review" if status == "PAID_FORBID_CONSIGN" else ""
        lines = []
        for sub in (raw.get("orders") or {}).get("order") or []:
            quantity = int(sub.get("num") or 0)
            price = money(sub.get("price"))
            paid = money(sub.get("divide_order_fee") or sub.get("payment"))
            lines.append(NormalizedLine(
                platform_line_id=text(sub.get("oid_str") or sub.get("oid")),
                platform_item_id=text(sub.get("num_iid")),
                platform_sku_id=text(sub.get("sku_id")),
                outer_id=text(sub.get("outer_sku_id") or sub.get("outer_iid")),
                title=text(sub.get("title")),
                quantity=quantity,
                price=price,
                discount=max(ZERO, price * quantity - paid),
                paid=paid,
                refund_status=LINE_REFUND.get(text(sub.get("refund_status")), "requested"),
                sku_properties=text(sub.get("sku_properties_name")),
                is_presale=bool(text(sub.get("estimate_con_time"))),
            ))
        goods = money(raw.get("total_fee"))
        freight = money(raw.get("post_fee"))
        paid_amount = money(raw.get("payment"))
        return NormalizedOrder(
            platform=self.platform,
            platform_order_id=text(raw.get("tid_str") or raw["tid"]),
            state=state,
            platform_status=status if not step else f"{status}/{step}",
            modified_at=parse_cst(raw["modified"]),
            created_at=parse_cst(raw.get("created")) or parse_cst(raw["modified"]),
            paid_at=parse_cst(raw.get("pay_time")),
            buyer_id=text(raw.get("buyer_open_uid") or raw.get("buyer_nick")),
            buyer_message=text(raw.get("buyer_message")),
            seller_memo=text(raw.get("seller_memo")),
            seller_flag=int(raw.get("seller_flag") or 0),
            receiver=NormalizedAddress(
                name=text(raw.get("receiver_name")), phone=text(raw.get("receiver_mobile") or raw.get("receiver_phone")),
                province=text(raw.get("receiver_state")), city=text(raw.get("receiver_city")),
                district=text(raw.get("receiver_district")),
                address=" ".join(filter(None, [text(raw.get("receiver_town")), text(raw.get("receiver_address"))])),
                merge_key=text(raw.get("oaid")),
            ),
            goods_amount=goods,
            discount_amount=goods + freight - paid_amount,
            freight_amount=freight,
            paid_amount=paid_amount,
            is_presale=is_presale,
            presale_fully_paid=fully_paid,
            ship_blocked_reason=blocked,
            lines=lines,
            coupons=_coupons(raw),
            raw=raw,
        )

    def map_refund(self, raw: dict) -> NormalizedRefund:
        status = text(raw["status"])
        return NormalizedRefund(
            platform=self.platform,
            platform_refund_id=text(raw["refund_id"]),
            platform_order_id=text(raw["tid"]),
            platform_line_id=text(raw.get("oid")),
            status=REFUND_STATUS.get(status, "requested"),
            platform_status=status,
            amount=money(raw.get("refund_fee")),
            reason=text(raw.get("reason")),
            has_goods_return=bool(raw.get("has_good_return")),
            phase="after_shipment" if raw.get("refund_phase") == "aftersale" else "before_shipment",
            modified_at=parse_cst(raw["modified"]),
            version=int(raw.get("refund_version") or 0),
            raw=raw,
        )

    def map_bill(self, raw: dict) -> NormalizedBillLine:
        return NormalizedBillLine(
            platform=self.platform,
            platform_bill_id=text(raw["bid"]),
            platform_order_id=text(raw.get("trade_id")),
            kind=BILL_ACCOUNT.get(int(raw.get("account_id") or 0), "other"),
            amount=fen(raw.get("amount")),
            booked_at=parse_cst(raw.get("book_time") or raw.get("biz_time")),
            description=text(raw.get("alipay_notice")),
            raw=raw,
        )

    # -- pushes --------------------------------------------------------------------------------
    def push_stock(self, updates):
        results = []
        for update in updates:
            params = {"num_iid": update.platform_item_id, "quantity": int(update.quantity), "type": 1}
            if update.platform_sku_id and update.platform_sku_id != "0":
                params["sku_id"] = update.platform_sku_id
            elif update.outer_id:
                params["outer_id"] = update.outer_id
            try:
                self.call("taobao.item.quantity.update", params)
                results.append(StockResult(update=update, ok=True))
            except AdapterError as exc:
                if exc.retryable:
                    raise
                results.append(StockResult(update=update, ok=False, error=str(exc)))
        return results

    def push_shipment(self, *, platform_order_id, carrier_code, tracking_no, lines=None):
        params = {"tid": platform_order_id, "out_sid": tracking_no, "company_code": carrier_code}
        if lines:
            params["sub_tid"] = ",".join(text(line.get("platform_line_id") if isinstance(line, dict) else line)
                                         for line in lines)
            params["is_split"] = 1
        try:
            data = self.call("taobao.logistics.offline.send", params)
        except AdapterError as exc:
            if "ALREADY_SENT" in str(exc) and self._already_shipped_with(platform_order_id, tracking_no):
                return ShipmentResult(ok=True, response={"already_sent": True})
            if exc.retryable:
                raise
            return ShipmentResult(ok=False, error=str(exc))
        body = self._body(data, "taobao.logistics.offline.send")
        ok = bool((body.get("shipping") or {}).get("is_success"))
        return ShipmentResult(ok=ok, error="" if ok else f"not accepted: {body}", response=body)

    def _already_shipped_with(self, tid: str, tracking_no: str) -> bool:
        body = self._body(self.call("taobao.trade.fullinfo.get", {"tid": tid, "fields": "tid,orders"}),
                          "taobao.trade.fullinfo.get")
        subs = ((body.get("trade") or {}).get("orders") or {}).get("order") or []
        return any(text(sub.get("invoice_no")) == tracking_no for sub in subs)


    # -- refund decisions ------------------------------------------------------------------------
    # agree (refund only) and confirm-receipt (after a return: pay the buyer) are both
    # taobao.rp.refunds.agree; a return is agreed with taobao.rp.returngoods.agree; refused with
    # taobao.refund.refuse. A decision the platform applied before answers ...:ALREADY_DONE [mock].
    def push_refund_decision(self, decision):
        phase = "aftersale" if decision.phase == "after_shipment" else "onsale"
        action = decision.action
        if action in (RefundAction.AGREE_REFUND, RefundAction.CONFIRM_RECEIPT):
            method = "taobao.rp.refunds.agree"
            amount = "" if decision.amount is None else str(to_fen(decision.amount))
            params = {"refund_infos": f"{decision.platform_refund_id}|{amount}|{int(decision.version or 0)}|{phase}"}
        elif action == RefundAction.AGREE_RETURN:
            method = "taobao.rp.returngoods.agree"
            address = decision.return_address or {}
            params = {"refund_id": decision.platform_refund_id, "name": text(address.get("name")),
                      "address": text(address.get("address")), "post": text(address.get("zip")),
                      "tel": text(address.get("phone")), "mobile": text(address.get("phone")),
                      "remark": decision.reason[:200], "refund_phase": phase,
                      "refund_version": int(decision.version or 0)}
            if address.get("seller_address_id"):
                params["seller_address_id"] = address["seller_address_id"]
            params = {k: v for k, v in params.items() if v not in ("", None)}
        elif action == RefundAction.REFUSE:
            method = "taobao.refund.refuse"
            params = {"refund_id": decision.platform_refund_id,
                      "refuse_message": (decision.reason or "").strip().ljust(2, "。")[:200],
                      "refund_phase": phase, "refund_version": int(decision.version or 0)}
        else:
            return RefundDecisionResult(ok=False, error=f"unknown refund action {action!r}")
        try:
            body = self._body(self.call(method, params), method)
        except AdapterError as exc:
            if "ALREADY_DONE" in exc.code:
                return RefundDecisionResult(ok=True, already=True, response={"already": True, "error": str(exc)})
            if exc.retryable:
                raise
            return RefundDecisionResult(ok=False, error=str(exc))
        ok = bool(body.get("succ", body.get("is_success")))
        if not ok and method == "taobao.rp.refunds.agree":
            results = (body.get("results") or {}).get("refund_mapping_result") or []
            if results and all("ALREADY_DONE" in text(r.get("message")) for r in results):
                return RefundDecisionResult(ok=True, already=True, response=body)
        return RefundDecisionResult(ok=ok, error="" if ok else f"not accepted: {body}", response=body)

    # -- seller coupons: taobao.promotion.coupon.send / coupondetail.get / coupon.cancel (PROTOCOL.md) --
    def send_coupon(self, coupon):
        if coupon.kind != "amount":
            return CouponSendResult(ok=False, error="taobao: shop coupons take an amount off; a percent coupon "
                                                    "cannot be sent")
        method = "taobao.promotion.coupon.send"
        params = {"buyer_open_uid": coupon.buyer_id, "unique_id": coupon.request_id,
                  "denominations": str(coupon.amount_off), "condition": str(coupon.threshold),
                  "end_time": cst_text(coupon.valid_until), "title": (coupon.title or "")[:30]}
        if coupon.valid_from is not None:
            params["start_time"] = cst_text(coupon.valid_from)
        try:
            body = self._body(self.call(method, params), method)
        except AdapterError as exc:
            if exc.retryable:
                raise
            return CouponSendResult(ok=False, error=str(exc))
        results = (body.get("coupon_results") or {}).get("coupon_result") or []
        number = text(results[0].get("coupon_number")) if results else ""
        ok = bool(body.get("is_success")) and bool(number)
        return CouponSendResult(ok=ok, platform_coupon_id=number, already=bool(body.get("already_sent")),
                                error="" if ok else f"not accepted: {body}", response=body)

    def query_coupon(self, *, platform_coupon_id):
        method = "taobao.promotion.coupondetail.get"
        body = self._body(self.call(method, {"coupon_number": platform_coupon_id}), method)
        details = (body.get("coupon_details") or {}).get("coupon_detail") or []
        if not details:
            return {"state": "unknown"}
        detail = details[0]
        state = {"unused": "unused", "using": "used", "invalid": "expired", "cancelled": "cancelled"}.get(
            text(detail.get("state")), "unknown")
        return {"state": state, "order_id": text(detail.get("tid")), "raw": detail}

    def cancel_coupon(self, *, platform_coupon_id):
        method = "taobao.promotion.coupon.cancel"
        try:
            body = self._body(self.call(method, {"coupon_number": platform_coupon_id}), method)
        except AdapterError as exc:
            if "ALREADY_DONE" in exc.code:
                return CouponSendResult(ok=True, platform_coupon_id=platform_coupon_id, already=True)
            if exc.retryable:
                raise
            return CouponSendResult(ok=False, platform_coupon_id=platform_coupon_id, error=str(exc))
        return CouponSendResult(ok=bool(body.get("is_success")), platform_coupon_id=platform_coupon_id, response=body)


def _coupons(raw: dict) -> list:
    """Seller coupons (店铺优惠券) the trade redeemed: promotion_details entries whose promotion_id is
    ``shopbonus-<coupon number>``."""
    out = []
    for detail in (raw.get("promotion_details") or {}).get("promotion_detail") or []:
        promotion_id = text(detail.get("promotion_id"))
        if promotion_id.startswith("shopbonus-") and promotion_id[len("shopbonus-"):]:
            out.append(NormalizedCoupon(platform_coupon_id=promotion_id[len("shopbonus-"):][:64],
                                        amount=money(detail.get("discount_fee"))))
    return out
