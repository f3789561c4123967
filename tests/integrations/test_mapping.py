"""Each adapter's mapping against recorded platform payloads (shapes from PLATFORMS.md / PROTOCOL.md)."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from integrations.adapters import adapter_class
from integrations.codec import order_from_dict, order_to_dict
from integrations.normalized import OrderState

PAYLOADS = Path(__file__).parent / "payloads"


def load(name):
    return json.loads((PAYLOADS / name).read_text())


def adapter(platform):
    return adapter_class(platform)(None)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_taobao_trade():
    trades = load("taobao_trades_increment.json")["trades_sold_increment_get_response"]["trades"]["trade"]
    order = adapter("taobao").map_order(trades[0])
    assert order.platform_order_id == "4123456789012345"
    assert order.state == OrderState.PAID and order.platform_status == "WAIT_SELLER_SEND_GOODS"
    assert order.modified_at == utc(2025, 1, 6, 2, 2, 11)  # CST -> UTC
    assert order.created_at == utc(2025, 1, 6, 2, 0, 0)
    assert (order.goods_amount, order.freight_amount, order.paid_amount) == (Decimal("128.00"), Decimal("10.00"),
                                                                              Decimal("123.00"))
    assert order.goods_amount + order.freight_amount - order.discount_amount == order.paid_amount
    assert order.receiver.merge_key == "1qXo9mJ2kR" and order.receiver.province == "浙江省"
    assert order.buyer_message == "请尽快发货" and order.seller_flag == 2
    tee, card = order.lines
    assert (tee.platform_line_id, tee.platform_item_id, tee.platform_sku_id, tee.outer_id) == (
        "4123456789012346", "600001", "5000011", "TEE-WHT-M")
    assert (tee.quantity, tee.price, tee.discount, tee.paid) == (2, Decimal("59.00"), Decimal("10.00"), Decimal("108.00"))
    assert card.outer_id == "GIFT-CARD" and card.platform_sku_id == "" and card.refund_status == "requested"
    assert sum(line.paid for line in order.lines) + order.freight_amount == order.paid_amount
    assert order.raw is trades[0]


def test_taobao_presale_deposit_paid_must_not_ship():
    trades = load("taobao_trades_increment.json")["trades_sold_increment_get_response"]["trades"]["trade"]
    order = adapter("taobao").map_order(trades[1])
    assert order.is_presale and not order.presale_fully_paid
    assert order.state == OrderState.PAID
    assert order.lines[0].platform_line_id == "4123456789099998"  # oid when oid_str is absent


def test_taobao_presale_item_in_an_ordinary_trade():
    trade = load("taobao_trades_increment.json")["trades_sold_increment_get_response"]["trades"]["trade"][0]
    trade["orders"]["order"][1]["estimate_con_time"] = "付款后15天内发货"
    order = adapter("taobao").map_order(trade)
    assert not order.is_presale  # the trade itself is not a presale (step) trade
    assert [line.is_presale for line in order.lines] == [False, True]
    assert [line.is_presale for line in order_from_dict(order_to_dict(order)).lines] == [False, True]


def test_taobao_refund_and_bills():
    raw = load("taobao_refunds.json")["refunds_receive_get_response"]["refunds"]["refund"][0]
    refund = adapter("taobao").map_refund(raw)
    assert (refund.platform_refund_id, refund.platform_order_id, refund.platform_line_id) == (
        "70001", "4123456789012345", "4123456789012347")
    assert refund.status == "wait_return" and refund.phase == "after_shipment" and refund.has_goods_return
    assert refund.amount == Decimal("5.00") and refund.version == 1736212500123
    bills = load("taobao_bills.json")["bill_bills_get_response"]["bills"]["bill"]
    sale, commission = (adapter("taobao").map_bill(b) for b in bills)
    assert (sale.kind, sale.amount) == ("sale", Decimal("123.00"))  # integer fen -> yuan
    assert (commission.kind, commission.amount) == ("commission", Decimal("-3.69"))
    assert sale.booked_at == utc(2025, 1, 9, 16, 10)


def test_jd_order():
    raw = load("jd_order_search.json")["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["orderInfoList"][0]
    order = adapter("jd").map_order(raw)
    assert order.platform_order_id == "300012345678"
    assert order.state == OrderState.PAID and order.ship_blocked_reason == "risk_review"
    assert (order.goods_amount, order.discount_amount, order.freight_amount, order.paid_amount) == (
        Decimal("177.00"), Decimal("10.00"), Decimal("6.00"), Decimal("173.00"))
    [line] = order.lines
    assert (line.platform_line_id, line.platform_item_id, line.outer_id, line.quantity) == ("8000001", "7000001",
                                                                                           "TEE-BLK-L", 3)
    assert (line.discount, line.paid) == (Decimal("10.00"), Decimal("167.00"))
    assert order.receiver.name == "王*" and order.receiver.district == "朝阳区"
    assert order.buyer_message == "周末送"


def test_jd_refund_and_bill():
    raw = load("jd_refunds.json")["jingdong_pop_afs_refundapply_querylist_responce"]["refundApplyResponse"]["results"][0]
    refund = adapter("jd").map_refund(raw)
    assert (refund.status, refund.amount, refund.platform_line_id, refund.phase) == (
        "requested", Decimal("59.00"), "8000001", "before_shipment")
    bill = adapter("jd").map_bill(load("jd_bills.json")["jingdong_pop_settlement_bill_query_responce"]["result"]["billList"][0])
    assert (bill.kind, bill.amount, bill.platform_order_id) == ("commission", Decimal("-5.90"), "300012345678")


def test_pdd_orders():
    first, second = load("pdd_orders_increment.json")["order_sn_increment_get_response"]["order_sn_list"]
    order = adapter("pdd").map_order(first)
    assert order.state == OrderState.PAID and order.ship_blocked_reason == "group_forming"
    assert order.paid_amount == Decimal("110.90") and order.discount_amount == Decimal("7.10")  # floats -> exact cents
    assert order.ship_by == utc(2025, 1, 8, 4, 0, 10)
    socks, cap = order.lines
    assert socks.platform_line_id == "900001-910001" and socks.outer_id == "SOCK-3P"
    assert sum(line.discount for line in order.lines) == order.discount_amount
    assert sum(line.paid for line in order.lines) == order.goods_amount - order.discount_amount
    assert order.receiver.merge_key == "pdd-oa-1"

    cancelled = adapter("pdd").map_order(second)
    assert cancelled.state == OrderState.CANCELLED  # order_status 1 + refund_status 4
    assert cancelled.is_presale and not cancelled.presale_fully_paid
    assert cancelled.lines[0].refund_status == "refunded" and cancelled.seller_flag == 3


def test_pdd_refund_and_bill():
    raw = load("pdd_refunds.json")["refund_increment_get_response"]["refund_list"][0]
    refund = adapter("pdd").map_refund(raw)
    assert (refund.status, refund.has_goods_return, refund.phase, refund.version) == (
        "wait_return", True, "after_shipment", 3)
    assert refund.platform_line_id == "900001-910001" and refund.amount == Decimal("52.30")
    bill = adapter("pdd").map_bill(load("pdd_bills.json")["finance_bill_list_get_response"]["bill_list"][0])
    assert (bill.kind, bill.amount) == ("commission", Decimal("-1.20"))
    assert bill.booked_at == utc(2025, 1, 6, 2, 20)


@pytest.mark.parametrize("platform,fixture,path", [
    ("taobao", "taobao_trades_increment.json", ("trades_sold_increment_get_response", "trades", "trade")),
    ("jd", "jd_order_search.json", ("jingdong_pop_order_search_responce", "searchorderinfo_result", "orderInfoList")),
    ("pdd", "pdd_orders_increment.json", ("order_sn_increment_get_response", "order_sn_list")),
])
def test_normalised_json_round_trip(platform, fixture, path):
    data = load(fixture)
    for key in path:
        data = data[key]
    for raw in data:
        order = adapter(platform).map_order(raw)
        again = order_from_dict(json.loads(json.dumps(order_to_dict(order))), raw=raw)
        assert again == order


def test_signing_matches_the_reference():
    from integrations.adapters.common import sign_params
    from integrations.mock_platforms.signing import sign_params as reference

    params = {"method": "taobao.time.get", "app_key": "k", "timestamp": "2025-01-06 10:00:00", "v": "2.0", "x": "中文"}
    assert sign_params(params, "secret") == reference(params, "secret")
