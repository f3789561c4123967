"""Campaigns: the done-when scenario ("high value, no purchase in 60 days" sent on Taobao and the own
shop, orders come back redeeming, the effect against the holdout), the segment criteria, a resend
changing nothing, the frequency cap, opt-out, the reproducible holdout, the beat tick and the task."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from members import selectors
from members.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Coupon,
    CouponTemplate,
    Member,
    MemberSettings,
    RecipientStatus,
    Segment,
)
from members.services import campaigns as svc
from members.services import coupons as coupon_svc
from members.services import members_recompute_rfm

pytestmark = pytest.mark.django_db


def template(name="回归券 满200减30"):
    return CouponTemplate.objects.create(name=name, kind="amount", amount_off=Decimal("30.00"),
                                         threshold=Decimal("200.00"), valid_days=60)


def world(orders, now):
    """20 high-value buyers whose only order is 100 days old (12 on Taobao, 6 on the own shop, 2 on
    JD) and 20 low-value recent buyers on Taobao; RFM computed: the first are important_retain."""
    old, recent = now - timedelta(days=100), now - timedelta(days=10)
    platforms = ["taobao"] * 12 + ["own"] * 6 + ["jd"] * 2
    for i, platform in enumerate(platforms):
        orders.ship(buyer=f"hv{i}", platform=platform, paid="1000.00", name=f"hv{i}", paid_at=old)
    for i in range(20):
        orders.ship(buyer=f"lv{i}", platform="taobao", paid="50.00", name=f"lv{i}", paid_at=recent)
    members_recompute_rfm(now=now)
    return {m.display_name: m for m in Member.objects.all()}


def make(tpl, *, name="win back", **kw):
    fields = {"segment": Segment.IMPORTANT_RETAIN, "no_purchase_days": 60, "channels": ["taobao", "own"],
              "holdout_percent": 20, **kw}
    return svc.campaign_create(name=name, template=tpl.pk, **fields)


def send(campaign, *, now, size=5):
    """Schedule and send in small batches the way the task does (start, then batches)."""
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED, scheduled_at=now)
    svc.campaign_start(campaign_id=campaign.pk, now=now)
    while svc.campaign_send_batch(campaign_id=campaign.pk, size=size, now=now):
        pass
    campaign.refresh_from_db()
    return campaign


def test_done_when_win_back_on_taobao_and_own_shop_measured_against_holdout(orders):
    sent_at = timezone.now() - timedelta(days=40)
    people = world(orders, sent_at)
    assert people["hv0"].segment == Segment.IMPORTANT_RETAIN and people["lv0"].segment != Segment.IMPORTANT_RETAIN
    svc.member_set_opt_out(member_id=people["hv1"].pk, opt_out=True)
    tpl = template()
    preview = selectors.campaign_preview(segment=Segment.IMPORTANT_RETAIN, no_purchase_days=60,
                                         channels=["taobao", "own"], holdout_percent=20, now=sent_at)
    assert preview == {"matched": 18, "opted_out": 1, "capped": 0, "eligible": 17, "holdout": 3, "to_send": 14}
    campaign = send(make(tpl), now=sent_at)
    assert campaign.status == CampaignStatus.SENT
    assert (campaign.n_audience, campaign.n_holdout, campaign.n_sent, campaign.n_skipped) == (18, 3, 14, 1)
    rcpts = {r.member.display_name: r for r in CampaignRecipient.objects.select_related("member", "coupon")}
    assert set(rcpts) == {f"hv{i}" for i in range(18)}  # JD-only buyers are not on the channels
    assert rcpts["hv1"].status == RecipientStatus.OPTED_OUT and rcpts["hv1"].coupon is None
    held = [n for n, r in rcpts.items() if r.holdout]
    assert len(held) == 3 and all(rcpts[n].coupon is None and rcpts[n].status == "holdout" for n in held)
    treated = [n for n, r in rcpts.items() if r.status == RecipientStatus.SENT]
    assert len(treated) == 14 and Coupon.objects.count() == 14
    assert {rcpts[n].channel for n in treated} == {"taobao", "own"}
    own = next(n for n in treated if rcpts[n].channel == "own")
    assert rcpts[own].buyer_id == own  # the buyer the coupon goes out to
    # the own shop sees the coupon through the channel API's benefits
    assert [c[0] for c in selectors.member_benefits(platform="own", buyer_id=own).coupons] == [rcpts[own].coupon.code]
    # orders come back: 5 treated redeem, 1 holdout buys anyway, one treated buys after 45 days
    back = sent_at + timedelta(days=10)
    for name in treated[:5]:
        r = rcpts[name]
        snap = orders.ship(buyer=name, platform=r.channel, paid="300.00", name=name, paid_at=back)
        coupon_svc.coupon_redeem(code=r.coupon.code, order_id=snap.id, order_amount="300.00", member_id=r.member_id)
    orders.ship(buyer=held[0], platform=rcpts[held[0]].member.identities.get().platform, paid="250.00",
                name=held[0], paid_at=back)
    orders.ship(buyer=treated[6], platform=rcpts[treated[6]].channel, paid="120.00", name=treated[6],
                paid_at=sent_at + timedelta(days=45))
    orders.ship(buyer="lv0", platform="taobao", paid="999.00", name="lv0", paid_at=back)  # not in the campaign
    effect = {w["days"]: w for w in selectors.campaign_effect(campaign)}
    d30, d60 = effect[30], effect[60]
    assert d30["complete"] and not d60["complete"]
    assert d30["treated"]["members"] == 14 and d30["holdout"]["members"] == 3
    assert d30["treated"]["redeemed"] == 5 and d30["treated"]["redemption_rate"] == round(5 / 14, 4)
    assert d30["treated"]["repurchasers"] == 5 and d30["treated"]["revenue"] == Decimal("1500.00")
    assert d30["holdout"]["repurchasers"] == 1 and d30["holdout"]["revenue"] == Decimal("250.00")
    assert d30["uplift"] == round(round(5 / 14, 4) - round(1 / 3, 4), 4)
    assert d60["treated"]["repurchasers"] == 6 and d60["treated"]["revenue"] == Decimal("1620.00")
    assert d30["treated"]["redeemed_order_amount"] == Decimal("1500.00")


def test_resend_is_idempotent_and_a_crash_mid_send_resumes(orders):
    now = timezone.now()
    world(orders, now)
    campaign = make(template(), holdout_percent=0)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED, scheduled_at=now)
    svc.campaign_start(campaign_id=campaign.pk, now=now)
    svc.campaign_send_batch(campaign_id=campaign.pk, size=4, now=now)
    assert Coupon.objects.count() == 4
    # a second start (a duplicate task) freezes nothing new; a stale "pending" row after a crash
    # whose coupon was already issued gets that same coupon
    svc.campaign_start(campaign_id=campaign.pk, now=now)
    first = CampaignRecipient.objects.filter(status=RecipientStatus.SENT).first()
    CampaignRecipient.objects.filter(pk=first.pk).update(status=RecipientStatus.PENDING, coupon=None)
    Campaign.objects.filter(pk=campaign.pk).update(n_sent=3)
    assert svc.campaign_run(campaign_id=campaign.pk) == 0
    svc.campaign_run(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SENT and campaign.n_sent == 18
    assert CampaignRecipient.objects.count() == 18 and Coupon.objects.count() == 18
    assert Coupon.objects.filter(issue_ref=f"campaign:{campaign.pk}").count() == 18
    with pytest.raises(Exception, match="sent already"):
        svc.campaign_cancel(campaign_id=campaign.pk)
    with pytest.raises(Exception, match="no longer be changed"):
        svc.campaign_update(campaign_id=campaign.pk, name="renamed")


def test_frequency_cap_counts_campaigns_in_the_period(orders):
    now = timezone.now()
    world(orders, now - timedelta(days=40))
    MemberSettings.objects.update_or_create(defaults={"campaign_cap_count": 1, "campaign_cap_days": 30})
    first = send(make(template("A"), name="A", holdout_percent=0, no_purchase_days=None), now=now - timedelta(days=35))
    assert first.n_sent == 18
    second = send(make(template("B"), name="B", holdout_percent=0, no_purchase_days=None), now=now - timedelta(days=2))
    assert second.n_sent == 18  # the first is 33 days back: outside the period
    third = make(template("C"), name="C", holdout_percent=0, no_purchase_days=None)
    assert selectors.campaign_preview(segment=Segment.IMPORTANT_RETAIN, channels=["taobao", "own"], now=now)[
        "capped"] == 18
    third = send(third, now=now)
    assert third.n_sent == 0 and third.n_skipped == 18 and third.status == CampaignStatus.SENT
    assert set(CampaignRecipient.objects.filter(campaign=third).values_list("status", flat=True)) == {"capped"}
    # two campaigns frozen at once: the second to send finds the cap reached under the member lock
    MemberSettings.objects.update(campaign_cap_days=1)
    d1 = make(template("D1"), name="D1", holdout_percent=0, no_purchase_days=None)
    d2 = make(template("D2"), name="D2", holdout_percent=0, no_purchase_days=None)
    later = now + timedelta(days=3)
    for c in (d1, d2):
        Campaign.objects.filter(pk=c.pk).update(status=CampaignStatus.SCHEDULED, scheduled_at=later)
        svc.campaign_start(campaign_id=c.pk, now=later)
    assert svc.campaign_send_batch(campaign_id=d1.pk, size=100, now=later) == 0
    assert svc.campaign_send_batch(campaign_id=d2.pk, size=100, now=later) == 0
    d1.refresh_from_db()
    d2.refresh_from_db()
    assert (d1.n_sent, d2.n_sent, d2.n_skipped) == (18, 0, 18)


def test_opt_out_is_respected_at_send_time_too(orders):
    now = timezone.now()
    people = world(orders, now)
    campaign = make(template(), holdout_percent=0)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.SCHEDULED, scheduled_at=now)
    svc.campaign_start(campaign_id=campaign.pk, now=now)
    svc.member_set_opt_out(member_id=people["hv5"].pk, opt_out=True)  # after freezing, before its batch
    svc.campaign_run(campaign_id=campaign.pk)
    row = CampaignRecipient.objects.get(member=people["hv5"])
    assert row.status == RecipientStatus.OPTED_OUT and not Coupon.objects.filter(member=people["hv5"]).exists()
    assert Member.objects.get(pk=people["hv5"].pk).marketing_opt_out_at is not None
    svc.member_set_opt_out(member_id=people["hv5"].pk, opt_out=False)
    assert not Member.objects.get(pk=people["hv5"].pk).marketing_opt_out


def test_holdout_is_reproducible_from_the_seed():
    ids = list(range(1, 201))
    a = svc.draw_holdout(ids, seed=42, percent=10)
    assert a == svc.draw_holdout(list(reversed(ids)), seed=42, percent=10) and len(a) == 20
    assert a != svc.draw_holdout(ids, seed=43, percent=10)
    assert svc.draw_holdout(ids, seed=42, percent=0) == set()


def test_criteria_level_platform_recent_and_sku(orders, levels):
    now = timezone.now()
    world(orders, now)
    q = selectors.campaign_audience
    assert q(platform="own", channels=["taobao", "own"], now=now).count() == 6
    assert q(purchased_within_days=30, channels=["taobao"], now=now).count() == 20
    assert q(no_purchase_days=60, channels=["jd"], now=now).count() == 2
    assert q(level_rank=3, channels=["taobao", "own", "jd"], now=now).count() == 0
    assert q(level_rank=2, channels=["own"], now=now).count() == 6  # 1000 paid: 银卡
    assert q(level_rank=1, channels=["taobao"], now=now).count() == 20
    from members import ports
    from members.models import MemberOrder

    hv3 = Member.objects.get(display_name="hv3")
    wanted = list(MemberOrder.objects.filter(member=hv3).values_list("order_id", flat=True))
    with ports.use_order_ids_with_sku(lambda *, sku_code: wanted if sku_code == "SKU-9" else []):
        assert list(q(sku_code="SKU-9", channels=["taobao"], now=now)) == [hv3]
        assert q(sku_code="OTHER", channels=["taobao"], now=now).count() == 0


def test_bad_campaign_input_names_the_fields(orders):
    from django.core.exceptions import ValidationError

    tpl = template()
    with pytest.raises(ValidationError) as exc:
        svc.campaign_create(name="", template=tpl.pk, segment="rich", channels=["tmall"], holdout_percent=95,
                            no_purchase_days=0)
    assert {"name", "segment", "channels", "holdout_percent", "no_purchase_days"} <= set(exc.value.message_dict)
    make(tpl, name="x")
    with pytest.raises(ValidationError) as exc:
        make(tpl, name="x")
    assert "name" in exc.value.message_dict


def test_beat_tick_starts_due_campaigns_and_the_task_sends(orders, tenant_a, monkeypatch):
    from members import tasks

    now = timezone.now()
    world(orders, now - timedelta(days=1))
    due = make(template(), name="due", holdout_percent=0)
    later = make(template("later"), name="later")
    svc.campaign_schedule(campaign_id=later.pk, scheduled_at=now + timedelta(days=1))
    Campaign.objects.filter(pk=due.pk).update(status=CampaignStatus.SCHEDULED, scheduled_at=now - timedelta(minutes=1))
    calls = []
    monkeypatch.setattr(tasks.campaign_send, "delay", lambda **kw: calls.append(kw))
    assert tasks.campaigns_tick() == 1
    assert calls == [{"tenant_id": tenant_a.tenant.pk, "campaign_id": due.pk}]
    assert tasks.campaign_send.run(tenant_id=tenant_a.tenant.pk, campaign_id=due.pk) == 0
    due.refresh_from_db()
    assert due.status == CampaignStatus.SENT and due.n_sent == 18
    progress = selectors.campaign_progress(due)
    assert progress["percent"] == 100 and progress["by_status"] == {"sent": 18}
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="members.campaigns_tick", enabled=True).exists()
