"""Coupons delivered to platform buyers and redeemed by the orders that come back, end to end against
the simulated platforms (HTTP): the campaign queues its coupons through integrations, the relay sends
them with the request id (faults retried, a resend never makes a second coupon, a refusal visible on
the recipient), the platform's buyers redeem on later orders, the order pull ingests them, orders
announces order.coupons_used and the coupon is redeemed once, tied to the order; the campaign's effect
shows the redemption and the repurchase against the holdout."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from integrations.mock_platforms.client import control
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import CouponDelivery, Job, SyncRun
from integrations.services import coupon_deliveries_send, inbound_process, inbound_receive, shop_create
from integrations.sync import run_job
from members import ports, selectors
from members.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Coupon,
    CouponStatus,
    RecipientStatus,
    Segment,
)
from members.services import campaigns as svc
from members.services import members_recompute_rfm
from orders import services as order_services
from orders.models import Order
from tests.members.conftest import FakeOrders
from tests.members.test_campaigns import template
from tests.orders.conftest import inv  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db
CATALOG = ["TEE-WHT-M", "TEE-WHT-L", "TEE-BLK-M", "TEE-BLK-L", "MUG-RED", "MUG-BLU", "SOCK-3P", "CAP-NAVY", "GIFT-CARD"]


@pytest.fixture(scope="module")
def mock_url():
    with running_mock_platforms(seed=5) as url:
        yield url


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.001, "backoff_max": 0.01, "max_attempts": 3, "timeout": 5}


@pytest.fixture
def history(in_tenant_a):
    """Old orders from fake snapshots, the orders of the campaign (real, ingested) from orders."""
    from orders.selectors import order_snapshots

    fake = FakeOrders()

    def source(*, order_ids):
        known = fake(order_ids=order_ids)
        rest = [i for i in order_ids if i not in fake.snaps]
        return [*known, *(order_snapshots(order_ids=rest) if rest else [])]

    with ports.use_order_snapshots(source):
        yield fake


def _reset(url):
    start = datetime.now(UTC) - timedelta(seconds=30)
    control(url, "reset", {"seed": 5, "start_time": start.isoformat().replace("+00:00", "Z"),
                           "config": {"orders_per_hour": 0, "promotions": False, "coupon_redeem_rate": 0,
                                      "fault_rate": 0}})


def _shops(url):
    tb, _ = shop_create(code="tb-main", name="淘宝店", platform="taobao", api_base_url=url + "/taobao/router/rest",
                        credentials={"app_key": "tb-app-key", "app_secret": "tb-app-secret",
                                     "access_token": "tb-session-main"}, initial_lookback_hours=1, sync_lag_seconds=0)
    own, _ = shop_create(code="web", name="官网", platform="own")
    return tb, own


def _people(history, now):
    """Taobao buyers whose ids are the platform's open uids, own-shop buyers, all high value with their
    last order 100 days ago; low-value recent buyers; RFM computed."""
    old = now - timedelta(days=100)
    for i in range(10):
        history.ship(buyer=f"AAHtbvip{i:04d}", platform="taobao", paid="1000.00", name=f"tb{i}", paid_at=old)
    for i in range(5):
        history.ship(buyer=f"web-vip-{i}", platform="own", paid="1000.00", name=f"web{i}", paid_at=old)
    for i in range(10):
        history.ship(buyer=f"AAHrecent{i:04d}", platform="taobao", paid="50.00", name=f"lv{i}",
                     paid_at=now - timedelta(days=5))
    members_recompute_rfm(now=now)


def _ship(order_id):
    """Release whatever the review held (a risk hold, a buyer's message), allocate, ship."""
    from orders.models import OrderStatus

    order = Order.objects.get(pk=order_id)
    if order.status == OrderStatus.ON_HOLD:
        order_services.order_release(order_id=order_id, why="test")
    if Order.objects.get(pk=order_id).status == OrderStatus.PENDING_REVIEW:
        order_services.order_approve(order_id=order_id, why="test")
    if Order.objects.get(pk=order_id).status == OrderStatus.APPROVED:
        order_services.order_allocate(order_id=order_id)
    order_services.order_ship(order_id=order_id)


def _send(campaign, django_capture_on_commit_callbacks):
    svc.campaign_schedule(campaign_id=campaign.pk)
    with django_capture_on_commit_callbacks(execute=False):
        svc.campaign_run(campaign_id=campaign.pk, size=4)
    campaign.refresh_from_db()
    return campaign


def test_done_when_taobao_and_own_shop_coupons_delivered_redeemed_and_measured(
        history, inv, mock_url, django_capture_on_commit_callbacks):  # noqa: F811
    _reset(mock_url)
    tb, own = _shops(mock_url)
    for code in CATALOG:
        inv.add_sku(code)
    inv.add_warehouse(1, "ALL")
    for code in CATALOG:
        inv.stock(1, code, 1000)
    now = timezone.now()
    _people(history, now)
    campaign = svc.campaign_create(name="回归 60 天", template=template().pk, segment=Segment.IMPORTANT_RETAIN,
                                   no_purchase_days=60, channels=["taobao", "own"], holdout_percent=20)
    campaign = _send(campaign, django_capture_on_commit_callbacks)
    assert campaign.status == CampaignStatus.SENT and (campaign.n_audience, campaign.n_holdout) == (15, 3)
    treated = list(CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.SENT)
                   .select_related("coupon"))
    assert len(treated) == 12
    on_tb = [r for r in treated if r.channel == "taobao"]
    on_own = [r for r in treated if r.channel == "own"]
    assert on_tb and on_own
    # the own shop needs no call; the Taobao ones wait for the relay, which meets faults
    assert set(CouponDelivery.objects.filter(platform="own").values_list("status", flat=True)) == {"sent"}
    assert set(CouponDelivery.objects.filter(platform="taobao").values_list("status", flat=True)) == {"pending"}
    control(mock_url, "faults", {"kind": "server_error", "count": 2, "method": "taobao.promotion.coupon.send"})
    control(mock_url, "faults", {"kind": "rate_limit", "count": 3, "method": "taobao.promotion.coupon.send"})
    first = coupon_deliveries_send()
    assert first["retrying"] == 1 and first["sent"] == len(on_tb) - 1  # one gave up for now: retried later
    stuck = CouponDelivery.objects.get(status="pending")
    assert "gave up after 3 attempts" in stuck.last_error and stuck.next_attempt_at > timezone.now()
    CouponDelivery.objects.filter(pk=stuck.pk).update(next_attempt_at=timezone.now())
    assert coupon_deliveries_send() == {"sent": 1, "retrying": 0, "failed": 0}
    assert coupon_deliveries_send() == {"sent": 0, "retrying": 0, "failed": 0}
    # a relay whose answer was lost sends again with the same request id: the platform answers the same coupon
    row = CouponDelivery.objects.filter(platform="taobao").first()
    CouponDelivery.objects.filter(pk=row.pk).update(status="pending", next_attempt_at=timezone.now())
    coupon_deliveries_send()
    assert CouponDelivery.objects.get(pk=row.pk).response.get("already") is True
    platform = control(mock_url, "coupons", shop="tb-main")
    assert len(platform["coupons"]) == len(on_tb)  # never two coupons for one of ours
    assert sorted(c["buyer"] for c in platform["coupons"]) == sorted(r.buyer_id for r in on_tb)
    # the campaign is sent again: nothing new goes out
    svc.campaign_run(campaign_id=campaign.pk)
    assert CouponDelivery.objects.count() == len(treated)
    progress = selectors.campaign_progress(campaign)
    assert progress["deliveries"] == {"sent": len(treated)}
    # buyers redeem: three Taobao holders on the platform, one own-shop holder through the channel API
    deliveries = {d.coupon_id: d for d in CouponDelivery.objects.all()}
    redeemers = on_tb[:3]
    control(mock_url, "advance", {"seconds": 60})  # the platform's clock was reset 30 s back: buy after the send
    for r in redeemers:
        control(mock_url, "act", {"action": "coupon_use", "platform": "taobao",
                                  "coupon_id": deliveries[r.coupon_id].platform_coupon_id})
    assert run_job(shop=tb, job=Job.PULL_ORDERS).status == SyncRun.Status.SUCCESS
    for r in redeemers:
        coupon = Coupon.objects.get(pk=r.coupon_id)
        assert coupon.status == CouponStatus.REDEEMED and coupon.discount_amount == Decimal("30.00")
        order = Order.objects.get(pk=coupon.order_id)
        assert order.buyer_id == r.buyer_id and order.shop_id == tb.pk
    web = on_own[0]
    body = {"platform_order_id": "W-1", "state": "paid", "modified_at": timezone.now().isoformat(),
            "created_at": timezone.now().isoformat(), "paid_at": timezone.now().isoformat(), "buyer_id": web.buyer_id,
            "goods_amount": "260.00", "discount_amount": "30.00", "paid_amount": "230.00",
            "receiver": {"name": "王五", "phone": "13800000000", "province": "浙江省", "city": "杭州市",
                         "address": "文三路1号"},
            "lines": [{"platform_line_id": "W-1-1", "outer_id": "MUG-RED", "title": "杯", "quantity": 2,
                       "price": "130.00", "discount": "30.00", "paid": "230.00"}],
            "coupons": [{"code": web.coupon.code.lower(), "amount": "30.00"}]}
    message, _created = inbound_receive(shop=own, kind="order", data=body)
    inbound_process(message_id=message.pk)
    web_coupon = Coupon.objects.get(pk=web.coupon_id)
    assert web_coupon.status == CouponStatus.REDEEMED
    assert Order.objects.get(pk=web_coupon.order_id).platform_order_id == "W-1"
    # the same orders again (a second pull, the shop resending): nothing changes
    redeemed = dict(Coupon.objects.filter(status=CouponStatus.REDEEMED).values_list("pk", "order_id"))
    control(mock_url, "advance", {"seconds": 5})
    run_job(shop=tb, job=Job.PULL_ORDERS)
    inbound_receive(shop=own, kind="order", data=body)
    assert dict(Coupon.objects.filter(status=CouponStatus.REDEEMED).values_list("pk", "order_id")) == redeemed
    assert Order.objects.filter(pk__in=redeemed.values()).count() == 4
    # the orders ship: repurchase; one holdout member buys without a coupon
    for order_id in redeemed.values():
        _ship(order_id)
    held = CampaignRecipient.objects.filter(campaign=campaign, holdout=True).select_related("member").first()
    ident = held.member.identities.get()
    history.ship(buyer=ident.buyer_id, platform=ident.platform, paid="250.00", name="h", paid_at=timezone.now())
    effect = selectors.campaign_effect(campaign, now=timezone.now() + timedelta(days=31))[0]
    assert effect["days"] == 30 and effect["complete"]
    assert effect["treated"]["members"] == 12 and effect["holdout"]["members"] == 3
    assert effect["treated"]["redeemed"] == 4 and effect["treated"]["redemption_rate"] == round(4 / 12, 4)
    assert effect["treated"]["repurchasers"] == 4 and effect["holdout"]["repurchasers"] == 1
    assert effect["uplift"] == round(round(4 / 12, 4) - round(1 / 3, 4), 4)


def test_a_refused_delivery_marks_the_recipient_failed_and_a_retry_sends_it(
        history, mock_url, django_capture_on_commit_callbacks, tenant_a, client):
    _reset(mock_url)
    tb, _own = _shops(mock_url)
    now = timezone.now()
    _people(history, now)
    percent = template(name="九折券")
    percent.kind, percent.percent_off, percent.amount_off = "percent", Decimal("10"), Decimal("0")
    percent.save()
    campaign = svc.campaign_create(name="九折", template=percent.pk, segment=Segment.IMPORTANT_RETAIN,
                                   no_purchase_days=60, channels=["taobao"], holdout_percent=0)
    campaign = _send(campaign, django_capture_on_commit_callbacks)
    assert campaign.n_sent == 10
    assert coupon_deliveries_send() == {"sent": 0, "retrying": 0, "failed": 10}  # percent off: Taobao refuses
    campaign.refresh_from_db()
    assert (campaign.n_sent, campaign.n_failed) == (0, 10)
    r = CampaignRecipient.objects.filter(campaign=campaign).first()
    assert r.status == RecipientStatus.FAILED and "percent coupon cannot be sent" in r.detail
    assert not control(mock_url, "coupons", shop="tb-main")["coupons"]
    # the campaign page and API show it
    from django.urls import reverse

    from erp.tenancy.roles import Role

    client.force_login(tenant_a.members[Role.ADMIN].user)
    url = reverse("members:campaign", args=[campaign.pk])
    page = client.get(url).content.decode()
    assert 'data-status="failed"' in page and "percent coupon cannot be sent" in page
    assert 'id="campaign-retry-deliveries"' in page
    api = tenant_a.api(Role.OPERATOR)
    progress = api.get(f"/api/v1/members/campaigns/{campaign.pk}/progress/").json()
    assert progress["deliveries"] == {"failed": 10} and progress["failed"] == 10
    # the operator makes it an amount coupon and retries: delivered under the same request ids
    CouponDelivery.objects.update(terms={**CouponDelivery.objects.first().terms, "kind": "amount",
                                         "amount_off": "5.00"})
    with django_capture_on_commit_callbacks(execute=False):
        assert svc.campaign_retry_deliveries(campaign_id=campaign.pk) == 10
    assert coupon_deliveries_send()["sent"] == 10
    campaign.refresh_from_db()
    assert (campaign.n_sent, campaign.n_failed) == (10, 0)
    assert CampaignRecipient.objects.filter(campaign=campaign, status=RecipientStatus.SENT).count() == 10
    assert Campaign.objects.get(pk=campaign.pk).status == CampaignStatus.SENT
    again = api.post(f"/api/v1/members/campaigns/{campaign.pk}/retry-deliveries/")
    assert again.status_code == 200 and again.json()["deliveries"] == {"sent": 10}
    page = client.get(url).content.decode()
    assert 'data-status="sent"' in page and 'id="campaign-retry-deliveries"' not in page


def test_a_late_order_redeems_a_coupon_expired_since_and_twice_is_once(history):
    from members.services.handlers import coupons_redeem_for_order

    tpl = template()
    member = history.ship(buyer="AAHlate", platform="taobao", paid="100.00", name="late")
    from members.models import MemberIdentity
    from members.services.coupons import coupon_issue, coupons_expire

    member_id = MemberIdentity.objects.get(buyer_id="AAHlate").member_id
    coupon = coupon_issue(template_id=tpl.pk, member_id=member_id, issue_ref="t")
    paid_at = timezone.now() - timedelta(days=2)
    Coupon.objects.filter(pk=coupon.pk).update(valid_until=timezone.now() - timedelta(days=1))
    coupons_expire()
    kwargs = {"order_id": member.id + 1, "shop_id": None, "platform": "own", "buyer_id": "AAHlate",
              "coupons": [{"code": coupon.code}], "goods_amount": "250.00", "paid_at": paid_at.isoformat()}
    assert coupons_redeem_for_order(**kwargs) == [coupon.pk]
    assert coupons_redeem_for_order(**kwargs) == [coupon.pk]
    coupon.refresh_from_db()
    assert coupon.status == CouponStatus.REDEEMED and coupon.order_id == member.id + 1
    # another order with the same coupon, or an order placed after it ended: refused, nothing changes
    assert coupons_redeem_for_order(**{**kwargs, "order_id": member.id + 2}) == []
    assert coupons_redeem_for_order(**{**kwargs, "coupons": [{"code": "NOPE"}]}) == []
