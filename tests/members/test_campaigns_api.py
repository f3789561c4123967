"""Campaigns over the API and on the operator pages: 400 with field errors, 409 on wrong state,
preview, schedule (the send task runs eagerly after the commit here), progress and effect, opt-out, the
repurchase dashboard, both languages, tenant B never sees nor uses tenant A's rows."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from erp.tenancy.roles import Role
from members.models import Campaign, CampaignRecipient, Coupon, CouponTemplate, Member, Segment
from tests.members.test_campaigns import template, world

pytestmark = pytest.mark.django_db
C = "/api/v1/members/campaigns/"
M = "/api/v1/members/members/"


def body(kw=None, **extra):
    return {"name": "win back", "segment": Segment.IMPORTANT_RETAIN, "no_purchase_days": 60,
            "channels": ["taobao", "own"], "holdout_percent": 20, **(kw or {}), **extra}


def test_api_flow(orders, tenant_a, tenant_b, django_capture_on_commit_callbacks):
    world(orders, timezone.now())
    tpl = template()
    api = tenant_a.api(Role.OPERATOR)
    pv = api.post(C + "preview/", body(), format="json")
    assert pv.status_code == 200 and pv.json() == {"matched": 18, "opted_out": 0, "capped": 0, "eligible": 18,
                                                   "holdout": 4, "to_send": 14}
    bad = api.post(C + "preview/", {"segment": "rich", "channels": ["tmall"], "no_purchase_days": -1}, format="json")
    assert bad.status_code == 400 and {"channels", "no_purchase_days"} <= set(bad.json()["errors"])
    bad = api.post(C + "preview/", body(segment="rich"), format="json")
    assert bad.status_code == 400 and "segment" in bad.json()["errors"]
    bad = api.post(C, body(template=999999, holdout_percent=95, name=""), format="json")
    assert bad.status_code == 400 and {"template", "holdout_percent", "name"} <= set(bad.json()["errors"])
    made = api.post(C, body(template=tpl.pk), format="json")
    assert made.status_code == 201, made.content
    cid = made.json()["id"]
    assert made.json()["status"] == "draft" and made.json()["seed"] > 0
    assert api.post(C, body(template=tpl.pk), format="json").status_code == 400  # same name
    assert api.patch(f"{C}{cid}/", {"holdout_percent": 10}, format="json").status_code == 200
    assert api.post(f"{C}{cid}/schedule/", {"scheduled_at": "soon"}, format="json").status_code == 400
    # tenant B neither sees it nor can schedule it, nor use A's template
    other = tenant_b.api(Role.OPERATOR)
    assert other.get(f"{C}{cid}/").status_code == 404
    assert other.post(f"{C}{cid}/schedule/", {}, format="json").status_code == 404
    assert other.get(C).json()["results"] == [] if "results" in other.get(C).json() else other.get(C).json() == []
    cross = other.post(C, body(template=tpl.pk, name="steal"), format="json")
    assert cross.status_code == 400 and "template" in cross.json()["errors"]
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.post(f"{C}{cid}/schedule/", {}, format="json")
    assert sent.status_code == 200
    progress = api.get(f"{C}{cid}/progress/").json()
    assert progress["status"] == "sent" and progress["percent"] == 100
    assert progress["sent"] + progress["holdout"] == 18 and progress["holdout"] == 2  # 10% of 18, rounded
    assert Coupon.objects.filter(issue_ref=f"campaign:{cid}").count() == 16
    # sending again is refused and changes nothing
    assert api.post(f"{C}{cid}/schedule/", {}, format="json").status_code == 409
    assert api.patch(f"{C}{cid}/", {"name": "x"}, format="json").status_code == 409
    assert api.delete(f"{C}{cid}/").status_code == 409
    assert api.post(f"{C}{cid}/cancel/").status_code == 409
    assert CampaignRecipient.objects.count() == 18 and Coupon.objects.count() == 16
    effect = api.get(f"{C}{cid}/effect/").json()
    assert [w["days"] for w in effect] == [30, 60, 90] and effect[0]["treated"]["members"] == 16
    assert effect[0]["holdout"]["members"] == 2 and effect[0]["complete"] is False
    assert api.get(C, {"status": "lost"}).status_code == 400
    assert [c["id"] for c in api.get(C, {"status": "sent"}).json()["results"]] == [cid]
    # a draft can be cancelled or deleted
    draft = api.post(C, body(template=tpl.pk, name="later"), format="json").json()["id"]
    assert api.post(f"{C}{draft}/cancel/").json()["status"] == "cancelled"
    assert api.post(f"{C}{draft}/cancel/").status_code == 200
    assert tenant_a.api(Role.WAREHOUSE).post(C, body(template=tpl.pk, name="w"), format="json").status_code == 403


def test_opt_out_api_and_repurchase(orders, tenant_a, tenant_b):
    people = world(orders, timezone.now() - timedelta(days=1))
    api = tenant_a.api(Role.SERVICE)
    hv0 = people["hv0"]
    r = api.post(f"{M}{hv0.pk}/opt-out/", {"opt_out": True}, format="json")
    assert r.status_code == 200 and r.json()["marketing_opt_out"] is True
    assert api.post(f"{M}{hv0.pk}/opt-out/", {"opt_out": "maybe"}, format="json").status_code == 400
    assert tenant_b.api(Role.SERVICE).post(f"{M}{hv0.pk}/opt-out/", {"opt_out": False}, format="json").status_code == 404
    assert Member.objects.get(pk=hv0.pk).marketing_opt_out
    rep = api.get(M + "repurchase/", {"months": "6"})
    assert rep.status_code == 200 and len(rep.json()["months"]) == 6
    this_month = rep.json()["months"][-1]
    assert this_month["month"] == timezone.now().strftime("%Y-%m") or this_month["buyers"] >= 0
    assert api.get(M + "repurchase/", {"months": "0"}).status_code == 400


def test_repurchase_counts_returning_buyers(orders, tenant_a):
    from erp.tenancy.dates import month_range, tenant_today
    from members import selectors

    today = tenant_today()
    this_start = month_range(today.year, today.month)[0]
    before = this_start - timedelta(days=40)
    orders.ship(buyer="a", paid="100.00", name="a", paid_at=before)
    orders.ship(buyer="a", paid="100.00", name="a", paid_at=this_start + timedelta(hours=1))
    orders.ship(buyer="b", paid="100.00", name="b", paid_at=this_start + timedelta(hours=2))
    months = selectors.repurchase_by_month(months=3)["months"]
    assert months[-1]["buyers"] == 2 and months[-1]["returning"] == 1 and months[-1]["rate"] == 0.5
    assert sum(s["buyers"] for s in months[-1]["segments"].values()) == 2


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_campaign_pages(client, orders, tenant_a, lang, django_capture_on_commit_callbacks):
    people = world(orders, timezone.now())
    tpl = template()
    client.force_login(tenant_a.members[Role.ADMIN].user)
    url = reverse("members:campaigns")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
    text = page.content.decode()
    assert page.status_code == 200 and 'id="campaign-form"' in text and f'lang="{lang}"' in text
    form = {"name": "回归", "segment": Segment.IMPORTANT_RETAIN, "no_purchase_days": "60", "template": str(tpl.pk),
            "channels": ["taobao", "own"], "holdout_percent": "20"}
    pv = client.get(url, {**form, "preview": "1"}, HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert 'id="campaign-preview"' in pv and "<strong>18</strong>" in pv
    bad = client.get(url, {**form, "preview": "1", "no_purchase_days": "x", "channels": []}).content.decode()
    assert 'class="alert"' in bad
    assert client.post(reverse("members:campaign-new"), {**form, "name": ""}, follow=True).status_code == 200
    assert Campaign.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("members:campaign-new"), {**form, "send": "1"})
    campaign = Campaign.objects.get()
    assert r.status_code == 302 and campaign.status == "sent" and campaign.n_sent == 14
    # an order comes back redeeming on the own shop
    rcpt = CampaignRecipient.objects.filter(status="sent", channel="own").select_related("coupon").first()
    from members.services.coupons import coupon_redeem

    snap = orders.ship(buyer=rcpt.buyer_id, platform="own", paid="300.00", name=rcpt.buyer_id,
                       paid_at=timezone.now() + timedelta(minutes=5))
    coupon_redeem(code=rcpt.coupon.code, order_id=snap.id, order_amount="300.00")
    detail = client.get(reverse("members:campaign", args=[campaign.pk]), HTTP_ACCEPT_LANGUAGE=lang)
    text = detail.content.decode()
    assert detail.status_code == 200 and f'lang="{lang}"' in text and 'id="campaign-effect"' in text
    assert 'id="campaign-chart-data"' in text and rcpt.coupon.code in text
    assert "vendor/echarts/echarts.min.js" in text
    if lang == "en":  # revenue says its currency; the recipients' channel is a platform's name, not its code
        assert "Revenue (CNY)</th>" in text and "<td>Own web shop</td>" in text and "<td>own</td>" not in text
    act = reverse("members:campaign-action", args=[campaign.pk])
    assert client.post(act, {"action": "cancel"}, follow=True).status_code == 200
    assert Campaign.objects.get().status == "sent"
    assert client.post(reverse("members:campaign-action", args=[999999]), {"action": "cancel"}).status_code == 404
    assert client.get(reverse("members:campaign", args=[999999])).status_code == 404
    dash = client.get(reverse("members:dashboard"), HTTP_ACCEPT_LANGUAGE=lang)
    assert dash.status_code == 200 and 'id="repurchase-table"' in dash.content.decode()
    hv0 = people["hv0"]
    client.post(reverse("members:action", args=[hv0.pk]), {"action": "opt_out", "opt_out": "1"})
    assert Member.objects.get(pk=hv0.pk).marketing_opt_out
    assert 'id="member-opt-out"' in client.get(reverse("members:detail", args=[hv0.pk])).content.decode()
    if lang == "en":
        assert "Campaigns" in client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert CouponTemplate.objects.count() == 1
