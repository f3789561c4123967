"""The members API: filters, detail, points actions, merge/unmerge, levels; 400 and 409."""

import pytest

from erp.tenancy.roles import Role
from members import services
from members.models import MemberLevel

pytestmark = pytest.mark.django_db
BASE = "/api/v1/members/members/"


@pytest.fixture
def data(orders, levels):
    orders.ship(buyer="tb_wang", platform="taobao", phone="13912345678", paid="600.00", name="王芳")
    orders.ship(buyer="jd_wang", platform="jd", phone="13912345678", paid="10.00", name="王芳")
    orders.ship(buyer="pdd_li", platform="pdd", phone="13700001111", paid="20.00", name="李雷")
    services.members_recompute_rfm()
    return orders


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_list_filters(data, tenant_a):
    api = tenant_a.api(Role.SERVICE)
    everyone = api.get(BASE)
    assert everyone.status_code == 200 and everyone.json()["count"] == 2
    wang = api.get(BASE, {"q": "5678"}).json()["results"]
    assert [r["display_name"] for r in wang] == ["王芳"] and wang[0]["level_rank"] == 2
    assert ids(api.get(BASE, {"q": "jd_wang"})) == [wang[0]["id"]]
    assert ids(api.get(BASE, {"platform": "pdd"})) != [wang[0]["id"]] and len(ids(api.get(BASE, {"platform": "pdd"}))) == 1
    assert ids(api.get(BASE, {"level": "2"})) == [wang[0]["id"]]
    seg = wang[0]["segment"]
    assert wang[0]["id"] in ids(api.get(BASE, {"segment": seg}))
    bad = api.get(BASE, {"level": "gold", "segment": "vip", "platform": "ebay"})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"level", "segment", "platform"}
    counts = api.get(BASE + "segments/").json()["segments"]
    assert sum(counts.values()) == 2


def test_detail_and_points_actions(data, tenant_a):
    api = tenant_a.api(Role.SERVICE)
    wang = api.get(BASE, {"q": "王芳"}).json()["results"][0]
    detail = api.get(f"{BASE}{wang['id']}/").json()
    assert {i["buyer_id"] for i in detail["identities"]} == {"tb_wang", "jd_wang"}
    assert detail["orders_summary"]["orders"] == 2 and len(detail["orders"]) == 2
    assert detail["points_balance"] == sum(e["amount"] for e in detail["points_ledger"])
    url = f"{BASE}{wang['id']}/"
    assert api.post(url + "adjust-points/", {"amount": 0, "reason": ""}, format="json").status_code == 400
    bad = api.post(url + "adjust-points/", {"amount": "x"}, format="json")
    assert bad.status_code == 400 and {"amount", "reason"} <= set(bad.json()["errors"])
    assert api.post(url + "adjust-points/", {"amount": 5, "reason": "gift"}, format="json").status_code == 201
    balance = api.get(url).json()["points_balance"]
    short = api.post(url + "redeem-points/", {"amount": balance + 1}, format="json")
    assert short.status_code == 409 and "Insufficient" in short.json()["detail"]
    assert api.post(url + "redeem-points/", {"amount": -1}, format="json").status_code == 400
    ok = api.post(url + "redeem-points/", {"amount": balance, "reference": "r1"}, format="json")
    assert ok.status_code == 201 and api.get(url).json()["points_balance"] == 0
    assert api.post(url + "adjust-points/", {"amount": -1, "reason": "x"}, format="json").status_code == 409


def test_merge_and_unmerge(data, tenant_a):
    api = tenant_a.api(Role.SERVICE)
    rows = api.get(BASE).json()["results"]
    wang = next(r for r in rows if r["display_name"] == "王芳")
    li = next(r for r in rows if r["display_name"] == "李雷")
    url = f"{BASE}{wang['id']}/"
    assert api.post(url + "merge/", {"source": wang["id"]}, format="json").status_code == 400
    assert api.post(url + "merge/", {"source": 999999}, format="json").status_code == 400
    assert api.post(url + "merge/", {}, format="json").status_code == 400
    assert api.post(url + "merge/", {"source": li["id"]}, format="json").status_code == 409  # different phones
    merged = api.post(url + "merge/", {"source": li["id"], "allow_different_phones": True}, format="json")
    assert merged.status_code == 200 and merged.json()["merged_members"] == [li["id"]]
    assert merged.json()["order_count"] == 3
    assert api.get(BASE).json()["count"] == 1 and api.get(BASE, {"merged": "1"}).json()["count"] == 1
    assert api.post(url + "unmerge/").status_code == 409  # the kept member is not merged
    back = api.post(f"{BASE}{li['id']}/unmerge/")
    assert back.status_code == 200 and back.json()["merged_into"] is None


def test_levels_crud_for_managers_only(data, tenant_a):
    url = "/api/v1/members/levels/"
    service = tenant_a.api(Role.SERVICE)
    assert service.get(url).status_code == 200
    assert service.post(url, {"rank": 9, "name": "黑金"}, format="json").status_code == 403
    owner = tenant_a.api(Role.OWNER)
    made = owner.post(url, {"rank": 9, "name": "黑金", "min_spend": "50000.00", "points_multiplier": "3.00",
                            "free_shipping": True, "benefits": {"gift": "birthday"}}, format="json")
    assert made.status_code == 201, made.json()
    dup = owner.post(url, {"rank": 9, "name": "黑金"}, format="json")
    assert dup.status_code == 400 and {"rank", "name"} <= set(dup.json()["errors"])
    bad = owner.post(url, {"rank": 0, "name": "x", "discount_percent": "150", "min_spend": "-1"}, format="json")
    assert bad.status_code == 400 and {"rank", "discount_percent", "min_spend"} <= set(bad.json()["errors"])
    level = made.json()["id"]
    assert owner.patch(f"{url}{level}/", {"discount_percent": "12.5"}, format="json").status_code == 200
    assert owner.delete(f"{url}{level}/").status_code == 204
    in_use = MemberLevel.objects.get(rank=2)
    assert owner.delete(f"{url}{in_use.pk}/").status_code == 409


def test_roles(data, tenant_a):
    assert tenant_a.api(Role.WAREHOUSE).get(BASE).status_code == 403
    operator = tenant_a.api(Role.OPERATOR)
    assert operator.get(BASE).status_code == 200
    member = operator.get(BASE).json()["results"][0]["id"]
    assert operator.post(f"{BASE}{member}/adjust-points/", {"amount": 1, "reason": "x"}, format="json").status_code == 403


def test_other_tenant_sees_nothing(data, tenant_a, tenant_b):
    member = tenant_a.api().get(BASE).json()["results"][0]["id"]
    other = tenant_b.api()
    assert other.get(BASE).json()["count"] == 0
    assert other.get(f"{BASE}{member}/").status_code == 404
    assert other.post(f"{BASE}{member}/redeem-points/", {"amount": 1}, format="json").status_code == 404


def test_settings_current(data, tenant_a):
    url = "/api/v1/members/settings/current/"
    assert tenant_a.api(Role.SERVICE).get(url).json()["points_per_yuan"] == "1.0000"
    assert tenant_a.api(Role.SERVICE).patch(url, {"points_per_yuan": "2"}, format="json").status_code == 403
    owner = tenant_a.api(Role.OWNER)
    bad = owner.patch(url, {"points_per_yuan": "-1", "downgrade_policy": "sometimes"}, format="json")
    assert bad.status_code == 400 and {"points_per_yuan", "downgrade_policy"} <= set(bad.json()["errors"])
    ok = owner.patch(url, {"points_per_yuan": "2.5", "points_expire_days": 0}, format="json")
    assert ok.status_code == 200 and ok.json()["points_expire_days"] == 0
    data.ship(buyer="new-buyer", paid="10.00")
    from members.models import MemberIdentity

    assert MemberIdentity.objects.get(buyer_id="new-buyer").member.points_balance == 25


def test_changing_a_level_threshold_reviews_every_member_after_commit(orders, levels, tenant_a,
                                                                      django_capture_on_commit_callbacks):
    from members.models import Member

    orders.ship(buyer="lowering", paid="300.00")
    member = Member.objects.get(identities__buyer_id="lowering")
    assert member.level.rank == 1  # 300 < 500 for silver
    silver = levels[2]
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant_a.api(Role.OWNER).patch(f"/api/v1/members/levels/{silver.pk}/",
                                                  {"min_spend": "200.00", "min_orders": 1}, format="json")
    assert response.status_code == 200, response.json()
    member.refresh_from_db()
    assert member.level.rank == 2
