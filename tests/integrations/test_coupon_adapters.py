"""The adapters' coupon calls against the simulated platforms (HTTP): send (idempotent on the request
id, a refusal answered, a transient fault raised retryable after the client's retries), query, cancel,
and the redeemed coupon mapped from each platform's order payload into NormalizedOrder.coupons (and
kept by the codec)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.adapters import AdapterError, CouponSend, adapter_class
from integrations.codec import order_from_dict, order_to_dict
from integrations.mock_platforms.client import control
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Shop

pytestmark = pytest.mark.django_db
SHOPS = {
    "tb-main": ("taobao", "/taobao/router/rest", {"app_key": "tb-app-key", "app_secret": "tb-app-secret",
                                                  "access_token": "tb-session-main"}),
    "jd-main": ("jd", "/jd/routerjson", {"app_key": "jd-app-key", "app_secret": "jd-app-secret",
                                         "access_token": "jd-token-main"}),
    "pdd-main": ("pdd", "/pdd/api/router", {"app_key": "pdd-client-id", "app_secret": "pdd-client-secret",
                                            "access_token": "pdd-token-main"}),
}


@pytest.fixture(scope="module")
def mock_url():
    with running_mock_platforms(seed=3, config={"orders_per_hour": 0, "promotions": False,
                                                "coupon_redeem_rate": 0}) as url:
        yield url


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.001, "backoff_max": 0.01, "max_attempts": 3, "timeout": 5}


def adapter(url, code):
    platform, path, creds = SHOPS[code]
    shop = Shop.objects.create(code=code, name=code, platform=platform, api_base_url=url + path, credentials=creds)
    return adapter_class(platform).for_shop(shop)


def coupon(request_id="erp-coupon-1", buyer="buyer-1", kind="amount"):
    return CouponSend(request_id=request_id, buyer_id=buyer, code="ABCDEFGH23", title="回归券",
                      amount_off=Decimal("30.00"), threshold=Decimal("200.00"), kind=kind,
                      valid_until=timezone.now() + timedelta(days=30))


@pytest.mark.parametrize("code", ["tb-main", "jd-main", "pdd-main"])
def test_send_query_cancel_and_the_redeemed_coupon_on_the_order(in_tenant_a, mock_url, code):
    control(mock_url, "reset", {"seed": 3})
    a = adapter(mock_url, code)
    first = a.send_coupon(coupon())
    assert first.ok and first.platform_coupon_id and not first.already
    again = a.send_coupon(coupon())
    assert again.ok and again.already and again.platform_coupon_id == first.platform_coupon_id
    assert len(control(mock_url, "coupons", shop=code)["coupons"]) == 1
    refused = a.send_coupon(coupon(request_id="erp-coupon-2", kind="percent"))
    assert not refused.ok and "percent" in refused.error
    assert a.query_coupon(platform_coupon_id=first.platform_coupon_id)["state"] == "unused"
    # a fault on every attempt: retryable, the caller's relay backs off
    control(mock_url, "faults", {"kind": "server_error", "count": 3, "shop": code})
    with pytest.raises(AdapterError) as exc:
        a.send_coupon(coupon(request_id="erp-coupon-3"))
    assert exc.value.retryable
    used = control(mock_url, "act", {"action": "coupon_use", "platform": a.platform,
                                     "coupon_id": first.platform_coupon_id})
    assert a.query_coupon(platform_coupon_id=first.platform_coupon_id)["state"] == "used"
    row = next(r for r in control(mock_url, "orders", shop=code)["orders"] if r["order_id"] == used["order_id"])
    order = a.map_order(row["order"])
    assert [(c.platform_coupon_id, c.amount) for c in order.coupons] == [(first.platform_coupon_id, Decimal("30.00"))]
    assert order.goods_amount >= Decimal("200.00") and order.discount_amount >= Decimal("30.00")
    assert order_from_dict(order_to_dict(order)).coupons == order.coupons
    cancel = a.cancel_coupon(platform_coupon_id=first.platform_coupon_id)
    assert not cancel.ok  # used: cannot be withdrawn
    other = a.send_coupon(coupon(request_id="erp-coupon-4", buyer="buyer-4"))
    assert a.cancel_coupon(platform_coupon_id=other.platform_coupon_id).ok
    assert a.query_coupon(platform_coupon_id=other.platform_coupon_id)["state"] == "cancelled"
    a.close()


def test_own_shop_needs_no_call_and_its_orders_name_our_code(in_tenant_a):
    shop = Shop.objects.create(code="web", name="web", platform="own")
    own = adapter_class("own").for_shop(shop)
    assert own.send_coupon(coupon()).ok
    now = timezone.now().isoformat()
    order = own.map_order({"platform_order_id": "W1", "state": "paid", "modified_at": now, "created_at": now,
                           "coupons": [{"code": "abcdefgh23", "amount": "30"}]})
    assert [(c.code, c.amount) for c in order.coupons] == [("ABCDEFGH23", Decimal("30.00"))]
    with pytest.raises(ValueError, match="coupons"):
        own.map_order({"platform_order_id": "W2", "state": "paid", "modified_at": now, "created_at": now,
                       "coupons": [{"amount": "30"}]})
