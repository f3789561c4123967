"""Operator pages: list with filters and segment counts, detail, actions; dashboard card; seed."""

import pytest
from django.urls import reverse

from erp.tenancy.roles import Role
from members import services
from members.models import Member, MemberLevel, PointsEntry
from members.seed import seed_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(client, data_world):
    client.force_login(data_world.members[Role.SERVICE].user)
    return client


@pytest.fixture
def data_world(orders, levels, tenant_a):
    orders.ship(buyer="tb_wang", platform="taobao", phone="13912345678", paid="600.00", name="王芳")
    orders.ship(buyer="pdd_li", platform="pdd", phone="13700001111", paid="20.00", name="李雷")
    services.members_recompute_rfm()
    return tenant_a


def test_list_and_filters_render(page_client):
    page = page_client.get(reverse("members:list"))
    body = page.content.decode()
    assert page.status_code == 200 and "王芳" in body and "李雷" in body and 'id="members-segments"' in body
    filtered = page_client.get(reverse("members:list"), {"q": "1111", "platform": "pdd", "level": "1"}).content.decode()
    assert "李雷" in filtered and "王芳" not in filtered
    bad = page_client.get(reverse("members:list"), {"segment": "nope"})
    assert bad.status_code == 200 and 'class="alert"' in bad.content.decode()
    assert page_client.post(reverse("members:recompute-segments")).status_code == 302


def test_detail_and_actions(page_client):
    wang = Member.objects.get(display_name="王芳")
    url = reverse("members:detail", args=[wang.pk])
    page = page_client.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and "tb_wang" in body and "银卡" in body and 'id="member-ledger"' in body
    action = reverse("members:action", args=[wang.pk])
    page_client.post(action, {"action": "redeem", "amount": "100000", "reason": "x"})
    assert not PointsEntry.objects.filter(kind="redeem").exists()
    page_client.post(action, {"action": "redeem", "amount": "10", "reason": "coupon"})
    assert PointsEntry.objects.filter(kind="redeem", amount=-10).exists()
    li = Member.objects.get(display_name="李雷")
    page_client.post(action, {"action": "merge", "source": li.pk, "allow_different_phones": "1"})
    assert Member.objects.get(pk=li.pk).merged_into_id == wang.pk
    assert page_client.get(reverse("members:detail", args=[li.pk])).status_code == 200
    page_client.post(reverse("members:action", args=[li.pk]), {"action": "unmerge"})
    assert Member.objects.get(pk=li.pk).merged_into_id is None
    assert page_client.get(reverse("members:detail", args=[999999])).status_code == 404


def test_dashboard_card_and_nav(page_client):
    body = page_client.get(reverse("dashboard")).content.decode()
    assert "Important value members" in body and reverse("members:list") in body


def test_pages_closed_to_warehouse(client, data_world):
    client.force_login(data_world.members[Role.WAREHOUSE].user)
    assert client.get(reverse("members:list")).status_code == 403


def test_seed_is_idempotent(in_tenant_a, tenant_a):
    first = seed_demo(tenant=tenant_a.tenant)
    counts = (MemberLevel.objects.count(), Member.objects.count(), PointsEntry.objects.count())
    second = seed_demo(tenant=tenant_a.tenant)
    assert counts == (MemberLevel.objects.count(), Member.objects.count(), PointsEntry.objects.count())
    assert "4 levels" in first and "0 levels" in second
    assert [lv.name for lv in MemberLevel.objects.order_by("rank")] == ["普通会员", "银卡", "金卡", "钻石"]
    wang = Member.objects.get(identities__buyer_id="jd_wf_88")
    assert wang.identities.count() == 2  # matched across Taobao and JD by phone


def test_chinese_page(page_client):
    page_client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    body = page_client.get(reverse("members:list")).content.decode()
    assert "会员" in body and "重要价值" in body


def test_admin_level_form_refuses_duplicates(client, data_world):
    client.force_login(data_world.members[Role.OWNER].user)
    url = reverse("admin:members_memberlevel_add")
    page = client.post(url, {"rank": 2, "name": "银卡", "min_spend": "0", "min_orders": 0, "points_multiplier": "1",
                             "discount_percent": "0", "benefits": "{}"})
    assert page.status_code == 200 and MemberLevel.objects.filter(rank=2).count() == 1
    assert client.get(reverse("admin:members_member_changelist")).status_code == 200
    assert client.get(reverse("admin:members_pointsentry_changelist")).status_code == 200
    assert client.get(reverse("admin:members_membersettings_changelist")).status_code == 200


def test_detail_shows_labels_not_codes(page_client):
    """The member's orders name their platform, and its identities how they were matched, in words."""
    wang = Member.objects.get(display_name="王芳")
    body = page_client.get(reverse("members:detail", args=[wang.pk])).content.decode()
    orders = body[body.index('id="member-orders"'):]
    orders = orders[:orders.index("</table>")]
    assert "<td>Taobao / Tmall</td>" in orders and "<td>taobao</td>" not in orders
    identities = body[body.index('id="member-identities"'):]
    identities = identities[:identities.index("</table>")]
    assert "first seen (new member)" in identities and "<td>new</td>" not in identities


def test_members_dashboard_does_not_light_up_the_start_pages_tab(page_client):
    """members:dashboard shares the url name "dashboard" with the start page: only the start page's own
    view marks the top "Dashboard" link as the current page."""
    body = page_client.get(reverse("members:dashboard")).content.decode()
    nav = body[body.index('class="mainnav"'):body.index("</nav>")]
    assert f'<a href="{reverse("dashboard")}" class="active"' not in nav
    assert 'class="table-scroll"' in body  # the wide repurchase table scrolls in its box
    start = page_client.get(reverse("dashboard")).content.decode()
    assert f'<a href="{reverse("dashboard")}" class="active"' in start
