"""Members: identity matching and merging, totals and levels, the points ledger, RFM segments.

Writes only; every function runs in the current tenant. Order data comes from
orders.selectors.order_snapshots (members.ports), never from orders' tables.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import uuid
import zoneinfo
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.money import to_money
from erp.tenancy.context import require_tenant

from . import ports
from .models import (
    DowngradePolicy,
    Member,
    MemberIdentity,
    MemberLevel,
    MemberMerge,
    MemberOrder,
    MemberSettings,
    MergeReason,
    PointsEntry,
    PointsKind,
    Segment,
)

logger = logging.getLogger(__name__)
ZERO = Decimal("0.00")


# --- settings ----------------------------------------------------------------------------------------
def member_settings(*, lock: bool = False) -> MemberSettings:
    """The tenant's settings row (made on first use). ``lock`` row-locks it: a tenant-wide mutex for
    creating members, so two identities with the same phone never make two members."""
    found = MemberSettings.objects.select_for_update() if lock else MemberSettings.objects
    row = found.first()
    if row is None:
        try:
            with transaction.atomic():
                MemberSettings.objects.create()
        except IntegrityError:
            pass
        row = (MemberSettings.objects.select_for_update() if lock else MemberSettings.objects).get()
    return row


def tenant_today() -> date:
    tenant = require_tenant()
    return timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.timezone or "Asia/Shanghai")).date()


# --- phones ------------------------------------------------------------------------------------------
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


# --- groups: a root member and those merged into it ---------------------------------------------------
def group_ids(root_id: int) -> list[int]:
    return [root_id, *Member.objects.filter(merged_into_id=root_id).order_by("pk").values_list("pk", flat=True)]


def _lock_members(ids) -> dict[int, Member]:
    return {m.pk: m for m in Member.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk")}


def _get_member(member_id: int, *, lock: bool = False) -> Member:
    qs = Member.objects.select_for_update() if lock else Member.objects
    member = qs.filter(pk=member_id).first()
    if member is None:
        from django.http import Http404

        raise Http404("No such member.")
    return member


def _group_phones(root_id: int) -> set[str]:
    return set(Member.objects.filter(Q(pk=root_id) | Q(merged_into_id=root_id)).exclude(phone_hash="")
               .values_list("phone_hash", flat=True))


def _unmerged_by_hand(a: int, b: int) -> bool:
    return MemberMerge.objects.filter(Q(source_id=a, target_id=b) | Q(source_id=b, target_id=a),
                                      unmerged_at__isnull=False).exists()


# --- identities --------------------------------------------------------------------------------------
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


# --- merge / unmerge ---------------------------------------------------------------------------------
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


# --- totals and levels -------------------------------------------------------------------------------
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

    from . import tasks

    tenant_id = require_tenant().pk
    transaction.on_commit(lambda: tasks.review_levels.delay(tenant_id=tenant_id))


# --- points ledger -----------------------------------------------------------------------------------
def points_balance(*, member_id: int) -> int:
    """The truth: the ledger sum of the member's group."""
    member = _get_member(member_id)
    ids = group_ids(member.pk) if member.merged_into_id is None else [member.pk]
    return PointsEntry.objects.filter(member_id__in=ids).aggregate(s=Sum("amount"))["s"] or 0


def _post(*, member: Member, kind: str, amount: int, reference: str, **fields) -> PointsEntry | None:
    """Append an entry (None when its reference is already in the ledger) and move the projections
    of the member and of its root."""
    if PointsEntry.objects.filter(reference=reference).exists():
        return None
    try:
        with transaction.atomic():
            entry = PointsEntry.objects.create(member=member, kind=kind, amount=amount, reference=reference, **fields)
    except IntegrityError:
        if PointsEntry.objects.filter(reference=reference).exists():
            return None
        raise
    ids = {member.pk, member.merged_into_id} - {None}
    Member.objects.filter(pk__in=ids).update(points_balance=F("points_balance") + amount)
    return entry


def _points_number(value, field: str) -> int:
    """A whole number of points from an int or a string; floats and other things are refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,9}\s*", value):
        number = int(value)
    else:
        raise ValidationError({field: [_("A whole number of points.")]})
    if abs(number) > 1_000_000_000:
        raise ValidationError({field: [_("Too many points.")]})
    return number


def _root_for_points(member_id: int) -> Member:
    member = _get_member(member_id, lock=True)
    if member.merged_into_id:
        raise Conflict(_("Member #%(id)s was merged into #%(root)s: use that member.")
                       % {"id": member.pk, "root": member.merged_into_id})
    return member


@transaction.atomic
def points_redeem(*, member_id: int, amount, reason: str = "", reference: str = "", actor=None) -> PointsEntry:
    """Spend points. Refused (409) beyond the balance. ``reference`` makes a retry harmless."""
    amount = _points_number(amount, "amount")
    if amount <= 0:
        raise ValidationError({"amount": [_("Redeem a positive number of points.")]})
    member = _root_for_points(member_id)
    if reference:
        existing = PointsEntry.objects.filter(reference=f"redeem:{reference}").first()
        if existing is not None:
            if existing.member_id == member.pk and existing.amount == -amount:
                return existing
            raise Conflict(_("This reference was already used for another redemption."))
    balance = points_balance(member_id=member.pk)
    if amount > balance:
        raise Conflict(_("Insufficient points: the balance is %(balance)s, %(amount)s asked.")
                       % {"balance": balance, "amount": amount})
    return _post(member=member, kind=PointsKind.REDEEM, amount=-amount,
                 reference=f"redeem:{reference or uuid.uuid4().hex}", note=reason[:300],
                 actor=actor if getattr(actor, "pk", None) else None)


@transaction.atomic
def points_adjust(*, member_id: int, amount, reason: str, actor=None) -> PointsEntry:
    """A manual correction (signed), with a reason. Never below zero."""
    amount = _points_number(amount, "amount")
    errors = {}
    if amount == 0:
        errors["amount"] = [_("An adjustment is a non-zero number of points.")]
    if not (reason or "").strip():
        errors["reason"] = [_("Say why.")]
    if errors:
        raise ValidationError(errors)
    member = _root_for_points(member_id)
    if amount < 0:
        balance = points_balance(member_id=member.pk)
        if balance + amount < 0:
            raise Conflict(_("Insufficient points: the balance is %(balance)s.") % {"balance": balance})
    return _post(member=member, kind=PointsKind.ADJUST, amount=amount, reference=f"adjust:{uuid.uuid4().hex}",
                 note=reason.strip()[:300], actor=actor if getattr(actor, "pk", None) else None)


def earn_points_for(*, paid: Decimal, rate: Decimal, multiplier: Decimal) -> int:
    return max(int(math.floor(paid * rate * multiplier)), 0)


@transaction.atomic
def points_earn_for_order(*, order_id: int) -> MemberOrder | None:
    """An order shipped: its buyer's identity (matched or made), the order's totals and its points
    (floor(paid × rate × level multiplier)). Idempotent per order. Reshipments earn nothing."""
    snaps = ports.order_snapshots(order_ids=[order_id])
    if not snaps:
        return None
    snap = snaps[0]
    if snap.kind == "reship" or not (snap.buyer_id or "").strip():
        return None
    if MemberOrder.objects.filter(order_id=snap.id).exists():
        return None
    parts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for ln in snap.lines:
        if not ln.is_stopped:
            parts[ln.platform_order_id or snap.platform_order_id] += to_money(ln.paid or 0)
    if not snap.lines:
        parts[snap.platform_order_id] = to_money(snap.paid_amount or 0)
    paid = sum(parts.values(), ZERO)
    ident = identity_match(platform=snap.platform, buyer_id=snap.buyer_id, name=snap.receiver_name,
                           phone=snap.receiver_phone, seen_at=snap.paid_at or snap.shipped_at)
    member = Member.objects.get(pk=ident.member_id)
    root = Member.objects.select_related("level").get(pk=member.root_id)
    st = member_settings()
    multiplier = root.level.points_multiplier if root.level else Decimal("1")
    points = earn_points_for(paid=paid, rate=st.points_per_yuan, multiplier=multiplier)
    try:
        with transaction.atomic():
            record = MemberOrder.objects.create(
                member=member, identity=ident, order_id=snap.id, shop_id=snap.shop_id, platform=snap.platform,
                parts={k: str(v) for k, v in parts.items()}, paid_amount=paid, paid_at=snap.paid_at or snap.shipped_at,
                shipped_at=snap.shipped_at or timezone.now(), points_earned=points)
    except IntegrityError:
        return None
    if points > 0:
        expires = tenant_today() + timedelta(days=st.points_expire_days) if st.points_expire_days else None
        _post(member=member, kind=PointsKind.EARN, amount=points, reference=f"order:{snap.id}", order_id=snap.id,
              expires_on=expires, note=", ".join(sorted(parts))[:300])
    if member.pk != root.pk:
        member_refresh(member_id=member.pk)
    member_refresh(member_id=root.pk)
    return record


@transaction.atomic
def points_clawback_for_refund(*, ticket_id: int, amount, order_id: int | None = None, shop_id: int | None = None,
                               platform_order_id: str = "") -> int:
    """A refund went through: the orders it refunds lose points in proportion (never more than they
    earned) and their paid totals drop. Idempotent per ticket. Returns the points taken back."""
    amount = to_money(amount)
    if amount <= 0:
        return 0
    q = Q(order_id=order_id) if order_id else Q(pk__in=[])
    if shop_id and platform_order_id:
        q |= Q(shop_id=shop_id, parts__has_key=platform_order_id)
    rows = list(MemberOrder.objects.select_for_update().filter(q).order_by("pk"))
    remaining, taken, touched = amount, 0, set()
    key = str(ticket_id)
    for mo in rows:
        refunds = dict(mo.refunds or {})
        if key in refunds or remaining <= 0:
            continue
        part = to_money(mo.parts.get(platform_order_id, mo.paid_amount)) if platform_order_id else mo.paid_amount
        applied = min(remaining, part, mo.paid_amount - mo.refunded_amount)
        if applied <= 0:
            continue
        remaining -= applied
        clawed = -(PointsEntry.objects.filter(order_id=mo.order_id, kind=PointsKind.CLAWBACK)
                   .aggregate(s=Sum("amount"))["s"] or 0)
        claw = int(math.floor(Decimal(mo.points_earned) * applied / mo.paid_amount)) if mo.paid_amount else 0
        claw = min(claw, mo.points_earned - clawed)
        if claw > 0:
            member = Member.objects.get(pk=mo.member_id)
            if _post(member=member, kind=PointsKind.CLAWBACK, amount=-claw, reference=f"refund:{ticket_id}:{mo.order_id}",
                     order_id=mo.order_id, note=platform_order_id[:300]):
                taken += claw
        refunds[key] = str(applied)
        mo.refunds = refunds
        mo.refunded_amount = mo.refunded_amount + applied
        mo.save(update_fields=["refunds", "refunded_amount"])
        touched.add(mo.member_id)
    for member_id in sorted(touched):
        m = Member.objects.get(pk=member_id)
        if m.merged_into_id:
            member_refresh(member_id=m.pk)
        member_refresh(member_id=m.root_id)
    return taken


def _tenant_date_or_today(today: date | None) -> date:
    return today or tenant_today()


@transaction.atomic
def points_expire(*, today: date | None = None) -> int:
    """Expire earned points past their date, first in first out: spending (redemptions, clawbacks,
    negative adjustments, earlier expiries) is taken from the lots that expire first, and what is
    left of a lot past its date expires (one entry per lot, so a rerun expires nothing twice).
    Returns the points expired."""
    today = _tenant_date_or_today(today)
    due = PointsEntry.objects.filter(kind=PointsKind.EARN, expires_on__lt=today).exclude(
        pk__in=PointsEntry.objects.filter(kind=PointsKind.EXPIRE, earn_entry__isnull=False).values("earn_entry_id"))
    owners = set(due.values_list("member_id", "member__merged_into_id").distinct())
    roots = sorted({root or pk for pk, root in owners})
    total = 0
    for root_id in roots:
        _lock_members([root_id])
        ids = group_ids(root_id)
        entries = list(PointsEntry.objects.filter(member_id__in=ids).order_by("pk")
                       .values("pk", "member_id", "kind", "amount", "expires_on", "earn_entry_id"))
        expired_lots = {e["earn_entry_id"] for e in entries if e["kind"] == PointsKind.EXPIRE}
        debit = -sum(e["amount"] for e in entries if e["amount"] < 0)
        lots = sorted((e for e in entries if e["amount"] > 0),
                      key=lambda e: (e["expires_on"] is None, e["expires_on"] or date.max, e["pk"]))
        members = {}
        for lot in lots:
            take = min(debit, lot["amount"])
            debit -= take
            left = lot["amount"] - take
            if (lot["kind"] == PointsKind.EARN and lot["expires_on"] and lot["expires_on"] < today and left > 0
                    and lot["pk"] not in expired_lots):
                member = members.get(lot["member_id"]) or Member.objects.get(pk=lot["member_id"])
                members[member.pk] = member
                if _post(member=member, kind=PointsKind.EXPIRE, amount=-left, reference=f"expire:{lot['pk']}",
                         earn_entry_id=lot["pk"], note=str(lot["expires_on"])):
                    total += left
    return total


# --- RFM ---------------------------------------------------------------------------------------------
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


# --- event handlers (erp.events; they run in the publisher's transaction) ------------------------------
def _safely(what: str, fn, retry) -> None:
    """Run ``fn`` in a savepoint: a failure here must never undo the publisher's work (a shipment, a
    refund). It is logged and retried by a task after the publisher commits."""
    try:
        with transaction.atomic():
            fn()
    except Exception:  # noqa: BLE001
        logger.exception("members: %s failed; retrying after commit", what)
        tenant_id = require_tenant().pk
        transaction.on_commit(lambda: retry(tenant_id))


def on_order_shipped(*, order_id: int, **_payload) -> None:
    from . import tasks

    _safely(f"points for order {order_id}", lambda: points_earn_for_order(order_id=order_id),
            lambda tenant_id: tasks.earn_for_order.delay(tenant_id=tenant_id, order_id=order_id))


def on_aftersales_refunded(*, ticket_id: int, amount, order_id: int | None = None, shop_id: int | None = None,
                           platform_order_id: str = "", **_payload) -> None:
    from . import tasks

    kwargs = {"ticket_id": ticket_id, "amount": str(amount), "order_id": order_id, "shop_id": shop_id,
              "platform_order_id": platform_order_id or ""}
    _safely(f"clawback for ticket {ticket_id}", lambda: points_clawback_for_refund(**kwargs),
            lambda tenant_id: tasks.clawback_for_refund.delay(tenant_id=tenant_id, **kwargs))
