"""Row builders for the coupon models (their check constraints need a value by kind)."""

from decimal import Decimal

from erp.tenancy.testing import build_row, register_row_builder
from members.models import Campaign, CampaignRecipient, Coupon, CouponTemplate, Member


def _template():
    n = CouponTemplate.objects.count()
    return CouponTemplate.objects.create(name=f"iso {n}", kind="amount", amount_off=Decimal("5.00"))


def _coupon():
    n = Coupon.objects.count()
    return Coupon.objects.create(template=_template(), member=build_row(Member), code=f"ISO{n:07d}", issue_ref="iso")


register_row_builder(CouponTemplate, _template)
register_row_builder(Coupon, _coupon)


def _campaign():
    n = Campaign.objects.count()
    return Campaign.objects.create(name=f"iso campaign {n}", template=_template(), channels=["taobao"], seed=n + 1)


def _recipient():
    return CampaignRecipient.objects.create(campaign=_campaign(), member=build_row(Member))


register_row_builder(Campaign, _campaign)
register_row_builder(CampaignRecipient, _recipient)


def _reward():
    from members.models import Reward

    n = Reward.objects.count()
    return Reward.objects.create(name=f"iso reward {n}", kind="coupon", points_price=10, template=_template())


def _redemption():
    from members.models import PointsEntry, PointsRedemption

    n = PointsRedemption.objects.count()
    member = build_row(Member)
    entry = PointsEntry.objects.create(member=member, kind="adjust", amount=5, reference=f"iso-red-{n}")
    return PointsRedemption.objects.create(member=member, reward=_reward(), kind="gift", points=5,
                                           reference=f"iso-{n}", status="pending", redeem_entry=entry,
                                           gift_sku_id=1, gift_sku_code="A")


def _register_rewards():
    from members.models import PointsRedemption, Reward

    register_row_builder(Reward, _reward)
    register_row_builder(PointsRedemption, _redemption)


_register_rewards()
