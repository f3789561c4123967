"""Coupons: templates (amount or percent off, threshold, validity window, per-member limit), coupons
issued to members (idempotent on template + member + issue reference), redeemed against one order
(the discount computed here; the same order twice changes nothing) and expired by a beat tick.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.money import CENT, DEFAULT_CURRENCY, to_money

from ..models import Coupon, CouponKind, CouponStatus, CouponTemplate
from .common import ZERO, _get_member, group_ids

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 10
TEMPLATE_FIELDS = ("name", "kind", "amount_off", "percent_off", "max_discount", "threshold", "currency", "valid_from",
                   "valid_until", "valid_days", "per_member_limit", "active", "description")


def _money(value, field: str, errors: dict, *, allow_none: bool = False):
    if value in (None, "") and allow_none:
        return None
    try:
        amount = to_money(value if value not in (None, "") else "0")
    except (TypeError, ValueError):
        errors[field] = [_("An amount, e.g. 10.00.")]
        return None
    if amount < 0 or amount >= Decimal("1e12"):
        errors[field] = [_("Zero or more.")]
        return None
    return amount


def _clean_template(data: dict) -> dict:
    """Checks a template's fields (a dict with TEMPLATE_FIELDS); raises ValidationError with field errors."""
    errors: dict = {}
    out = dict(data)
    if not str(out.get("name") or "").strip():
        errors["name"] = [_("A name is required.")]
    else:
        out["name"] = str(out["name"]).strip()[:100]
    if out.get("kind") not in CouponKind.values:
        errors["kind"] = [_("amount or percent.")]
    out["amount_off"] = _money(out.get("amount_off"), "amount_off", errors) or ZERO
    out["threshold"] = _money(out.get("threshold"), "threshold", errors) or ZERO
    out["max_discount"] = _money(out.get("max_discount"), "max_discount", errors, allow_none=True)
    try:
        pct = Decimal(str(out.get("percent_off") if out.get("percent_off") not in (None, "") else "0"))
        if isinstance(out.get("percent_off"), float) or not pct.is_finite():
            raise ValueError
        out["percent_off"] = pct.quantize(CENT)
        if not ZERO <= out["percent_off"] <= 100:
            errors["percent_off"] = [_("Between 0 and 100.")]
    except (ArithmeticError, ValueError):
        errors["percent_off"] = [_("A percent, e.g. 15.")]
    if out.get("kind") == CouponKind.AMOUNT and not errors.get("amount_off") and out["amount_off"] <= 0:
        errors["amount_off"] = [_("An amount coupon takes an amount off greater than zero.")]
    if out.get("kind") == CouponKind.PERCENT and not errors.get("percent_off") and out["percent_off"] <= 0:
        errors["percent_off"] = [_("A percent coupon takes a percent greater than zero.")]
    currency = str(out.get("currency") or DEFAULT_CURRENCY).upper()
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = [_("A three-letter currency code.")]
    out["currency"] = currency
    if out.get("valid_from") and out.get("valid_until") and out["valid_until"] <= out["valid_from"]:
        errors["valid_until"] = [_("The end comes after the start.")]
    limit = out.get("per_member_limit", 1)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        errors["per_member_limit"] = [_("A whole number from 1 to 1000.")]
    days = out.get("valid_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650):
        errors["valid_days"] = [_("A whole number of days from 1 to 3650, or empty.")]
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def coupon_template_create(**fields) -> CouponTemplate:
    """A new template (names are unique in the tenant: 400 otherwise)."""
    data = _clean_template({k: fields[k] for k in TEMPLATE_FIELDS if k in fields})
    if CouponTemplate.objects.filter(name=data["name"]).exists():
        raise ValidationError({"name": [_("Another coupon template has this name.")]})
    return CouponTemplate.objects.create(**data)


@transaction.atomic
def coupon_template_update(*, template_id: int, **fields) -> CouponTemplate:
    """Change a template. Coupons already issued keep their own validity window."""
    template = CouponTemplate.objects.select_for_update().get(pk=template_id)
    current = {k: getattr(template, k) for k in TEMPLATE_FIELDS}
    current.update({k: fields[k] for k in TEMPLATE_FIELDS if k in fields})
    data = _clean_template(current)
    if CouponTemplate.objects.filter(name=data["name"]).exclude(pk=template.pk).exists():
        raise ValidationError({"name": [_("Another coupon template has this name.")]})
    for key, value in data.items():
        setattr(template, key, value)
    template.save()
    return template


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _window(template: CouponTemplate, now):
    start = template.valid_from
    end = template.valid_until
    if template.valid_days:
        by_days = (max(now, start) if start else now) + timedelta(days=template.valid_days)
        end = min(end, by_days) if end else by_days
    return start, end


@transaction.atomic
def coupon_issue(*, template_id: int, member_id: int, issue_ref: str, actor=None, note: str = "") -> Coupon:
    """Issue a coupon of the template to a member (a merged member's root gets it). Idempotent: the
    same (template, member, issue reference) answers the coupon already issued. Refused (409) for an
    inactive or ended template and beyond the template's per-member limit."""
    issue_ref = (issue_ref or "").strip()
    if not issue_ref or len(issue_ref) > 100:
        raise ValidationError({"issue_ref": [_("A reference (campaign or other), up to 100 characters.")]})
    template = CouponTemplate.objects.select_for_update().filter(pk=template_id).first()
    if template is None:
        raise ValidationError({"template": [_("No such coupon template.")]})
    member = _get_member(member_id)
    root = _get_member(member.merged_into_id, lock=True) if member.merged_into_id else _get_member(member.pk, lock=True)
    existing = Coupon.objects.filter(template=template, member=root, issue_ref=issue_ref).first()
    if existing is not None:
        return existing
    now = timezone.now()
    if not template.active:
        raise Conflict(_("This coupon template is not active."))
    start, end = _window(template, now)
    if end is not None and end <= now:
        raise Conflict(_("This coupon template has ended."))
    held = Coupon.objects.filter(template=template, member_id__in=group_ids(root.pk)).exclude(
        status=CouponStatus.VOID).count()
    if held >= template.per_member_limit:
        raise Conflict(_("This member already has %(n)s coupon(s) of this template, the limit.")
                       % {"n": held})
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Coupon.objects.create(
                    template=template, member=root, code=_new_code(), issue_ref=issue_ref, valid_from=start,
                    valid_until=end, currency=template.currency, issued_at=now, note=(note or "")[:300],
                    issued_by=actor if getattr(actor, "pk", None) else None)
        except IntegrityError:
            existing = Coupon.objects.filter(template=template, member=root, issue_ref=issue_ref).first()
            if existing is not None:
                return existing
    raise Conflict(_("Could not make a unique coupon code; try again."))


def coupon_discount(*, template: CouponTemplate, order_amount: Decimal) -> Decimal:
    """The discount the template gives on an order amount: never more than the amount itself."""
    if template.kind == CouponKind.AMOUNT:
        discount = template.amount_off
    else:
        discount = (order_amount * template.percent_off / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        if template.max_discount is not None:
            discount = min(discount, template.max_discount)
    return max(min(discount, order_amount), ZERO)


@transaction.atomic
def coupon_redeem(*, code: str, order_id: int, order_amount, currency: str = DEFAULT_CURRENCY,
                  member_id: int | None = None, at=None) -> Coupon:
    """Redeem a coupon against an order: the discount is computed from the template; the threshold,
    the validity window, the currency, the owner (``member_id``, any member of its group) and the
    per-member limit are checked (409 when refused). The same coupon and order again answer the
    redeemed coupon unchanged; an order takes one coupon. ``at`` is when the order was placed (an
    order pulled from a platform may arrive after the coupon ended: the window is checked then, and
    a coupon expired since still counts as redeemed)."""
    code = (code or "").strip().upper()
    errors = {}
    if not code:
        errors["code"] = [_("A coupon code is required.")]
    if not isinstance(order_id, int) or isinstance(order_id, bool) or order_id <= 0:
        errors["order_id"] = [_("An order id.")]
    try:
        amount = to_money(order_amount)
        if amount < 0:
            raise ValueError
    except (TypeError, ValueError):
        errors["order_amount"] = [_("An amount, e.g. 120.00.")]
        amount = None
    if errors:
        raise ValidationError(errors)
    coupon = Coupon.objects.select_for_update(of=("self",)).select_related("template", "member").filter(code=code).first()
    if coupon is None:
        raise ValidationError({"code": [_("No such coupon.")]})
    if coupon.status == CouponStatus.REDEEMED:
        if coupon.order_id == order_id:
            return coupon
        raise Conflict(_("This coupon was already redeemed on another order."))
    other = Coupon.objects.filter(order_id=order_id).exclude(pk=coupon.pk).first()
    if other is not None:
        raise Conflict(_("This order already redeemed coupon %(code)s.") % {"code": other.code})
    now = timezone.now()
    when = at if at is not None and at <= now else now
    late = (coupon.status == CouponStatus.EXPIRED and at is not None and coupon.valid_until is not None
            and when < coupon.valid_until)
    if coupon.status != CouponStatus.ISSUED and not late:
        raise Conflict(_("This coupon is %(status)s.") % {"status": coupon.get_status_display()})
    if member_id is not None:
        buyer = _get_member(member_id)
        owner = coupon.member
        if (buyer.merged_into_id or buyer.pk) != (owner.merged_into_id or owner.pk):
            raise Conflict(_("This coupon belongs to another member."))
    if coupon.valid_from and when < coupon.valid_from:
        raise Conflict(_("This coupon is not valid yet."))
    if coupon.valid_until and when >= coupon.valid_until:
        raise Conflict(_("This coupon has expired."))
    if (currency or DEFAULT_CURRENCY).upper() != coupon.currency:
        raise Conflict(_("This coupon is in %(currency)s.") % {"currency": coupon.currency})
    template = coupon.template
    if amount < template.threshold:
        raise Conflict(_("The order amount %(amount)s is below the coupon's threshold %(threshold)s.")
                       % {"amount": amount, "threshold": template.threshold})
    owner_root = coupon.member.merged_into_id or coupon.member_id
    used = Coupon.objects.filter(template=template, member_id__in=group_ids(owner_root),
                                 status=CouponStatus.REDEEMED).count()
    if used >= template.per_member_limit:
        raise Conflict(_("This member already redeemed this template's limit."))
    coupon.status = CouponStatus.REDEEMED
    coupon.order_id = order_id
    coupon.order_amount = amount
    coupon.discount_amount = coupon_discount(template=template, order_amount=amount)
    coupon.redeemed_at = when
    coupon.closed_at = None
    try:
        with transaction.atomic():
            coupon.save(update_fields=["status", "order_id", "order_amount", "discount_amount", "redeemed_at",
                                       "closed_at"])
    except IntegrityError:
        raise Conflict(_("This order already redeemed a coupon.")) from None
    return coupon


@transaction.atomic
def coupon_void(*, coupon_id: int, reason: str = "", actor=None) -> Coupon:
    """Withdraw an issued coupon (409 once redeemed or expired). Voiding twice changes nothing."""
    coupon = Coupon.objects.select_for_update().filter(pk=coupon_id).first()
    if coupon is None:
        raise ValidationError({"coupon": [_("No such coupon.")]})
    if coupon.status == CouponStatus.VOID:
        return coupon
    if coupon.status != CouponStatus.ISSUED:
        raise Conflict(_("This coupon is %(status)s.") % {"status": coupon.get_status_display()})
    coupon.status = CouponStatus.VOID
    coupon.closed_at = timezone.now()
    if reason:
        coupon.note = reason[:300]
    coupon.save(update_fields=["status", "closed_at", "note"])
    return coupon


def coupons_expire(*, now=None) -> int:
    """Issued coupons past their end become expired (one UPDATE; running again changes nothing)."""
    now = now or timezone.now()
    return Coupon.objects.filter(Q(status=CouponStatus.ISSUED) & Q(valid_until__lte=now)).update(
        status=CouponStatus.EXPIRED, closed_at=now)
