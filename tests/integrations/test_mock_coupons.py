"""Seller coupon APIs of the mock platforms (PROTOCOL.md section 7): each platform's own method names,
parameters, envelopes and errors; a resend with the same request id makes no second coupon; query and
cancel; the faults every write draws; a buyer holding a coupon redeems it on a later order that
carries the coupon in the platform's own field shape."""

from datetime import timedelta

import pytest

from integrations.mock_platforms.scenario import fmt_cst, unix
from integrations.mock_platforms.testing import mock_harness


@pytest.fixture(scope="module")
def harness():
    with mock_harness() as h:
        yield h


@pytest.fixture
def h(harness):
    return harness.reset(coupon_redeem_rate=0)


def tb_send(h, **kw):
    params = {"buyer_open_uid": "AAHbuyer001", "unique_id": "erp-coupon-1", "denominations": "30.00",
              "condition": "200.00", "end_time": fmt_cst(h.now + timedelta(days=30)), "title": "回归券", **kw}
    return h.client("tb-main").call("taobao.promotion.coupon.send", **params)


def test_taobao_send_is_idempotent_on_unique_id_and_query_cancel(h):
    status, body = tb_send(h)
    assert status == 200
    answer = body["promotion_coupon_send_response"]
    number = answer["coupon_results"]["coupon_result"][0]["coupon_number"]
    assert answer["is_success"] is True and answer["already_sent"] is False and number > 0
    again = tb_send(h)[1]["promotion_coupon_send_response"]
    assert again["already_sent"] is True and again["coupon_results"]["coupon_result"][0]["coupon_number"] == number
    assert len(h.mock.world.coupons) == 1  # one coupon for the buyer, not two
    other = tb_send(h, buyer_open_uid="AAHsomeoneelse")[1]["error_response"]
    assert other["code"] == 15 and other["sub_code"] == "isv.coupon-service-error:REQUEST_CONFLICT"
    detail = h.client("tb-main").call("taobao.promotion.coupondetail.get", coupon_number=number)[1]
    row = detail["promotion_coupondetail_get_response"]["coupon_details"]["coupon_detail"][0]
    assert (row["state"], row["denominations"], row["condition"], row["buyer_nick"]) == (
        "unused", "30.00", "200.00", "AAHbuyer001")
    assert h.client("tb-main").call("taobao.promotion.coupon.cancel", coupon_number=number)[1] == {
        "promotion_coupon_cancel_response": {"is_success": True}}
    twice = h.client("tb-main").call("taobao.promotion.coupon.cancel", coupon_number=number)[1]["error_response"]
    assert twice["sub_code"] == "isv.coupon-service-error:ALREADY_DONE"
    log = h.control("coupons", shop="tb-main")
    assert [(c["accepted"], c["already"], c["error"]) for c in log["calls"]] == [
        (True, False, ""), (True, True, ""), (False, False, "REQUEST_CONFLICT")]
    assert log["coupons"][0]["status"] == "cancelled"


def test_taobao_parameter_errors(h):
    missing = tb_send(h, unique_id="")[1]["error_response"]
    assert missing["code"] == 40 and missing["sub_code"] == "isv.missing-parameter:unique_id"
    bad = tb_send(h, denominations="lots")[1]["error_response"]
    assert bad["code"] == 41 and bad["sub_code"] == "isv.invalid-parameter:denominations"
    ended = tb_send(h, end_time=fmt_cst(h.now - timedelta(hours=1)))[1]["error_response"]
    assert ended["sub_code"] == "isv.coupon-service-error:INVALID_TIME"
    assert not h.mock.world.coupons


def test_coupon_writes_draw_faults_and_a_5xx_sends_nothing(h):
    h.mock.inject_fault("rate_limit", 1, method="taobao.promotion.coupon.send")
    status, body = tb_send(h)
    assert status == 429 and body["error_response"]["code"] == 7
    h.mock.inject_fault("server_error", 1, shop="jd-main")
    status, _body = h.client("jd-main").call("jingdong.pop.coupon.send", requestId="r1", pin="jd_pin_1",
                                             discount="10", quota="0", endTime=fmt_cst(h.now + timedelta(days=3)))
    assert status in (500, 502, 503)
    assert not h.mock.world.coupons  # a failed call applied nothing
    assert tb_send(h)[0] == 200


def test_jd_send_query_cancel_in_jd_shape(h):
    client = h.client("jd-main")
    params = {"requestId": "erp-coupon-7", "pin": "jd_pin_7", "discount": "15.00", "quota": "99.00",
              "endTime": fmt_cst(h.now + timedelta(days=10)), "name": "回归券"}
    body = client.call("jingdong.pop.coupon.send", **params)[1]["jingdong_pop_coupon_send_responce"]
    assert body["code"] == "0" and body["sendResult"]["success"] is True and body["sendResult"]["repeated"] is False
    coupon_id = body["sendResult"]["couponId"]
    again = client.call("jingdong.pop.coupon.send", **params)[1]["jingdong_pop_coupon_send_responce"]["sendResult"]
    assert again["repeated"] is True and again["couponId"] == coupon_id
    info = client.call("jingdong.pop.coupon.query", couponId=coupon_id)[1]["jingdong_pop_coupon_query_responce"]
    assert info["couponInfo"]["state"] == 1 and info["couponInfo"]["discount"] == "15.00"
    refused = client.call("jingdong.pop.coupon.send", **{**params, "requestId": "x", "discount": "0"})[1]
    assert refused["jingdong_pop_coupon_send_responce"]["sendResult"] == {
        "success": False, "code": "INVALID_AMOUNT",
        "message": "the amount must be positive and the threshold not negative"}
    cancel = client.call("jingdong.pop.coupon.cancel", couponId=coupon_id)[1]["jingdong_pop_coupon_cancel_responce"]
    assert cancel["cancelResult"]["success"] is True


def test_pdd_send_query_close_in_pdd_shape(h):
    client = h.client("pdd-main")
    params = {"request_id": "erp-coupon-9", "buyer_id": "pdd-buyer-9", "discount": 1000, "min_order_amount": 5000,
              "end_time": unix(h.now + timedelta(days=5)), "batch_desc": "回归券"}
    body = client.call("pdd.promotion.coupon.send", **params)[1]["promotion_coupon_send_response"]
    assert body["success"] is True and body["is_repeat"] is False
    assert client.call("pdd.promotion.coupon.send", **params)[1]["promotion_coupon_send_response"] == {
        **body, "is_repeat": True}
    info = client.call("pdd.promotion.coupon.info.query", coupon_id=body["coupon_id"])[1]
    assert info["promotion_coupon_info_query_response"]["coupon"]["discount"] == 1000
    bad = client.call("pdd.promotion.coupon.send", **{**params, "discount": "ten"})[1]["error_response"]
    assert bad["error_code"] == 10000
    assert client.call("pdd.promotion.coupon.close", coupon_id=body["coupon_id"])[1] == {
        "promotion_coupon_close_response": {"success": True}}


def _send_all(h):
    tb = tb_send(h)[1]["promotion_coupon_send_response"]["coupon_results"]["coupon_result"][0]["coupon_number"]
    jd = h.client("jd-main").call("jingdong.pop.coupon.send", requestId="erp-coupon-2", pin="jd_pin_2",
                                  discount="30.00", quota="200.00", endTime=fmt_cst(h.now + timedelta(days=30)))[1]
    pdd = h.client("pdd-main").call("pdd.promotion.coupon.send", request_id="erp-coupon-3", buyer_id="pdd-b3",
                                    discount=3000, min_order_amount=20000,
                                    end_time=unix(h.now + timedelta(days=30)))[1]
    return (str(tb), jd["jingdong_pop_coupon_send_responce"]["sendResult"]["couponId"],
            str(pdd["promotion_coupon_send_response"]["coupon_id"]))


def test_a_holder_redeems_on_a_later_order_in_each_platforms_shape(h):
    tb, jd, pdd = _send_all(h)
    orders = {}
    for platform, coupon_id in (("taobao", tb), ("jd", jd), ("pdd", pdd)):
        orders[platform] = h.control("act", {"action": "coupon_use", "platform": platform, "coupon_id": coupon_id})
        assert orders[platform]["discount"] == 3000
    w = h.mock.world
    trade = h.client("tb-main").call("taobao.trade.fullinfo.get", tid=orders["taobao"]["order_id"])[1][
        "trade_fullinfo_get_response"]["trade"]
    assert trade["buyer_open_uid"] == "AAHbuyer001"
    assert trade["promotion_details"]["promotion_detail"][0]["promotion_id"] == f"shopbonus-{tb}"
    assert trade["promotion_details"]["promotion_detail"][0]["discount_fee"] == "30.00"
    assert float(trade["total_fee"]) >= 200 and trade["coupon_fee"] == 3000
    jd_order = w.orders[("jd", orders["jd"]["order_id"])]
    rendered = h.mock.render(jd_order)
    assert rendered["pin"] == "jd_pin_2"
    ours = [c for c in rendered["couponDetailList"] if c.get("couponId") == jd]
    assert ours and sum(float(c["couponPrice"]) for c in ours) == 30.0 and ours[0]["couponType"] == "41-京东券优惠"
    pdd_rendered = h.mock.render(w.orders[("pdd", orders["pdd"]["order_id"])])
    assert pdd_rendered["promotion_detail_list"] == [{"promotion_type": 16, "promotion_id": pdd,
                                                      "discount_amount": 30.0}]
    states = {c["id"]: (c["status"], c["order_id"]) for c in h.control("coupons")["coupons"]}
    assert states[tb] == ("used", orders["taobao"]["order_id"])
    used = h.client("tb-main").call("taobao.promotion.coupondetail.get", coupon_number=tb)[1]
    assert used["promotion_coupondetail_get_response"]["coupon_details"]["coupon_detail"][0]["state"] == "using"
    with pytest.raises(Exception, match="COUPON_NOT_USABLE|used"):
        h.mock.act("coupon_use", platform="taobao", coupon_id=tb)


def test_the_scenario_redeems_delivered_coupons_by_itself(harness):
    h = harness.reset(coupon_redeem_rate=1.0, coupon_redeem_within_hours=2)
    tb, jd, pdd = _send_all(h)
    assert not h.mock.world.orders
    h.mock.advance(hours=3)
    used = {o.coupon_id: o for o in h.mock.world.orders.values() if o.coupon_id}
    assert set(used) == {tb, jd, pdd}
    assert all(o.status == "paid" and o.coupon_amount == 3000 for o in used.values())
