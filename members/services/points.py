"""The points ledger (append-only; corrections are new entries, each idempotent on its reference):
earned for a shipped order, clawed back for a refund, redeemed, adjusted by hand, expired first in
first out.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.money import to_money
from erp.tenancy.dates import tenant_today

from .. import ports
from ..models import Member, MemberOrder, PointsEntry, PointsKind
from .common import ZERO, _get_member, _lock_members, group_ids, member_settings
from .identity import identity_match
from .levels import member_refresh


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
