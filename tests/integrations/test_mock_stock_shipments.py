"""Stock pushes (full vs incremental, promotion locks) and shipments as the mock platforms record them."""

import pytest

from integrations.mock_platforms.testing import mock_harness


@pytest.fixture(scope="module")
def harness():
    with mock_harness() as h:
        yield h


@pytest.fixture
def h(harness):
    return harness.reset()


def listing(h, shop, outer_id):
    return h.mock.world.listings[(shop, outer_id)]


def stock_of(h, shop):
    return {s["outer_id"]: s for s in h.control("stock", shop=shop)["stock"]}


# ------------------------------------------------------------------------------------------ stock
def test_taobao_full_and_incremental_updates(h):
    tee = listing(h, "tb-main", "TEE-WHT-M")
    client = h.client("tb-main")
    body = client.call("taobao.item.quantity.update", num_iid=tee.item_id, sku_id=tee.sku_id, quantity=40)[1]
    item = body["item_quantity_update_response"]["item"]
    assert item["num_iid"] == tee.item_id
    assert {"sku_id": tee.sku_id, "outer_id": "TEE-WHT-M", "quantity": 40}.items() <= \
        next(s for s in item["skus"]["sku"] if s["sku_id"] == tee.sku_id).items()
    client.call("taobao.item.quantity.update", num_iid=tee.item_id, outer_id="TEE-WHT-M", quantity=-15, type=2)
    assert stock_of(h, "tb-main")["TEE-WHT-M"]["quantity"] == 25
    err = client.call("taobao.item.quantity.update", num_iid=tee.item_id, sku_id=tee.sku_id, quantity=-26,
                      type=2)[1]["error_response"]
    assert err["code"] == 15 and err["sub_code"].startswith("isv.item-quantity-item-update-service-error")
    err = client.call("taobao.item.quantity.update", num_iid=tee.item_id, sku_id=999, quantity=1)[1]
    assert err["error_response"]["sub_code"] == "isv.sku-not-exist"
    err = client.call("taobao.item.quantity.update", num_iid=1, quantity=1)[1]
    assert err["error_response"]["sub_code"] == "isv.item-not-exist"
    gift = listing(h, "tb-main", "GIFT-CARD")  # an item without SKU variants: num_iid alone
    client.call("taobao.item.quantity.update", num_iid=gift.item_id, quantity=3)
    assert stock_of(h, "tb-main")["GIFT-CARD"]["quantity"] == 3
    updates = h.control("stock", shop="tb-main")["updates"]
    assert [(u["outer_id"], u["update_type"], u["quantity"], u["accepted"]) for u in updates] == [
        ("TEE-WHT-M", "full", 40, True), ("TEE-WHT-M", "incremental", -15, True),
        ("TEE-WHT-M", "incremental", -26, False), (None, "full", 1, False), (None, "full", 1, False),
        ("GIFT-CARD", "full", 3, True)]
    assert updates[1]["before"] == 40 and updates[1]["after"] == 25


def test_jd_updates_are_full_only(h):
    mug = listing(h, "jd-main", "MUG-BLU")
    client = h.client("jd-main")
    ok = client.call("jingdong.stock.write.updateSkuStock", skuId=str(mug.sku_id), stockNum=12)[1]
    assert ok == {"jingdong_stock_write_updateSkuStock_responce": {"code": "0", "success": True}}
    bad = client.call("jingdong.stock.write.updateSkuStock", skuId="42", stockNum=1)[1]
    assert bad["jingdong_stock_write_updateSkuStock_responce"]["success"] is False
    negative = client.call("jingdong.stock.write.updateSkuStock", skuId=str(mug.sku_id), stockNum=-1)[1]
    assert negative["jingdong_stock_write_updateSkuStock_responce"]["success"] is False
    assert stock_of(h, "jd-main")["MUG-BLU"]["quantity"] == 12


def test_pdd_promotion_slot_refuses_decreases(h):
    cap = listing(h, "pdd-main", "CAP-NAVY")
    client = h.client("pdd-main")
    h.control("promo_lock", {"shop": "pdd-main", "outer_id": "CAP-NAVY", "locked": True})
    for params in ({"quantity": 10}, {"quantity": -1, "update_type": 2}):
        err = client.call("pdd.goods.quantity.update", goods_id=cap.item_id, sku_id=cap.sku_id, **params)[1]
        assert err["error_response"]["error_code"] == 52101
        assert err["error_response"]["sub_code"] == "PROMO_LOCKED"
    up = client.call("pdd.goods.quantity.update", goods_id=cap.item_id, outer_id="CAP-NAVY", quantity=5,
                     update_type=2)[1]
    assert up == {"goods_quantity_update_response": {"is_success": True}}
    assert stock_of(h, "pdd-main")["CAP-NAVY"]["quantity"] == 45
    h.control("promo_lock", {"shop": "pdd-main", "outer_id": "CAP-NAVY", "locked": False})
    client.call("pdd.goods.quantity.update", goods_id=cap.item_id, sku_id=cap.sku_id, quantity=10)
    row = stock_of(h, "pdd-main")["CAP-NAVY"]
    assert (row["quantity"], row["last_pushed"], row["promo_locked"]) == (10, 10, False)
    missing = client.call("pdd.goods.quantity.update", goods_id=cap.item_id, quantity=1)[1]
    assert missing["error_response"]["error_code"] == 10000  # sku_id or outer_id required


def test_orders_deduct_platform_stock(h):
    before = stock_of(h, "tb-main")["SOCK-3P"]["quantity"]
    h.mock.generate(1, shop="tb-main", lines=[{"outer_id": "SOCK-3P", "qty": 2}])
    row = stock_of(h, "tb-main")["SOCK-3P"]
    assert row["quantity"] == before - 2 and row["last_pushed"] is None  # what the shop shows vs. what was pushed


# -------------------------------------------------------------------------------------- shipments
def trade(h, tid, shop="tb-main"):
    return h.client(shop).call("taobao.trade.fullinfo.get", tid=tid)[1]["trade_fullinfo_get_response"]["trade"]


def test_taobao_shipment_recorded_and_repeat_refused(h):
    tid = h.mock.generate(1, shop="tb-main")[0]["order_id"]
    client = h.client("tb-main")
    ok = client.call("taobao.logistics.offline.send", tid=tid, out_sid="YT100", company_code="YTO")[1]
    assert ok == {"logistics_offline_send_response": {"shipping": {"is_success": True}}}
    shipped = trade(h, tid)
    assert shipped["status"] == "WAIT_BUYER_CONFIRM_GOODS"
    assert shipped["orders"]["order"][0]["invoice_no"] == "YT100"
    again = client.call("taobao.logistics.offline.send", tid=tid, out_sid="YT100", company_code="YTO")[1]
    assert again["error_response"]["sub_code"] == "isv.logistics-offline-service-error:ALREADY_SENT"
    assert "same tracking number" in again["error_response"]["sub_msg"]
    records = h.control("shipments", shop="tb-main")["shipments"]
    assert [(r["order_id"], r["tracking_no"], r["carrier"], r["accepted"], r["error"]) for r in records] == [
        (tid, "YT100", "YTO", True, ""), (tid, "YT100", "YTO", False, "ALREADY_SENT")]


def test_taobao_split_shipment(h):
    tid = h.mock.generate(1, shop="tb-main", lines=[{"outer_id": "MUG-RED"}, {"outer_id": "CAP-NAVY"}])[0]["order_id"]
    oids = [o["oid_str"] for o in trade(h, tid)["orders"]["order"]]
    client = h.client("tb-main")
    client.call("taobao.logistics.offline.send", tid=tid, out_sid="SF1", company_code="SF", sub_tid=oids[0], is_split=1)
    part = trade(h, tid)
    assert part["status"] == "SELLER_CONSIGNED_PART"
    assert [o["status"] for o in part["orders"]["order"]] == ["WAIT_BUYER_CONFIRM_GOODS", "WAIT_SELLER_SEND_GOODS"]
    client.call("taobao.logistics.offline.send", tid=tid, out_sid="SF2", company_code="SF", sub_tid=oids[1], is_split=1)
    assert trade(h, tid)["status"] == "WAIT_BUYER_CONFIRM_GOODS"


@pytest.mark.parametrize("kind,sub_code", [
    ("unpaid", "STATUS_NOT_ALLOW"), ("presale", "PRESALE_NOT_PAID"), ("risk", "RISK_CONTROL")])
def test_taobao_refuses_orders_that_must_not_ship(h, kind, sub_code):
    tid = h.mock.generate(1, shop="tb-main", kind=kind)[0]["order_id"]
    expected_status = {"unpaid": "WAIT_BUYER_PAY", "presale": "WAIT_BUYER_PAY", "risk": "PAID_FORBID_CONSIGN"}[kind]
    assert trade(h, tid)["status"] == expected_status
    err = h.client("tb-main").call("taobao.logistics.offline.send", tid=tid, out_sid="X1", company_code="ZTO")[1]
    assert err["error_response"]["sub_code"] == f"isv.logistics-offline-service-error:{sub_code}"
    assert h.control("shipments")["shipments"][-1]["accepted"] is False


def test_pdd_shipment_rules(h):
    client = h.client("pdd-main")
    forming = h.mock.generate(1, shop="pdd-main", kind="group_forming")[0]["order_id"]
    risky = h.mock.generate(1, shop="pdd-main", kind="risk")[0]["order_id"]
    normal = h.mock.generate(1, shop="pdd-main")[0]["order_id"]
    for sn, code in ((forming, "GROUP_NOT_FORMED"), (risky, "RISK_CONTROL")):
        err = client.call("pdd.logistics.online.send", order_sn=sn, logistics_id=115, tracking_number="T1")[1]
        assert err["error_response"]["sub_code"] == code
    ok = client.call("pdd.logistics.online.send", order_sn=normal, logistics_id=115, tracking_number="T2")[1]
    assert ok == {"logistics_online_send_response": {"is_success": True}}
    info = client.call("pdd.order.information.get", order_sn=normal)[1]["order_info_get_response"]["order_info"]
    assert (info["order_status"], info["tracking_number"], info["logistics_id"]) == (2, "T2", 115)
    again = client.call("pdd.logistics.online.send", order_sn=normal, logistics_id=115, tracking_number="T2")[1]
    assert again["error_response"]["sub_code"] == "ALREADY_SHIPPED"
    change = client.call("pdd.logistics.online.send", order_sn=normal, logistics_id=44, tracking_number="T3",
                         redelivery_type=2)[1]
    assert change["logistics_online_send_response"]["is_success"] is True
    h.control("act", {"action": "group_form", "order_id": forming})
    h.control("act", {"action": "risk_release", "order_id": risky})
    for sn in (forming, risky):
        assert client.call("pdd.logistics.online.send", order_sn=sn, logistics_id=115,
                           tracking_number="T9")[0] == 200


def test_jd_shipment_and_locked_order(h):
    client = h.client("jd-main")
    oid = h.mock.generate(1, shop="jd-main")[0]["order_id"]
    h.control("act", {"action": "lock_cancel", "order_id": oid})
    locked = client.call("jingdong.pop.order.shipment", orderId=oid, logiCoprId="467", logiNo="JD1")[1]
    result = locked["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]
    assert result["success"] is False and result["code"] == "10400002"
    h.control("act", {"action": "lock_cancel", "order_id": oid, "locked": False})
    ok = client.call("jingdong.pop.order.shipment", orderId=oid, logiCoprId="467", logiNo="JD1")[1]
    assert ok["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]["success"] is True
    info = client.call("jingdong.pop.order.get", order_id=oid)[1]["jingdong_pop_order_get_responce"]
    assert info["orderDetailInfo"]["orderInfo"]["orderState"] == "WAIT_GOODS_RECEIVE_CONFIRM"
    missing = client.call("jingdong.pop.order.shipment", orderId="1", logiCoprId="467", logiNo="JD2")[1]
    assert missing["jingdong_pop_order_shipment_responce"]["sopjosshipment_result"]["code"] == "10400001"
    assert [r["accepted"] for r in h.control("shipments", platform="jd")["shipments"]] == [False, True, False]


def test_shipped_orders_finish_and_book_bills(h):
    tid = h.mock.generate(1, shop="tb-main")[0]["order_id"]
    h.client("tb-main").call("taobao.logistics.offline.send", tid=tid, out_sid="YT7", company_code="YTO")
    h.mock.advance(hours=24 * 4 + 1)
    assert trade(h, tid)["status"] == "TRADE_FINISHED"
    body = h.client("tb-main").call("taobao.bill.bills.get", trade_id=tid)[1]["bill_bills_get_response"]
    bills = body["bills"]["bill"]
    accounts = {b["account_id"] for b in bills}
    assert {101, 201} <= accounts
    assert all(isinstance(b["amount"], int) for b in bills)
    assert all(b["amount"] < 0 for b in bills if b["account_id"] in (201, 202))
