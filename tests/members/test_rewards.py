"""Points rewards: the catalogue, redeeming points for a coupon or a gift (a new ledger entry, never
an edit; idempotent on its reference), insufficient points (400 / form error), cancelling a gift
(points back by a new entry), consuming a gift once, level gifts; API, pages, tenant isolation."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from erp.api.exceptions import Conflict
from erp.tenancy.roles import Role
from inventory.models import SKU
from members import selectors, services
from members.models import Coupon, CouponTemplate, Member, PointsEntry, PointsRedemption, Reward
from members.services import rewards

pytestmark = pytest.mark.django_db
R = "/api/v1/members/rewards/"


@pytest.fixture
def wang(orders):
    orders.ship(buyer="tb_wang", platform="taobao", phone="13912345678", paid="600.00", name="王芳")
    return Member.objects.get(display_name="王芳")  # 600 points


@pytest.fixture
def gift_sku(in_tenant_a):
    return SKU.objects.create(code="GIFT-1", name="Tote bag", weight_grams=120)


@pytest.fixture
def catalogue(in_tenant_a, gift_sku):
    template = CouponTemplate.objects.create(name="10 off", kind="amount", amount_off=Decimal("10.00"))
    coupon = rewards.reward_create(name="Coupon 10", kind="coupon", points_price=200, template_id=template.pk)
    gift = rewards.reward_create(name="Tote", kind="gift", points_price=300, gift_sku_code="GIFT-1")
    return coupon, gift


def test_redeem_coupon_appends_ledger_and_issues_coupon(wang, catalogue):
    coupon_reward, _gift = catalogue
    before = list(PointsEntry.objects.values_list("pk", "amount"))
    red = rewards.points_redeem_reward(member_id=wang.pk, reward_id=coupon_reward.pk, reference="r1")
    assert red.status == "issued" and red.coupon.template_id == coupon_reward.template_id
    assert Coupon.objects.filter(member=wang).count() == 1
    # append-only: the old entries are untouched, one new negative entry
    assert list(PointsEntry.objects.filter(pk__in=[p for p, _ in before]).values_list("pk", "amount")) == before
    assert red.redeem_entry.amount == -200 and red.redeem_entry.kind == "redeem"
    assert services.points_balance(member_id=wang.pk) == 400
    wang.refresh_from_db()
    assert wang.points_balance == 400
    # the same reference again changes nothing
    again = rewards.points_redeem_reward(member_id=wang.pk, reward_id=coupon_reward.pk, reference="r1")
    assert again.pk == red.pk and PointsEntry.objects.count() == len(before) + 1
    assert services.points_balance(member_id=wang.pk) == 400
    with pytest.raises(Conflict):
        rewards.points_redeem_reward(member_id=wang.pk, reward_id=catalogue[1].pk, reference="r1")


def test_insufficient_points_is_a_field_error(wang, catalogue):
    _c, gift = catalogue
    rewards.points_redeem_reward(member_id=wang.pk, reward_id=gift.pk, reference="g1")
    rewards.points_redeem_reward(member_id=wang.pk, reward_id=gift.pk, reference="g2")
    with pytest.raises(ValidationError) as exc:
        rewards.points_redeem_reward(member_id=wang.pk, reward_id=gift.pk, reference="g3")
    assert "points" in exc.value.message_dict
    assert services.points_balance(member_id=wang.pk) == 0
    assert PointsRedemption.objects.count() == 2


def test_gift_cancel_refunds_by_a_new_entry(wang, catalogue):
    _c, gift = catalogue
    red = rewards.points_redeem_reward(member_id=wang.pk, reward_id=gift.pk)
    assert red.status == "pending" and red.gift_sku_code == "GIFT-1"
    n = PointsEntry.objects.count()
    cancelled = rewards.gift_cancel(redemption_id=red.pk)
    assert cancelled.status == "cancelled" and cancelled.refund_entry.amount == 300
    assert PointsEntry.objects.count() == n + 1 and services.points_balance(member_id=wang.pk) == 600
    assert rewards.gift_cancel(redemption_id=red.pk).refund_entry_id == cancelled.refund_entry_id  # twice: nothing
    assert PointsEntry.objects.count() == n + 1
    assert services.points_balance(member_id=wang.pk) == sum(PointsEntry.objects.values_list("amount", flat=True))


def test_gift_consumed_once_and_not_cancellable_after(wang, catalogue):
    _c, gift = catalogue
    red = rewards.points_redeem_reward(member_id=wang.pk, reward_id=gift.pk)
    assert rewards.gifts_consume(order_id=77, entitlement_ids=[red.pk]) == [red.pk]
    assert rewards.gifts_consume(order_id=77, entitlement_ids=[red.pk]) == [red.pk]  # same order: idempotent
    assert rewards.gifts_consume(order_id=78, entitlement_ids=[red.pk]) == []  # another order: not again
    red.refresh_from_db()
    assert red.status == "consumed" and red.order_id == 77
    with pytest.raises(Conflict):
        rewards.gift_cancel(redemption_id=red.pk)
    assert rewards.gifts_release(order_id=77) == [red.pk]
    red.refresh_from_db()
    assert red.status == "pending" and red.order_id is None


def test_buyer_benefits_reads_level_and_pending_gifts(levels, wang, catalogue, gift_sku):
    level = wang.level
    level.free_shipping, level.discount_percent = True, Decimal("5")
    level.save()
    rewards.level_set_gift(level_id=level.pk, gift_sku_code="GIFT-1", gift_quantity=2)
    red = rewards.points_redeem_reward(member_id=wang.pk, reward_id=catalogue[1].pk)
    b = selectors.buyer_benefits(platform="taobao", buyer_ids=["tb_wang", "nobody"])
    assert set(b) == {"tb_wang"}
    got = b["tb_wang"]
    assert got.member_id == wang.pk and got.free_shipping and got.discount_percent == Decimal("5")
    assert [(g.sku_id, g.quantity, g.entitlement_id) for g in got.gifts] == [(gift_sku.pk, 2, None),
                                                                             (gift_sku.pk, 1, red.pk)]
    with pytest.raises(ValidationError) as exc:
        rewards.level_set_gift(level_id=level.pk, gift_sku_code="NOPE")
    assert "gift_sku_code" in exc.value.message_dict


def test_catalogue_validation(in_tenant_a, catalogue):
    with pytest.raises(ValidationError) as exc:
        rewards.reward_create(name="Coupon 10", kind="gift", points_price=0, gift_sku_code="")
    assert {"name", "points_price", "gift_sku_code"} <= set(exc.value.message_dict) or \
        {"points_price", "gift_sku_code"} <= set(exc.value.message_dict)
    with pytest.raises(ValidationError) as exc:
        rewards.reward_create(name="x", kind="coupon", points_price=5)
    assert "template" in exc.value.message_dict
    updated = rewards.reward_update(reward_id=catalogue[0].pk, points_price="250", active=False)
    assert updated.points_price == 250 and not updated.active


def test_api_catalogue_redeem_cancel(wang, catalogue, tenant_a):
    _coupon, gift = catalogue
    api = tenant_a.api(Role.SERVICE)
    assert tenant_a.api(Role.OPERATOR).post(R, {"name": "x"}, format="json").status_code == 403
    listed = api.get(R).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert {r["name"] for r in rows} == {"Coupon 10", "Tote"}
    made = api.post(R, {"name": "Mug", "kind": "gift", "points_price": 50, "gift_sku_code": "GIFT-1"}, format="json")
    assert made.status_code == 201, made.content
    bad = api.post(R, {"name": "", "kind": "gift", "points_price": 50}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()["errors"]
    bad = api.post(R, {"name": "Bag", "kind": "gift", "points_price": 50, "gift_sku_code": "NOPE"}, format="json")
    assert bad.status_code == 400 and "gift_sku_code" in bad.json()["errors"]
    url = f"/api/v1/members/members/{wang.pk}/redeem-reward/"
    r = api.post(url, {"reward": gift.pk, "reference": "api-1"}, format="json")
    assert r.status_code == 201 and r.json()["status"] == "pending"
    assert api.post(url, {"reward": gift.pk, "reference": "api-1"}, format="json").json()["id"] == r.json()["id"]
    short = api.post(url, {"reward": gift.pk, "reference": "api-2"}, format="json")
    assert short.status_code == 201
    poor = api.post(url, {"reward": gift.pk, "reference": "api-3"}, format="json")
    assert poor.status_code == 400 and "points" in poor.json()["errors"]
    assert api.post(url, {"reward": "x"}, format="json").status_code == 400
    mine = api.get(f"/api/v1/members/members/{wang.pk}/redemptions/").json()
    assert len(mine) == 2
    c = api.post(f"/api/v1/members/redemptions/{r.json()['id']}/cancel/")
    assert c.status_code == 200 and c.json()["status"] == "cancelled" and c.json()["refund_entry"]
    assert api.get("/api/v1/members/redemptions/", {"member": "abc"}).status_code == 400


def test_api_level_gift_field(in_tenant_a, levels, gift_sku, tenant_a):
    api = tenant_a.api(Role.ADMIN)
    lv = levels[2]
    r = api.patch(f"/api/v1/members/levels/{lv.pk}/", {"gift_sku_code": "GIFT-1", "gift_quantity": 1}, format="json")
    assert r.status_code == 200 and r.json()["gift_sku_id"] == gift_sku.pk
    bad = api.patch(f"/api/v1/members/levels/{lv.pk}/", {"gift_sku_code": "NOPE"}, format="json")
    assert bad.status_code == 400


def test_tenant_isolation(wang, catalogue, tenant_b):
    red = rewards.points_redeem_reward(member_id=wang.pk, reward_id=catalogue[1].pk)
    api_b = tenant_b.api(Role.ADMIN)
    listed = api_b.get(R).json()
    assert (listed["results"] if isinstance(listed, dict) else listed) == []
    assert api_b.post(f"/api/v1/members/redemptions/{red.pk}/cancel/").status_code == 404
    assert api_b.post(f"/api/v1/members/members/{wang.pk}/redeem-reward/", {"reward": catalogue[1].pk},
                      format="json").status_code == 404
    assert api_b.patch(f"{R}{catalogue[0].pk}/", {"points_price": 1}, format="json").status_code == 404
    red.refresh_from_db()
    assert red.status == "pending"


@pytest.mark.parametrize("lang, text", [("en", "Points rewards"), ("zh-hans", "会员")])
def test_pages(wang, catalogue, tenant_a, client, lang, text):
    client.force_login(tenant_a.members[Role.SERVICE].user)
    client.cookies["django_language"] = lang
    page = client.get(reverse("members:rewards"), HTTP_ACCEPT_LANGUAGE=lang)
    assert page.status_code == 200
    detail = client.get(reverse("members:detail", args=[wang.pk]), HTTP_ACCEPT_LANGUAGE=lang)
    assert detail.status_code == 200 and b"member-reward-form" in detail.content
    assert text in page.content.decode()


def test_page_redeem_and_forms(wang, catalogue, tenant_a, client):
    _c, gift = catalogue
    client.force_login(tenant_a.members[Role.SERVICE].user)
    url = reverse("members:action", args=[wang.pk])
    r = client.post(url, {"action": "redeem_reward", "reward": gift.pk}, follow=True)
    assert r.status_code == 200 and PointsRedemption.objects.filter(member=wang).count() == 1
    said = [str(m) for m in r.context["messages"]][0]  # what was redeemed and what it gave, not "Done."
    assert said.startswith(f"{gift.name} redeemed for {gift.points_price} points: ") and gift.gift_sku_code in said, said
    client.post(url, {"action": "redeem_reward", "reward": gift.pk})
    poor = client.post(url, {"action": "redeem_reward", "reward": gift.pk}, follow=True)
    assert "Insufficient points" in poor.content.decode() and PointsRedemption.objects.count() == 2
    assert client.post(url, {"action": "redeem_reward", "reward": "x"}, follow=True).status_code == 200
    red = PointsRedemption.objects.order_by("pk").first()
    client.post(url, {"action": "cancel_gift", "redemption": red.pk})
    red.refresh_from_db()
    assert red.status == "cancelled"
    act = reverse("members:reward-action")
    r = client.post(act, {"action": "add", "name": "Cap", "kind": "gift", "points_price": "40",
                          "gift_sku_code": "GIFT-1"}, follow=True)
    assert Reward.objects.filter(name="Cap").exists()
    bad = client.post(act, {"action": "add", "name": "Cap2", "kind": "gift", "points_price": "abc"}, follow=True)
    assert bad.status_code == 200 and not Reward.objects.filter(name="Cap2").exists()
    refusal = " ".join(str(m) for m in bad.context["messages"])
    assert "Points price: " in refusal and "points_price" not in refusal, refusal  # the field's name, not its key
    client.post(act, {"action": "update", "reward": gift.pk, "points_price": "20"})
    gift.refresh_from_db()
    assert gift.points_price == 20 and not gift.active
