"""Levels follow totals (up at once, down per the policy) and RFM segments."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from members import selectors, services
from members.models import DowngradePolicy, Member, Segment
from members.tasks import nightly_for_tenant

pytestmark = pytest.mark.django_db


def member_of(buyer):
    from members.models import MemberIdentity

    return MemberIdentity.objects.get(buyer_id=buyer).member


def test_upgrade_at_once_by_spend_or_by_orders(orders, levels):
    orders.ship(buyer="b1", paid="499.00")
    assert member_of("b1").level.rank == 1
    orders.ship(buyer="b1", paid="1.00")
    assert member_of("b1").level.rank == 2  # 500 spent
    for _ in range(3):
        orders.ship(buyer="b2", paid="1.00")
    assert member_of("b2").level.rank == 2  # 3 orders


def test_both_thresholds_when_required(orders, levels):
    silver = levels[2]
    silver.require_both = True
    silver.save()
    orders.ship(buyer="b1", paid="600.00")
    assert member_of("b1").level.rank == 1


def test_downgrade_never(orders, levels):
    st = services.member_settings()
    st.downgrade_policy = DowngradePolicy.NEVER
    st.save()
    snap = orders.ship(buyer="b1", paid="600.00")
    services.points_clawback_for_refund(ticket_id=1, order_id=snap.id, amount="600.00")
    member = member_of("b1")
    assert member.lifetime_paid == Decimal("0.00") and member.level.rank == 2 and member.below_level_since is None


def test_downgrade_after_n_days_below(orders, levels, tenant_a):
    st = services.member_settings()
    st.downgrade_policy, st.downgrade_after_days = DowngradePolicy.AFTER_DAYS, 30
    st.save()
    snap = orders.ship(buyer="b1", paid="600.00")
    services.points_clawback_for_refund(ticket_id=1, order_id=snap.id, amount="600.00")
    member = member_of("b1")
    assert member.level.rank == 2 and member.below_level_since is not None
    assert services.members_review_levels(now=timezone.now() + timedelta(days=10)) == 0
    assert member_of("b1").level.rank == 2
    assert services.members_review_levels(now=timezone.now() + timedelta(days=31)) == 1
    member = member_of("b1")
    assert member.level.rank == 1 and member.below_level_since is None
    # back above: up at once, the clock is cleared
    orders.ship(buyer="b1", paid="500.00")
    assert member_of("b1").level.rank == 2
    nightly_for_tenant(tenant_id=tenant_a.tenant.pk)  # the nightly task runs under the tenant


def test_rfm_segments(orders):
    now = timezone.now()
    # big, frequent, recent buyer
    for _ in range(3):
        orders.ship(buyer="vip", paid="1000.00", paid_at=now - timedelta(days=2))
    # big, one order, long ago
    orders.ship(buyer="lost", paid="3000.00", paid_at=now - timedelta(days=300))
    # small, one order, recent
    orders.ship(buyer="new", paid="10.00", paid_at=now - timedelta(days=1))
    # small, one order, long ago
    orders.ship(buyer="gone", paid="5.00", paid_at=now - timedelta(days=400))
    counts = services.members_recompute_rfm(now=now)
    assert member_of("vip").segment == Segment.IMPORTANT_VALUE
    assert member_of("lost").segment == Segment.IMPORTANT_RETAIN
    assert member_of("new").segment == Segment.GENERAL_DEVELOP
    assert member_of("gone").segment == Segment.GENERAL_RETAIN
    assert sum(counts.values()) == 4
    vip = member_of("vip")
    assert (vip.rfm_f, vip.rfm_m) == (5, 4) and vip.rfm_r >= 4
    services.identity_match(platform="jd", buyer_id="nobuy")
    shown = selectors.segment_counts()
    assert shown[Segment.IMPORTANT_VALUE] == 1 and shown[""] == 1


def test_merged_members_have_no_segment(orders):
    orders.ship(buyer="b1", paid="10.00")
    orders.ship(buyer="b2", paid="10.00", phone="13900000000")
    services.members_recompute_rfm()
    services.member_merge(target_id=member_of("b1").pk, source_id=member_of("b2").pk, allow_different_phones=True)
    services.members_recompute_rfm()
    assert Member.objects.get(pk=member_of("b2").pk).segment == ""
    root = Member.objects.get(merged_into__isnull=True)
    assert root.order_count == 2 and root.segment
