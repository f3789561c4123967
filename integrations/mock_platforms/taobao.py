"""Taobao / Tmall open platform (TOP router) as the mock serves it. See PROTOCOL.md section 1."""

from __future__ import annotations

from datetime import timedelta

from .base import (
    ApiError,
    Ctx,
    check_window,
    cst_time,
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
)
from .scenario import Order, ScenarioError, fmt_cst, yuan

PLATFORM = "taobao"
PATH = "/taobao/router/rest"
SYSTEM_PARAMS = ("method", "app_key", "session", "timestamp", "sign")
TOKEN_PARAM = "session"
APP_PARAM = "app_key"
METHOD_PARAM = "method"

ACCOUNTS = [
    (101, "sale", "交易收款"),
    (201, "commission", "天猫佣金"),
    (202, "service_fee", "信用卡/花呗服务费"),
    (301, "refund", "交易退款"),
    (401, "freight", "运费"),
]
ACCOUNT_ID = {kind: aid for aid, kind, _ in ACCOUNTS}

REFUND_STATUS = {"": "NO_REFUND", "requested": "WAIT_SELLER_AGREE", "wait_return": "WAIT_BUYER_RETURN_GOODS",
                 "wait_confirm": "WAIT_SELLER_CONFIRM_GOODS", "refused": "SELLER_REFUSE_BUYER", "closed": "CLOSED",
                 "success": "SUCCESS"}


# -------------------------------------------------------------------------------------- errors
def error_body(err: ApiError) -> tuple[int, dict]:
    table = {
        "rate_limit": (429, 7, "App Call Limited", "accesscontrol.limited-by-api-access-count",
                       "This ban will last for 1 more seconds"),
        "server": (503, 15, "Remote service error", "isp.top-remote-service-unavailable", "service unavailable"),
        "method": (200, 22, "Invalid method", "", ""),
        "sign": (200, 25, "Invalid signature", "", ""),
        "token": (200, 27, "Invalid session", "", ""),
        "app": (200, 29, "Invalid app Key", "", ""),
        "missing": (200, 40, "Missing required arguments", f"isv.missing-parameter:{err.detail}", ""),
        "invalid": (200, 41, "Invalid arguments", f"isv.invalid-parameter:{err.detail.split(':')[0]}", err.detail),
        "business": (200, 15, "Remote service error", err.sub_code, err.detail),
    }
    status, code, msg, sub_code, sub_msg = table[err.kind]
    return status, error_envelope({"code": code, "msg": msg, "request_id": "mock"}, sub_code, sub_msg)


def check_system(params: dict) -> None:
    for name in ("method", "app_key", "timestamp", "sign"):
        required(params, name)
    cst_time(params, "timestamp")
    if str(params.get("sign_method", "md5")).lower() != "md5":
        raise ApiError("invalid", "sign_method")


# ------------------------------------------------------------------------------------- renders
def trade_status(order: Order) -> str:
    if order.status == "unpaid":
        return "WAIT_BUYER_PAY"
    if order.status == "paid":
        if order.risk_hold:
            return "PAID_FORBID_CONSIGN"
        if any(line.shipped for line in order.lines):
            return "SELLER_CONSIGNED_PART"
        return "WAIT_SELLER_SEND_GOODS"
    if order.status == "shipped":
        return "WAIT_BUYER_CONFIRM_GOODS"
    if order.status == "finished":
        return "TRADE_FINISHED"
    return "TRADE_CLOSED_BY_TAOBAO" if order.closed_reason == "unpaid_timeout" else "TRADE_CLOSED"


def _line_status(order: Order, line, status: str) -> str:
    if line.refund_status == "success":
        return "TRADE_CLOSED"
    if line.shipped and order.status == "paid":
        return "WAIT_BUYER_CONFIRM_GOODS"
    if status == "SELLER_CONSIGNED_PART":
        return "WAIT_SELLER_SEND_GOODS"
    return status


def _mask_name(name: str) -> str:
    return name[0] + "*" * max(1, len(name) - 1)


def _mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def render_trade(order: Order) -> dict:
    status = trade_status(order)
    r = order.receiver
    trade = {
        "tid": int(order.id), "tid_str": order.id, "status": status, "type": "step" if order.presale else "fixed",
        "created": fmt_cst(order.created), "modified": fmt_cst(order.modified), "pay_time": fmt_cst(order.pay_time),
        "consign_time": fmt_cst(order.consign_time), "end_time": fmt_cst(order.end_time),
        "payment": yuan(order.payment), "total_fee": yuan(order.goods_amount), "post_fee": yuan(order.post_fee),
        "discount_fee": yuan(order.discount), "adjust_fee": "0.00",
        "received_payment": yuan(order.payment if order.status == "finished" else 0),
        "buyer_nick": order.buyer_nick, "buyer_open_uid": order.buyer_open_uid or "AAH" + order.buyer_id[-12:],
        "buyer_message": order.buyer_message, "seller_memo": order.seller_memo, "seller_flag": order.seller_flag,
        "seller_nick": "", "shipping_type": "express",
        "receiver_name": _mask_name(r.get("name", "")), "receiver_mobile": _mask_phone(r.get("phone", "00000000000")),
        "receiver_state": r.get("province", ""), "receiver_city": r.get("city", ""),
        "receiver_district": r.get("district", ""), "receiver_town": "",
        "receiver_address": r.get("address", "")[:3] + "**", "receiver_zip": r.get("zip", ""),
        "oaid": order.merge_key,
        "orders": {"order": []},
    }
    if order.coupon_id:  # a seller coupon (店铺优惠券) redeemed: TOP lists it in promotion_details
        trade["coupon_fee"] = order.coupon_amount
        trade["promotion_details"] = {"promotion_detail": [{
            "id": int(order.id), "promotion_name": "店铺优惠券", "promotion_id": f"shopbonus-{order.coupon_id}",
            "discount_fee": yuan(order.coupon_amount), "promotion_desc": f"店铺优惠券:省{yuan(order.coupon_amount)}元"}]}
    if order.presale:
        trade["step_trade_status"] = {"front_nopaid": "FRONT_NOPAID_FINAL_NOPAID", "front_paid": "FRONT_PAID_FINAL_NOPAID",
                                      "final_paid": "FRONT_PAID_FINAL_PAID"}.get(order.step, "FRONT_NOPAID_FINAL_NOPAID")
        paid = 0 if order.step == "front_nopaid" else (order.deposit if order.step == "front_paid" else order.payment)
        trade["step_paid_fee"] = yuan(paid)
    for line in order.lines:
        trade["orders"]["order"].append(_drop_none({
            "oid": int(line.line_id), "oid_str": line.line_id, "num_iid": line.item_id,
            "sku_id": str(line.sku_id) if line.sku_id else "",
            "outer_iid": line.item_outer_id, "outer_sku_id": line.outer_id if line.sku_id else "",
            "title": line.title, "sku_properties_name": line.props, "num": line.qty, "price": yuan(line.price),
            "total_fee": yuan(line.total), "discount_fee": yuan(line.discount), "adjust_fee": "0.00",
            "payment": yuan(line.payment), "divide_order_fee": yuan(line.payment), "part_mjz_discount": "0.00",
            "refund_status": REFUND_STATUS.get(line.refund_status, "NO_REFUND"),
            **({"refund_id": int(line.refund_id)} if line.refund_id else {}),
            "status": _line_status(order, line, status), "is_oversold": line.oversold,
            "logistics_company": line.carrier, "invoice_no": line.tracking_no,
            "consign_time": fmt_cst(line.consign_time),
            "estimate_con_time": line.estimate_ship or None,
        }))
    return _drop_none(trade)


def _drop_none(data: dict) -> dict:
    return {k: v for k, v in data.items() if v is not None}


def render_refund(world, refund) -> dict:
    order = world.get_order(PLATFORM, refund.order_id)
    line = order.line(refund.line_ids[0])
    status = REFUND_STATUS[refund.status] if refund.status != "refused" else "SELLER_REFUSE_BUYER"
    good_status = "BUYER_NOT_RECEIVED" if refund.phase == "before" else (
        "BUYER_RETURNED_GOODS" if refund.status in ("wait_confirm", "success") and refund.return_goods
        else "BUYER_RECEIVED")
    return {
        "refund_id": int(refund.id), "tid": int(order.id), "oid": int(line.line_id), "status": status,
        "order_status": _line_status(order, line, trade_status(order)), "good_status": good_status,
        "has_good_return": refund.return_goods, "refund_fee": yuan(refund.amount), "payment": yuan(line.payment),
        "total_fee": yuan(line.total), "reason": refund.reason, "desc": "", "created": fmt_cst(refund.created),
        "modified": fmt_cst(refund.modified), "refund_phase": "onsale" if refund.phase == "before" else "aftersale",
        "refund_version": int(refund.created.timestamp()) * 1000 + refund.version, "num_iid": line.item_id,
        "sku": f"{line.sku_id}|{line.props}" if line.sku_id else "", "outer_id": line.outer_id, "title": line.title,
        "num": line.qty, "company_name": "", "sid": "",
    }


def render_bill(bill) -> dict:
    return {"bid": int(bill.id), "account_id": ACCOUNT_ID[bill.kind], "trade_id": bill.order_id,
            "order_id": bill.line_id, "num_iid": bill.item_id, "total_amount": bill.amount, "amount": bill.amount,
            "book_time": fmt_cst(bill.booked_at), "biz_time": fmt_cst(bill.biz_time), "pay_time": fmt_cst(bill.booked_at),
            "status": 1, "alipay_notice": bill.description}


def _list_envelope(key: str, list_key: str, item_key: str, rendered, total, has_next, use_has_next) -> dict:
    body: dict = {"has_next": has_next}
    if not use_has_next:
        body["total_results"] = total
    if rendered:
        body[list_key] = {item_key: rendered}
    return {key: body}


# ------------------------------------------------------------------------------------- methods
def _shop_orders(ctx: Ctx):
    return [o for o in ctx.world.orders.values() if o.shop == ctx.shop.code]


def trades_sold_increment_get(ctx: Ctx, p: dict) -> dict:
    start = cst_time(p, "start_modified", needed=True)
    end = cst_time(p, "end_modified", needed=True)
    check_window(start, end, timedelta(days=1), "end_modified")
    page, size = page_args(p, "page_no", "page_size", 40)
    status = p.get("status") or None

    def select():
        return newest_first(o for o in _shop_orders(ctx) if in_window(o.modified, start, end)
                            and (status is None or trade_status(o) == status))

    rendered, total, has_next = page_of_orders(ctx, select, page, size, render_trade)
    return _list_envelope("trades_sold_increment_get_response", "trades", "trade", rendered, total, has_next,
                          opt_bool(p, "use_has_next"))


def trades_sold_get(ctx: Ctx, p: dict) -> dict:
    start = cst_time(p, "start_created")
    end = cst_time(p, "end_created")
    page, size = page_args(p, "page_no", "page_size", 40)
    status = p.get("status") or None

    def select():
        return newest_first((o for o in _shop_orders(ctx) if in_window(o.created, start, end)
                             and (status is None or trade_status(o) == status)), key=lambda o: o.created)

    rendered, total, has_next = page_of_orders(ctx, select, page, size, render_trade)
    return _list_envelope("trades_sold_get_response", "trades", "trade", rendered, total, has_next,
                          opt_bool(p, "use_has_next"))


def _own_order(ctx: Ctx, order_id: str) -> Order:
    order = ctx.world.get_order(PLATFORM, order_id)
    if order is None or order.shop != ctx.shop.code:
        raise ApiError("business", f"trade {order_id} not found", "isv.trade-not-exist")
    return order


def trade_fullinfo_get(ctx: Ctx, p: dict) -> dict:
    opt_int(p, "tid")
    order = _own_order(ctx, required(p, "tid"))
    return {"trade_fullinfo_get_response": {"trade": render_single(ctx, order, render_trade)}}


REFUND_FILTER = {v: k for k, v in REFUND_STATUS.items()}


def refunds_receive_get(ctx: Ctx, p: dict) -> dict:
    start = cst_time(p, "start_modified")
    end = cst_time(p, "end_modified")
    check_window(start, end, timedelta(days=1), "end_modified")
    page, size = page_args(p, "page_no", "page_size", 40)
    status = p.get("status") or None
    refunds = [r for r in ctx.world.refunds.values() if r.shop == ctx.shop.code and in_window(r.modified, start, end)]
    if status:
        refunds = [r for r in refunds if REFUND_STATUS.get(r.status) == status]
    refunds.sort(key=lambda r: (r.modified, r.id), reverse=True)
    rendered, total, has_next = page_of(ctx, refunds, page, size, lambda r: render_refund(ctx.world, r))
    return _list_envelope("refunds_receive_get_response", "refunds", "refund", rendered, total, has_next,
                          opt_bool(p, "use_has_next"))


def bill_bills_get(ctx: Ctx, p: dict) -> dict:
    trade_id = p.get("trade_id") or None
    order_id = p.get("order_id") or None
    start = cst_time(p, "start_time", needed=not (trade_id or order_id))
    end = cst_time(p, "end_time", needed=not (trade_id or order_id))
    if not (trade_id or order_id):
        check_window(start, end, timedelta(days=1), "end_time")
    time_type = opt_int(p, "time_type", 2, lo=1, hi=2)
    account_id = opt_int(p, "account_id")
    page, size = page_args(p, "page_no", "page_size", 40)
    bills = [b for b in ctx.world.bills if b.shop == ctx.shop.code
             and in_window(b.biz_time if time_type == 1 else b.booked_at, start, end)
             and (trade_id is None or b.order_id == str(trade_id))
             and (order_id is None or b.line_id == str(order_id))
             and (account_id is None or ACCOUNT_ID[b.kind] == account_id)]
    bills.sort(key=lambda b: (b.biz_time if time_type == 1 else b.booked_at, b.id), reverse=True)
    rendered, total, has_next = page_of(ctx, bills, page, size, render_bill)
    body = {"has_next": has_next, "total_results": total}
    if rendered:
        body["bills"] = {"bill": rendered}
    return {"bill_bills_get_response": body}


def bill_accounts_get(ctx: Ctx, p: dict) -> dict:
    accounts = [{"aid": aid, "account_code": code, "account_name": name, "account_type": 1 if code == "sale" else 2,
                 "related_order": 1, "status": 1} for aid, code, name in ACCOUNTS]
    return {"bill_accounts_get_response": {"accounts": {"account": accounts}}}


def item_quantity_update(ctx: Ctx, p: dict) -> dict:
    num_iid = required(p, "num_iid")
    quantity = opt_int(p, "quantity")
    if quantity is None:
        raise ApiError("missing", "quantity")
    mode = {1: "full", 2: "incremental"}[opt_int(p, "type", 1, lo=1, hi=2)]
    sku_id = p.get("sku_id") or None
    outer_id = p.get("outer_id") or None
    world = ctx.world
    listing = world.find_listing(ctx.shop.code, item_id=num_iid, sku_id=sku_id, outer_id=outer_id)
    try:
        world.update_stock(ctx.shop, method=ctx.method, listing=listing, mode=mode, quantity=quantity,
                           ids={"item_id": num_iid, "sku_id": sku_id, "outer_id": outer_id})
    except ScenarioError as exc:
        code = exc.code
        if code == "SKU_NOT_FOUND":
            sub = "isv.item-not-exist" if not any(str(x.item_id) == str(num_iid)
                                                  for x in world.shop_listings(ctx.shop.code)) else "isv.sku-not-exist"
            raise ApiError("business", str(exc), sub) from None
        raise ApiError("business", str(exc), f"isv.item-quantity-item-update-service-error:{code}") from None
    item_listings = [x for x in world.shop_listings(ctx.shop.code) if str(x.item_id) == str(num_iid)]
    item = {"num_iid": int(num_iid), "num": sum(x.quantity for x in item_listings),
            "modified": fmt_cst(world.now)}
    skus = [{"sku_id": x.sku_id, "outer_id": x.outer_id, "quantity": x.quantity, "modified": fmt_cst(x.modified)}
            for x in item_listings if x.sku_id]
    if skus:
        item["skus"] = {"sku": skus}
    return {"item_quantity_update_response": {"item": item}}


def logistics_offline_send(ctx: Ctx, p: dict) -> dict:
    tid = required(p, "tid")
    out_sid = required(p, "out_sid")
    company = required(p, "company_code")
    sub_tid = [x.strip() for x in str(p.get("sub_tid") or "").split(",") if x.strip()] or None
    try:
        ctx.world.ship_via_api(ctx.shop, tid, carrier=company, tracking_no=out_sid, line_ids=sub_tid)
    except ScenarioError as exc:
        raise ApiError("business", exc.message, f"isv.logistics-offline-service-error:{exc.code}") from None
    return {"logistics_offline_send_response": {"shipping": {"is_success": True}}}


# ------------------------------------------------------------------------ seller refund decisions
def _refund_error(exc: ScenarioError) -> ApiError:
    return ApiError("business", exc.message, f"isv.refund-service-error:{exc.code}")


def rp_refunds_agree(ctx: Ctx, p: dict) -> dict:
    """taobao.rp.refunds.agree: ``refund_infos`` = "refund_id|amount_fen|version|phase" (comma list).
    Agrees a refund-only request, or - after the goods came back (WAIT_SELLER_CONFIRM_GOODS) - confirms
    receipt and pays the buyer. Each refund answers in ``results``; the call succeeds when all did."""
    infos = [x.strip() for x in required(p, "refund_infos").split(",") if x.strip()]
    results = []
    for info in infos:
        parts = info.split("|")
        refund_id = parts[0].strip()
        if not refund_id.isdigit() or (len(parts) > 1 and parts[1].strip() and not parts[1].strip().isdigit()):
            raise ApiError("invalid", "refund_infos")
        refund = ctx.world.refunds.get((PLATFORM, refund_id))
        decision = "confirm_receipt" if refund is not None and refund.status == "wait_confirm" else "agree_refund"
        try:
            ctx.world.seller_decide(ctx.shop, method=ctx.method, refund_id=refund_id, decision=decision,
                                    params={"refund_info": info, "code": p.get("code", "")})
            results.append({"refund_id": refund_id, "succ": True, "message": "退款成功"})
        except ScenarioError as exc:
            if len(infos) == 1:
                raise _refund_error(exc) from None
            results.append({"refund_id": refund_id, "succ": False, "message": f"{exc.code}: {exc.message}"})
    ok = sum(1 for r in results if r["succ"])
    msg_code = "OP_SUCC" if ok == len(results) else ("SOME_OP_SUCC" if ok else "OP_FAILURE_UE")
    return {"rp_refunds_agree_response": {"msg_code": msg_code, "succ": ok == len(results), "message": msg_code,
                                          "results": {"refund_mapping_result": results}}}


def rp_returngoods_agree(ctx: Ctx, p: dict) -> dict:
    """taobao.rp.returngoods.agree: the seller agrees the buyer sends the goods back to the given address
    (``seller_address_id``, or ``name`` + ``address`` [+ ``post``, ``tel``, ``mobile``])."""
    refund_id = required(p, "refund_id")
    if not str(p.get("seller_address_id") or "").strip():
        required(p, "name")
        required(p, "address")
    opt_int(p, "refund_version")
    try:
        ctx.world.seller_decide(ctx.shop, method=ctx.method, refund_id=refund_id, decision="agree_return",
                                params={k: p.get(k) for k in ("name", "address", "post", "tel", "mobile", "remark",
                                                              "refund_phase", "refund_version", "seller_address_id")
                                        if p.get(k) not in (None, "")})
    except ScenarioError as exc:
        raise _refund_error(exc) from None
    return {"rp_returngoods_agree_response": {"is_success": True}}


def refund_refuse(ctx: Ctx, p: dict) -> dict:
    """taobao.refund.refuse: the seller refuses a refund (or, after inspecting returned goods, the return)."""
    refund_id = required(p, "refund_id")
    message = required(p, "refuse_message")
    if not 2 <= len(message) <= 200:
        raise ApiError("invalid", "refuse_message: length 2-200")
    try:
        refund = ctx.world.seller_decide(ctx.shop, method=ctx.method, refund_id=refund_id, decision="refuse",
                                         params={"refuse_message": message, "refund_phase": p.get("refund_phase", ""),
                                                 "refund_version": p.get("refund_version", "")})
    except ScenarioError as exc:
        raise _refund_error(exc) from None
    return {"refund_refuse_response": {"is_success": True,
                                       "refund": {"refund_id": int(refund.id), "status": "SELLER_REFUSE_BUYER",
                                                  "modified": fmt_cst(refund.modified)}}}


# ------------------------------------------------------------------------------- seller coupons
COUPON_STATE = {"unused": "unused", "used": "using", "expired": "invalid", "cancelled": "cancelled"}


def _coupon_error(exc: ScenarioError) -> ApiError:
    return ApiError("business", exc.message, f"isv.coupon-service-error:{exc.code}")


def render_coupon(world, coupon) -> dict:
    return {"coupon_number": int(coupon.id), "buyer_nick": coupon.buyer, "state": COUPON_STATE[coupon.state(world.now)],
            "denominations": yuan(coupon.amount), "condition": yuan(coupon.threshold),
            "start_time": fmt_cst(coupon.start), "end_time": fmt_cst(coupon.end), "title": coupon.title,
            "unique_id": coupon.request_id, **({"tid": int(coupon.order_id)} if coupon.order_id else {})}


def _yuan_fen(p: dict, name: str, *, needed: bool) -> int:
    value = p.get(name)
    if value in (None, ""):
        if needed:
            raise ApiError("missing", name)
        return 0
    try:
        from decimal import Decimal, InvalidOperation

        amount = Decimal(str(value).strip())
        if not amount.is_finite():
            raise InvalidOperation
    except (ArithmeticError, ValueError):
        raise ApiError("invalid", name) from None
    return int((amount * 100).to_integral_value())


def promotion_coupon_send(ctx: Ctx, p: dict) -> dict:
    """taobao.promotion.coupon.send: a shop coupon to one buyer (``buyer_open_uid``, or ``buyer_nick``).
    [mock] the terms ride along (``denominations``, ``condition``, ``end_time``, ``title``) instead of a
    coupon made beforehand, and ``unique_id`` (as alibaba.benefit.send has it) makes a resend harmless."""
    buyer = str(p.get("buyer_open_uid") or p.get("buyer_nick") or "").strip()
    if not buyer:
        raise ApiError("missing", "buyer_open_uid")
    unique_id = required(p, "unique_id")
    amount = _yuan_fen(p, "denominations", needed=True)
    threshold = _yuan_fen(p, "condition", needed=False)
    end = cst_time(p, "end_time", needed=True)
    start = cst_time(p, "start_time")
    try:
        coupon, already = ctx.world.send_coupon(ctx.shop, method=ctx.method, request_id=unique_id, buyer=buyer,
                                                amount=amount, threshold=threshold, start=start, end=end,
                                                title=str(p.get("title") or ""))
    except ScenarioError as exc:
        raise _coupon_error(exc) from None
    return {"promotion_coupon_send_response": {
        "is_success": True, "already_sent": already,
        "coupon_results": {"coupon_result": [{"buyer_nick": buyer, "coupon_number": int(coupon.id)}]}}}


def promotion_coupondetail_get(ctx: Ctx, p: dict) -> dict:
    """taobao.promotion.coupondetail.get: the coupons sent, by ``coupon_number`` or ``unique_id``."""
    number = str(p.get("coupon_number") or "").strip()
    unique_id = str(p.get("unique_id") or "").strip()
    if not (number or unique_id):
        raise ApiError("missing", "coupon_number")
    if not number:
        key = ctx.world.coupon_requests.get((ctx.shop.code, unique_id))
        number = key[1] if key else ""
    try:
        coupon = ctx.world.get_coupon(ctx.shop, number) if number else None
    except ScenarioError:
        coupon = None
    body: dict = {"total_results": 1 if coupon else 0}
    if coupon:
        body["coupon_details"] = {"coupon_detail": [render_coupon(ctx.world, coupon)]}
    return {"promotion_coupondetail_get_response": body}


def promotion_coupon_cancel(ctx: Ctx, p: dict) -> dict:
    """[mock] withdraw a coupon the buyer has not used: ``coupon_number``."""
    try:
        ctx.world.cancel_coupon(ctx.shop, required(p, "coupon_number"))
    except ScenarioError as exc:
        raise _coupon_error(exc) from None
    return {"promotion_coupon_cancel_response": {"is_success": True}}


def time_get(ctx: Ctx, p: dict) -> dict:
    return {"time_get_response": {"time": fmt_cst(ctx.world.now)}}


# method -> (handler, class) ; class: orders (list of orders), list, read, write
METHODS = {
    "taobao.trades.sold.increment.get": (trades_sold_increment_get, "orders"),
    "taobao.trades.sold.get": (trades_sold_get, "orders"),
    "taobao.trade.fullinfo.get": (trade_fullinfo_get, "order"),
    "taobao.refunds.receive.get": (refunds_receive_get, "list"),
    "taobao.bill.bills.get": (bill_bills_get, "list"),
    "taobao.bill.accounts.get": (bill_accounts_get, "read"),
    "taobao.item.quantity.update": (item_quantity_update, "write"),
    "taobao.logistics.offline.send": (logistics_offline_send, "write"),
    "taobao.rp.refunds.agree": (rp_refunds_agree, "write"),
    "taobao.rp.returngoods.agree": (rp_returngoods_agree, "write"),
    "taobao.refund.refuse": (refund_refuse, "write"),
    "taobao.time.get": (time_get, "read"),
    "taobao.promotion.coupon.send": (promotion_coupon_send, "write"),
    "taobao.promotion.coupondetail.get": (promotion_coupondetail_get, "read"),
    "taobao.promotion.coupon.cancel": (promotion_coupon_cancel, "write"),
}


def render_order(order: Order) -> dict:
    return render_trade(order)
