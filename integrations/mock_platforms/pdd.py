"""Pinduoduo open platform (POP router) as the mock serves it. See PROTOCOL.md section 3."""

from __future__ import annotations

from datetime import timedelta

from .base import (
    ApiError,
    Ctx,
    check_window,
    error_envelope,
    in_window,
    newest_first,
    opt_bool,
    opt_int,
    page_args,
    page_of,
    page_of_orders,
    render_single,
    required,
    unix_time,
)
from .scenario import REFUND_OPEN, Order, ScenarioError, fmt_cst, unix, yuan_num

PLATFORM = "pdd"
PATH = "/pdd/api/router"
TOKEN_PARAM = "access_token"
APP_PARAM = "client_id"
METHOD_PARAM = "type"

AFTER_SALES_STATUS = {"requested": 2, "wait_return": 7, "wait_confirm": 3, "success": 10, "closed": 11, "refused": 6}
BILL_TYPES = {"sale": (1, "交易收入"), "refund": (2, "退款"), "commission": (3, "技术服务费"),
              "service_fee": (4, "其他服务"), "freight": (5, "运费")}
REMARK_TAG_NAMES = {0: "", 1: "红色", 2: "黄色", 3: "绿色", 4: "蓝色", 5: "紫色"}


def error_body(err: ApiError) -> tuple[int, dict]:
    table = {
        "rate_limit": (429, 70031, "调用已被限流", "70031", "rate limited"),
        "server": (503, 50000, "系统内部错误", "50000", "service unavailable"),
        "method": (200, 10001, "未知的接口 type", "", ""),
        "sign": (200, 10035, "签名错误", "10035", "sign check failed"),
        "token": (200, 10019, "access_token已过期", "10019", "access_token invalid"),
        "app": (200, 10016, "client_id不存在", "", ""),
        "missing": (200, 10000, "参数错误", "10000", f"missing {err.detail}"),
        "invalid": (200, 10000, "参数错误", "10000", f"invalid {err.detail}"),
        "business": (200, 52101, "业务错误", err.sub_code, err.detail),
    }
    status, code, msg, sub_code, sub_msg = table[err.kind]
    return status, error_envelope({"error_code": code, "error_msg": msg, "request_id": "mock"}, sub_code, sub_msg)


def check_system(params: dict) -> None:
    for name in ("type", "client_id", "timestamp", "sign"):
        required(params, name)
    unix_time(params, "timestamp")
    data_type = str(params.get("data_type") or "JSON")
    if data_type != "JSON":
        raise ApiError("invalid", "data_type")


# ------------------------------------------------------------------------------------- renders
def order_status(order: Order) -> int:
    if order.status in ("shipped",):
        return 2
    if order.status == "finished":
        return 3
    if order.status == "closed" and any(line.shipped for line in order.lines):
        return 2
    return 1


def _open_refunds(world, order: Order):
    return sorted((r for r in world.refunds.values() if r.platform == PLATFORM and r.order_id == order.id),
                  key=lambda r: (r.modified, r.id))


def refund_status(order: Order) -> int:
    if all(line.refund_status == "success" for line in order.lines):
        return 4
    if any(line.refund_status in REFUND_OPEN for line in order.lines):
        return 2
    return 1


def render_order(world, order: Order) -> dict:
    r = order.receiver
    refunds = _open_refunds(world, order)
    tracking = next((line.tracking_no for line in order.lines if line.tracking_no), "")
    carrier = next((line.carrier for line in order.lines if line.carrier), "")
    data = {
        "order_sn": order.id, "order_status": order_status(order), "refund_status": refund_status(order),
        "after_sales_status": AFTER_SALES_STATUS[refunds[-1].status] if refunds else 0,
        "confirm_status": 1 if order.confirm_time else 0, "group_status": order.group_status,
        "risk_control_status": 1 if order.risk_hold else 0, "trade_type": 1 if order.presale else 0,
        "is_pre_sale": 0, "is_lucky_flag": 1,
        "goods_amount": yuan_num(order.goods_amount),
        "discount_amount": yuan_num(order.discount + order.platform_discount),
        "platform_discount": yuan_num(order.platform_discount), "seller_discount": yuan_num(order.discount),
        "capital_free_discount": 0.0, "postage": yuan_num(order.post_fee),
        "pay_amount": yuan_num(order.payment - order.platform_discount), "pay_type": "WEIXIN",
        "created_time": fmt_cst(order.created), "pay_time": fmt_cst(order.pay_time) or "",
        "confirm_time": fmt_cst(order.confirm_time) or "", "updated_at": fmt_cst(order.modified),
        "last_ship_time": fmt_cst((order.confirm_time or order.created) + timedelta(hours=48)),
        "shipping_time": fmt_cst(order.consign_time) or "",
        "receive_time": fmt_cst(order.end_time) if order.status == "finished" else "",
        "buyer_memo": order.buyer_message, "remark": order.seller_memo, "remark_tag": order.seller_flag,
        "remark_tag_name": REMARK_TAG_NAMES.get(order.seller_flag, ""),
        "receiver_name_mask": r.get("name", "")[0] + "*", "receiver_phone_mask":
            r.get("phone", "00000000000")[:3] + "****" + r.get("phone", "0000")[-4:],
        "receiver_address_mask": r.get("address", "")[:3] + "**", "address_mask": r.get("address", "")[:3] + "**",
        "province": r.get("province", ""), "city": r.get("city", ""), "town": r.get("district", ""),
        "open_address_id": order.merge_key,
        "item_list": [{"goods_id": line.item_id, "sku_id": line.sku_id, "outer_id": line.outer_id,
                       "outer_goods_id": line.item_outer_id, "goods_name": line.title, "goods_spec": line.props,
                       "goods_count": line.qty, "goods_price": yuan_num(line.price)} for line in order.lines],
        "tracking_number": tracking, "logistics_id": int(carrier) if carrier.isdigit() else 0,
    }
    if order.coupon_id:  # [mock] a merchant coupon redeemed (promotion_type 16: 店铺优惠券)
        data["promotion_detail_list"] = [{"promotion_type": 16, "promotion_id": order.coupon_id,
                                          "discount_amount": yuan_num(order.coupon_amount)}]
    if order.presale:
        data["step_order_info"] = {"step_trade_status": 2 if order.step == "final_paid" else 1,
                                   "advanced_paid_fee": yuan_num(order.deposit),
                                   "step_paid_fee": yuan_num(order.payment if order.step == "final_paid" else
                                                             order.deposit)}
    return data


def render_refund(world, refund) -> dict:
    order = world.get_order(PLATFORM, refund.order_id)
    line = order.line(refund.line_ids[0])
    return {"id": int(refund.id), "order_sn": refund.order_id, "after_sales_status": AFTER_SALES_STATUS[refund.status],
            "after_sales_type": 3 if refund.return_goods else 2, "after_sale_reason": refund.reason,
            "order_amount": yuan_num(order.payment - order.platform_discount),
            "refund_amount": yuan_num(refund.amount), "discount_amount": yuan_num(order.discount),
            "goods_id": line.item_id, "goods_name": line.title, "goods_number": line.qty,
            "goods_price": yuan_num(line.price), "sku_id": line.sku_id, "outer_id": line.outer_id,
            "outer_goods_id": line.item_outer_id, "created_time": fmt_cst(refund.created),
            "updated_time": fmt_cst(refund.modified), "confirm_time": fmt_cst(order.confirm_time) or "",
            "shipping_status": 1 if refund.phase == "after" else 0, "tracking_number": line.tracking_no,
            "version": refund.version}


def render_bill(bill) -> dict:
    bill_type, name = BILL_TYPES[bill.kind]
    return {"bill_id": bill.id, "order_sn": bill.order_id, "bill_type": bill_type, "type_name": name,
            "amount": yuan_num(bill.amount), "created_at": unix(bill.booked_at), "memo": bill.description}


# ------------------------------------------------------------------------------------- methods
def _filters(p: dict):
    status = opt_int(p, "order_status", 5, lo=1, hi=5)
    if status == 4:
        raise ApiError("invalid", "order_status")
    refund = opt_int(p, "refund_status", 5, lo=1, hi=5)
    trade_type = opt_int(p, "trade_type", None, lo=0, hi=1)

    def keep(order: Order) -> bool:
        return ((status == 5 or order_status(order) == status) and (refund == 5 or refund_status(order) == refund)
                and (trade_type is None or (1 if order.presale else 0) == trade_type))

    return keep


def _shop_orders(ctx: Ctx):
    return [o for o in ctx.world.orders.values() if o.shop == ctx.shop.code and o.status != "unpaid"]


def order_number_list_increment_get(ctx: Ctx, p: dict) -> dict:
    start = unix_time(p, "start_updated_at", needed=True)
    end = unix_time(p, "end_updated_at", needed=True)
    check_window(start, end, timedelta(minutes=30), "end_updated_at")
    page, size = page_args(p, "page", "page_size", 100)
    keep = _filters(p)

    def select():
        return newest_first(o for o in _shop_orders(ctx) if in_window(o.modified, start, end) and keep(o))

    rendered, total, has_next = page_of_orders(ctx, select, page, size, lambda o: render_order(ctx.world, o))
    body = {"has_next": has_next, "order_sn_list": rendered}
    if not opt_bool(p, "use_has_next"):
        body["total_count"] = total
    return {"order_sn_increment_get_response": body}


def order_list_get(ctx: Ctx, p: dict) -> dict:
    start = unix_time(p, "start_confirm_at", needed=True)
    end = unix_time(p, "end_confirm_at", needed=True)
    check_window(start, end, timedelta(hours=24), "end_confirm_at")
    page, size = page_args(p, "page", "page_size", 100)
    keep = _filters(p)

    def select():
        return newest_first((o for o in _shop_orders(ctx) if in_window(o.confirm_time, start, end) and keep(o)),
                            key=lambda o: o.confirm_time)

    rendered, total, has_next = page_of_orders(ctx, select, page, size, lambda o: render_order(ctx.world, o))
    body = {"has_next": has_next, "order_list": rendered}
    if not opt_bool(p, "use_has_next"):
        body["total_count"] = total
    return {"order_list_get_response": body}


def order_information_get(ctx: Ctx, p: dict) -> dict:
    order_sn = required(p, "order_sn")
    order = ctx.world.get_order(PLATFORM, order_sn)
    if order is None or order.shop != ctx.shop.code or order.status == "unpaid":
        raise ApiError("business", "订单不存在", "ORDER_NOT_FOUND")
    return {"order_info_get_response": {"order_info": render_single(ctx, order, lambda o: render_order(ctx.world, o))}}


def refund_list_increment_get(ctx: Ctx, p: dict) -> dict:
    order_sn = p.get("order_sn") or None
    start = unix_time(p, "start_updated_at", needed=order_sn is None)
    end = unix_time(p, "end_updated_at", needed=order_sn is None)
    if order_sn is None:
        check_window(start, end, timedelta(minutes=30), "end_updated_at")
    else:
        start = end = None
    page, size = page_args(p, "page", "page_size", 100)
    status = opt_int(p, "after_sales_status", 1)
    kind = opt_int(p, "after_sales_type", 1, lo=1, hi=6)
    refunds = [r for r in ctx.world.refunds.values() if r.shop == ctx.shop.code and in_window(r.modified, start, end)
               and (order_sn is None or r.order_id == order_sn)
               and (status == 1 or AFTER_SALES_STATUS[r.status] == status)
               and (kind == 1 or (3 if r.return_goods else 2) == kind)]
    refunds.sort(key=lambda r: (r.modified, r.id), reverse=True)
    rendered, total, has_next = page_of(ctx, refunds, page, size, lambda r: render_refund(ctx.world, r))
    return {"refund_increment_get_response": {"total_count": total, "has_next": has_next, "refund_list": rendered}}


def finance_bill_list_get(ctx: Ctx, p: dict) -> dict:
    order_sn = p.get("order_sn") or None
    start = unix_time(p, "start_time", needed=order_sn is None)
    end = unix_time(p, "end_time", needed=order_sn is None)
    check_window(start, end, timedelta(days=1), "end_time")
    page, size = page_args(p, "page", "page_size", 100)
    bills = [b for b in ctx.world.bills if b.shop == ctx.shop.code and in_window(b.booked_at, start, end)
             and (order_sn is None or b.order_id == order_sn)]
    bills.sort(key=lambda b: (b.booked_at, b.id), reverse=True)
    rendered, total, has_next = page_of(ctx, bills, page, size, render_bill)
    return {"finance_bill_list_get_response": {"total_count": total, "has_next": has_next, "bill_list": rendered}}


def goods_quantity_update(ctx: Ctx, p: dict) -> dict:
    goods_id = required(p, "goods_id")
    quantity = opt_int(p, "quantity")
    if quantity is None:
        raise ApiError("missing", "quantity")
    mode = {1: "full", 2: "incremental"}[opt_int(p, "update_type", 1, lo=1, hi=2)]
    sku_id = p.get("sku_id") or None
    outer_id = p.get("outer_id") or None
    if not sku_id and not outer_id:
        raise ApiError("missing", "sku_id")
    world = ctx.world
    listing = world.find_listing(ctx.shop.code, item_id=goods_id, sku_id=sku_id, outer_id=outer_id)
    try:
        world.update_stock(ctx.shop, method=ctx.method, listing=listing, mode=mode, quantity=quantity,
                           ids={"item_id": goods_id, "sku_id": sku_id, "outer_id": outer_id},
                           locked_refuses_decrease=True)
    except ScenarioError as exc:
        raise ApiError("business", exc.message, exc.code) from None
    return {"goods_quantity_update_response": {"is_success": True}}


def logistics_online_send(ctx: Ctx, p: dict) -> dict:
    order_sn = required(p, "order_sn")
    logistics_id = str(opt_int(p, "logistics_id") or required(p, "logistics_id"))
    tracking = required(p, "tracking_number")
    redelivery = opt_int(p, "redelivery_type", 1, lo=1, hi=2) == 2
    try:
        ctx.world.ship_via_api(ctx.shop, order_sn, carrier=logistics_id, tracking_no=tracking, redelivery=redelivery)
    except ScenarioError as exc:
        code = {"ALREADY_SENT": "ALREADY_SHIPPED", "REFUND_SUCCESS": "REFUNDED", "LOCKED": "STATUS_NOT_ALLOW"}.get(
            exc.code, exc.code)
        raise ApiError("business", exc.message, code) from None
    return {"logistics_online_send_response": {"is_success": True}}


# ------------------------------------------------------------------------ seller refund decisions
def _decide(ctx: Ctx, p: dict, decision: str, params: dict):
    after_sales_id = required(p, "after_sales_id")
    order_sn = required(p, "order_sn")
    refund = ctx.world.refunds.get((PLATFORM, str(after_sales_id)))
    if refund is not None and refund.order_id != order_sn:
        raise ApiError("business", "售后单与订单不匹配", "ORDER_MISMATCH")
    if decision == "agree_refund" and refund is not None and refund.status == "wait_confirm":
        decision = "confirm_receipt"  # the returned goods arrived: agreeing now pays the buyer
    try:
        ctx.world.seller_decide(ctx.shop, method=ctx.method, refund_id=after_sales_id, decision=decision,
                                params={"order_sn": order_sn, **params})
    except ScenarioError as exc:
        raise ApiError("business", exc.message, exc.code) from None
    return after_sales_id, order_sn


def refund_agree(ctx: Ctx, p: dict) -> dict:
    """pdd.refund.agree [confirmed name/params]: after_sales_id, order_sn, operate_desc."""
    after_sales_id, order_sn = _decide(ctx, p, "agree_refund", {"operate_desc": p.get("operate_desc", "")})
    return {"refund_agree_response": {"result": {"after_sales_id": int(after_sales_id), "order_sn": order_sn,
                                                 "succ": True, "message": "退款操作成功"}}}


def refund_returngoods_agree(ctx: Ctx, p: dict) -> dict:
    """[mock] the seller agrees a return: address_id, or receiver_name + receiver_address (+ receiver_phone)."""
    if not str(p.get("address_id") or "").strip():
        required(p, "receiver_name")
        required(p, "receiver_address")
    params = {k: p.get(k) for k in ("address_id", "receiver_name", "receiver_phone", "receiver_address",
                                     "operate_desc") if p.get(k) not in (None, "")}
    after_sales_id, order_sn = _decide(ctx, p, "agree_return", params)
    return {"refund_returngoods_agree_response": {"result": {"after_sales_id": int(after_sales_id),
                                                             "order_sn": order_sn, "succ": True,
                                                             "message": "同意退货成功"}}}


def refund_reject(ctx: Ctx, p: dict) -> dict:
    """[memory] the seller refuses: after_sales_id, order_sn, reject_reason."""
    reason = required(p, "reject_reason")
    after_sales_id, order_sn = _decide(ctx, p, "refuse", {"reject_reason": reason})
    return {"refund_reject_response": {"result": {"after_sales_id": int(after_sales_id), "order_sn": order_sn,
                                                  "succ": True, "message": "驳回成功"}}}


# ------------------------------------------------------------------------------- seller coupons
COUPON_STATE = {"unused": 0, "used": 1, "expired": 2, "cancelled": 3}


def _fen(p: dict, name: str, *, needed: bool) -> int:
    value = opt_int(p, name, None, lo=0)
    if value is None:
        if needed:
            raise ApiError("missing", name)
        return 0
    return value


def _coupon_error(exc: ScenarioError) -> ApiError:
    return ApiError("business", exc.message, exc.code)


def render_coupon(world, coupon) -> dict:
    return {"coupon_id": int(coupon.id), "request_id": coupon.request_id, "buyer_id": coupon.buyer,
            "batch_desc": coupon.title, "discount": coupon.amount, "min_order_amount": coupon.threshold,
            "start_time": unix(coupon.start), "end_time": unix(coupon.end), "status": COUPON_STATE[coupon.state(world.now)],
            "order_sn": coupon.order_id}


def promotion_coupon_send(ctx: Ctx, p: dict) -> dict:
    """pdd.promotion.coupon.send [mock, after the pdd.promotion.merchant.coupon.* family]: a merchant
    coupon to one buyer: ``discount`` off orders from ``min_order_amount`` (both fen, as PDD's promotion
    APIs count), ``start_time`` / ``end_time`` (unix s), ``batch_desc``; ``request_id`` makes a resend
    answer the coupon it made (``is_repeat`` true)."""
    buyer = required(p, "buyer_id")
    request_id = required(p, "request_id")
    amount = _fen(p, "discount", needed=True)
    threshold = _fen(p, "min_order_amount", needed=False)
    end = unix_time(p, "end_time", needed=True)
    start = unix_time(p, "start_time")
    try:
        coupon, already = ctx.world.send_coupon(ctx.shop, method=ctx.method, request_id=request_id, buyer=buyer,
                                                amount=amount, threshold=threshold, start=start, end=end,
                                                title=str(p.get("batch_desc") or ""))
    except ScenarioError as exc:
        raise _coupon_error(exc) from None
    return {"promotion_coupon_send_response": {"success": True, "coupon_id": int(coupon.id), "is_repeat": already}}


def promotion_coupon_info_query(ctx: Ctx, p: dict) -> dict:
    """pdd.promotion.coupon.info.query [mock]: one coupon by ``coupon_id`` (or ``request_id``)."""
    coupon_id = str(p.get("coupon_id") or "").strip()
    if not coupon_id:
        found = ctx.world.coupon_requests.get((ctx.shop.code, required(p, "request_id")))
        coupon_id = found[1] if found else ""
    try:
        coupon = ctx.world.get_coupon(ctx.shop, coupon_id) if coupon_id else None
    except ScenarioError:
        coupon = None
    return {"promotion_coupon_info_query_response": {"coupon": render_coupon(ctx.world, coupon) if coupon else None}}


def promotion_coupon_close(ctx: Ctx, p: dict) -> dict:
    """pdd.promotion.coupon.close [mock]: withdraw an unused coupon (``coupon_id``)."""
    try:
        ctx.world.cancel_coupon(ctx.shop, required(p, "coupon_id"))
    except ScenarioError as exc:
        raise _coupon_error(exc) from None
    return {"promotion_coupon_close_response": {"success": True}}


def time_get(ctx: Ctx, p: dict) -> dict:
    return {"time_get_response": {"time": fmt_cst(ctx.world.now)}}


METHODS = {
    "pdd.order.number.list.increment.get": (order_number_list_increment_get, "orders"),
    "pdd.order.list.get": (order_list_get, "orders"),
    "pdd.order.information.get": (order_information_get, "order"),
    "pdd.refund.list.increment.get": (refund_list_increment_get, "list"),
    "pdd.finance.bill.list.get": (finance_bill_list_get, "list"),
    "pdd.goods.quantity.update": (goods_quantity_update, "write"),
    "pdd.logistics.online.send": (logistics_online_send, "write"),
    "pdd.refund.agree": (refund_agree, "write"),
    "pdd.refund.returngoods.agree": (refund_returngoods_agree, "write"),
    "pdd.refund.reject": (refund_reject, "write"),
    "pdd.time.get": (time_get, "read"),
    "pdd.promotion.coupon.send": (promotion_coupon_send, "write"),
    "pdd.promotion.coupon.info.query": (promotion_coupon_info_query, "read"),
    "pdd.promotion.coupon.close": (promotion_coupon_close, "write"),
}
