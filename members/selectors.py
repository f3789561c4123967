"""Member reads: buyer levels for orders, list filters, segment counts, a member's detail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Min, Q, Sum

from .models import (
    Member,
    MemberIdentity,
    MemberLevel,
    MemberMerge,
    MemberOrder,
    Platform,
    PointsEntry,
    Segment,
)


def buyer_levels(*, platform: str, buyer_ids: list[str]) -> dict[str, int]:
    """{buyer id: level rank of its member (its merged-into member's, when merged)} for the buyers
    known on ``platform``; unknown buyers are absent (rank 0). One query."""
    ids = sorted({str(b) for b in buyer_ids if b})
    if not ids:
        return {}
    rows = MemberIdentity.objects.filter(platform=platform, buyer_id__in=ids).values_list(
        "buyer_id", "member__merged_into_id", "member__level__rank", "member__merged_into__level__rank")
    return {buyer: (root_rank if root_id else own_rank) or 0 for buyer, root_id, own_rank, root_rank in rows}


FILTER_KEYS = ("level", "segment", "platform", "q", "merged")


def member_filter(queryset, params) -> tuple:
    """The list / API filters from a dict-like of strings; (queryset, applied). Merged members are
    hidden unless merged=1. A malformed value raises ValidationError naming the field."""
    applied, errors = {}, {}
    merged = (params.get("merged") or "").strip()
    if merged not in ("", "0", "1"):
        errors["merged"] = ["0 or 1"]
    elif merged == "1":
        queryset = queryset.filter(merged_into__isnull=False)
        applied["merged"] = merged
    else:
        queryset = queryset.filter(merged_into__isnull=True)
    level = (params.get("level") or "").strip()
    if level:
        if level == "none":
            queryset = queryset.filter(level__isnull=True)
        elif level.isdigit():
            queryset = queryset.filter(level__rank=int(level))
        else:
            errors["level"] = ["a level rank (a whole number) or 'none'"]
        applied["level"] = level
    segment = (params.get("segment") or "").strip()
    if segment:
        if segment == "none":
            queryset = queryset.filter(segment="")
        elif segment in Segment.values:
            queryset = queryset.filter(segment=segment)
        else:
            errors["segment"] = [f"one of: {', '.join(Segment.values)}, none"]
        applied["segment"] = segment
    platform = (params.get("platform") or "").strip()
    if platform:
        if platform in Platform.values:
            buyers = MemberIdentity.objects.filter(platform=platform)
            queryset = queryset.filter(Q(pk__in=buyers.values("member_id"))
                                       | Q(merged__in=buyers.values("member_id"))).distinct()
        else:
            errors["platform"] = [f"one of: {', '.join(Platform.values)}"]
        applied["platform"] = platform
    q = (params.get("q") or params.get("search") or "").strip()
    if q:
        found = Q(display_name__icontains=q)
        idents = MemberIdentity.objects.filter(buyer_id=q)
        if re.fullmatch(r"\d{4}", q):
            found |= Q(phone_masked__endswith=q)
            idents = MemberIdentity.objects.filter(Q(buyer_id=q) | Q(phone_masked__endswith=q))
        member_ids = idents.values("member_id")
        found |= Q(pk__in=member_ids) | Q(merged__in=member_ids)
        if q.isdigit() and len(q) < 10:
            found |= Q(pk=int(q))
        queryset = queryset.filter(found).distinct()
        applied["q"] = q
    if errors:
        raise ValidationError(errors)
    return queryset, applied


def segment_counts() -> dict[str, int]:
    """Members (not merged) per RFM segment; "" for those without one."""
    counts = dict(Member.objects.filter(merged_into__isnull=True).order_by().values_list("segment")
                  .annotate(n=Count("id")))
    return {value: counts.get(value, 0) for value in [*Segment.values, ""]}


def level_counts() -> list[tuple[MemberLevel | None, int]]:
    counts = dict(Member.objects.filter(merged_into__isnull=True).order_by().values_list("level_id")
                  .annotate(n=Count("id")))
    return [(lv, counts.get(lv.pk, 0)) for lv in MemberLevel.objects.order_by("rank")] + [(None, counts.get(None, 0))]


def member_group_ids(member: Member) -> list[int]:
    if member.merged_into_id:
        return [member.pk]
    return [member.pk, *Member.objects.filter(merged_into=member).order_by("pk").values_list("pk", flat=True)]


def member_identities(member: Member):
    return MemberIdentity.objects.filter(member_id__in=member_group_ids(member)).order_by("pk")


def member_ledger(member: Member, *, limit: int = 100):
    return PointsEntry.objects.filter(member_id__in=member_group_ids(member)).select_related("actor").order_by("-pk")[:limit]


def member_orders(member: Member, *, limit: int = 50):
    return MemberOrder.objects.filter(member_id__in=member_group_ids(member)).order_by("-shipped_at", "-pk")[:limit]


def member_orders_summary(member: Member) -> dict:
    row = MemberOrder.objects.filter(member_id__in=member_group_ids(member)).aggregate(
        orders=Count("id"), paid=Sum("paid_amount"), refunded=Sum("refunded_amount"), points=Sum("points_earned"))
    return {k: v if v is not None else 0 for k, v in row.items()}


def member_merges(member: Member):
    return MemberMerge.objects.filter(Q(target=member) | Q(source=member)).select_related("actor").order_by("-pk")


def points_drift() -> list[tuple[int, int, int]]:
    """(member id, projection, ledger sum) for every member whose projection differs from its
    ledger (its group's, for a root member)."""
    own = dict(PointsEntry.objects.order_by().values_list("member_id").annotate(s=Sum("amount")))
    drift = []
    rows = Member.objects.values_list("pk", "merged_into_id", "points_balance")
    children: dict[int, list[int]] = {}
    members = list(rows)
    for pk, root, _ in members:
        if root:
            children.setdefault(root, []).append(pk)
    for pk, root, projection in members:
        ledger = own.get(pk, 0) + (0 if root else sum(own.get(c, 0) for c in children.get(pk, [])))
        if ledger != projection:
            drift.append((pk, projection, ledger))
    return drift


def attention_counts() -> dict[str, int]:
    row = Member.objects.filter(merged_into__isnull=True).aggregate(
        members=Count("id"), important=Count("id", filter=Q(segment=Segment.IMPORTANT_VALUE)),
        retain=Count("id", filter=Q(segment=Segment.IMPORTANT_RETAIN)))
    return {k: v or 0 for k, v in row.items()}


@dataclass(frozen=True)
class MemberBenefits:
    """What a buyer's member gets (its root's level when merged): level discount and shipping, and the
    coupons it can redeem now (code, template name, threshold, currency, valid until)."""

    member_id: int | None
    level_rank: int = 0
    level_name: str = ""
    discount_percent: Decimal = Decimal("0")
    free_shipping: bool = False
    priority_shipping: bool = False
    coupons: tuple = ()


def member_benefits(*, buyer_id: str, platform: str, member_id: int | None = None) -> MemberBenefits:
    """The benefits of a platform buyer (or of ``member_id``); an unknown buyer gets none
    (``member_id`` None). Meant for order review: the level's discount and free / priority shipping,
    and the coupons open to the member now."""
    from django.utils import timezone

    from .models import Coupon, CouponStatus

    member = None
    if member_id is not None:
        member = Member.objects.select_related("level", "merged_into__level").filter(pk=member_id).first()
    elif buyer_id and platform:
        ident = (MemberIdentity.objects.select_related("member__level", "member__merged_into__level")
                 .filter(platform=platform, buyer_id=str(buyer_id)).first())
        member = ident.member if ident else None
    if member is None:
        return MemberBenefits(member_id=None)
    root = member.merged_into or member
    level = root.level
    now = timezone.now()
    coupons = tuple(
        Coupon.objects.filter(member_id__in=member_group_ids(root), status=CouponStatus.ISSUED)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now), Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("valid_until", "pk")
        .values_list("code", "template__name", "template__threshold", "currency", "valid_until"))
    return MemberBenefits(
        member_id=root.pk, level_rank=level.rank if level else 0, level_name=level.name if level else "",
        discount_percent=level.discount_percent if level else Decimal("0"),
        free_shipping=bool(level and level.free_shipping), priority_shipping=bool(level and level.priority_shipping),
        coupons=coupons)


def coupon_template_rows():
    """Templates with their coupons counted by status."""
    from .models import CouponTemplate

    return CouponTemplate.objects.annotate(
        n_issued=Count("coupons", filter=Q(coupons__status="issued")),
        n_redeemed=Count("coupons", filter=Q(coupons__status="redeemed")),
        n_expired=Count("coupons", filter=Q(coupons__status="expired")),
        n_void=Count("coupons", filter=Q(coupons__status="void")),
        discount_total=Sum("coupons__discount_amount")).order_by("-id")


COUPON_FILTER_KEYS = ("template", "status", "member", "code")


def coupon_filter(queryset, params) -> tuple:
    """Issued coupons filtered by template id, status, member id or code; bad values raise ValidationError."""
    from .models import CouponStatus

    applied, errors = {}, {}
    for key in COUPON_FILTER_KEYS:
        value = (params.get(key) or "").strip()
        if not value:
            continue
        if key in ("template", "member"):
            if not value.isdigit() or len(value) > 18:
                errors[key] = ["An id."]
                continue
            queryset = queryset.filter(**{f"{key}_id": int(value)})
        elif key == "status":
            if value not in CouponStatus.values:
                errors[key] = ["One of: " + ", ".join(CouponStatus.values)]
                continue
            queryset = queryset.filter(status=value)
        else:
            queryset = queryset.filter(code__iexact=value[:32])
        applied[key] = value
    if errors:
        raise ValidationError(errors)
    return queryset, applied


# --- campaigns -------------------------------------------------------------------------------------
def campaign_audience(*, segment: str = "", level_rank: int | None = None, platform: str = "",
                      no_purchase_days: int | None = None, purchased_within_days: int | None = None,
                      sku_code: str = "", channels=(), now=None):
    """Root members matching every given criterion (RFM segment, level rank, a buyer on a platform,
    last purchase older / newer than N days, bought a SKU) and reachable on one of ``channels`` (a
    buyer of their group there). Opted-out members are included: the caller tells them apart."""
    from datetime import timedelta

    from django.utils import timezone

    from . import ports

    now = now or timezone.now()
    qs = Member.objects.filter(merged_into__isnull=True)
    if segment:
        qs = qs.filter(segment=segment)
    if level_rank:
        qs = qs.filter(level__rank=level_rank)
    if no_purchase_days:
        qs = qs.filter(last_order_at__lt=now - timedelta(days=no_purchase_days))
    if purchased_within_days:
        qs = qs.filter(last_order_at__gte=now - timedelta(days=purchased_within_days))

    def in_group(idents):
        ids = idents.values("member_id")
        return Q(pk__in=ids) | Q(merged__in=ids)

    if platform:
        qs = qs.filter(in_group(MemberIdentity.objects.filter(platform=platform)))
    if channels:
        qs = qs.filter(in_group(MemberIdentity.objects.filter(platform__in=list(channels))))
    if sku_code:
        order_ids = ports.order_ids_with_sku(sku_code=sku_code)
        buyers = MemberOrder.objects.filter(order_id__in=order_ids).values("member_id")
        qs = qs.filter(Q(pk__in=buyers) | Q(merged__in=buyers))
    return qs.distinct().order_by("pk")


def campaign_preview(*, now=None, **criteria) -> dict:
    """How many members a campaign with these criteria reaches: matched, opted out, over the cap,
    and the members it would send to or hold out (holdout_percent given)."""
    from django.utils import timezone

    from .services.campaigns import CRITERIA, _capped_ids

    now = now or timezone.now()
    percent = criteria.pop("holdout_percent", 0) or 0
    rows = list(campaign_audience(**{k: criteria.get(k) for k in CRITERIA if criteria.get(k) is not None},
                                  now=now).values_list("pk", "marketing_opt_out"))
    opted = sum(1 for _pk, out in rows if out)
    capped = len(_capped_ids([pk for pk, out in rows if not out], now=now, exclude_campaign_id=0))
    eligible = len(rows) - opted - capped
    holdout = round(eligible * percent / 100)
    return {"matched": len(rows), "opted_out": opted, "capped": capped, "eligible": eligible, "holdout": holdout,
            "to_send": eligible - holdout}


def campaign_progress(campaign) -> dict:
    """A campaign's send progress (the counters, recipients by status)."""
    from .models import CampaignRecipient

    by_status = dict(CampaignRecipient.objects.filter(campaign=campaign).order_by().values_list("status")
                     .annotate(n=Count("id")))
    done = campaign.n_audience - by_status.get("pending", 0)
    return {"status": campaign.status, "audience": campaign.n_audience, "processed": done,
            "percent": round(100 * done / campaign.n_audience) if campaign.n_audience else
            (100 if campaign.status == "sent" else 0),
            "sent": campaign.n_sent, "holdout": campaign.n_holdout, "skipped": campaign.n_skipped,
            "failed": campaign.n_failed, "by_status": by_status, "deliveries": campaign_delivery_counts(campaign),
            "started_at": campaign.started_at, "sent_at": campaign.sent_at}


def campaign_delivery_counts(campaign) -> dict:
    """The campaign's coupon deliveries to the platforms by status (pending / sent / failed)."""
    from . import ports
    from .models import CampaignRecipient

    ids = list(CampaignRecipient.objects.filter(campaign=campaign, coupon__isnull=False)
               .values_list("coupon_id", flat=True))
    return ports.coupon_delivery_counts(coupon_ids=ids) if ids else {}


def campaign_recipient_deliveries(recipients) -> dict:
    """{recipient id: its coupon's delivery (integrations.selectors.CouponDeliveryInfo)} for display."""
    from . import ports

    by_coupon = {r.coupon_id: r.pk for r in recipients if r.coupon_id}
    if not by_coupon:
        return {}
    return {by_coupon[c]: info for c, info in ports.coupon_deliveries(coupon_ids=list(by_coupon)).items()}


EFFECT_WINDOWS = (30, 60, 90)


def _group_members(root_ids) -> dict[int, int]:
    """{member id: root} for the roots and the members merged into them."""
    out = {pk: pk for pk in root_ids}
    for pk, root in Member.objects.filter(merged_into_id__in=list(root_ids)).values_list("pk", "merged_into_id"):
        out[pk] = root
    return out


def campaign_effect(campaign, *, now=None) -> list[dict]:
    """Per window (30/60/90 days from the send's start): for the treated group (coupon sent) and the
    holdout, members, repurchasers (a shipped order paid in the window), repurchase rate, revenue
    (paid less refunded), revenue per member; for the treated, coupons redeemed in the window and the
    redemption rate; the uplift of the repurchase rate. ``complete`` is false while a window runs."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import CampaignRecipient, Coupon, CouponStatus, RecipientStatus

    now = now or timezone.now()
    start = campaign.started_at
    if start is None:
        return []
    rows = list(CampaignRecipient.objects.filter(campaign=campaign, status__in=[RecipientStatus.SENT,
                                                                                 RecipientStatus.HOLDOUT])
                .values_list("member_id", "holdout", "coupon_id"))
    group = {pk: ("holdout" if held else "treated") for pk, held, _c in rows}
    coupons = [c for _pk, held, c in rows if c and not held]
    members = _group_members(group)
    end = start + timedelta(days=max(EFFECT_WINDOWS))
    orders = list(MemberOrder.objects.filter(member_id__in=list(members), paid_at__gte=start, paid_at__lt=end)
                  .values_list("member_id", "paid_at", "paid_amount", "refunded_amount"))
    # a redemption counts at its order's payment (the order may be recorded later than it was paid)
    redeemed = list(Coupon.objects.filter(pk__in=coupons, status=CouponStatus.REDEEMED).values_list(
        "order_id", "redeemed_at", "order_amount"))
    paid_at = dict(MemberOrder.objects.filter(order_id__in=[o for o, _at, _a in redeemed]).values_list(
        "order_id", "paid_at"))
    redeemed = [(paid_at.get(order_id) or at, amount) for order_id, at, amount in redeemed]
    sizes = {"treated": sum(1 for g in group.values() if g == "treated"),
             "holdout": sum(1 for g in group.values() if g == "holdout")}
    result = []
    for days in EFFECT_WINDOWS:
        until = start + timedelta(days=days)
        stats = {}
        for name in ("treated", "holdout"):
            buyers, revenue = set(), Decimal("0.00")
            for member_id, paid_at, paid, refunded in orders:
                root = members[member_id]
                if group[root] == name and paid_at < until:
                    buyers.add(root)
                    revenue += paid - refunded
            n = sizes[name]
            stats[name] = {"members": n, "repurchasers": len(buyers),
                           "repurchase_rate": round(len(buyers) / n, 4) if n else None,
                           "revenue": revenue.quantize(Decimal("0.01")),
                           "revenue_per_member": (revenue / n).quantize(Decimal("0.01")) if n else None}
        got = [amount for at, amount in redeemed if at and at < until]
        treated = stats["treated"]
        treated["redeemed"] = len(got)
        treated["redemption_rate"] = round(len(got) / treated["members"], 4) if treated["members"] else None
        treated["redeemed_order_amount"] = sum(got, Decimal("0.00"))
        uplift = None
        if treated["repurchase_rate"] is not None and stats["holdout"]["repurchase_rate"] is not None:
            uplift = round(treated["repurchase_rate"] - stats["holdout"]["repurchase_rate"], 4)
        result.append({"days": days, "until": until, "complete": now >= until, "treated": treated,
                       "holdout": stats["holdout"], "uplift": uplift})
    return result


def repurchase_by_month(*, months: int = 12) -> dict:
    """The repurchase rate by month (tenant's months, the last ``months`` up to this one) overall and
    per current RFM segment: of the members who bought in the month (a shipped order paid then), the
    share who had bought before it."""
    from erp.tenancy.dates import month_range, tenant_today, tenant_zone

    today = tenant_today()
    keys = []
    y, m = today.year, today.month
    for _i in range(months):
        keys.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    keys.reverse()
    start = month_range(*keys[0])[0]
    zone = tenant_zone()
    roots = dict(Member.objects.values_list("pk", "merged_into_id"))
    segments = dict(Member.objects.filter(merged_into__isnull=True).values_list("pk", "segment"))
    first: dict[int, object] = {}
    for member_id, paid_at in MemberOrder.objects.filter(paid_at__isnull=False).order_by().values_list(
            "member_id").annotate(first=Min("paid_at")):
        root = roots.get(member_id) or member_id
        if root not in first or paid_at < first[root]:
            first[root] = paid_at
    buyers: dict[tuple, set] = {k: set() for k in keys}
    for member_id, paid_at in MemberOrder.objects.filter(paid_at__gte=start).values_list("member_id", "paid_at"):
        local = paid_at.astimezone(zone)
        key = (local.year, local.month)
        if key in buyers:
            buyers[key].add(roots.get(member_id) or member_id)
    segment_values = [*Segment.values, ""]
    rows = []
    for key in keys:
        month_start = month_range(*key)[0]
        who = buyers[key]
        returning = {r for r in who if first.get(r) and first[r] < month_start}
        per_segment = {}
        for seg in segment_values:
            seg_who = {r for r in who if segments.get(r, "") == seg}
            seg_ret = seg_who & returning
            per_segment[seg] = {"buyers": len(seg_who), "returning": len(seg_ret),
                                "rate": round(len(seg_ret) / len(seg_who), 4) if seg_who else None}
        rows.append({"month": f"{key[0]:04d}-{key[1]:02d}", "buyers": len(who), "returning": len(returning),
                     "rate": round(len(returning) / len(who), 4) if who else None, "segments": per_segment})
    return {"months": rows, "segments": segment_values}



# --- benefits applied by the order review -------------------------------------------------------------
@dataclass(frozen=True)
class OrderGift:
    """A gift for the order: the level's (``entitlement_id`` None) or one bought with points."""

    sku_id: int
    sku_code: str
    quantity: int
    entitlement_id: int | None = None
    title: str = ""


@dataclass(frozen=True)
class BuyerBenefits:
    """What the order review applies for a buyer's member (its root's level when merged)."""

    member_id: int
    level_rank: int = 0
    level_name: str = ""
    discount_percent: Decimal = Decimal("0")
    free_shipping: bool = False
    priority_shipping: bool = False
    gifts: tuple = ()  # OrderGift, the level's first, then pending points gifts in redemption order


def buyer_benefits(*, platform: str, buyer_ids: list[str]) -> dict[str, BuyerBenefits]:
    """{buyer id: BuyerBenefits} for the buyers known on ``platform`` (unknown buyers are absent):
    level shipping, discount and gift, and the member's pending gift entitlements. Three queries
    whatever the number of buyers."""
    from .models import PointsRedemption, RedemptionStatus

    ids = sorted({str(b) for b in buyer_ids if b})
    if not ids:
        return {}
    idents = list(MemberIdentity.objects.filter(platform=platform, buyer_id__in=ids)
                  .values_list("buyer_id", "member_id", "member__merged_into_id"))
    if not idents:
        return {}
    roots = {buyer: root or own for buyer, own, root in idents}
    members = {m.pk: m for m in Member.objects.select_related("level").filter(pk__in=set(roots.values()))}
    pending: dict[int, list] = {}
    rows = (PointsRedemption.objects.filter(status=RedemptionStatus.PENDING, gift_sku_id__isnull=False)
            .filter(Q(member_id__in=set(roots.values())) | Q(member__merged_into_id__in=set(roots.values())))
            .order_by("pk").values_list("pk", "member_id", "member__merged_into_id", "gift_sku_id", "gift_sku_code",
                                        "gift_quantity", "reward__name"))
    for pk, own, root, sku_id, code, qty, name in rows:
        pending.setdefault(root or own, []).append(OrderGift(sku_id=sku_id, sku_code=code, quantity=qty,
                                                             entitlement_id=pk, title=name))
    out = {}
    for buyer, root_id in roots.items():
        m = members.get(root_id)
        if m is None:
            continue
        lv = m.level
        gifts = []
        if lv is not None and lv.gift_sku_id:
            gifts.append(OrderGift(sku_id=lv.gift_sku_id, sku_code=lv.gift_sku_code, quantity=lv.gift_quantity,
                                   title=lv.name))
        gifts += pending.get(root_id, [])
        out[buyer] = BuyerBenefits(
            member_id=root_id, level_rank=lv.rank if lv else 0, level_name=lv.name if lv else "",
            discount_percent=lv.discount_percent if lv else Decimal("0"), free_shipping=bool(lv and lv.free_shipping),
            priority_shipping=bool(lv and lv.priority_shipping), gifts=tuple(gifts))
    return out


def reward_rows(*, active_only: bool = False):
    """The points catalogue with its redemptions counted."""
    from .models import Reward

    qs = Reward.objects.select_related("template").annotate(n_redeemed=Count("redemptions"))
    return qs.filter(active=True) if active_only else qs


def member_redemptions(member: Member, *, limit: int = 50):
    from .models import PointsRedemption

    return (PointsRedemption.objects.filter(member_id__in=member_group_ids(member))
            .select_related("reward", "coupon").order_by("-pk")[:limit])
