"""Demo data for members: settings, the default levels (普通会员 / 银卡 / 金卡 / 钻石) and a few
members with buyers on several platforms (one of them matched across Taobao and JD by phone), each
with a welcome bonus. Orders shipped later (orders' demo data) earn points through order.shipped.
Idempotent."""

from decimal import Decimal

from . import services
from .models import Member, MemberLevel, Platform, PointsEntry

DEFAULT_LEVELS = [
    # rank, name, min spend, min orders, multiplier, free shipping, priority shipping, discount %
    (1, "普通会员", Decimal("0"), 0, Decimal("1.00"), False, False, Decimal("0")),
    (2, "银卡", Decimal("500"), 3, Decimal("1.20"), False, False, Decimal("2")),
    (3, "金卡", Decimal("2000"), 8, Decimal("1.50"), True, False, Decimal("5")),
    (4, "钻石", Decimal("10000"), 20, Decimal("2.00"), True, True, Decimal("10")),
]

DEMO_BUYERS = [
    (Platform.TAOBAO, "tb_wangfang", "王芳", "13912345678"),
    (Platform.JD, "jd_wf_88", "王芳", "+86 139-1234-5678"),
    (Platform.PDD, "pdd_lilei", "李雷", "13700001111"),
    (Platform.OWN, "web-hanmeimei", "韩梅梅", "13600002222"),
    (Platform.TAOBAO, "tb_zhaolei", "赵磊", "137****3333"),
]


def seed_levels() -> int:
    made = 0
    for rank, name, spend, orders, mult, free, priority, discount in DEFAULT_LEVELS:
        if MemberLevel.objects.filter(rank=rank).exists() or MemberLevel.objects.filter(name=name).exists():
            continue
        MemberLevel.objects.create(rank=rank, name=name, min_spend=spend, min_orders=orders, points_multiplier=mult,
                                   free_shipping=free, priority_shipping=priority, discount_percent=discount,
                                   benefits={"free_shipping": free, "priority_shipping": priority,
                                             "discount_percent": str(discount)})
        made += 1
    return made


def seed_demo(*, tenant) -> str:
    services.member_settings()
    levels = seed_levels()
    for platform, buyer, name, phone in DEMO_BUYERS:
        services.identity_match(platform=platform, buyer_id=buyer, name=name, phone=phone)
    bonus = 0
    for member in Member.objects.filter(merged_into__isnull=True).order_by("pk")[:20]:
        if not PointsEntry.objects.filter(member=member).exists():
            services.points_adjust(member_id=member.pk, amount=100, reason="欢迎礼 welcome bonus")
            bonus += 1
        services.member_refresh(member_id=member.pk)
    services.members_recompute_rfm()
    return (f"{levels} levels, {Member.objects.filter(merged_into__isnull=True).count()} members "
            f"({bonus} welcome bonuses)")
