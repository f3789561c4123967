"""Coupons: templates, idempotent issue, redemption (amount, threshold, validity, owner, per-member
limit, the same order twice), expiry by the beat tick, level benefits, tenant isolation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from erp.api.exceptions import Conflict
from erp.tenancy.context import tenant_context
from members import selectors, services, tasks
from members.models import Coupon, CouponStatus, CouponTemplate, Member
from members.services import coupons as cs

pytestmark = pytest.mark.django_db


def amount_template(**kw):
    fields = {"name": "满100减20", "kind": "amount", "amount_off": "20.00", "threshold": "100.00"}
    fields.update(kw)
    return cs.coupon_template_create(**fields)


@pytest.fixture
def wang(orders):
    orders.ship(buyer="tb_wang", platform="taobao", phone="13912345678", paid="600.00", name="王芳")
    return Member.objects.get(display_name="王芳")


def test_template_validation(in_tenant_a):
    with pytest.raises(ValidationError) as exc:
        cs.coupon_template_create(name="", kind="gift", amount_off="-1", percent_off="150", threshold="x",
                                  per_member_limit=0, currency="yuan")
    assert set(exc.value.message_dict) >= {"name", "kind", "amount_off", "percent_off", "threshold",
                                           "per_member_limit", "currency"}
    with pytest.raises(ValidationError) as exc:
        cs.coupon_template_create(name="zero", kind="amount", amount_off="0")
    assert "amount_off" in exc.value.message_dict
    with pytest.raises(TypeError):
        cs.to_money(1.5)
    amount_template()
    with pytest.raises(ValidationError) as exc:
        amount_template()
    assert "name" in exc.value.message_dict
    assert CouponTemplate.objects.count() == 1


def test_issue_is_idempotent_and_limited(wang):
    template = amount_template(per_member_limit=2, valid_days=30)
    first = cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="camp-1")
    again = cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="camp-1")
    assert again.pk == first.pk and again.code == first.code and Coupon.objects.count() == 1
    assert first.status == CouponStatus.ISSUED and first.valid_until > timezone.now() + timedelta(days=29)
    second = cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="camp-2")
    assert second.code != first.code
    with pytest.raises(Conflict):
        cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="camp-3")
    # an already issued reference still answers its coupon at the limit
    assert cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="camp-2").pk == second.pk
    with pytest.raises(ValidationError):
        cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref=" ")
    cs.coupon_template_update(template_id=template.pk, active=False)
    with pytest.raises(Conflict):
        cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="camp-4")


def test_redeem_amount_threshold_and_same_order_twice(wang):
    template = amount_template()
    coupon = cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="r")
    with pytest.raises(Conflict):  # below the threshold
        cs.coupon_redeem(code=coupon.code, order_id=11, order_amount="99.99")
    with pytest.raises(Conflict):  # another currency
        cs.coupon_redeem(code=coupon.code, order_id=11, order_amount="150.00", currency="USD")
    with pytest.raises(ValidationError) as exc:
        cs.coupon_redeem(code="", order_id=0, order_amount="abc")
    assert set(exc.value.message_dict) == {"code", "order_id", "order_amount"}
    done = cs.coupon_redeem(code=coupon.code.lower(), order_id=11, order_amount="150.00", member_id=wang.pk)
    assert done.status == CouponStatus.REDEEMED and done.discount_amount == Decimal("20.00") and done.order_id == 11
    at = done.redeemed_at
    again = cs.coupon_redeem(code=coupon.code, order_id=11, order_amount="999.00")
    assert again.discount_amount == Decimal("20.00") and again.redeemed_at == at and again.order_amount == Decimal("150.00")
    with pytest.raises(Conflict):
        cs.coupon_redeem(code=coupon.code, order_id=12, order_amount="150.00")
    with pytest.raises(ValidationError):
        cs.coupon_redeem(code="NOSUCHCODE", order_id=12, order_amount="150.00")


def test_percent_with_cap_and_one_coupon_per_order(wang, orders):
    pct = cs.coupon_template_create(name="85折", kind="percent", percent_off="15", max_discount="30.00",
                                    per_member_limit=3)
    a = cs.coupon_issue(template_id=pct.pk, member_id=wang.pk, issue_ref="a")
    b = cs.coupon_issue(template_id=pct.pk, member_id=wang.pk, issue_ref="b")
    c = cs.coupon_issue(template_id=pct.pk, member_id=wang.pk, issue_ref="c")
    assert cs.coupon_redeem(code=a.code, order_id=21, order_amount="100.05").discount_amount == Decimal("15.01")
    with pytest.raises(Conflict):
        cs.coupon_redeem(code=b.code, order_id=21, order_amount="100.00")
    assert cs.coupon_redeem(code=b.code, order_id=22, order_amount="1000.00").discount_amount == Decimal("30.00")
    small = amount_template(name="减50", amount_off="50.00", threshold="0")
    d = cs.coupon_issue(template_id=small.pk, member_id=wang.pk, issue_ref="d")
    assert cs.coupon_redeem(code=d.code, order_id=23, order_amount="30.00").discount_amount == Decimal("30.00")
    orders.ship(buyer="pdd_li", platform="pdd", phone="13700001111", paid="20.00", name="李雷")
    li = Member.objects.get(display_name="李雷")
    with pytest.raises(Conflict):  # not li's coupon
        cs.coupon_redeem(code=c.code, order_id=24, order_amount="100.00", member_id=li.pk)


def test_merged_member_coupons_go_to_root_and_count_once(orders):
    orders.ship(buyer="tb_a", platform="taobao", phone="13800000001", paid="10.00", name="甲")
    orders.ship(buyer="jd_b", platform="jd", phone="13800000002", paid="10.00", name="乙")
    a, b = Member.objects.get(display_name="甲"), Member.objects.get(display_name="乙")
    template = amount_template(threshold="0")
    held = cs.coupon_issue(template_id=template.pk, member_id=b.pk, issue_ref="x")
    services.member_merge(target_id=a.pk, source_id=b.pk, allow_different_phones=True)
    with pytest.raises(Conflict):  # b's coupon counts for the group (limit 1)
        cs.coupon_issue(template_id=template.pk, member_id=a.pk, issue_ref="y")
    # the merged member, as buyer, still redeems its own coupon (same group)
    assert cs.coupon_redeem(code=held.code, order_id=31, order_amount="50.00", member_id=a.pk).status == "redeemed"


def test_validity_window_and_expiry_tick(wang, tenant_a, monkeypatch):
    now = timezone.now()
    later = amount_template(name="later", valid_from=now + timedelta(days=2))
    soon = amount_template(name="soon", valid_until=now + timedelta(hours=1))
    early = cs.coupon_issue(template_id=later.pk, member_id=wang.pk, issue_ref="e")
    with pytest.raises(Conflict):
        cs.coupon_redeem(code=early.code, order_id=41, order_amount="200.00")
    ending = cs.coupon_issue(template_id=soon.pk, member_id=wang.pk, issue_ref="s")
    assert ending.valid_until == soon.valid_until
    Coupon.objects.filter(pk=ending.pk).update(valid_until=now - timedelta(minutes=1))
    with pytest.raises(Conflict):
        cs.coupon_redeem(code=ending.code, order_id=41, order_amount="200.00")
    sent = []
    monkeypatch.setattr(tasks.expire_coupons_for_tenant, "delay", lambda **kw: sent.append(kw))
    assert tasks.coupons_expiry_tick() == 1 and sent == [{"tenant_id": tenant_a.tenant.pk}]
    assert tasks.expire_coupons_for_tenant.run(tenant_id=tenant_a.tenant.pk) == 1
    with tenant_context(tenant_a.tenant):
        ending.refresh_from_db()
        assert ending.status == CouponStatus.EXPIRED and ending.closed_at is not None
        assert cs.coupons_expire() == 0
        assert Coupon.objects.get(pk=early.pk).status == CouponStatus.ISSUED
    with pytest.raises(Conflict):
        cs.coupon_template_create(name="ended", kind="amount", amount_off="5", valid_until=now - timedelta(days=1))
        cs.coupon_issue(template_id=CouponTemplate.objects.get(name="ended").pk, member_id=wang.pk, issue_ref="z")


def test_void(wang):
    template = amount_template()
    coupon = cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="v")
    assert cs.coupon_void(coupon_id=coupon.pk, reason="wrong member").status == CouponStatus.VOID
    assert cs.coupon_void(coupon_id=coupon.pk).status == CouponStatus.VOID
    with pytest.raises(Conflict):
        cs.coupon_redeem(code=coupon.code, order_id=51, order_amount="200.00")
    # a voided coupon frees the member's limit
    assert cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="v2").status == CouponStatus.ISSUED


def test_member_benefits(levels, wang):
    silver = levels[2]
    silver.discount_percent = Decimal("5.00")
    silver.free_shipping = True
    silver.save()
    wang = services.member_refresh(member_id=wang.pk)
    assert wang.level_id == silver.pk
    template = amount_template()
    coupon = cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="b")
    b = selectors.member_benefits(platform="taobao", buyer_id="tb_wang")
    assert b.member_id == wang.pk and b.level_rank == wang.level.rank
    assert b.discount_percent == Decimal("5.00") and b.free_shipping and not b.priority_shipping
    assert [c[0] for c in b.coupons] == [coupon.code]
    assert selectors.member_benefits(platform="jd", buyer_id="tb_wang").member_id is None
    none = selectors.member_benefits(platform="taobao", buyer_id="nobody")
    assert none.member_id is None and none.discount_percent == 0 and not none.free_shipping and none.coupons == ()
    cs.coupon_redeem(code=coupon.code, order_id=61, order_amount="100.00")
    assert selectors.member_benefits(platform="taobao", buyer_id="tb_wang").coupons == ()


def test_codes_are_per_tenant(wang, tenant_a, tenant_b):
    template = amount_template()
    coupon = cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="iso")
    with tenant_context(tenant_b.tenant):
        assert Coupon.objects.count() == 0 and CouponTemplate.objects.count() == 0
        with pytest.raises(ValidationError):
            cs.coupon_redeem(code=coupon.code, order_id=71, order_amount="500.00")
        with pytest.raises(ValidationError):
            cs.coupon_issue(template_id=template.pk, member_id=wang.pk, issue_ref="iso")
        assert selectors.member_benefits(platform="taobao", buyer_id="tb_wang").member_id is None
        amount_template()  # the same name is free in another tenant
    with tenant_context(tenant_a.tenant):
        assert Coupon.objects.get(pk=coupon.pk).status == CouponStatus.ISSUED
