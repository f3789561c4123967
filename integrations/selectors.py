"""Reads of the integrations app (for other apps, pages and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from .codec import bill_from_dict, order_from_dict, refund_from_dict
from .models import (
    Job,
    Outbox,
    Platform,
    PlatformBillLine,
    PlatformOrder,
    PlatformRefund,
    Shop,
    SyncCursor,
    SyncRun,
)
from .normalized import NormalizedBillLine, NormalizedOrder, NormalizedRefund


def normalized_orders(*, shop_id: int, platform_order_ids: list[str]) -> list[NormalizedOrder]:
    """The latest normalised state of these orders of one shop (raw payload in ``.raw``)."""
    rows = PlatformOrder.objects.filter(shop_id=shop_id, platform_order_id__in=list(platform_order_ids))
    by_id = {row.platform_order_id: order_from_dict(row.normalized, raw=row.payload) for row in rows}
    return [by_id[pid] for pid in platform_order_ids if pid in by_id]


def normalized_refunds(*, shop_id: int, platform_refund_ids: list[str]) -> list[NormalizedRefund]:
    rows = PlatformRefund.objects.filter(shop_id=shop_id, platform_refund_id__in=list(platform_refund_ids))
    by_id = {row.platform_refund_id: refund_from_dict(row.normalized, raw=row.payload) for row in rows}
    return [by_id[pid] for pid in platform_refund_ids if pid in by_id]


def normalized_bill_lines(*, shop_id: int, platform_bill_ids: list[str]) -> list[NormalizedBillLine]:
    rows = PlatformBillLine.objects.filter(shop_id=shop_id, platform_bill_id__in=list(platform_bill_ids))
    by_id = {row.platform_bill_id: bill_from_dict(row.normalized, raw=row.payload) for row in rows}
    return [by_id[pid] for pid in platform_bill_ids if pid in by_id]


def shops_with_platform(*, platform: str | None = None):
    qs = Shop.objects.filter(is_active=True)
    return qs.filter(platform=platform) if platform else qs


# --- shops, for other apps (they never import integrations.models) ------------------------------------
def shops():
    """The current tenant's shops (active or not) as a queryset: for a serializer field
    (``ScopedPK(rows=shops)``), a form's choices or a filter. Fail-closed with no tenant set."""
    return Shop.objects.all()


def shop_get(*, shop_id: int) -> Shop:
    """One shop of the current tenant; raises ``django.core.exceptions.ObjectDoesNotExist``
    (Shop.DoesNotExist) when the id is not one of this tenant's shops."""
    return Shop.objects.get(pk=shop_id)


def shop_find(*, shop_id) -> Shop | None:
    """One shop of the current tenant, or None for a missing/foreign/malformed id (query strings)."""
    try:
        return Shop.objects.filter(pk=int(shop_id)).first()
    except (TypeError, ValueError):
        return None


def shops_by_ids(*, ids) -> dict[int, Shop]:
    """The current tenant's shops with these ids, by id (ids of other tenants are simply absent)."""
    return Shop.objects.in_bulk(list(ids))


def shop_names(*, ids) -> dict[int, str]:
    """{shop id: name} for these ids of the current tenant (for report labels)."""
    return dict(Shop.objects.filter(pk__in=list(ids)).values_list("pk", "name"))


def shop_options():
    """[{"id", "name"}] of the tenant's shops by name: the shop filter of an operator page."""
    return Shop.objects.order_by("name", "pk").values("id", "name")


def platform_choices() -> list[tuple[str, str]]:
    """(value, label) of every platform a shop can be on (Taobao, JD, Pinduoduo, own shop)."""
    return list(Platform.choices)


def platform_values() -> list[str]:
    return list(Platform.values)


# --- health ---------------------------------------------------------------------------------------
@dataclass
class JobHealth:
    job: str
    label: str
    enabled: bool
    last_success_at: object
    last_started_at: object
    last_error: str
    consecutive_failures: int
    watermark: object
    tone: str  # good | warn | bad | neutral


@dataclass
class ShopHealth:
    shop: Shop
    jobs: list[JobHealth]
    tone: str
    pending_pushes: int  # outbox rows (shipments, refund decisions) waiting to be sent
    failed_pushes: int


def _tone(shop: Shop, job: str, cursor: SyncCursor | None, now) -> str:
    if not shop.job_enabled(job):
        return "neutral"
    if cursor is None or cursor.last_started_at is None:
        return "neutral"
    if cursor.consecutive_failures >= 3:
        return "bad"
    if cursor.consecutive_failures:
        return "warn"
    if cursor.last_success_at and job in (Job.PULL_ORDERS, Job.PUSH_STOCK):
        if now - cursor.last_success_at > timedelta(seconds=max(600, 5 * shop.job_interval(job))):
            return "warn"
    return "good"


SHOWN_JOBS = [Job.PULL_ORDERS, Job.PULL_REFUNDS, Job.PUSH_STOCK, Job.PUSH_STOCK_FULL, Job.PUSH_SHIPMENTS, Job.PULL_BILLS]


def shop_health(shop: Shop, *, cursors: dict | None = None, now=None) -> ShopHealth:
    now = now or timezone.now()
    if cursors is None:
        cursors = {c.job: c for c in SyncCursor.objects.filter(shop=shop)}
    jobs = []
    for job in SHOWN_JOBS:
        cursor = cursors.get(job)
        jobs.append(JobHealth(
            job=job, label=Job(job).label, enabled=shop.job_enabled(job),
            last_success_at=cursor.last_success_at if cursor else None,
            last_started_at=cursor.last_started_at if cursor else None,
            last_error=cursor.last_error if cursor else "",
            consecutive_failures=cursor.consecutive_failures if cursor else 0,
            watermark=cursor.watermark if cursor else None,
            tone=_tone(shop, job, cursor, now),
        ))
    tones = {j.tone for j in jobs}
    tone = "bad" if "bad" in tones else "warn" if "warn" in tones else "good" if "good" in tones else "neutral"
    outbox = Outbox.objects.filter(shop=shop)
    failed = outbox.filter(status=Outbox.Status.FAILED).count()
    if failed and tone in ("good", "neutral"):
        tone = "warn"
    return ShopHealth(shop=shop, jobs=jobs, tone=tone,
                      pending_pushes=outbox.filter(status=Outbox.Status.PENDING).count(), failed_pushes=failed)


def shops_health() -> list[ShopHealth]:
    now = timezone.now()
    cursors: dict[int, dict] = {}
    for cursor in SyncCursor.objects.all():
        cursors.setdefault(cursor.shop_id, {})[cursor.job] = cursor
    return [shop_health(shop, cursors=cursors.get(shop.pk, {}), now=now) for shop in Shop.objects.all()]


def shops_failing_count() -> int:
    return SyncCursor.objects.filter(consecutive_failures__gt=0, shop__is_active=True).values("shop").distinct().count()


def recent_runs(*, shop: Shop | None = None, job: str | None = None, limit: int = 50):
    qs = SyncRun.objects.select_related("shop")
    if shop is not None:
        qs = qs.filter(shop=shop)
    if job:
        qs = qs.filter(job=job)
    return qs.order_by("-started_at", "-id")[:limit]


def due_shops(*, job: str, now=None) -> list[tuple[int, int]]:
    """(tenant_id, shop_id) of every enabled shop, across tenants, whose interval for ``job`` has
    passed. For the beat ticks; call inside system_context()."""
    now = now or timezone.now()
    from .models import JOB_ENABLED_FIELD

    flag = JOB_ENABLED_FIELD[job]
    shops = Shop.all_tenants.filter(is_active=True, **{flag: True}).exclude(platform="own") \
        if job in (Job.PULL_ORDERS, Job.PULL_REFUNDS, Job.PULL_BILLS) else \
        Shop.all_tenants.filter(is_active=True, **{flag: True})
    shops = shops.filter(tenant__is_active=True)
    last = {c.shop_id: c.last_started_at for c in SyncCursor.all_tenants.filter(job=job, shop__in=shops)}
    due = []
    for tenant_id, shop_id, *rest in shops.values_list("tenant_id", "pk", *([f] if (f := _interval_field(job)) else [])):
        interval = rest[0] if rest else 0
        started = last.get(shop_id)
        # a few seconds of slack so a 60 s interval does not miss every other 60 s tick
        if started is None or (now - started).total_seconds() >= max(0, interval - 10):
            due.append((tenant_id, shop_id))
    return due


def _interval_field(job: str) -> str | None:
    from .models import JOB_INTERVAL_FIELD

    return JOB_INTERVAL_FIELD.get(job)


# --- seller coupons -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CouponDeliveryInfo:
    coupon_id: int
    platform: str
    shop_id: int | None
    status: str  # pending, sent, failed
    status_label: str
    attempts: int
    last_error: str
    platform_coupon_id: str
    next_attempt_at: object
    sent_at: object


def coupon_deliveries(*, coupon_ids) -> dict[int, CouponDeliveryInfo]:
    """{coupon id: its delivery} for the coupons that have one."""
    from .models import CouponDelivery

    ids = [int(c) for c in coupon_ids if c]
    if not ids:
        return {}
    return {row.coupon_id: CouponDeliveryInfo(
        coupon_id=row.coupon_id, platform=row.platform, shop_id=row.shop_id, status=row.status,
        status_label=str(row.get_status_display()), attempts=row.attempts, last_error=row.last_error,
        platform_coupon_id=row.platform_coupon_id, next_attempt_at=row.next_attempt_at, sent_at=row.sent_at)
        for row in CouponDelivery.objects.filter(coupon_id__in=ids)}


def coupon_delivery_counts(*, coupon_ids) -> dict[str, int]:
    """Deliveries of these coupons by status (pending / sent / failed)."""
    from django.db.models import Count

    from .models import CouponDelivery

    ids = [int(c) for c in coupon_ids if c]
    if not ids:
        return {}
    return dict(CouponDelivery.objects.filter(coupon_id__in=ids).order_by().values_list("status")
                .annotate(n=Count("id")))


def coupon_id_for_platform_coupon(*, shop_id: int, platform_coupon_id: str) -> int | None:
    """Our coupon id for a platform's coupon id seen on an order of the shop (None when unknown)."""
    from .models import CouponDelivery

    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None or not platform_coupon_id:
        return None
    return (CouponDelivery.objects.filter(platform=shop.platform, platform_coupon_id=str(platform_coupon_id))
            .values_list("coupon_id", flat=True).first())
