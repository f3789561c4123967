"""Points rewards: the catalogue (a coupon of a template, or a gift SKU, at a points price), a
member redeeming one (a new redeem entry in the ledger, never an edit; idempotent on its
reference), gift entitlements consumed once by the order review (orders.ports) and cancelled
before use (the points come back as a new ledger entry). Levels' gift SKUs are set here too.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict

from ..models import (
    CouponTemplate,
    MemberLevel,
    PointsEntry,
    PointsKind,
    PointsRedemption,
    RedemptionStatus,
    Reward,
    RewardKind,
)
from .common import group_ids
from .coupons import coupon_issue
from .points import _post, _root_for_points, points_balance

REWARD_FIELDS = ("name", "kind", "points_price", "template_id", "gift_sku_code", "gift_quantity", "active", "description")


def _whole(value, field: str, errors: dict, *, low: int, high: int):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors[field] = [_("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}]
        return None
    return value


def _gift_sku(code: str, errors: dict, field: str = "gift_sku_code"):
    """(sku id, code) of a stock SKU of the tenant by its merchant code (inventory.selectors)."""
    from inventory.selectors import skus_by_codes

    code = (code or "").strip()
    if not code:
        errors[field] = [_("A gift SKU code is required.")]
        return None, ""
    sku = skus_by_codes(codes=[code]).get(code)
    if sku is None:
        errors[field] = [_("No SKU with the code %(code)s.") % {"code": code[:64]}]
        return None, ""
    return sku.pk, sku.code


def _clean_reward(data: dict) -> dict:
    errors: dict = {}
    out = {"name": str(data.get("name") or "").strip()[:100], "kind": data.get("kind"),
           "active": bool(data.get("active", True)), "description": str(data.get("description") or "")[:2000]}
    if not out["name"]:
        errors["name"] = [_("A name is required.")]
    if out["kind"] not in RewardKind.values:
        errors["kind"] = [_("coupon or gift.")]
    out["points_price"] = _whole(data.get("points_price"), "points_price", errors, low=1, high=100_000_000)
    out["template"], out["gift_sku_id"], out["gift_sku_code"], out["gift_quantity"] = None, None, "", 1
    if out["kind"] == RewardKind.COUPON:
        template_id = data.get("template_id")
        template = (CouponTemplate.objects.filter(pk=template_id).first()
                    if isinstance(template_id, int) and not isinstance(template_id, bool) else None)
        if template is None:
            errors["template"] = [_("Choose a coupon template.")]
        out["template"] = template
    elif out["kind"] == RewardKind.GIFT:
        out["gift_sku_id"], out["gift_sku_code"] = _gift_sku(data.get("gift_sku_code"), errors)
        out["gift_quantity"] = _whole(data.get("gift_quantity", 1), "gift_quantity", errors, low=1, high=100)
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def reward_create(**fields) -> Reward:
    """A new catalogue entry (names unique in the tenant: 400 otherwise)."""
    data = _clean_reward({k: fields[k] for k in REWARD_FIELDS if k in fields})
    if Reward.objects.filter(name=data["name"]).exists():
        raise ValidationError({"name": [_("Another reward has this name.")]})
    return Reward.objects.create(**data)


@transaction.atomic
def reward_update(*, reward_id: int, **fields) -> Reward:
    """Change a catalogue entry; redemptions already made keep what they gave."""
    reward = Reward.objects.select_for_update().filter(pk=reward_id).first()
    if reward is None:
        raise ValidationError({"reward": [_("No such reward.")]})
    current = {"name": reward.name, "kind": reward.kind, "points_price": reward.points_price,
               "template_id": reward.template_id, "gift_sku_code": reward.gift_sku_code,
               "gift_quantity": reward.gift_quantity, "active": reward.active, "description": reward.description}
    current.update({k: fields[k] for k in REWARD_FIELDS if k in fields})
    data = _clean_reward(current)
    if Reward.objects.filter(name=data["name"]).exclude(pk=reward.pk).exists():
        raise ValidationError({"name": [_("Another reward has this name.")]})
    for key, value in data.items():
        setattr(reward, key, value)
    reward.save()
    return reward


@transaction.atomic
def level_set_gift(*, level_id: int, gift_sku_code: str = "", gift_quantity=1) -> MemberLevel:
    """The gift SKU every order of a member of this level gets (an empty code removes it)."""
    level = MemberLevel.objects.select_for_update().filter(pk=level_id).first()
    if level is None:
        raise ValidationError({"level": [_("No such level.")]})
    errors: dict = {}
    if not (gift_sku_code or "").strip():
        level.gift_sku_id, level.gift_sku_code, level.gift_quantity = None, "", 1
    else:
        sku_id, code = _gift_sku(gift_sku_code, errors)
        qty = _whole(gift_quantity, "gift_quantity", errors, low=1, high=100)
        if errors:
            raise ValidationError(errors)
        level.gift_sku_id, level.gift_sku_code, level.gift_quantity = sku_id, code, qty
    level.save(update_fields=["gift_sku_id", "gift_sku_code", "gift_quantity"])
    return level


@transaction.atomic
def points_redeem_reward(*, member_id: int, reward_id, reference: str = "", actor=None) -> PointsRedemption:
    """A member spends points on a reward: a redeem entry is appended to the ledger, and a coupon is
    issued (coupon rewards) or a gift entitlement waits for the member's next order (gift rewards).
    Idempotent on ``reference`` (the same reference answers the redemption already made). Not
    enough points, an inactive reward: 400 with the field named."""
    reference = (reference or "").strip()[:60] or uuid.uuid4().hex
    member = _root_for_points(member_id)
    existing = PointsRedemption.objects.filter(reference=reference).first()
    if existing is not None:
        if existing.member_id == member.pk and existing.reward_id == reward_id:
            return existing
        raise Conflict(_("This reference was already used for another redemption."))
    reward = (Reward.objects.select_related("template").filter(pk=reward_id).first()
              if isinstance(reward_id, int) and not isinstance(reward_id, bool) else None)
    if reward is None:
        raise ValidationError({"reward": [_("No such reward.")]})
    if not reward.active:
        raise ValidationError({"reward": [_("This reward is not offered any more.")]})
    balance = points_balance(member_id=member.pk)
    if reward.points_price > balance:
        raise ValidationError({"points": [_("Insufficient points: %(price)s needed, the balance is %(balance)s.")
                                          % {"price": reward.points_price, "balance": balance}]})
    entry = _post(member=member, kind=PointsKind.REDEEM, amount=-reward.points_price,
                  reference=f"reward:{reference}", note=reward.name[:300],
                  actor=actor if getattr(actor, "pk", None) else None)
    coupon = None
    if reward.kind == RewardKind.COUPON:
        coupon = coupon_issue(template_id=reward.template_id, member_id=member.pk, issue_ref=f"points:{reference}",
                              actor=actor, note=_("Bought with %(n)s points") % {"n": reward.points_price})
    return PointsRedemption.objects.create(
        member=member, reward=reward, kind=reward.kind, points=reward.points_price, reference=reference,
        status=RedemptionStatus.ISSUED if coupon else RedemptionStatus.PENDING, redeem_entry=entry, coupon=coupon,
        gift_sku_id=reward.gift_sku_id, gift_sku_code=reward.gift_sku_code, gift_quantity=reward.gift_quantity,
        actor=actor if getattr(actor, "pk", None) else None)


@transaction.atomic
def gift_cancel(*, redemption_id: int, actor=None) -> PointsRedemption:
    """Cancel a gift not yet added to an order: the points come back (a new adjust entry). Cancelling
    twice changes nothing; a consumed gift or a coupon redemption: 409."""
    red = PointsRedemption.objects.select_for_update().filter(pk=redemption_id).first()
    if red is None:
        raise ValidationError({"redemption": [_("No such redemption.")]})
    if red.status == RedemptionStatus.CANCELLED:
        return red
    if red.status != RedemptionStatus.PENDING:
        raise Conflict(_("Only a gift still waiting for an order can be cancelled."))
    member = red.member
    if member.merged_into_id:
        member = member.merged_into
    red.refund_entry = _post(member=member, kind=PointsKind.ADJUST, amount=red.points,
                             reference=f"reward-refund:{red.pk}", note=_("Gift cancelled: points refunded")[:300],
                             actor=actor if getattr(actor, "pk", None) else None) or PointsEntry.objects.get(
        reference=f"reward-refund:{red.pk}")
    red.status = RedemptionStatus.CANCELLED
    red.cancelled_at = timezone.now()
    red.save(update_fields=["refund_entry", "status", "cancelled_at"])
    return red


@transaction.atomic
def gifts_consume(*, order_id: int, entitlement_ids: list[int]) -> list[int]:
    """The order review adds these pending gifts to order ``order_id``: each is consumed once (a
    gift already consumed by this order counts again, by another order or cancelled: left out).
    Returns the ids consumed by this order."""
    ids = sorted({int(i) for i in entitlement_ids})
    if not ids:
        return []
    rows = list(PointsRedemption.objects.select_for_update().filter(pk__in=ids, kind=RewardKind.GIFT).order_by("pk"))
    now = timezone.now()
    taken = [r.pk for r in rows if r.status == RedemptionStatus.CONSUMED and r.order_id == order_id]
    fresh = [r.pk for r in rows if r.status == RedemptionStatus.PENDING]
    if fresh:
        PointsRedemption.objects.filter(pk__in=fresh).update(status=RedemptionStatus.CONSUMED, order_id=order_id,
                                                              consumed_at=now)
    return sorted(taken + fresh)


def member_pending_gift_ids(*, member_id: int) -> list[int]:
    return list(PointsRedemption.objects.filter(member_id__in=group_ids(member_id), status=RedemptionStatus.PENDING)
                .order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def gifts_release(*, order_id: int) -> list[int]:
    """The order that took these points gifts was cancelled before shipping: they wait for the
    member's next order again (pending). Idempotent. Returns the ids released."""
    ids = list(PointsRedemption.objects.select_for_update().filter(order_id=order_id, status=RedemptionStatus.CONSUMED)
               .order_by("pk").values_list("pk", flat=True))
    if ids:
        PointsRedemption.objects.filter(pk__in=ids).update(status=RedemptionStatus.PENDING, order_id=None,
                                                            consumed_at=None)
    return ids
