"""The mock platforms' wire protocol: signing, credentials, windows, paging, determinism, control plane.

No database: these tests only talk HTTP to the simulator running on a thread.
"""

import hashlib
import json
from datetime import timedelta

import pytest

from integrations.mock_platforms import MockPlatforms
from integrations.mock_platforms.client import PlatformClient, post_form
from integrations.mock_platforms.scenario import fmt_cst
from integrations.mock_platforms.signing import sign_params, signed
from integrations.mock_platforms.testing import START, mock_harness


@pytest.fixture(scope="module")
def harness():
    with mock_harness() as h:
        yield h


@pytest.fixture
def h(harness):
    return harness.reset()


def envelope(body, key):
    assert isinstance(body, dict) and key in body, body
    return body[key]


# --------------------------------------------------------------------------------------- signing
def test_sign_algorithm_is_upper_md5_of_secret_sorted_pairs_secret():
    params = {"v": "2.0", "app_key": "k", "method": "m", "sign": "ignored"}
    expected = hashlib.md5(b"sapp_keykmethodmv2.0s").hexdigest().upper()
    assert sign_params(params, "s") == expected
    assert signed({"b": 2, "a": None}, "x")["sign"] == hashlib.md5(b"xab2x").hexdigest().upper()


LIST_CALLS = {
    "tb-main": ("taobao.trades.sold.increment.get", "trades_sold_increment_get_response"),
    "jd-main": ("jingdong.pop.order.search", "jingdong_pop_order_search_responce"),
    "pdd-main": ("pdd.order.number.list.increment.get", "order_sn_increment_get_response"),
}


def window_for(h, shop):
    return {"tb-main": h.tb_window(hours=1), "jd-main": h.jd_window(), "pdd-main": h.pdd_window()}[shop]


@pytest.mark.parametrize("shop", sorted(LIST_CALLS))
def test_signed_call_accepted(h, shop):
    method, key = LIST_CALLS[shop]
    status, body = h.client(shop).call(method, **window_for(h, shop))
    assert status == 200
    envelope(body, key)


@pytest.mark.parametrize("shop,code_field,code", [
    ("tb-main", "code", 25), ("jd-main", "code", "14"), ("pdd-main", "error_code", 10035)])
def test_bad_signature_rejected_with_platform_error(h, shop, code_field, code):
    method, _ = LIST_CALLS[shop]
    status, body = h.client(shop).call(method, tamper=True, **window_for(h, shop))
    assert status == 200
    assert envelope(body, "error_response")[code_field] == code


def test_signature_covers_values_and_uses_the_app_secret(h):
    client = h.client("tb-main")
    params = client.params("taobao.trades.sold.increment.get", h.tb_window(hours=1))
    params["page_size"] = "5"  # added after signing
    status, body = post_form(client.url, params)
    assert body["error_response"]["code"] == 25
    wrong_secret = PlatformClient(h.url, platform="taobao", app_key="tb-app-key", app_secret="nope",
                                  token="tb-session-main")
    assert wrong_secret.call("taobao.time.get")[1]["error_response"]["code"] == 25


def test_pdd_accepts_a_json_body(h):
    client = h.client("pdd-main")
    params = client.params("pdd.time.get", {})
    import urllib.request

    request = urllib.request.Request(client.url, data=json.dumps(params).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        body = json.loads(response.read())
    assert body["time_get_response"]["time"] == fmt_cst(h.now)


@pytest.mark.parametrize("platform,app_key,secret,token,method,field,code", [
    ("taobao", "tb-app-key", "tb-app-secret", "bogus", "taobao.trades.sold.get", "code", 27),
    ("taobao", "bogus", "tb-app-secret", "tb-session-main", "taobao.trades.sold.get", "code", 29),
    ("jd", "jd-app-key", "jd-app-secret", "bogus", "jingdong.pop.order.get", "code", "19"),
    ("jd", "bogus", "jd-app-secret", "jd-token-main", "jingdong.pop.order.get", "code", "16"),
    ("pdd", "pdd-client-id", "pdd-client-secret", "bogus", "pdd.order.information.get", "error_code", 10019),
    ("pdd", "bogus", "pdd-client-secret", "pdd-token-main", "pdd.order.information.get", "error_code", 10016),
    # a token of another app is refused even when signed with the right secret for its own app
    ("taobao", "tb-app-key", "tb-app-secret", "jd-token-main", "taobao.trades.sold.get", "code", 27),
])
def test_unknown_credentials_rejected(h, platform, app_key, secret, token, method, field, code):
    client = PlatformClient(h.url, platform=platform, app_key=app_key, app_secret=secret, token=token)
    status, body = client.call(method, order_id="1", order_sn="1")
    assert envelope(body, "error_response")[field] == code


def test_unknown_method_and_missing_params(h):
    assert h.client("tb-main").call("taobao.nope")[1]["error_response"]["code"] == 22
    assert h.client("jd-main").call("jingdong.nope")[1]["error_response"]["code"] == "20"
    assert h.client("pdd-main").call("pdd.nope")[1]["error_response"]["error_code"] == 10001
    err = h.client("tb-main").call("taobao.trades.sold.increment.get")[1]["error_response"]
    assert (err["code"], err["sub_code"]) == (40, "isv.missing-parameter:start_modified")


def test_shops_sharing_one_app_see_only_their_own_orders(h):
    h.mock.generate(2, shop="tb-main")
    h.mock.generate(3, shop="tb-second")
    h.mock.advance(minutes=1)
    counts = {}
    for shop in ("tb-main", "tb-second"):
        body = h.client(shop).call("taobao.trades.sold.increment.get", **h.tb_window(hours=1))[1]
        counts[shop] = body["trades_sold_increment_get_response"]["total_results"]
    assert counts == {"tb-main": 2, "tb-second": 3}


# --------------------------------------------------------------------------------------- windows
def test_windows_enforced(h):
    tb, jd, pdd = h.client("tb-main"), h.client("jd-main"), h.client("pdd-main")
    err = tb.call("taobao.trades.sold.increment.get", **h.tb_window(hours=24, minutes=1))[1]["error_response"]
    assert (err["code"], err["sub_code"]) == (41, "isv.invalid-parameter:end_modified")
    assert "trades_sold_increment_get_response" in tb.call("taobao.trades.sold.increment.get",
                                                           **h.tb_window(hours=24))[1]
    end = h.now
    bills = tb.call("taobao.bill.bills.get", start_time=fmt_cst(end - timedelta(days=2)), end_time=fmt_cst(end))[1]
    assert bills["error_response"]["code"] == 41
    assert pdd.call("pdd.order.number.list.increment.get", **h.pdd_window(minutes=31))[1][
        "error_response"]["error_code"] == 10000
    assert "order_sn_increment_get_response" in pdd.call("pdd.order.number.list.increment.get",
                                                         **h.pdd_window(minutes=30))[1]
    start = int((end - timedelta(hours=25)).timestamp())
    assert pdd.call("pdd.order.list.get", start_confirm_at=start, end_confirm_at=int(end.timestamp()))[1][
        "error_response"]["error_code"] == 10000
    assert pdd.call("pdd.refund.list.increment.get", **h.pdd_window(minutes=45))[1][
        "error_response"]["error_code"] == 10000
    assert jd.call("jingdong.pop.order.search", **h.jd_window(hours=31 * 24))[1]["error_response"]["code"] == "61"
    reversed_window = {"start_modified": fmt_cst(end), "end_modified": fmt_cst(end - timedelta(minutes=1))}
    assert tb.call("taobao.trades.sold.increment.get", **reversed_window)[1]["error_response"]["code"] == 41


def test_page_size_over_100_rejected(h):
    err = h.client("tb-main").call("taobao.trades.sold.increment.get", page_size=101, **h.tb_window(hours=1))[1]
    assert err["error_response"]["code"] == 41
    err = h.client("pdd-main").call("pdd.order.number.list.increment.get", page_size=101, **h.pdd_window())[1]
    assert err["error_response"]["error_code"] == 10000
    err = h.client("jd-main").call("jingdong.pop.order.search", page_size=101, **h.jd_window())[1]
    assert err["error_response"]["code"] == "61"


# ---------------------------------------------------------------------------------------- paging
def _make_orders(h, shop, n):
    ids = []
    for _ in range(n):
        ids.append(h.mock.generate(1, shop=shop)[0]["order_id"])
        h.mock.advance(seconds=30)
    return ids


def test_taobao_paging_newest_first_with_has_next(h):
    ids = _make_orders(h, "tb-main", 25)
    client, seen, modified = h.client("tb-main"), [], []
    for page, more in ((1, True), (2, True), (3, False)):
        body = client.call("taobao.trades.sold.increment.get", page_no=page, page_size=10,
                           **h.tb_window(hours=1))[1]["trades_sold_increment_get_response"]
        assert body["total_results"] == 25
        assert body["has_next"] is more
        trades = body["trades"]["trade"]
        seen += [t["tid_str"] for t in trades]
        modified += [t["modified"] for t in trades]
    assert sorted(seen) == sorted(ids)
    assert modified == sorted(modified, reverse=True)
    body = client.call("taobao.trades.sold.increment.get", page_no=4, page_size=10, use_has_next="true",
                       **h.tb_window(hours=1))[1]["trades_sold_increment_get_response"]
    assert body == {"has_next": False}  # no total with use_has_next; TOP omits the empty list


def test_pdd_and_jd_paging(h):
    pdd_ids = _make_orders(h, "pdd-main", 7)
    body = h.client("pdd-main").call("pdd.order.number.list.increment.get", page=2, page_size=5, use_has_next="true",
                                     **h.pdd_window())[1]["order_sn_increment_get_response"]
    assert "total_count" not in body and body["has_next"] is False
    assert {o["order_sn"] for o in body["order_sn_list"]} == set(pdd_ids[:2])  # the oldest two
    jd_ids = _make_orders(h, "jd-main", 5)
    result = h.client("jd-main").call("jingdong.pop.order.search", page=1, page_size=3, **h.jd_window())[1][
        "jingdong_pop_order_search_responce"]["searchorderinfo_result"]
    assert result["orderTotal"] == 5
    assert [o["orderId"] for o in result["orderInfoList"]] == jd_ids[::-1][:3]


def test_status_filters(h):
    h.mock.generate(2, shop="tb-main", kind="unpaid")
    h.mock.generate(3, shop="tb-main")
    body = h.client("tb-main").call("taobao.trades.sold.increment.get", status="WAIT_BUYER_PAY",
                                    **h.tb_window(hours=1))[1]
    assert body["trades_sold_increment_get_response"]["total_results"] == 2
    h.mock.generate(2, shop="jd-main")
    body = h.client("jd-main").call("jingdong.pop.order.search", order_state="FINISHED_L", **h.jd_window())[1]
    assert body["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["orderTotal"] == 0


def test_single_order_reads(h):
    tid = h.mock.generate(1, shop="tb-main")[0]["order_id"]
    trade = h.client("tb-main").call("taobao.trade.fullinfo.get", tid=tid)[1]["trade_fullinfo_get_response"]["trade"]
    assert trade["tid_str"] == tid and trade["status"] == "WAIT_SELLER_SEND_GOODS"
    err = h.client("tb-second").call("taobao.trade.fullinfo.get", tid=tid)[1]["error_response"]
    assert err["sub_code"] == "isv.trade-not-exist"  # another shop's order
    jd_id = h.mock.generate(1, shop="jd-main")[0]["order_id"]
    info = h.client("jd-main").call("jingdong.pop.order.get", order_id=jd_id)[1]["jingdong_pop_order_get_responce"]
    assert info["orderDetailInfo"]["orderInfo"]["orderId"] == jd_id
    missing = h.client("jd-main").call("jingdong.pop.order.get", order_id="1")[1]["jingdong_pop_order_get_responce"]
    assert missing["orderDetailInfo"]["apiResult"]["success"] is False
    sn = h.mock.generate(1, shop="pdd-main")[0]["order_id"]
    info = h.client("pdd-main").call("pdd.order.information.get", order_sn=sn)[1]["order_info_get_response"]
    assert info["order_info"]["order_sn"] == sn
    assert h.client("pdd-main").call("pdd.order.information.get", order_sn="x")[1]["error_response"][
        "error_code"] == 52101


def test_amount_identities(h):
    h.mock.reset(seed=5, start_time=START, config={"orders_per_hour": 30, "promotions": True})
    h.mock.advance(hours=3)
    for row in h.mock.orders()["orders"]:
        o = row["order"]
        if row["platform"] == "taobao":
            lines = sum(float(x["payment"]) for x in o["orders"]["order"])
            assert round(lines + float(o["post_fee"]), 2) == float(o["payment"])
            assert round(float(o["total_fee"]) + float(o["post_fee"]) - float(o["discount_fee"]), 2) == \
                float(o["payment"])
        elif row["platform"] == "pdd":
            assert round(o["goods_amount"] + o["postage"] - o["discount_amount"], 2) == o["pay_amount"]


# ----------------------------------------------------------------------------------- determinism
def _snapshot(mock):
    return json.dumps([mock.orders()["orders"], mock.refunds()["refunds"], mock.stock()["stock"]], sort_keys=True)


def test_scenario_is_deterministic_per_seed():
    def run(seed):
        mock = MockPlatforms(seed, start_time=START, config={"orders_per_hour": 20})
        for _ in range(3):
            mock.advance(minutes=60)
        return mock

    a, b, c = run(11), run(11), run(12)
    assert len(a.world.orders) > 20
    assert _snapshot(a) == _snapshot(b)
    assert _snapshot(a) != _snapshot(c)


def test_in_process_call_matches_http(h):
    h.mock.generate(2, shop="pdd-main")
    window = h.pdd_window()
    status, in_process = h.mock.call("pdd-main", "pdd.order.number.list.increment.get", window)
    assert status == 200
    assert in_process == h.client("pdd-main").call("pdd.order.number.list.increment.get", **window)[1]


# ---------------------------------------------------------------------------------- control plane
def test_control_endpoints_over_http(h):
    state = h.control("reset", {"seed": 3, "start_time": START, "config": {"orders_per_hour": 0}})
    assert state["seed"] == 3
    assert h.control("config", {"slow_seconds": 0.5})["slow_seconds"] == 0.5
    created = h.control("generate", {"count": 4, "platform": "taobao"})["created"]
    assert {c["shop"] for c in created} == {"tb-main", "tb-second"}
    assert {c["status"] for c in created} == {"paid"}
    assert len(h.control("generate", {"count": 3, "shop": "jd-main", "kind": "random"})["created"]) == 3
    moved = h.control("advance", {"minutes": 30})
    assert moved["now"] == "2025-01-06T02:30:00+00:00"
    state = h.control("state", platform="taobao")
    assert {s["code"] for s in state["shops"]} == {"tb-main", "tb-second"}
    assert state["now_cst"] == "2025-01-06 10:30:00"
    listing = state["shops"][0]["listings"][0]
    assert {"outer_id", "item_id", "sku_id", "quantity", "promo_locked", "last_pushed"} <= set(listing)
    assert len(h.control("orders", shop="tb-main")["orders"]) == 2
    assert len(h.control("orders", platform="jd")["orders"]) == 3
    h.client("tb-main").call("taobao.time.get")
    assert {"platform": "taobao", "method": "taobao.time.get", "outcome": "ok", "count": 1} in \
        h.control("requests")["requests"]


def test_configure_shops_and_catalogue(h):
    shop = {"code": "pdd-b", "platform": "pdd", "platform_shop_id": "777", "app_key": "cid-b", "app_secret": "sec-b",
            "access_token": "tok-b"}
    h.control("shops", {"shops": [shop]})
    h.control("catalog", {"shop": "pdd-b", "skus": [
        {"outer_id": "DEMO-1", "item_outer_id": "DEMO", "title": "Demo", "price": "10.00", "quantity": 5}]})
    h.mock.generate(1, shop="pdd-b")
    client = PlatformClient(h.url, platform="pdd", app_key="cid-b", app_secret="sec-b", token="tok-b")
    orders = client.call("pdd.order.number.list.increment.get", **h.pdd_window())[1][
        "order_sn_increment_get_response"]["order_sn_list"]
    assert [item["outer_id"] for item in orders[0]["item_list"]] == ["DEMO-1"]
    stock = h.control("stock", shop="pdd-b")["stock"]
    assert [(s["outer_id"], s["quantity"]) for s in stock] == [("DEMO-1", 5 - orders[0]["item_list"][0]["goods_count"])]


def test_control_rejects_bad_input(h):
    from integrations.mock_platforms.client import control

    with pytest.raises(RuntimeError, match="400"):
        control(h.url, "faults", {"kind": "nope"})
    with pytest.raises(RuntimeError, match="400"):
        control(h.url, "act", {"action": "pay", "order_id": "does-not-exist"})
