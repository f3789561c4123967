"""Every fault kind of the mock platforms, on demand and at configured rates. No database."""

import socket
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest

from integrations.mock_platforms.client import control
from integrations.mock_platforms.testing import mock_harness


@pytest.fixture(scope="module")
def harness():
    with mock_harness() as h:
        yield h


@pytest.fixture
def h(harness):
    return harness.reset(slow_seconds=0.5)


def tb_list(h, shop="tb-main", **extra):
    return h.client(shop).call("taobao.trades.sold.increment.get", **{**h.tb_window(hours=1), **extra})


@pytest.mark.parametrize("shop,method,window,check", [
    ("tb-main", "taobao.trades.sold.increment.get", "tb",
     lambda e: (e["code"], e["msg"], e["sub_code"]) == (7, "App Call Limited", "accesscontrol.limited-by-api-access-count")),
    ("jd-main", "jingdong.pop.order.search", "jd", lambda e: e["code"] == "63" and e["zh_desc"] and e["en_desc"]),
    ("pdd-main", "pdd.order.number.list.increment.get", "pdd",
     lambda e: e["error_code"] == 70031 and e["error_msg"]),
])
def test_rate_limit_answers_429_with_platform_body(h, shop, method, window, check):
    params = {"tb": h.tb_window(hours=1), "jd": h.jd_window(), "pdd": h.pdd_window()}[window]
    h.control("faults", {"kind": "rate_limit", "count": 1, "shop": shop})
    client = h.client(shop)
    raw = urllib.request.Request(client.url, data=urlencode(client.params(method, params)).encode(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(raw, timeout=5)
    assert info.value.code == 429 and info.value.headers["Retry-After"] == "1"
    h.control("faults", {"kind": "rate_limit", "count": 2, "shop": shop})
    for _ in range(2):
        status, body = client.call(method, **params)
        assert status == 429
        assert check(body["error_response"])
    assert client.call(method, **params)[0] == 200


def test_server_errors_are_5xx_json_or_html(h):
    h.control("faults", {"kind": "server_error", "count": 12, "platform": "taobao"})
    statuses, html = set(), 0
    for _ in range(12):
        status, body = tb_list(h)
        statuses.add(status)
        if status == 502:
            assert isinstance(body, str) and "502" in body  # not JSON: the gateway answered
            html += 1
        else:
            assert body["error_response"]["code"] == 15
    assert statuses <= {500, 502, 503} and len(statuses) >= 2
    assert tb_list(h)[0] == 200


def test_slow_answer_times_out_a_short_client_timeout(h):
    h.control("faults", {"kind": "slow", "count": 1, "platform": "pdd"})
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        h.client("pdd-main").call("pdd.time.get", timeout=0.1)
    assert h.client("pdd-main").call("pdd.time.get", timeout=2)[0] == 200


def test_slow_write_is_applied_although_the_client_timed_out(h):
    listing = h.mock.world.listings[("tb-main", "MUG-RED")]
    h.control("faults", {"kind": "slow", "count": 1, "method": "taobao.item.quantity.update"})
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        h.client("tb-main").call("taobao.item.quantity.update", timeout=0.1, num_iid=listing.item_id,
                                 sku_id=listing.sku_id, quantity=7)
    stock = {s["outer_id"]: s for s in h.control("stock", shop="tb-main")["stock"]}
    assert stock["MUG-RED"]["quantity"] == 7 and stock["MUG-RED"]["last_pushed"] == 7


def test_injected_bad_signature_rejects_a_good_call(h):
    h.control("faults", {"kind": "bad_signature", "count": 1, "platform": "jd"})
    assert h.client("jd-main").call("jingdong.pop.order.search", **h.jd_window())[1]["error_response"]["code"] == "14"
    assert h.client("jd-main").call("jingdong.pop.order.search", **h.jd_window())[0] == 200


def test_duplicate_record_in_a_page(h):
    ids = [c["order_id"] for c in h.mock.generate(5, shop="tb-main")]
    h.control("faults", {"kind": "duplicate", "count": 1, "shop": "tb-main"})
    trades = tb_list(h)[1]["trades_sold_increment_get_response"]["trades"]["trade"]
    tids = [t["tid_str"] for t in trades]
    assert len(tids) == 6 and set(tids) == set(ids)
    pdd_ids = [c["order_id"] for c in h.mock.generate(3, shop="pdd-main")]
    h.control("faults", {"kind": "duplicate", "count": 1, "shop": "pdd-main"})
    rows = h.client("pdd-main").call("pdd.order.number.list.increment.get", **h.pdd_window())[1][
        "order_sn_increment_get_response"]["order_sn_list"]
    assert sorted(r["order_sn"] for r in rows) != sorted(pdd_ids) and {r["order_sn"] for r in rows} == set(pdd_ids)


def test_pages_shift_between_requests(h):
    for _ in range(30):
        h.mock.generate(1, shop="tb-main")
        h.mock.advance(seconds=20)
    client, seen = h.client("tb-main"), []
    window = h.tb_window(hours=1)  # ends now: modified orders jump to the top of the list
    for page in (1, 2, 3):
        if page == 2:
            h.control("faults", {"kind": "page_shift", "count": 1, "shop": "tb-main"})
        body = client.call("taobao.trades.sold.increment.get", page_no=page, page_size=10, **window)[1]
        seen += [t["tid_str"] for t in body["trades_sold_increment_get_response"]["trades"]["trade"]]
    assert len(seen) == 30
    assert len(set(seen)) < 30  # a naive forward pager both repeats and misses orders


def test_updates_out_of_order(h):
    tid = h.mock.generate(1, shop="tb-main", kind="unpaid")[0]["order_id"]
    h.mock.advance(minutes=1)
    h.control("act", {"action": "pay", "order_id": tid})
    client = h.client("tb-main")
    fresh = client.call("taobao.trade.fullinfo.get", tid=tid)[1]["trade_fullinfo_get_response"]["trade"]
    assert fresh["status"] == "WAIT_SELLER_SEND_GOODS"
    h.control("faults", {"kind": "out_of_order", "count": 1, "shop": "tb-main"})
    stale = client.call("taobao.trade.fullinfo.get", tid=tid)[1]["trade_fullinfo_get_response"]["trade"]
    assert stale["status"] == "WAIT_BUYER_PAY" and stale["modified"] < fresh["modified"]
    # the same in a list
    h.control("faults", {"kind": "out_of_order", "count": 1, "shop": "tb-main"})
    listed = tb_list(h)[1]["trades_sold_increment_get_response"]["trades"]["trade"]
    assert [t["status"] for t in listed] == ["WAIT_BUYER_PAY"]
    assert tb_list(h)[1]["trades_sold_increment_get_response"]["trades"]["trade"][0]["status"] == \
        "WAIT_SELLER_SEND_GOODS"


def test_list_faults_skip_write_methods(h):
    listing = h.mock.world.listings[("pdd-main", "MUG-RED")]
    h.control("faults", {"kind": "duplicate", "count": 1, "platform": "pdd"})
    status, body = h.client("pdd-main").call("pdd.goods.quantity.update", goods_id=listing.item_id,
                                             sku_id=listing.sku_id, quantity=3)
    assert body == {"goods_quantity_update_response": {"is_success": True}}
    assert len(h.control("faults")["queued"]) == 1  # still waiting for a list call


def test_random_fault_rate_per_platform_and_shop(h):
    h.control("config", {"fault_rate": 1.0, "fault_kinds": ["rate_limit"],
                         "platform_faults": {"jd": {"fault_rate": 0.0}},
                         "shop_faults": {"tb-second": {"fault_rate": 0.0}}})
    assert all(tb_list(h)[0] == 429 for _ in range(5))
    assert tb_list(h, shop="tb-second")[0] == 200
    assert h.client("jd-main").call("jingdong.pop.order.search", **h.jd_window())[0] == 200
    h.control("config", {"fault_rate": 0.0})
    assert tb_list(h)[0] == 200


def test_random_faults_at_a_partial_rate_are_reproducible(h):
    def outcomes(seed):
        h.reset(seed=seed, fault_rate=0.5, fault_kinds=["rate_limit", "server_error"])
        return [tb_list(h)[0] for _ in range(30)]

    first = outcomes(4)
    assert 200 in first and any(s in (429, 500, 502, 503) for s in first)
    assert outcomes(4) == first


def test_qps_limit_per_app(h):
    h.control("config", {"qps_limit": {"pdd": 2}})
    statuses = [h.client("pdd-main").call("pdd.time.get")[0] for _ in range(10)]
    assert 429 in statuses and statuses[0] == 200
    h.control("config", {"qps_limit": {"pdd": 0}})


def test_fault_filters_by_method(h):
    h.control("faults", {"kind": "rate_limit", "count": 1, "method": "taobao.trade.fullinfo.get"})
    assert tb_list(h)[0] == 200
    tid = h.mock.generate(1, shop="tb-main")[0]["order_id"]
    assert h.client("tb-main").call("taobao.trade.fullinfo.get", tid=tid)[0] == 429
    h.control("faults", {"kind": "slow", "count": 5})
    assert control(h.url, "faults", method="DELETE") == {"queued": []}


def test_out_of_order_never_serves_a_stale_version_first(h):
    """A stale version may only come back after the newer one was served: otherwise no client
    could ever tell it from the truth."""
    tid = h.mock.generate(1, shop="tb-main", kind="unpaid")[0]["order_id"]
    h.mock.advance(minutes=1)
    h.control("act", {"action": "pay", "order_id": tid})  # a newer version nobody has been served yet
    h.control("faults", {"kind": "out_of_order", "count": 1, "shop": "tb-main"})
    listed = tb_list(h)[1]["trades_sold_increment_get_response"]["trades"]["trade"]
    assert [t["status"] for t in listed] == ["WAIT_SELLER_SEND_GOODS"]


def test_jd_clock_answers_the_simulated_time(h):
    h.mock.advance(minutes=90)
    body = h.client("jd-main").call("jingdong.time.get")[1]["jingdong_time_get_responce"]
    assert body["code"] == "0"
    assert body["time"] == h.control("state")["now_cst"]
