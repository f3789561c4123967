"""Background jobs of members (thin: they call services)."""

from erp.tenancy.tasks import system_task, tenant_task


@tenant_task(name="members.earn_for_order", acks_late=True, autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def earn_for_order(*, tenant_id: int, order_id: int):
    from .services import points_earn_for_order

    record = points_earn_for_order(order_id=order_id)
    return record.pk if record else None


@tenant_task(name="members.clawback_for_refund", acks_late=True, autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def clawback_for_refund(*, tenant_id: int, ticket_id: int, amount: str, order_id=None, shop_id=None,
                        platform_order_id: str = "") -> int:
    from .services import points_clawback_for_refund

    return points_clawback_for_refund(ticket_id=ticket_id, amount=amount, order_id=order_id, shop_id=shop_id,
                                      platform_order_id=platform_order_id)


@tenant_task(name="members.redeem_coupons_for_order", acks_late=True, autoretry_for=(Exception,), retry_backoff=True,
             max_retries=5)
def redeem_coupons_for_order(*, tenant_id: int, **kwargs) -> list[int]:
    from .services import coupons_redeem_for_order

    return coupons_redeem_for_order(**kwargs)


@tenant_task(name="members.expire_points", acks_late=True)
def expire_points_for_tenant(*, tenant_id: int) -> int:
    from .services import points_expire

    return points_expire()


@tenant_task(name="members.nightly", acks_late=True)
def nightly_for_tenant(*, tenant_id: int) -> dict:
    from .services import members_recompute_rfm, members_review_levels

    changed = members_review_levels()
    return {"levels_changed": changed, "segments": members_recompute_rfm()}


@system_task(reason="members: expire points past their date", name="members.expiry_tick")
def expiry_tick() -> int:
    """Beat tick (daily): one task per tenant with earned points that may be past their date."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import PointsEntry, PointsKind

    # tomorrow's date covers every time zone: the tenant task decides with the tenant's own date
    horizon = (timezone.now() + timedelta(days=1)).date()
    tenant_ids = sorted(set(PointsEntry.all_tenants.filter(kind=PointsKind.EARN, expires_on__lt=horizon)
                            .values_list("tenant_id", flat=True).distinct()))
    for tenant_id in tenant_ids:
        expire_points_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@system_task(reason="members: nightly levels and RFM segments", name="members.nightly_tick")
def nightly_tick() -> int:
    """Beat tick (nightly): levels (downgrades that came due) and RFM segments, per tenant with members."""
    from .models import Member

    tenant_ids = sorted(set(Member.all_tenants.values_list("tenant_id", flat=True).distinct()))
    for tenant_id in tenant_ids:
        nightly_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(name="members.review_levels", acks_late=True)
def review_levels(*, tenant_id: int) -> int:
    from .services import members_review_levels

    return members_review_levels()


@tenant_task(name="members.expire_coupons", acks_late=True)
def expire_coupons_for_tenant(*, tenant_id: int) -> int:
    from .services.coupons import coupons_expire

    return coupons_expire()


@system_task(reason="members: expire coupons past their end", name="members.coupons_expiry_tick")
def coupons_expiry_tick() -> int:
    """Beat tick (hourly): one task per tenant holding issued coupons whose end has passed."""
    from django.utils import timezone

    from .models import Coupon, CouponStatus

    tenant_ids = sorted(set(Coupon.all_tenants.filter(status=CouponStatus.ISSUED, valid_until__lte=timezone.now())
                            .values_list("tenant_id", flat=True).distinct()))
    for tenant_id in tenant_ids:
        expire_coupons_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@tenant_task(name="members.campaign_send", acks_late=True)
def campaign_send(*, tenant_id: int, campaign_id: int) -> int:
    """Send a campaign in batches; when batches are left after this run, the task enqueues itself again."""
    from .services.campaigns import campaign_run

    remaining = campaign_run(campaign_id=campaign_id)
    if remaining:
        campaign_send.delay(tenant_id=tenant_id, campaign_id=campaign_id)
    return remaining


@system_task(reason="members: send due campaigns", name="members.campaigns_tick")
def campaigns_tick() -> int:
    """Beat tick (every minute): a send task per scheduled campaign that came due, and per sending
    campaign untouched for 5 minutes (a worker stopped mid-send: the send resumes, idempotently)."""
    from datetime import timedelta

    from django.db.models import Q
    from django.utils import timezone

    from .models import Campaign, CampaignStatus

    now = timezone.now()
    due = Campaign.all_tenants.filter(
        Q(status=CampaignStatus.SCHEDULED, scheduled_at__lte=now)
        | Q(status=CampaignStatus.SENDING, updated_at__lt=now - timedelta(minutes=5))
    ).order_by("tenant_id", "pk").values_list("tenant_id", "pk")
    pairs = list(due)
    for tenant_id, campaign_id in pairs:
        campaign_send.delay(tenant_id=tenant_id, campaign_id=campaign_id)
    return len(pairs)
