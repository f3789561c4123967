"""RFM: recency, frequency and monetary scores (1-5 by quintile) and the segment of every root member
who bought.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Member, Segment
from .common import ZERO

SEGMENTS = {
    (True, True, True): Segment.IMPORTANT_VALUE, (False, True, True): Segment.IMPORTANT_KEEP,
    (True, False, True): Segment.IMPORTANT_DEVELOP, (False, False, True): Segment.IMPORTANT_RETAIN,
    (True, True, False): Segment.GENERAL_VALUE, (False, True, False): Segment.GENERAL_KEEP,
    (True, False, False): Segment.GENERAL_DEVELOP, (False, False, False): Segment.GENERAL_RETAIN,
}


def _quintile_scores(values: list, *, lower_is_better: bool = False) -> list[int]:
    """1..5 by the value's mid-rank percentile among the values (ties share a score)."""
    import bisect

    keyed = [-v if lower_is_better else v for v in values]
    ordered = sorted(keyed)
    n = len(ordered)
    scores = []
    for v in keyed:
        below, upto = bisect.bisect_left(ordered, v), bisect.bisect_right(ordered, v)
        scores.append(1 + min(4, int(5 * (below + upto) / 2 / n)))
    return scores


def rfm_segment(*, recency_days: float, orders: int, paid: Decimal, mean_days: float, mean_orders: float,
                mean_paid: Decimal) -> str:
    """High recency: bought no longer ago than the mean; high frequency: at least two orders and at
    least the mean; high monetary: paid at least the mean."""
    r = recency_days <= mean_days
    f = orders >= max(2.0, mean_orders)
    m = paid >= mean_paid
    return SEGMENTS[(r, f, m)]


@transaction.atomic
def members_recompute_rfm(*, now: datetime | None = None) -> dict[str, int]:
    """Scores (1-5) and segment of every root member who bought; others have none."""
    now = now or timezone.now()
    rows = list(Member.objects.filter(merged_into__isnull=True, order_count__gt=0, last_order_at__isnull=False)
                .only("pk", "last_order_at", "order_count", "lifetime_paid"))
    Member.objects.filter(Q(merged_into__isnull=False) | Q(order_count=0) | Q(last_order_at__isnull=True)).exclude(
        segment="", rfm_r=0).update(segment="", rfm_r=0, rfm_f=0, rfm_m=0, rfm_at=now)
    if not rows:
        return {}
    days = [max((now - m.last_order_at).total_seconds() / 86400, 0.0) for m in rows]
    counts = [m.order_count for m in rows]
    paid = [m.lifetime_paid for m in rows]
    mean_days, mean_orders = sum(days) / len(rows), sum(counts) / len(rows)
    mean_paid = sum(paid, ZERO) / len(rows)
    r_s = _quintile_scores([round(d, 3) for d in days], lower_is_better=True)
    f_s = _quintile_scores(counts)
    m_s = _quintile_scores(paid)
    result: dict[str, int] = defaultdict(int)
    for i, m in enumerate(rows):
        m.rfm_r, m.rfm_f, m.rfm_m = r_s[i], f_s[i], m_s[i]
        m.segment = rfm_segment(recency_days=days[i], orders=counts[i], paid=paid[i], mean_days=mean_days,
                                mean_orders=mean_orders, mean_paid=mean_paid)
        m.rfm_at = now
        result[m.segment] += 1
    Member.objects.bulk_update(rows, ["rfm_r", "rfm_f", "rfm_m", "segment", "rfm_at"], batch_size=1000)
    return dict(result)
