"""Who a buyer is: phone numbers (normalised, hashed per tenant, masked), platform identities matched
to members (same buyer id, else same phone), automatic merges on a shared phone, and manual merge /
unmerge (recorded; an unmerge by hand is never merged back automatically).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.tenancy.context import require_tenant

from ..models import Member, MemberIdentity, MemberMerge, MergeReason, PointsEntry
from .common import _get_member, _lock_members, group_ids
from .levels import member_refresh

_VIRTUAL = re.compile(r"\d{11}\s*[-_#转]\s*\d{1,6}$")  # platform privacy numbers: shared, never a person


def normalize_phone(raw: str | None) -> str | None:
    """Digits of a real phone number, or None for a masked, virtual or malformed one."""
    raw = (raw or "").strip()
    if not raw or "*" in raw or _VIRTUAL.search(raw):
        return None
    digits = re.sub(r"\D", "", raw)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("1"):
        return digits
    if 7 <= len(digits) <= 12 and not digits.startswith("1"):
        return digits  # a landline (with its area code)
    return None


def phone_hash(digits: str) -> str:
    salt = getattr(django_settings, "MEMBERS_PHONE_SALT", "") or django_settings.SECRET_KEY
    message = f"{require_tenant().pk}:{digits}".encode()
    return hmac.new(salt.encode(), message, hashlib.sha256).hexdigest()


def mask_phone(digits: str) -> str:
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) == 11 else f"****{digits[-4:]}"


def phone_parts(raw: str | None) -> tuple[str, str]:
    digits = normalize_phone(raw)
    return (phone_hash(digits), mask_phone(digits)) if digits else ("", "")


def _group_phones(root_id: int) -> set[str]:
    return set(Member.objects.filter(Q(pk=root_id) | Q(merged_into_id=root_id)).exclude(phone_hash="")
               .values_list("phone_hash", flat=True))


def _unmerged_by_hand(a: int, b: int) -> bool:
    return MemberMerge.objects.filter(Q(source_id=a, target_id=b) | Q(source_id=b, target_id=a),
                                      unmerged_at__isnull=False).exists()


@transaction.atomic
def identity_match(*, platform: str, buyer_id: str, name: str = "", phone: str = "",
                   seen_at: datetime | None = None) -> MemberIdentity:
    """The identity of a platform buyer, made (and its member found or made) on first sight.

    Same platform buyer id -> same member. A new buyer whose normalised phone is already known
    joins that member; when a buyer's phone becomes known and another member has it, the two are
    merged (recorded), unless an operator unmerged them before. Different phones never merge."""
    buyer_id = (buyer_id or "").strip()
    if not platform or not buyer_id:
        raise ValidationError({"buyer_id": [_("A platform and a buyer id are required.")]})
    seen_at = seen_at or timezone.now()
    h, masked = phone_parts(phone)
    ident = MemberIdentity.objects.select_related("member").filter(platform=platform, buyer_id=buyer_id).first()
    if ident is None and h:
        _lock_phone(h)  # two new buyers with one phone never make two members
        ident = MemberIdentity.objects.select_related("member").filter(platform=platform, buyer_id=buyer_id).first()
    if ident is None:
        member, matched = None, "new"
        if h:
            known = Member.objects.filter(phone_hash=h).order_by("pk").first()
            if known is None:
                other = MemberIdentity.objects.select_related("member").filter(phone_hash=h).order_by("pk").first()
                known = other.member if other else None
            if known is not None:
                member, matched = _get_member(known.root_id), "phone"
        if member is None:
            member = Member.objects.create(display_name=(name or buyer_id)[:100], phone_hash=h, phone_masked=masked)
        try:
            with transaction.atomic():
                return MemberIdentity.objects.create(member=member, platform=platform, buyer_id=buyer_id,
                                                     receiver_name=(name or "")[:100], phone_hash=h,
                                                     phone_masked=masked, matched_by=matched, first_seen_at=seen_at,
                                                     last_seen_at=seen_at)
        except IntegrityError:  # the same buyer made by a concurrent transaction: use that one
            ident = MemberIdentity.objects.select_related("member").filter(platform=platform, buyer_id=buyer_id).first()
            if ident is None:
                raise
            if matched == "new" and member.pk != ident.member_id:
                member.delete()  # made a moment ago in this transaction, owns nothing
    changed = ["last_seen_at"]
    ident.last_seen_at = max(ident.last_seen_at, seen_at)
    if name and not ident.receiver_name:
        ident.receiver_name = name[:100]
        changed.append("receiver_name")
    if h and not ident.phone_hash:
        ident.phone_hash, ident.phone_masked = h, masked
        changed += ["phone_hash", "phone_masked"]
    ident.save(update_fields=changed)
    if h:
        _lock_phone(h)
        _phone_learned(root_id=ident.member.root_id, phone=h, masked=masked)
        ident = MemberIdentity.objects.select_related("member").get(pk=ident.pk)  # its member may be merged now
    return ident


def _lock_phone(h: str) -> None:
    """A transaction lock on one phone of the tenant (Postgres advisory lock; SQLite has one writer)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        key = int(h[:15], 16) ^ (require_tenant().pk << 4)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key & 0x7FFFFFFFFFFFFFFF])


def _phone_learned(*, root_id: int, phone: str, masked: str) -> None:
    """A phone seen for a member's buyer: the member takes it if it has none; another member with
    the same phone (and no other) is merged with it, into the older of the two."""
    phones = _group_phones(root_id)
    if phones - {phone}:
        return  # this member has another phone: never merge different phones
    if not phones:
        Member.objects.filter(pk=root_id).update(phone_hash=phone, phone_masked=masked)
    others = set(Member.objects.filter(phone_hash=phone).exclude(pk=root_id).exclude(merged_into_id=root_id)
                 .values_list("merged_into_id", "pk"))
    roots = sorted({m or pk for m, pk in others} - {root_id})
    for other in roots:
        if _group_phones(other) - {phone} or _unmerged_by_hand(root_id, other):
            continue
        target, source = min(root_id, other), max(root_id, other)
        if Member.objects.filter(pk__in=[target, source], merged_into__isnull=False).exists():
            continue
        member_merge(target_id=target, source_id=source, reason=MergeReason.PHONE,
                     note=_("Same receiver phone"), allow_different_phones=False)
        root_id = target


@transaction.atomic
def member_merge(*, target_id: int, source_id: int, actor=None, note: str = "", reason: str = MergeReason.MANUAL,
                 allow_different_phones: bool = False) -> MemberMerge:
    """Merge ``source`` (and whatever was merged into it) into ``target``. Nothing moves: the
    source points at the target; identities, orders and points count for the target from now on."""
    if target_id == source_id:
        raise ValidationError({"source": [_("A member cannot be merged into itself.")]})
    locked = _lock_members([target_id, source_id])
    if target_id not in locked or source_id not in locked:
        from django.http import Http404

        raise Http404("No such member.")
    target, source = locked[target_id], locked[source_id]
    if target.merged_into_id:
        raise Conflict(_("Member #%(id)s was merged into #%(root)s: merge into that one.")
                       % {"id": target.pk, "root": target.merged_into_id})
    if source.merged_into_id:
        raise Conflict(_("Member #%(id)s is already merged into #%(root)s.") % {"id": source.pk,
                                                                               "root": source.merged_into_id})
    a, b = _group_phones(target.pk), _group_phones(source.pk)
    if a and b and a != b and not allow_different_phones:
        raise Conflict(_("These members have different phone numbers; confirm to merge them anyway."))
    carried = list(Member.objects.filter(merged_into=source).order_by("pk").values_list("pk", flat=True))
    Member.objects.filter(pk__in=carried).update(merged_into=target)
    source.merged_into = target
    source.save(update_fields=["merged_into", "updated_at"])
    record = MemberMerge.objects.create(target=target, source=source, reason=reason, note=note[:300],
                                        carried=carried, actor=actor if getattr(actor, "pk", None) else None)
    member_refresh(member_id=source.pk)
    member_refresh(member_id=target.pk)
    return record


@transaction.atomic
def member_unmerge(*, member_id: int, actor=None) -> Member:
    """Undo the merge of ``member`` into its root: it takes back its identities, orders and points
    (and the members merged into it before). Refused when it would leave either side below zero
    points (points of one were spent while merged)."""
    member = _get_member(member_id)
    if not member.merged_into_id:
        raise Conflict(_("Member #%(id)s is not merged into another member.") % {"id": member.pk})
    target_id = member.merged_into_id
    locked = _lock_members([member.pk, target_id])
    member = locked[member.pk]
    if member.merged_into_id != target_id:
        raise Conflict(_("The member changed meanwhile; try again."))
    record = MemberMerge.objects.filter(source=member, target_id=target_id, unmerged_at__isnull=True).order_by("-pk").first()
    carried = record.carried if record else []
    carried = list(Member.objects.filter(pk__in=carried, merged_into_id=target_id).values_list("pk", flat=True))
    leaving = [member.pk, *carried]
    leaving_points = PointsEntry.objects.filter(member_id__in=leaving).aggregate(s=Sum("amount"))["s"] or 0
    total = PointsEntry.objects.filter(member_id__in=group_ids(target_id)).aggregate(s=Sum("amount"))["s"] or 0
    if leaving_points < 0 or total - leaving_points < 0:
        raise Conflict(_("Cannot unmerge: points of one member were spent while merged (balances would be "
                         "%(a)s and %(b)s).") % {"a": leaving_points, "b": total - leaving_points})
    member.merged_into = None
    member.save(update_fields=["merged_into", "updated_at"])
    Member.objects.filter(pk__in=carried).update(merged_into=member)
    now = timezone.now()
    MemberMerge.objects.filter(source=member, target_id=target_id, unmerged_at__isnull=True).update(
        unmerged_at=now, unmerged_by=actor if getattr(actor, "pk", None) else None)
    member_refresh(member_id=target_id)
    return member_refresh(member_id=member.pk)
