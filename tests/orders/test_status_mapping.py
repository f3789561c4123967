import pytest

from integrations.normalized import OrderState
from orders.models import HoldReason, OrderStatus
from orders.status_mapping import PLATFORM_STATUSES, STATE_TO_STATUS, map_order

from .conftest import norder

EXPECTED = {
    ("taobao", "WAIT_BUYER_PAY"): (OrderStatus.ON_HOLD, {HoldReason.UNPAID}),
    ("taobao", "TRADE_NO_CREATE_PAY"): (OrderStatus.ON_HOLD, {HoldReason.UNPAID}),
    ("taobao", "WAIT_SELLER_SEND_GOODS"): (OrderStatus.PENDING_REVIEW, set()),
    ("taobao", "PAID_FORBID_CONSIGN"): (OrderStatus.ON_HOLD, {HoldReason.PLATFORM_BLOCKED}),
    ("taobao", "SELLER_CONSIGNED_PART"): (OrderStatus.SHIPPED, set()),
    ("taobao", "WAIT_BUYER_CONFIRM_GOODS"): (OrderStatus.SHIPPED, set()),
    ("taobao", "TRADE_BUYER_SIGNED"): (OrderStatus.COMPLETED, set()),
    ("taobao", "TRADE_FINISHED"): (OrderStatus.COMPLETED, set()),
    ("taobao", "TRADE_CLOSED"): (OrderStatus.CANCELLED, set()),
    ("taobao", "TRADE_CLOSED_BY_TAOBAO"): (OrderStatus.CANCELLED, set()),
    ("jd", "WAIT_SELLER_STOCK_OUT"): (OrderStatus.PENDING_REVIEW, set()),
    ("jd", "WAIT_SELLER_DELIVERY"): (OrderStatus.PENDING_REVIEW, set()),
    ("jd", "LOCKED"): (OrderStatus.ON_HOLD, {HoldReason.PLATFORM_BLOCKED}),
    ("jd", "POP_ORDER_PAUSE"): (OrderStatus.ON_HOLD, {HoldReason.PLATFORM_BLOCKED}),
    ("jd", "WAIT_GOODS_RECEIVE_CONFIRM"): (OrderStatus.SHIPPED, set()),
    ("jd", "FINISHED_L"): (OrderStatus.COMPLETED, set()),
    ("jd", "TRADE_CANCELED"): (OrderStatus.CANCELLED, set()),
    ("pdd", "1"): (OrderStatus.PENDING_REVIEW, set()),
    ("pdd", "2"): (OrderStatus.SHIPPED, set()),
    ("pdd", "3"): (OrderStatus.COMPLETED, set()),
}


def test_every_known_platform_status_is_tested():
    assert set(EXPECTED) == {(p, s) for p, table in PLATFORM_STATUSES.items() for s in table}
    assert set(STATE_TO_STATUS) == set(OrderState.CHOICES)


@pytest.mark.parametrize(("key", "expected"), sorted(EXPECTED.items()))
def test_platform_status_maps_to_our_status(key, expected):
    platform, raw = key
    state, _blocked = PLATFORM_STATUSES[platform][raw]
    # the adapter's state and the raw status agree
    assert map_order(norder(platform=platform, platform_status=raw, state=state)) .status == expected[0]
    # and with an adapter state we do not know, the raw status table decides alone
    mapped = map_order(norder(platform=platform, platform_status=raw, state="??"))
    assert (mapped.status, set(mapped.platform_holds)) == (expected[0], expected[1])


def test_presale_deposit_only_is_held_by_the_platform():
    mapped = map_order(norder(is_presale=True, presale_fully_paid=False))
    assert mapped.status == OrderStatus.ON_HOLD and HoldReason.PRESALE_UNPAID in mapped.platform_holds
    assert map_order(norder(is_presale=True, presale_fully_paid=True)).status == OrderStatus.PENDING_REVIEW


def test_platform_ship_block_and_unknown_status_never_ship():
    assert HoldReason.PLATFORM_BLOCKED in map_order(norder(platform="pdd", platform_status="1",
                                                           ship_blocked_reason="group_forming")).platform_holds
    unknown = map_order(norder(platform="jd", platform_status="SOMETHING_NEW", state="??"))
    assert unknown.status == OrderStatus.ON_HOLD and HoldReason.PLATFORM_BLOCKED in unknown.platform_holds
