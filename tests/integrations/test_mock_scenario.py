"""The mock platforms' scenario: order flow, presales, cancellations, refunds, merges, bills, realtime mode."""

import socket
import time
from collections import Counter, defaultdict

import pytest

from integrations import serve as integrations_serve
from integrations.mock_platforms import MockPlatforms
from integrations.mock_platforms.scenario import ScenarioError
from integrations.mock_platforms.testing import START, mock_harness


@pytest.fixture(scope="module")
def harness():
    with mock_harness() as h:
        yield h


@pytest.fixture
def h(harness):
    return harness.reset()


def act(h, action, order_id, **kw):
    return h.control("act", {"action": action, "order_id": order_id, **kw})


def trade(h, tid, shop="tb-main"):
    return h.client(shop).call("taobao.trade.fullinfo.get", tid=tid)[1]["trade_fullinfo_get_response"]["trade"]


def tb_refunds(h, shop="tb-main"):
    body = h.client(shop).call("taobao.refunds.receive.get", **h.tb_window(hours=24))[1]
    return body["refunds_receive_get_response"].get("refunds", {}).get("refund", [])


def pdd_order(h, sn):
    return h.client("pdd-main").call("pdd.order.information.get", order_sn=sn)[1]["order_info_get_response"][
        "order_info"]


# ------------------------------------------------------------------------------ the whole flow
def test_simulated_day_covers_the_cases():
    mock = MockPlatforms(21, start_time=START, config={"orders_per_hour": 20})
    seen: dict[str, set] = defaultdict(set)
    receivers: dict[tuple, set] = defaultdict(set)
    for _ in range(32):  # 8 hours in 15-minute steps, shipping what may ship as an ERP would
        mock.advance(minutes=15)
        for order in list(mock.world.orders.values()):
            seen[order.platform].add(mock.platform_status(order))
            receivers[(order.platform, order.id)].add(order.merge_key)
            if order.platform == "pdd":
                seen["pdd_group"].add(order.group_status)
            if order.status == "paid":
                try:
                    shop = mock.world.shops[order.shop]
                    if mock.world.order_rng(order).random() < 0.5:
                        mock.world.ship_via_api(shop, order.id, carrier="YTO", tracking_no=f"T{order.id}")
                except ScenarioError:
                    pass
    mock.configure({"orders_per_hour": 0})
    mock.advance(hours=24 * 5)
    w = mock.world
    assert {"WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", "WAIT_BUYER_CONFIRM_GOODS", "TRADE_CLOSED_BY_TAOBAO",
            "PAID_FORBID_CONSIGN"} <= seen["taobao"]
    assert {"WAIT_SELLER_STOCK_OUT", "WAIT_GOODS_RECEIVE_CONFIRM", "POP_ORDER_PAUSE"} <= seen["jd"]
    assert {0, 1} <= seen["pdd_group"]
    orders = list(w.orders.values())
    assert any(o.presale and o.platform == "taobao" for o in orders)
    assert any(o.presale and o.platform == "pdd" for o in orders)
    assert Counter(o.status for o in orders)["finished"] > 50
    closed = Counter(o.closed_reason for o in orders if o.status == "closed")
    assert closed["unpaid_timeout"] and closed["refunded"]
    merge_keys = Counter((o.shop, o.merge_key) for o in orders)
    assert max(merge_keys.values()) >= 2  # orders that share a receiver
    assert any(len(keys) > 1 for keys in receivers.values())  # address changes before shipment
    assert any(o.buyer_message for o in orders)
    refunds = list(w.refunds.values())
    assert {"before", "after"} <= {r.phase for r in refunds}
    assert {"success", "closed"} <= {r.status for r in refunds}
    assert any(r.phase == "after" and r.amount < sum(w.orders[(r.platform, r.order_id)].line(x).payment
                                                     for x in r.line_ids) for r in refunds)  # partial refunds
    kinds = Counter(b.kind for b in w.bills)
    assert {"sale", "commission", "service_fee", "freight", "refund"} <= set(kinds)
    mismatched = 0
    for o in orders:
        sales = sum(b.amount for b in w.bills if b.order_id == o.id and b.kind == "sale")
        if o.status == "finished" and sales and sales != sum(line.payment for line in o.lines) + o.platform_discount:
            mismatched += 1
    assert mismatched > 0  # settlement does not always equal the order


def test_promotion_bursts_raise_the_order_rate():
    quiet = MockPlatforms(3, start_time=START, config={"orders_per_hour": 10, "promotions": False})
    busy = MockPlatforms(3, start_time=START, config={"orders_per_hour": 10, "promotions": True})
    quiet.advance(hours=12)
    busy.advance(hours=12)
    assert len(busy.world.orders) > len(quiet.world.orders)


# ---------------------------------------------------------------------------------- presales
def test_taobao_presale_steps(h):
    tid = h.mock.generate(1, shop="tb-main", kind="presale")[0]["order_id"]
    first = trade(h, tid)
    assert (first["type"], first["status"], first["step_trade_status"]) == (
        "step", "WAIT_BUYER_PAY", "FRONT_NOPAID_FINAL_NOPAID")
    h.mock.advance(minutes=6)
    deposit = trade(h, tid)
    assert (deposit["status"], deposit["step_trade_status"]) == ("WAIT_BUYER_PAY", "FRONT_PAID_FINAL_NOPAID")
    assert 0 < float(deposit["step_paid_fee"]) < float(deposit["payment"])
    act(h, "presale_pay_final", tid)
    final = trade(h, tid)
    assert (final["status"], final["step_trade_status"]) == ("WAIT_SELLER_SEND_GOODS", "FRONT_PAID_FINAL_PAID")
    assert final["step_paid_fee"] == final["payment"]


def test_pdd_deposit_order(h):
    sn = h.mock.generate(1, shop="pdd-main", kind="presale")[0]["order_id"]
    order = pdd_order(h, sn)
    assert order["trade_type"] == 1 and order["step_order_info"]["step_trade_status"] == 1
    err = h.client("pdd-main").call("pdd.logistics.online.send", order_sn=sn, logistics_id=115, tracking_number="P")
    assert err[1]["error_response"]["sub_code"] == "PRESALE_NOT_PAID"
    act(h, "presale_pay_final", sn)
    assert pdd_order(h, sn)["step_order_info"]["step_trade_status"] == 2


# ----------------------------------------------------------------------------- cancellations
def test_taobao_cancel_before_shipment(h):
    tid = h.mock.generate(1, shop="tb-main", lines=[{"outer_id": "MUG-RED", "qty": 2}])[0]["order_id"]
    stock_after_order = h.mock.world.listings[("tb-main", "MUG-RED")].quantity
    refund_ids = act(h, "cancel", tid)["refund_ids"]
    [refund] = tb_refunds(h)
    assert (str(refund["refund_id"]), refund["status"], refund["refund_phase"], refund["has_good_return"]) == (
        refund_ids[0], "WAIT_SELLER_AGREE", "onsale", False)
    assert trade(h, tid)["orders"]["order"][0]["refund_status"] == "WAIT_SELLER_AGREE"
    h.control("act", {"action": "refund_resolve", "refund_id": refund_ids[0], "outcome": "success"})
    closed = trade(h, tid)
    assert closed["status"] == "TRADE_CLOSED" and closed["orders"]["order"][0]["refund_status"] == "SUCCESS"
    [done] = tb_refunds(h)
    assert done["status"] == "SUCCESS" and done["refund_version"] > refund["refund_version"]
    assert h.mock.world.listings[("tb-main", "MUG-RED")].quantity == stock_after_order + 2  # the platform restocks


def test_taobao_unpaid_order_closes_after_timeout(h):
    tid = h.mock.generate(1, shop="tb-main", kind="unpaid")[0]["order_id"]
    h.mock.advance(minutes=31)
    assert trade(h, tid)["status"] == "TRADE_CLOSED_BY_TAOBAO"


def test_jd_cancel_locks_then_cancels(h):
    oid = h.mock.generate(1, shop="jd-main")[0]["order_id"]
    refund_id = act(h, "cancel", oid)["refund_ids"][0]
    client = h.client("jd-main")
    state = client.call("jingdong.pop.order.get", order_id=oid)[1]["jingdong_pop_order_get_responce"]
    assert state["orderDetailInfo"]["orderInfo"]["orderState"] == "LOCKED"
    body = client.call("jingdong.pop.afs.refundapply.querylist", order_id=oid)[1]
    [apply] = body["jingdong_pop_afs_refundapply_querylist_responce"]["refundApplyResponse"]["results"]
    assert (apply["status"], apply["afterShipment"]) == (0, False)
    assert apply["applyRefundSum"] == h.mock.world.get_order("jd", oid).payment
    h.control("act", {"action": "refund_resolve", "refund_id": refund_id, "outcome": "success"})
    state = client.call("jingdong.pop.order.get", order_id=oid)[1]["jingdong_pop_order_get_responce"]
    assert state["orderDetailInfo"]["orderInfo"]["orderState"] == "TRADE_CANCELED"
    window = h.jd_window()
    body = client.call("jingdong.pop.afs.refundapply.querylist", modified_start=window["start_date"],
                       modified_end=window["end_date"])[1]
    assert body["jingdong_pop_afs_refundapply_querylist_responce"]["refundApplyResponse"]["results"][0]["status"] == 1


def test_pdd_cancel_and_refund_statuses(h):
    sn = h.mock.generate(1, shop="pdd-main")[0]["order_id"]
    refund_id = act(h, "cancel", sn)["refund_ids"][0]
    assert pdd_order(h, sn)["refund_status"] == 2
    rows = h.client("pdd-main").call("pdd.refund.list.increment.get", **h.pdd_window())[1][
        "refund_increment_get_response"]["refund_list"]
    assert [(r["order_sn"], r["after_sales_status"], r["after_sales_type"], r["shipping_status"]) for r in rows] == [
        (sn, 2, 2, 0)]
    h.control("act", {"action": "refund_resolve", "refund_id": refund_id, "outcome": "success"})
    order = pdd_order(h, sn)
    assert (order["order_status"], order["refund_status"], order["after_sales_status"]) == (1, 4, 10)


def test_pdd_group_failure_refunds_the_order(h):
    sn = h.mock.generate(1, shop="pdd-main", kind="group_forming")[0]["order_id"]
    assert pdd_order(h, sn)["group_status"] == 0 and pdd_order(h, sn)["confirm_status"] == 0
    act(h, "group_fail", sn)
    order = pdd_order(h, sn)
    assert (order["group_status"], order["refund_status"]) == (2, 4)


# ------------------------------------------------------------------------- after-sale refunds
def test_partial_refund_after_shipment_books_a_negative_bill(h):
    tid = h.mock.generate(1, shop="tb-main", lines=[{"outer_id": "TEE-WHT-M"}, {"outer_id": "MUG-BLU"}])[0][
        "order_id"]
    h.client("tb-main").call("taobao.logistics.offline.send", tid=tid, out_sid="YT9", company_code="YTO")
    [refund_id] = act(h, "refund", tid, line=1, amount="10.00")["refund_ids"]
    [refund] = tb_refunds(h)
    assert (refund["refund_fee"], refund["refund_phase"], refund["good_status"]) == ("10.00", "aftersale",
                                                                                     "BUYER_RECEIVED")
    h.control("act", {"action": "refund_resolve", "refund_id": refund_id, "outcome": "success"})
    after = trade(h, tid)
    assert after["status"] == "WAIT_BUYER_CONFIRM_GOODS"  # a partial refund does not close the trade
    assert [o["refund_status"] for o in after["orders"]["order"]] == ["NO_REFUND", "SUCCESS"]
    bills = h.client("tb-main").call("taobao.bill.bills.get", trade_id=tid)[1]["bill_bills_get_response"]
    assert [(b["account_id"], b["amount"]) for b in bills["bills"]["bill"]] == [(301, -1000)]


def test_return_and_refund_walks_through_the_return_states(h):
    sn = h.mock.generate(1, shop="pdd-main")[0]["order_id"]
    h.client("pdd-main").call("pdd.logistics.online.send", order_sn=sn, logistics_id=115, tracking_number="R1")
    [refund_id] = act(h, "refund", sn, return_goods=True)["refund_ids"]
    statuses = []
    for outcome in ("wait_return", "wait_confirm", "success"):
        h.control("act", {"action": "refund_resolve", "refund_id": refund_id, "outcome": outcome})
        rows = h.client("pdd-main").call("pdd.refund.list.increment.get", order_sn=sn)[1][
            "refund_increment_get_response"]["refund_list"]
        statuses.append((rows[0]["after_sales_status"], rows[0]["after_sales_type"]))
    assert statuses == [(7, 3), (3, 3), (10, 3)]
    assert pdd_order(h, sn)["refund_status"] == 4


def test_refunds_are_refused_twice_and_for_unpaid_orders(h):
    tid = h.mock.generate(1, shop="tb-main", kind="unpaid")[0]["order_id"]
    with pytest.raises(RuntimeError, match="status_not_allow|400"):
        act(h, "refund", tid)
    paid = h.mock.generate(1, shop="tb-main")[0]["order_id"]
    act(h, "refund", paid)
    with pytest.raises(RuntimeError, match="400"):
        act(h, "refund", paid)


# ------------------------------------------------------------------------ buyer-side changes
def test_address_change_and_merge_key(h):
    first = h.mock.generate(1, shop="tb-main")[0]["order_id"]
    second = h.mock.generate(1, shop="tb-main", kind="merge")[0]["order_id"]
    a, b = trade(h, first), trade(h, second)
    assert a["oaid"] == b["oaid"] and a["receiver_city"] == b["receiver_city"]
    h.mock.advance(minutes=2)
    act(h, "change_address", second)
    changed = trade(h, second)
    assert changed["oaid"] != a["oaid"] and changed["modified"] > b["modified"]
    act(h, "buyer_remark", first, text="改成周六送")
    assert trade(h, first)["buyer_message"] == "改成周六送"
    jd_a = h.mock.generate(1, shop="jd-main")[0]["order_id"]
    jd_b = h.mock.generate(1, shop="jd-main", kind="merge")[0]["order_id"]
    info = [h.client("jd-main").call("jingdong.pop.order.get", order_id=x)[1]["jingdong_pop_order_get_responce"][
        "orderDetailInfo"]["orderInfo"]["consigneeInfo"] for x in (jd_a, jd_b)]
    assert info[0] == info[1]


def test_modified_is_strictly_increasing_per_order(h):
    tid = h.mock.generate(1, shop="tb-main")[0]["order_id"]
    stamps = [trade(h, tid)["modified"]]
    for text in ("a", "b", "c"):  # several changes within the same simulated second
        act(h, "seller_memo", tid, text=text)
        stamps.append(trade(h, tid)["modified"])
    assert stamps == sorted(set(stamps))


def test_bill_queries_per_platform(h):
    jd_id = h.mock.generate(1, shop="jd-main")[0]["order_id"]
    sn = h.mock.generate(1, shop="pdd-main")[0]["order_id"]
    h.client("jd-main").call("jingdong.pop.order.shipment", orderId=jd_id, logiCoprId="467", logiNo="J1")
    h.client("pdd-main").call("pdd.logistics.online.send", order_sn=sn, logistics_id=115, tracking_number="P1")
    act(h, "finish", jd_id)
    act(h, "finish", sn)
    jd_bills = h.client("jd-main").call("jingdong.pop.settlement.bill.query", order_id=jd_id)[1][
        "jingdong_pop_settlement_bill_query_responce"]["result"]["billList"]
    assert {"SALE", "COMMISSION"} <= {b["feeType"] for b in jd_bills}
    assert all(isinstance(b["amount"], str) for b in jd_bills)
    end = int(h.now.timestamp())
    pdd_bills = h.client("pdd-main").call("pdd.finance.bill.list.get", start_time=end - 3600, end_time=end)[1][
        "finance_bill_list_get_response"]["bill_list"]
    assert {1, 3} <= {b["bill_type"] for b in pdd_bills} and all(b["order_sn"] == sn for b in pdd_bills)


# ----------------------------------------------------------------------------------- realtime
def test_realtime_mode_trickles_orders_in():
    mock = MockPlatforms(5, start_time=START, realtime=True,
                         config={"realtime_tick_seconds": 0.05, "orders_per_hour": 360000})
    try:
        deadline = time.monotonic() + 10
        while not mock.world.orders and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mock.world.orders
        assert mock.world.now > mock.world.start_time
    finally:
        mock.stop_realtime()


# ------------------------------------------------------------------------------------- serve.py
def test_serve_starts_the_mock_only_when_the_port_is_free(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        monkeypatch.setenv("MOCK_PLATFORMS_PORT", str(busy.getsockname()[1]))
        assert integrations_serve.processes() == []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    monkeypatch.setenv("MOCK_PLATFORMS_PORT", str(free))
    [argv] = integrations_serve.processes()
    assert argv[1:] == ["manage.py", "run_mock_platforms", "--port", str(free), "--realtime"]
    monkeypatch.setenv("MOCK_PLATFORMS", "0")
    assert integrations_serve.processes() == []
