"""Member reads: buyer levels for orders, list filters, segment counts, a member's detail."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum

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
