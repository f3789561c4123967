"""JD open platform (JOS routerjson) as the mock serves it. See PROTOCOL.md section 2."""

from __future__ import annotations

import json
from datetime import timedelta

from .base import (
    ApiError,
    Ctx,
    check_window,
    cst_time,
    in_window,
    newest_first,
    opt_int,
    page_args,
    page_of,
    page_of_orders,
    render_single,
    required,
)
from .scenario import Order, ScenarioError, fmt_cst, yuan

PLATFORM = "jd"
PATH = "/jd/routerjson"
TOKEN_PARAM = "access_token"
APP_PARAM = "app_key"
METHOD_PARAM = "method"

OK_RESULT = {"success": True, "code": "0", "chineseErrCode": "成功", "englishErrCode": "success"}
FEE_NAMES = {"sale": ("SALE", "货款"), "commission": ("COMMISSION", "佣金"), "service_fee": ("SERVICE_FEE", "平台服务费"),
             "refund": ("REFUND", "退款"), "freight": ("FREIGHT", "运费")}
REFUND_STATUS = {"requested": 0, "wait_return": 0, "wait_confirm": 0, "success": 1, "refused": 2, "closed": 11}
ALL_STATES = ("WAIT_SELLER_STOCK_OUT", "WAIT_SELLER_DELIVERY", "WAIT_GOODS_RECEIVE_CONFIRM", "FINISHED_L",
              "TRADE_CANCELED", "LOCKED", "POP_ORDER_PAUSE")


def error_body(err: ApiError) -> tuple[int, dict]:
    table = {
        "rate_limit": (429, "63", "调用频率超限", "Call frequency limit exceeded"),
        "server": (503, "66", "服务不可用", "Service unavailable"),
        "method": (200, "20", "无效的方法", "Invalid method"),
        "sign": (200, "14", "签名无效", "Invalid signature"),
        "token": (200, "19", "access_token无效", "Invalid access_token"),
        "app": (200, "16", "app_key无效", "Invalid app_key"),
        "missing": (200, "61", f"缺少参数: {err.detail}", f"Invalid arguments: missing {err.detail}"),
        "invalid": (200, "61", f"参数错误: {err.detail}", f"Invalid arguments: {err.detail}"),
        "business": (200, "61", err.detail, err.detail),
    }
    status, code, zh, en = table[err.kind]
    return status, {"error_response": {"code": code, "zh_desc": zh, "en_desc": en}}


def check_system(params: dict) -> None:
    for name in ("method", "app_key", "timestamp", "sign"):
        required(params, name)
    cst_time(params, "timestamp")


def business_params(params: dict) -> dict:
    raw = params.get("360buy_param_json") or "{}"
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiError("invalid", "360buy_param_json") from None
    if not isinstance(data, dict):
        raise ApiError("invalid", "360buy_param_json")
    return {k: ("" if v is None else (v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list))
                                      else str(v).lower() if isinstance(v, bool) else str(v)))
            for k, v in data.items()}


# ------------------------------------------------------------------------------------- renders
def order_state(order: Order) -> str:
    if order.status in ("paid", "unpaid"):
        if order.jd_locked:
            return "LOCKED"
        if order.risk_hold:
            return "POP_ORDER_PAUSE"
        return "WAIT_SELLER_STOCK_OUT"
    return {"shipped": "WAIT_GOODS_RECEIVE_CONFIRM", "finished": "FINISHED_L"}.get(order.status, "TRADE_CANCELED")


def render_order(order: Order) -> dict:
    r = order.receiver
    state = order_state(order)
    tracking = next((line.tracking_no for line in order.lines if line.tracking_no), "")
    carrier = next((line.carrier for line in order.lines if line.carrier), "")
    return {
        "orderId": order.id, "venderId": "", "orderType": "22", "payType": "4-在线支付",
        "orderTotalPrice": yuan(order.goods_amount), "orderSellerPrice": yuan(order.goods_amount - order.discount),
        "orderPayment": yuan(order.payment), "sellerDiscount": yuan(order.discount),
        "freightPrice": yuan(order.post_fee), "orderState": state, "orderStateRemark": state,
        "orderRemark": order.buyer_message, "venderRemark": order.seller_memo,
        "orderStartTime": fmt_cst(order.created), "orderEndTime": fmt_cst(order.end_time) or "",
        "paymentConfirmTime": fmt_cst(order.pay_time) or "", "modified": fmt_cst(order.modified),
        "waybill": tracking, "logisticsId": carrier, "pin": order.buyer_nick,
        "consigneeInfo": {"fullname": r.get("name", "")[0] + "**", "telephone": "",
                          "mobile": r.get("phone", "00000000000")[:3] + "****" + r.get("phone", "0000")[-4:],
                          "fullAddress": f"{r.get('province', '')}{r.get('city', '')}{r.get('district', '')}"
                                         f"{r.get('address', '')[:3]}**",
                          "province": r.get("province", ""), "city": r.get("city", ""),
                          "county": r.get("district", ""), "town": ""},
        "itemInfoList": [{"skuId": str(line.sku_id or line.item_id), "outerSkuId": line.outer_id,
                          "wareId": str(line.item_id), "skuName": f"{line.title} {line.props}".strip(),
                          "jdPrice": yuan(line.price), "itemTotal": str(line.qty), "productNo": line.item_outer_id}
                         for line in order.lines],
        "couponDetailList": [
            *({"orderId": order.id, "skuId": str(line.sku_id or line.item_id), "couponType": "20-套装优惠",
               "couponPrice": yuan(line.discount - line.coupon_share)}
              for line in order.lines if line.discount - line.coupon_share),
            *({"orderId": order.id, "skuId": str(line.sku_id or line.item_id), "couponType": "41-京东券优惠",
               "couponPrice": yuan(line.coupon_share), "couponId": order.coupon_id}
              for line in order.lines if line.coupon_share)],
    }


def render_refund(world, refund) -> dict:
    order = world.get_order(PLATFORM, refund.order_id)
    line = order.line(refund.line_ids[0])
    return {"id": int(refund.id), "orderId": refund.order_id, "buyerId": order.buyer_id, "buyerName": order.buyer_nick,
            "applyTime": fmt_cst(refund.created), "checkTime": fmt_cst(refund.checked) or "",
            "modified": fmt_cst(refund.modified), "applyRefundSum": refund.amount,
            "status": REFUND_STATUS[refund.status], "reason": refund.reason, "checkUserName": "",
            "skuId": str(line.sku_id or line.item_id) if len(refund.line_ids) == 1 else "",
            "outerSkuId": line.outer_id if len(refund.line_ids) == 1 else "",
            "afterShipment": refund.phase == "after"}


def render_bill(bill) -> dict:
    fee_type, name = FEE_NAMES[bill.kind]
    return {"billId": bill.id, "orderId": bill.order_id, "feeType": fee_type, "feeName": name,
            "amount": yuan(bill.amount), "billTime": fmt_cst(bill.booked_at), "skuId": str(bill.sku_id or "")}


def _with_vender(shop, rendered: dict) -> dict:
    rendered["venderId"] = shop.platform_shop_id
    return rendered


# ------------------------------------------------------------------------------------- methods
def pop_order_search(ctx: Ctx, p: dict) -> dict:
    start = cst_time(p, "start_date", needed=True)
    end = cst_time(p, "end_date", needed=True)
    check_window(start, end, timedelta(days=30), "end_date")
    page, size = page_args(p, "page", "page_size", 20)
    states = [s.strip() for s in str(p.get("order_state") or "").split(",") if s.strip()] or list(ALL_STATES)
    for s in states:
        if s not in ALL_STATES:
            raise ApiError("invalid", "order_state")
    by_created = opt_int(p, "dateType", 0, lo=0, hi=1) == 1

    def select():
        def key(o):
            return o.created if by_created else o.modified

        return newest_first((o for o in ctx.world.orders.values() if o.shop == ctx.shop.code and o.status != "unpaid"
                             and in_window(key(o), start, end) and order_state(o) in states), key=key)

    rendered, total, _ = page_of_orders(ctx, select, page, size, lambda o: _with_vender(ctx.shop, render_order(o)))
    return {"jingdong_pop_order_search_responce": {"code": "0", "searchorderinfo_result": {
        "apiResult": dict(OK_RESULT), "orderTotal": total, "orderInfoList": rendered}}}


def pop_order_get(ctx: Ctx, p: dict) -> dict:
    order_id = required(p, "order_id")
    order = ctx.world.get_order(PLATFORM, order_id)
    if order is None or order.shop != ctx.shop.code or order.status == "unpaid":
        return {"jingdong_pop_order_get_responce": {"code": "0", "orderDetailInfo": {"apiResult": {
            "success": False, "code": "10100001", "chineseErrCode": "订单不存在", "englishErrCode": "order not found"}}}}
    rendered = render_single(ctx, order, lambda o: _with_vender(ctx.shop, render_order(o)))
    return {"jingdong_pop_order_get_responce": {"code": "0", "orderDetailInfo": {
        "apiResult": dict(OK_RESULT), "orderInfo": rendered}}}


def afs_refundapply_querylist(ctx: Ctx, p: dict) -> dict:
    windows = {}
    for field_name, attr in (("apply_time", "created"), ("check_time", "checked"), ("modified", "modified")):
        start = cst_time(p, f"{field_name}_start")
        end = cst_time(p, f"{field_name}_end")
        check_window(start, end, timedelta(days=30), f"{field_name}_end")
        if start or end:
            windows[attr] = (start, end)
    page, size = page_args(p, "page_index", "page_size", 20)
    status = opt_int(p, "status")
    refund_id = p.get("id") or None
    order_id = p.get("order_id") or None
    refunds = [r for r in ctx.world.refunds.values() if r.shop == ctx.shop.code
               and all(in_window(getattr(r, attr), s, e) for attr, (s, e) in windows.items())
               and (status is None or REFUND_STATUS[r.status] == status)
               and (refund_id is None or r.id == str(refund_id)) and (order_id is None or r.order_id == str(order_id))]
    refunds.sort(key=lambda r: (r.modified, r.id), reverse=True)
    rendered, total, _ = page_of(ctx, refunds, page, size, lambda r: render_refund(ctx.world, r))
    return {"jingdong_pop_afs_refundapply_querylist_responce": {"code": "0", "refundApplyResponse": {
        "success": True, "totalCount": total, "results": rendered}}}


def settlement_bill_query(ctx: Ctx, p: dict) -> dict:
    order_id = p.get("order_id") or None
    start = cst_time(p, "start_time", needed=order_id is None)
    end = cst_time(p, "end_time", needed=order_id is None)
    check_window(start, end, timedelta(days=1), "end_time")
    page, size = page_args(p, "page", "page_size", 20)
    bills = [b for b in ctx.world.bills if b.shop == ctx.shop.code and in_window(b.booked_at, start, end)
             and (order_id is None or b.order_id == str(order_id))]
    bills.sort(key=lambda b: (b.booked_at, b.id), reverse=True)
    rendered, total, has_next = page_of(ctx, bills, page, size, render_bill)
    return {"jingdong_pop_settlement_bill_query_responce": {"code": "0", "result": {
        "totalCount": total, "hasNext": has_next, "billList": rendered}}}


def stock_update_sku_stock(ctx: Ctx, p: dict) -> dict:
    sku_id = required(p, "skuId")
    stock = opt_int(p, "stockNum")
    if stock is None:
        raise ApiError("missing", "stockNum")
    world = ctx.world
    listing = world.find_listing(ctx.shop.code, sku_id=sku_id)
    if listing is None:  # items without SKU variants are addressed by their ware id
        listing = world.find_listing(ctx.shop.code, item_id=sku_id)
    try:
        world.update_stock(ctx.shop, method=ctx.method, listing=listing, mode="full", quantity=stock,
                           ids={"sku_id": sku_id})
    except ScenarioError as exc:
        return {"jingdong_stock_write_updateSkuStock_responce": {"code": "0", "success": False,
                                                                  "errorCode": exc.code, "errorMsg": exc.message}}
    return {"jingdong_stock_write_updateSkuStock_responce": {"code": "0", "success": True}}


SHIP_CODES = {"ORDER_NOT_FOUND": "10400001", "ALREADY_SENT": "10400003"}


def pop_order_shipment(ctx: Ctx, p: dict) -> dict:
    order_id = required(p, "orderId")
    carrier = required(p, "logiCoprId")
    tracking = required(p, "logiNo")
    try:
        ctx.world.ship_via_api(ctx.shop, order_id, carrier=carrier, tracking_no=tracking)
    except ScenarioError as exc:
        code = SHIP_CODES.get(exc.code, "10400002")
        return {"jingdong_pop_order_shipment_responce": {"code": "0", "sopjosshipment_result": {
            "success": False, "code": code, "chineseErrCode": exc.message, "englishErrCode": exc.code}}}
    return {"jingdong_pop_order_shipment_responce": {"code": "0", "sopjosshipment_result": dict(OK_RESULT)}}


# ------------------------------------------------------------------------ seller refund decisions
def _reply(key: str, success: bool, code: str = "0", message: str = "成功") -> dict:
    return {key: {"code": "0", "replyResult": {"success": success, "errorCode": code, "errorMessage": message}}}


def _jd_decide(ctx: Ctx, key: str, refund_id: str, decision: str, params: dict) -> dict:
    try:
        ctx.world.seller_decide(ctx.shop, method=ctx.method, refund_id=refund_id, decision=decision, params=params)
    except ScenarioError as exc:
        return _reply(key, False, exc.code, exc.message)
    return _reply(key, True)


def afs_refundapply_reply_refund(ctx: Ctx, p: dict) -> dict:
    """jingdong.pop.afs.soa.refundapply.replyRefund [confirmed name/params]: ``status`` 1 approve (after a
    return: the goods arrived, pay the buyer), 2 refuse; ``id``, ``checkUserName``, ``remark`` (required
    except when approving), ``rejectType``, ``outWareStatus``. Business results in ``replyResult``."""
    key = "jingdong_pop_afs_soa_refundapply_replyRefund_responce"
    status = opt_int(p, "status", lo=1, hi=10)
    if status not in (1, 2):
        raise ApiError("invalid", "status")
    refund_id = required(p, "id")
    required(p, "checkUserName")
    if status == 2:
        required(p, "remark")
    refund = ctx.world.refunds.get((PLATFORM, str(refund_id)))
    decision = "refuse" if status == 2 else (
        "confirm_receipt" if refund is not None and refund.status == "wait_confirm" else "agree_refund")
    return _jd_decide(ctx, key, refund_id, decision, {k: p.get(k) for k in ("status", "checkUserName", "remark",
                                                                          "rejectType", "outWareStatus")
                                                     if p.get(k) not in (None, "")})


def afs_returnapply_agree(ctx: Ctx, p: dict) -> dict:
    """[mock] the seller agrees a return (JD's real after-shipment returns go through the afsservice APIs):
    ``id``, ``checkUserName``, ``contactName``, ``contactTel``, ``returnAddress``."""
    key = "jingdong_pop_afs_soa_returnapply_agree_responce"
    refund_id = required(p, "id")
    required(p, "checkUserName")
    required(p, "returnAddress")
    return _jd_decide(ctx, key, refund_id, "agree_return", {k: p.get(k) for k in ("checkUserName", "contactName",
                                                                                "contactTel", "returnAddress")
                                                           if p.get(k) not in (None, "")})


# ------------------------------------------------------------------------------- seller coupons
COUPON_STATE = {"unused": 1, "used": 2, "expired": 3, "cancelled": 4}


def _yuan_fen(p: dict, name: str, *, needed: bool) -> int:
    from decimal import Decimal, InvalidOperation

    value = p.get(name)
    if value in (None, ""):
        if needed:
            raise ApiError("missing", name)
        return 0
    try:
        amount = Decimal(str(value).strip())
        if not amount.is_finite():
            raise InvalidOperation
    except (ArithmeticError, ValueError):
        raise ApiError("invalid", name) from None
    return int((amount * 100).to_integral_value())


def _coupon_reply(key: str, body: dict) -> dict:
    return {key: {"code": "0", **body}}


def render_coupon(world, coupon) -> dict:
    return {"couponId": coupon.id, "requestId": coupon.request_id, "pin": coupon.buyer, "name": coupon.title,
            "discount": yuan(coupon.amount), "quota": yuan(coupon.threshold), "beginTime": fmt_cst(coupon.start),
            "endTime": fmt_cst(coupon.end), "state": COUPON_STATE[coupon.state(world.now)],
            "orderId": coupon.order_id}


def pop_coupon_send(ctx: Ctx, p: dict) -> dict:
    """jingdong.pop.coupon.send [mock, after the jingdong.pop.coupon.* family]: a shop coupon (店铺东券) to
    one buyer ``pin``: ``discount`` off orders from ``quota`` (yuan), ``beginTime`` / ``endTime``,
    ``name``; ``requestId`` makes a resend answer the coupon it made (``repeated`` true). Business
    results come in ``sendResult`` (``success``, ``code``, ``message``), as JD's write APIs do."""
    key = "jingdong_pop_coupon_send_responce"
    pin = required(p, "pin")
    request_id = required(p, "requestId")
    amount = _yuan_fen(p, "discount", needed=True)
    threshold = _yuan_fen(p, "quota", needed=False)
    end = cst_time(p, "endTime", needed=True)
    start = cst_time(p, "beginTime")
    try:
        coupon, already = ctx.world.send_coupon(ctx.shop, method=ctx.method, request_id=request_id, buyer=pin,
                                                amount=amount, threshold=threshold, start=start, end=end,
                                                title=str(p.get("name") or ""))
    except ScenarioError as exc:
        return _coupon_reply(key, {"sendResult": {"success": False, "code": exc.code, "message": exc.message}})
    return _coupon_reply(key, {"sendResult": {"success": True, "code": "0", "message": "成功", "couponId": coupon.id,
                                              "repeated": already}})


def pop_coupon_query(ctx: Ctx, p: dict) -> dict:
    """jingdong.pop.coupon.query [mock]: one coupon by ``couponId`` (or ``requestId``)."""
    coupon_id = str(p.get("couponId") or "").strip()
    if not coupon_id:
        found = ctx.world.coupon_requests.get((ctx.shop.code, required(p, "requestId")))
        coupon_id = found[1] if found else ""
    try:
        coupon = ctx.world.get_coupon(ctx.shop, coupon_id) if coupon_id else None
    except ScenarioError:
        coupon = None
    return _coupon_reply("jingdong_pop_coupon_query_responce",
                         {"couponInfo": render_coupon(ctx.world, coupon) if coupon else None})


def pop_coupon_cancel(ctx: Ctx, p: dict) -> dict:
    """jingdong.pop.coupon.cancel [mock]: withdraw an unused coupon (``couponId``)."""
    key = "jingdong_pop_coupon_cancel_responce"
    try:
        ctx.world.cancel_coupon(ctx.shop, required(p, "couponId"))
    except ScenarioError as exc:
        return _coupon_reply(key, {"cancelResult": {"success": False, "code": exc.code, "message": exc.message}})
    return _coupon_reply(key, {"cancelResult": {"success": True, "code": "0", "message": "成功"}})


def time_get(ctx: Ctx, p: dict) -> dict:
    """Mock extension (JD has no documented clock method): the simulated platform time, so a client
    can end its pull windows at the platform's "now" as it does on Taobao and Pinduoduo."""
    return {"jingdong_time_get_responce": {"code": "0", "time": fmt_cst(ctx.world.now)}}


METHODS = {
    "jingdong.time.get": (time_get, "read"),
    "jingdong.pop.order.search": (pop_order_search, "orders"),
    "jingdong.pop.order.get": (pop_order_get, "order"),
    "jingdong.pop.afs.refundapply.querylist": (afs_refundapply_querylist, "list"),
    "jingdong.pop.settlement.bill.query": (settlement_bill_query, "list"),
    "jingdong.stock.write.updateSkuStock": (stock_update_sku_stock, "write"),
    "jingdong.pop.order.shipment": (pop_order_shipment, "write"),
    "jingdong.pop.afs.soa.refundapply.replyRefund": (afs_refundapply_reply_refund, "write"),
    "jingdong.pop.afs.soa.returnapply.agree": (afs_returnapply_agree, "write"),
    "jingdong.pop.coupon.send": (pop_coupon_send, "write"),
    "jingdong.pop.coupon.query": (pop_coupon_query, "read"),
    "jingdong.pop.coupon.cancel": (pop_coupon_cancel, "write"),
}
