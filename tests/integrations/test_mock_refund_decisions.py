"""Seller refund decisions as the mock platforms take them: signed calls, each platform's own shape and
errors, the refund's state machine (wrong state refused, an applied decision answered ALREADY_DONE),
the modified time / version bump the next pull sees, and the record /_control/refund_decisions keeps."""

import pytest

from integrations.mock_platforms.testing import mock_harness


@pytest.fixture(scope="module")
def harness():
    with mock_harness() as h:
        yield h


@pytest.fixture
def h(harness):
    return harness.reset()


def shipped_refund(h, shop, *, return_goods=False):
    """A shipped order of ``shop`` with one open refund of its first line; returns (order, refund)."""
    order_id = h.mock.generate(1, shop=shop, kind="normal")[0]["order_id"]
    w = h.mock.world
    order = w.orders[(w.shops[shop].platform, order_id)]
    w.ship(order, carrier="SF", tracking_no=f"SF{order_id[-8:]}")
    ids = h.mock.act("refund", platform=order.platform, order_id=order_id, line=0,
                     return_goods=return_goods)["refund_ids"]
    return order, w.refunds[(order.platform, ids[0])]


def tb_info(refund, amount=None):
    return f"{refund.id}|{amount if amount is not None else refund.amount}|{refund.version}|aftersale"


def test_taobao_refund_only_agree_then_retry_is_already_done(h):
    order, refund = shipped_refund(h, "tb-main")
    before = (refund.version, refund.modified)
    client = h.client("tb-main")
    status, body = client.call("taobao.rp.refunds.agree", refund_infos=tb_info(refund))
    assert status == 200
    answer = body["rp_refunds_agree_response"]
    assert answer["succ"] is True and answer["msg_code"] == "OP_SUCC"
    assert refund.status == "success"
    assert (refund.version, refund.modified) > before  # the next refunds pull sees the change
    listed = client.call("taobao.refunds.receive.get", **h.tb_window(hours=1))[1]
    pulled = listed["refunds_receive_get_response"]["refunds"]["refund"][0]
    assert pulled["status"] == "SUCCESS" and pulled["refund_id"] == int(refund.id)
    assert any(b.kind == "refund" and b.order_id == order.id for b in h.mock.world.bills)  # the buyer was paid
    again = client.call("taobao.rp.refunds.agree", refund_infos=tb_info(refund))[1]["error_response"]
    assert again["code"] == 15 and again["sub_code"] == "isv.refund-service-error:ALREADY_DONE"
    assert len([b for b in h.mock.world.bills if b.kind == "refund"]) == 1  # not paid twice
    log = h.control("refund_decisions", shop="tb-main")["refund_decisions"]
    assert [(r["method"], r["decision"], r["accepted"], r["error"], r["status_before"], r["status_after"])
            for r in log] == [
        ("taobao.rp.refunds.agree", "agree_refund", True, "", "requested", "success"),
        ("taobao.rp.refunds.agree", "agree_refund", False, "ALREADY_DONE", "success", "success")]


def test_taobao_return_flow_agree_ship_back_confirm(h):
    _, refund = shipped_refund(h, "tb-main", return_goods=True)
    client = h.client("tb-main")
    missing = client.call("taobao.rp.returngoods.agree", refund_id=refund.id)[1]["error_response"]
    assert missing["code"] == 40 and refund.status == "requested"
    early = client.call("taobao.rp.refunds.agree", refund_infos=tb_info(refund))  # refund-only agree is fine...
    assert early[0] == 200 and refund.status == "success"  # ...the seller waived the return
    _, refund = shipped_refund(h, "tb-main", return_goods=True)
    body = client.call("taobao.rp.returngoods.agree", refund_id=refund.id, name="仓库", address="杭州市余杭区 1 号",
                       tel="0571-1234567", refund_phase="aftersale", refund_version=refund.version)[1]
    assert body == {"rp_returngoods_agree_response": {"is_success": True}}
    assert refund.status == "wait_return"
    wrong = client.call("taobao.rp.refunds.agree", refund_infos=tb_info(refund))[1]["error_response"]
    assert wrong["sub_code"] == "isv.refund-service-error:STATUS_NOT_ALLOW"  # the goods are not back yet
    again = client.call("taobao.rp.returngoods.agree", refund_id=refund.id, name="仓库", address="x")[1]
    assert again["error_response"]["sub_code"].endswith(":ALREADY_DONE")
    h.mock.advance(hours=7)  # the buyer ships back
    assert refund.status == "wait_confirm"
    h.mock.advance(hours=48)  # and the seller must confirm: nothing happens by itself
    assert refund.status == "wait_confirm"
    assert client.call("taobao.rp.refunds.agree", refund_infos=tb_info(refund))[1]["rp_refunds_agree_response"]["succ"]
    assert refund.status == "success"


def test_taobao_refuse_and_wrong_states(h):
    _, refund = shipped_refund(h, "tb-main")
    client = h.client("tb-main")
    short = client.call("taobao.refund.refuse", refund_id=refund.id, refuse_message="x")[1]["error_response"]
    assert short["code"] == 41
    ok = client.call("taobao.refund.refuse", refund_id=refund.id, refuse_message="商品已使用，不支持退款")[1]
    assert ok["refund_refuse_response"]["refund"]["status"] == "SELLER_REFUSE_BUYER"
    assert refund.status == "refused"
    late = client.call("taobao.rp.refunds.agree", refund_infos=tb_info(refund))[1]["error_response"]
    assert late["sub_code"].endswith(":STATUS_NOT_ALLOW")
    unknown = client.call("taobao.refund.refuse", refund_id="1", refuse_message="不行不行")[1]["error_response"]
    assert unknown["sub_code"].endswith(":REFUND_NOT_FOUND")
    not_return = shipped_refund(h, "tb-main")[1]
    err = client.call("taobao.rp.returngoods.agree", refund_id=not_return.id, name="a", address="b")[1]
    assert err["error_response"]["sub_code"].endswith(":NOT_RETURN")


def test_a_seller_decision_stops_the_scenarios_own_resolution(h):
    order_id = h.mock.generate(1, shop="tb-main")[0]["order_id"]
    w = h.mock.world
    w.ship(w.orders[("taobao", order_id)], carrier="SF", tracking_no="SF1")
    rid = h.mock.act("refund", platform="taobao", order_id=order_id, line=0, auto_resolve=True,
                     outcome="closed")["refund_ids"][0]
    refund = w.refunds[("taobao", rid)]
    h.client("tb-main").call("taobao.refund.refuse", refund_id=rid, refuse_message="不同意退款")
    h.mock.advance(hours=3)
    assert refund.status == "refused"


def test_jd_reply_refund_shapes(h):
    _, refund = shipped_refund(h, "jd-main")
    client = h.client("jd-main")
    key = "jingdong_pop_afs_soa_refundapply_replyRefund_responce"
    bad = client.call("jingdong.pop.afs.soa.refundapply.replyRefund", id=refund.id, status=3, checkUserName="op")[1]
    assert bad["error_response"]["code"] == "61"
    no_remark = client.call("jingdong.pop.afs.soa.refundapply.replyRefund", id=refund.id, status=2,
                            checkUserName="op")[1]
    assert no_remark["error_response"]["code"] == "61"
    ok = client.call("jingdong.pop.afs.soa.refundapply.replyRefund", id=refund.id, status=1, checkUserName="op",
                     remark="同意")[1]
    assert ok == {key: {"code": "0", "replyResult": {"success": True, "errorCode": "0", "errorMessage": "成功"}}}
    assert refund.status == "success"
    again = client.call("jingdong.pop.afs.soa.refundapply.replyRefund", id=refund.id, status=2, checkUserName="op",
                        remark="拒绝")[1][key]["replyResult"]
    assert again["success"] is False and again["errorCode"] == "STATUS_NOT_ALLOW"
    listed = client.call("jingdong.pop.afs.refundapply.querylist", id=refund.id)[1]
    assert listed["jingdong_pop_afs_refundapply_querylist_responce"]["refundApplyResponse"]["results"][0]["status"] == 1


def test_jd_return_agree_then_confirm(h):
    _, refund = shipped_refund(h, "jd-main", return_goods=True)
    client = h.client("jd-main")
    body = client.call("jingdong.pop.afs.soa.returnapply.agree", id=refund.id, checkUserName="op",
                       contactName="仓库", contactTel="0571-1", returnAddress="杭州")[1]
    assert body["jingdong_pop_afs_soa_returnapply_agree_responce"]["replyResult"]["success"] is True
    assert refund.status == "wait_return"
    h.mock.advance(hours=7)
    client.call("jingdong.pop.afs.soa.refundapply.replyRefund", id=refund.id, status=1, checkUserName="op")
    assert refund.status == "success"


def test_pdd_agree_reject_and_errors(h):
    order, refund = shipped_refund(h, "pdd-main")
    client = h.client("pdd-main")
    mismatch = client.call("pdd.refund.agree", after_sales_id=refund.id, order_sn="250101-000")[1]["error_response"]
    assert mismatch["error_code"] == 52101 and mismatch["sub_code"] == "ORDER_MISMATCH"
    missing = client.call("pdd.refund.reject", after_sales_id=refund.id, order_sn=order.id)[1]["error_response"]
    assert missing["error_code"] == 10000
    body = client.call("pdd.refund.reject", after_sales_id=refund.id, order_sn=order.id, reject_reason="已超过售后期")[1]
    assert body["refund_reject_response"]["result"]["succ"] is True and refund.status == "refused"
    again = client.call("pdd.refund.reject", after_sales_id=refund.id, order_sn=order.id, reject_reason="再次")[1]
    assert again["error_response"]["sub_code"] == "ALREADY_DONE"
    listed = client.call("pdd.refund.list.increment.get", **h.pdd_window(minutes=30))[1]
    assert listed["refund_increment_get_response"]["refund_list"][0]["after_sales_status"] == 6

    order, refund = shipped_refund(h, "pdd-main", return_goods=True)
    body = client.call("pdd.refund.returngoods.agree", after_sales_id=refund.id, order_sn=order.id,
                       receiver_name="仓库", receiver_phone="1", receiver_address="上海")[1]
    assert body["refund_returngoods_agree_response"]["result"]["succ"] is True and refund.status == "wait_return"
    h.mock.advance(hours=7)
    body = client.call("pdd.refund.agree", after_sales_id=refund.id, order_sn=order.id)[1]
    assert body["refund_agree_response"]["result"]["succ"] is True and refund.status == "success"
    log = h.control("refund_decisions", platform="pdd")["refund_decisions"]
    assert [r["decision"] for r in log if r["accepted"]] == ["refuse", "agree_return", "confirm_receipt"]


def test_decisions_are_write_calls_with_faults(h):
    _, refund = shipped_refund(h, "tb-main")
    h.mock.inject_fault("server_error", 1, shop="tb-main", method="taobao.rp.refunds.agree")
    status, _ = h.client("tb-main").call("taobao.rp.refunds.agree", refund_infos=tb_info(refund))
    assert status >= 500 and refund.status == "requested"  # a 5xx applied nothing
    assert h.client("tb-main").call("taobao.rp.refunds.agree", refund_infos=tb_info(refund))[0] == 200
    assert refund.status == "success"
