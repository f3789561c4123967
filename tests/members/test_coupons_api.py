"""Coupons over the API and on the operator page: 400 on bad input, 409 on refused actions,
idempotent issue and redeem, both languages, tenant B never sees tenant A's coupons."""

import pytest
from django.urls import reverse

from erp.tenancy.roles import Role
from members.models import Coupon, CouponTemplate, Member

pytestmark = pytest.mark.django_db
T = "/api/v1/members/coupon-templates/"
C = "/api/v1/members/coupons/"


@pytest.fixture
def wang(orders):
    orders.ship(buyer="tb_wang", platform="taobao", phone="13912345678", paid="600.00", name="王芳")
    return Member.objects.get(display_name="王芳")


def _orders(n):
    """Real orders for the redemptions (an order id is checked against the tenant's orders)."""
    from integrations.models import Shop
    from orders.models import Order

    shop = Shop.objects.create(code="cp1", name="TB shop", platform="taobao")
    return [Order.objects.create(shop=shop, platform="taobao", platform_order_id=f"cp-{i}").pk for i in range(n)]


def test_api_flow(wang, tenant_a, tenant_b):
    o9, o10 = _orders(2)
    admin = tenant_a.api(Role.ADMIN)
    made = admin.post(T, {"name": "满100减20", "kind": "amount", "amount_off": "20.00", "threshold": "100.00",
                          "valid_days": 30}, format="json")
    assert made.status_code == 201, made.content
    tid = made.json()["id"]
    bad = admin.post(T, {"name": "", "kind": "gift", "percent_off": "120"}, format="json")
    assert bad.status_code == 400 and {"name", "kind"} <= set(bad.json()["errors"])
    dup = admin.post(T, {"name": "满100减20", "kind": "amount", "amount_off": "5.00"}, format="json")
    assert dup.status_code == 400 and "name" in dup.json()["errors"]
    zero = admin.post(T, {"name": "z", "kind": "amount", "amount_off": "0"}, format="json")
    assert zero.status_code == 400 and "amount_off" in zero.json()["errors"]
    assert admin.patch(f"{T}{tid}/", {"threshold": "-1"}, format="json").status_code == 400

    op = tenant_a.api(Role.OPERATOR)
    issue = {"template": tid, "member": wang.pk, "issue_ref": "camp-1"}
    first = op.post(C + "issue/", issue, format="json")
    assert first.status_code == 201, first.content
    again = op.post(C + "issue/", issue, format="json")
    assert again.json()["code"] == first.json()["code"] and Coupon.objects.count() == 1
    assert op.post(C + "issue/", {**issue, "issue_ref": "camp-2"}, format="json").status_code == 409
    assert op.post(C + "issue/", {"template": "x", "member": 999999}, format="json").status_code == 400
    assert op.post(C + "issue/", {**issue, "member": 999999}, format="json").status_code == 400
    code = first.json()["code"]
    low = op.post(C + "redeem/", {"code": code, "order_id": o9, "order_amount": "50.00"}, format="json")
    assert low.status_code == 409
    assert op.post(C + "redeem/", {"code": code, "order_id": -1, "order_amount": "x"}, format="json").status_code == 400
    done = op.post(C + "redeem/", {"code": code, "order_id": o9, "order_amount": "150.00", "member": wang.pk},
                   format="json")
    assert done.status_code == 200 and done.json()["discount_amount"] == "20.00" and done.json()["status"] == "redeemed"
    twice = op.post(C + "redeem/", {"code": code, "order_id": o9, "order_amount": "150.00"}, format="json")
    assert twice.status_code == 200 and twice.json() == done.json()
    assert op.post(C + "redeem/", {"code": code, "order_id": o10, "order_amount": "150.00"}, format="json").status_code == 409
    listed = op.get(C, {"status": "redeemed", "member": wang.pk})
    assert listed.status_code == 200 and [r["code"] for r in listed.json()["results"]] == [code]
    assert op.get(C, {"status": "lost", "member": "me"}).status_code == 400
    cid = first.json()["id"]
    assert op.post(f"{C}{cid}/void/", {}, format="json").status_code == 409  # redeemed
    assert admin.delete(f"{T}{tid}/").status_code == 409  # coupons hold it
    benefits = op.get(C + "benefits/", {"platform": "taobao", "buyer_id": "tb_wang"})
    assert benefits.status_code == 200 and benefits.json()["member_id"] == wang.pk and benefits.json()["coupons"] == []
    assert op.get(C + "benefits/", {"platform": "ebay"}).status_code == 400
    assert op.get(C + "benefits/").json()["member_id"] is None

    other = tenant_b.api(Role.ADMIN)
    assert other.get(C).json()["count"] == 0 and other.get(T).json()["count"] == 0
    assert other.get(f"{C}{cid}/").status_code == 404 and other.get(f"{T}{tid}/").status_code == 404
    assert other.post(C + "redeem/", {"code": code, "order_id": o9, "order_amount": "150.00"},
                      format="json").status_code == 400
    assert other.post(C + "issue/", issue, format="json").status_code == 400


def test_operator_cannot_write_templates(tenant_a, in_tenant_a):
    r = tenant_a.api(Role.OPERATOR).post(T, {"name": "x", "kind": "amount", "amount_off": "5"}, format="json")
    assert r.status_code == 403 and CouponTemplate.objects.count() == 0


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_coupon_page(client, wang, tenant_a, lang):
    client.force_login(tenant_a.members[Role.ADMIN].user)
    url = reverse("members:coupons")
    act = reverse("members:coupon-action")
    r = client.post(act, {"action": "template", "name": "满200减30", "kind": "amount", "amount_off": "30",
                          "threshold": "200", "valid_until": "2099-12-31", "per_member_limit": "2"})
    assert r.status_code == 302 and CouponTemplate.objects.get(name="满200减30").valid_until.year in (2099, 2100)
    bad = client.post(act, {"action": "template", "name": "", "kind": "amount", "valid_until": "31/12",
                            "per_member_limit": "many"}, follow=True)
    assert bad.status_code == 200 and CouponTemplate.objects.count() == 1
    tid = CouponTemplate.objects.get().pk
    client.post(act, {"action": "issue", "template": str(tid), "member": str(wang.pk), "issue_ref": "page"})
    client.post(act, {"action": "issue", "template": str(tid), "member": str(wang.pk), "issue_ref": "page"})
    assert Coupon.objects.count() == 1
    assert client.post(act, {"action": "issue", "template": "x", "member": "999999999"}, follow=True).status_code == 200
    assert client.post(act, {"action": "issue", "template": str(tid), "member": "99999999", "issue_ref": "q"},
                       follow=True).status_code == 200
    assert client.post(act, {"action": "nope"}, follow=True).status_code == 200
    page = client.get(url, {"status": "issued"}, HTTP_ACCEPT_LANGUAGE=lang)
    body = page.content.decode()
    assert page.status_code == 200 and Coupon.objects.get().code in body and "满200减30" in body
    assert ("筛选" in body) == (lang == "zh-hans")  # (the coupon strings' Chinese is in locale/zh_Hans/parts)
    assert client.get(url, {"status": "lost", "member": "x"}).status_code == 200
    coupon = Coupon.objects.get()
    client.post(act, {"action": "void", "coupon": str(coupon.pk)})
    coupon.refresh_from_db()
    assert coupon.status == "void"
