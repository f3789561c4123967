"""A member's totals and level: the projections re-derived from its rows (orders that earned, the
points ledger), up a level at once and down per the downgrade policy, the nightly review.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone

from ..models import DowngradePolicy, Member, MemberLevel, MemberOpening, MemberOrder, PointsEntry
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


def _totals(ids, *, root_of: dict[int, int] | None = None) -> dict[int, tuple]:
    """{root id: (lifetime paid, orders, first order, last order)} of members ``ids`` (a group's
    members; ``root_of`` maps each to its root, default: all to the first): the orders that earned
    (less their refunds) plus the opening history brought in by an import. One query per table."""
    root_of = root_of or {i: ids[0] for i in ids}
    out: dict[int, list] = {}

    def add(root, paid, n, first, last):
        cur = out.setdefault(root, [ZERO, 0, None, None])
        cur[0] += paid or ZERO
        cur[1] += n or 0
        cur[2] = min(d for d in (cur[2], first) if d) if (cur[2] or first) else None
        cur[3] = max(d for d in (cur[3], last) if d) if (cur[3] or last) else None

    for row in MemberOrder.objects.filter(member_id__in=list(root_of)).values("member_id").annotate(
            paid=Sum("paid_amount"), refunded=Sum("refunded_amount"), n=Count("id"), first=Min("paid_at"),
            last=Max("paid_at")):
        add(root_of[row["member_id"]], (row["paid"] or ZERO) - (row["refunded"] or ZERO), row["n"], row["first"], row["last"])
    for row in MemberOpening.objects.filter(identity__member_id__in=list(root_of)).values("identity__member_id").annotate(
            paid=Sum("paid_amount"), n=Sum("order_count"), first=Min("first_order_at"), last=Max("last_order_at")):
        add(root_of[row["identity__member_id"]], row["paid"], row["n"], row["first"], row["last"])
    return {root: (max(v[0], ZERO), v[1], v[2], v[3]) for root, v in out.items()}


def members_refresh_many(*, member_ids, now: datetime | None = None) -> list[int]:
    """``member_refresh`` for many members at once, set-based (an import's members): their roots'
    totals (one aggregate per table), points balance and level, one bulk update. Returns the ids of
    the root members whose figures changed (the others are not written)."""
    now = now or timezone.now()
    roots = set()
    for pk, merged_into in Member.objects.filter(pk__in=list(member_ids)).values_list("pk", "merged_into_id"):
        roots.add(merged_into or pk)
    if not roots:
        return []
    root_of = {r: r for r in roots}
    for pk, root in Member.objects.filter(merged_into_id__in=list(roots)).values_list("pk", "merged_into_id"):
        root_of[pk] = root
    totals = _totals(list(root_of), root_of=root_of)
    points: dict[int, int] = {}
    for member_id, amount in PointsEntry.objects.filter(member_id__in=list(root_of)).values("member_id").annotate(
            s=Sum("amount")).values_list("member_id", "s"):
        points[root_of[member_id]] = points.get(root_of[member_id], 0) + (amount or 0)
    st = member_settings()
    levels = levels_by_rank_desc()
    changed = []
    for member in Member.objects.filter(pk__in=list(roots)).select_related("level"):
        paid, count, first, last = totals.get(member.pk, (ZERO, 0, None, None))
        level, below = next_level(levels=levels, current=member.level, below_since=member.below_level_since, spend=paid,
                                  orders=count, policy=st.downgrade_policy, after_days=st.downgrade_after_days, now=now)
        values = (paid, count, first, last, points.get(member.pk, 0), level.pk if level else None, below)
        if values == (member.lifetime_paid, member.order_count, member.first_order_at, member.last_order_at,
                      member.points_balance, member.level_id, member.below_level_since):
            continue  # already right: not written (a re-import changes nothing)
        if level != member.level:
            member.level_since = now
        member.lifetime_paid, member.order_count, member.first_order_at, member.last_order_at = paid, count, first, last
        member.points_balance, member.level, member.below_level_since, member.updated_at = values[4], level, below, now
        changed.append(member)
    Member.objects.bulk_update(changed, ["lifetime_paid", "order_count", "first_order_at", "last_order_at",
                                         "points_balance", "level", "level_since", "below_level_since", "updated_at"],
                               batch_size=1000)
    return [m.pk for m in changed]


def member_refresh(*, member_id: int, now: datetime | None = None) -> Member:
    """Re-derive a member's projections from its rows (its group's, for a root): totals from the
    orders that earned, the points balance from the ledger, then its level."""
    now = now or timezone.now()
    member = Member.objects.select_related("level").get(pk=member_id)
    ids = group_ids(member.pk) if member.merged_into_id is None else [member.pk]
    paid, count, first, last = _totals(ids).get(member.pk, (ZERO, 0, None, None))
    member.lifetime_paid, member.order_count, member.first_order_at, member.last_order_at = paid, count, first, last
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
