"""A member's totals and level: the projections re-derived from its rows (orders that earned, the
points ledger), up a level at once and down per the downgrade policy, the nightly review.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from ..models import DowngradePolicy, Member, MemberLevel, MemberOrder, PointsEntry
from .common import ZERO, group_ids, member_settings


def levels_by_rank_desc() -> list[MemberLevel]:
    return list(MemberLevel.objects.order_by("-rank"))


def next_level(*, levels: list[MemberLevel], current: MemberLevel | None, below_since: datetime | None, spend: Decimal,
               orders: int, policy: str, after_days: int, now: datetime):
    """(level, below_since) for a member's totals: up at once; down per the policy."""
    qualified = next((lv for lv in levels if lv.reached_by(spend=spend, orders=orders)), None)
    q_rank = qualified.rank if qualified else 0
    cur_rank = current.rank if current else 0
    if q_rank >= cur_rank:
        return qualified, None
    if policy == DowngradePolicy.NEVER:
        return current, None
    if below_since is None:
        return current, now
    if now - below_since >= timedelta(days=after_days):
        return qualified, None
    return current, below_since


def member_refresh(*, member_id: int, now: datetime | None = None) -> Member:
    """Re-derive a member's projections from its rows (its group's, for a root): totals from the
    orders that earned, the points balance from the ledger, then its level."""
    now = now or timezone.now()
    member = Member.objects.select_related("level").get(pk=member_id)
    ids = group_ids(member.pk) if member.merged_into_id is None else [member.pk]
    totals = MemberOrder.objects.filter(member_id__in=ids).aggregate(
        paid=Sum("paid_amount"), refunded=Sum("refunded_amount"), n=Count("id"),
        first=Min("paid_at"), last=Max("paid_at"))
    member.lifetime_paid = max((totals["paid"] or ZERO) - (totals["refunded"] or ZERO), ZERO)
    member.order_count = totals["n"] or 0
    member.first_order_at, member.last_order_at = totals["first"], totals["last"]
    member.points_balance = PointsEntry.objects.filter(member_id__in=ids).aggregate(s=Sum("amount"))["s"] or 0
    st = member_settings()
    level, below = next_level(levels=levels_by_rank_desc(), current=member.level, below_since=member.below_level_since,
                              spend=member.lifetime_paid, orders=member.order_count, policy=st.downgrade_policy,
                              after_days=st.downgrade_after_days, now=now)
    if level != member.level:
        member.level_since = now
    member.level, member.below_level_since = level, below
    member.save(update_fields=["lifetime_paid", "order_count", "first_order_at", "last_order_at", "points_balance",
                               "level", "level_since", "below_level_since", "updated_at"])
    return member


def members_review_levels(*, now: datetime | None = None) -> int:
    """Nightly: every root member's level against its totals (downgrades that came due, levels
    whose thresholds changed). Returns how many members changed level."""
    now = now or timezone.now()
    st = member_settings()
    levels = levels_by_rank_desc()
    by_id = {lv.pk: lv for lv in levels}
    changed = []
    for m in Member.objects.filter(merged_into__isnull=True).only(
            "pk", "level_id", "below_level_since", "lifetime_paid", "order_count", "level_since").iterator(chunk_size=2000):
        current = by_id.get(m.level_id)
        level, below = next_level(levels=levels, current=current, below_since=m.below_level_since,
                                  spend=m.lifetime_paid, orders=m.order_count, policy=st.downgrade_policy,
                                  after_days=st.downgrade_after_days, now=now)
        if level != current or below != m.below_level_since:
            if level != current:
                m.level_since = now
            m.level, m.below_level_since = level, below
            changed.append(m)
    Member.objects.bulk_update(changed, ["level", "below_level_since", "level_since"], batch_size=1000)
    return sum(1 for m in changed if m.level_since == now)


def levels_changed() -> None:
    """A level was added, changed or removed: every member's level is reviewed against the new
    thresholds once this transaction commits (a background job; at once in the embedded mode)."""
    from erp.tenancy.context import require_tenant

    from .. import tasks

    tenant_id = require_tenant().pk
    transaction.on_commit(lambda: tasks.review_levels.delay(tenant_id=tenant_id))
