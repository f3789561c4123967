"""Demo data for orders: settings, carrier rules, a blacklist entry and, once the tenant has shops
and SKUs, a few dozen orders in various states made through the services. Idempotent."""

import random
from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.utils import timezone

from integrations.ports import NormalizedAddress, NormalizedLine, NormalizedOrder, OrderState
from integrations.selectors import shops_with_platform

from . import services
from .models import BlacklistEntry, CarrierRule, Order, OrderStatus

CITIES = [("浙江省", "杭州市", "西湖区"), ("上海", "上海市", "浦东新区"), ("广东省", "深圳市", "南山区"),
          ("北京", "北京市", "朝阳区"), ("四川省", "成都市", "武侯区"), ("江苏省", "南京市", "鼓楼区")]


def _rules(tenant):
    if CarrierRule.objects.exists():
        return 0
    CarrierRule.objects.bulk_create([
        CarrierRule(tenant=tenant, name="ZTO East China", carrier_code="ZTO", provinces=["浙江省", "上海", "江苏省"], first_cost=Decimal("4.50"),
                    extra_cost_per_kg=Decimal("1.50"), max_weight_g=5000, priority=10),
        CarrierRule(tenant=tenant, name="YTO nationwide", carrier_code="YTO", first_cost=Decimal("6.00"), extra_cost_per_kg=Decimal("2.00"),
                    max_weight_g=20000, priority=20),
        CarrierRule(tenant=tenant, name="SF heavy", carrier_code="SF", first_cost=Decimal("15.00"), extra_cost_per_kg=Decimal("3.00"),
                    min_weight_g=5001, priority=30),
    ])
    return 3


def seed_demo(*, tenant) -> str:
    services.order_settings()
    made = _rules(tenant)
    if not BlacklistEntry.objects.exists():
        BlacklistEntry.objects.create(kind="buyer", value="demo-fraudster", reason="chargebacks")
    existing = Order.objects.count()
    if existing:
        return f"{existing} orders already there"
    # Made-up orders go to the own web shop only: the platform shops' orders come from the simulated
    # platforms, where a made-up order could never be shipped back (nor its SKUs' stock pushed).
    shops = list(shops_with_platform(platform="own").order_by("pk")[:1])
    codes = []
    if apps.is_installed("inventory"):
        from inventory.selectors import skus

        codes = list(skus(stock_only=True).order_by("pk").values_list("code", flat=True)[:12])
    if not shops or not codes:
        return f"settings and {made} carrier rules; demo orders come once shops and SKUs exist (run seed_demo again)"
    rng = random.Random(5)
    now = timezone.now()
    count = 0
    for shop in shops:
        batch = []
        for i in range(24):
            created = now - timedelta(hours=rng.randint(1, 30))
            province, city, district = rng.choice(CITIES)
            buyer = f"demo-buyer-{rng.randint(1, 8)}"
            lines = [NormalizedLine(platform_line_id=f"{i}-{k}", platform_item_id=f"item-{code}", platform_sku_id=f"sku-{code}",
                                    outer_id=code, title=f"Demo {code}", quantity=rng.randint(1, 3),
                                    price=Decimal(rng.randint(19, 199)), paid=Decimal("0"))
                     for k, code in enumerate(rng.sample(codes, k=min(len(codes), rng.randint(1, 2))))]
            for ln in lines:
                ln.paid = ln.price * ln.quantity
            paid = sum((ln.paid for ln in lines), Decimal("0"))
            state = OrderState.UNPAID if i == 0 else OrderState.CANCELLED if i == 1 else OrderState.PAID
            batch.append(NormalizedOrder(
                platform=shop.platform, platform_order_id=f"DEMO-{shop.code}-{i:03d}", state=state,
                platform_status={"unpaid": "WAIT_BUYER_PAY", "cancelled": "TRADE_CLOSED"}.get(state, "WAIT_SELLER_SEND_GOODS"),
                modified_at=created + timedelta(minutes=5), created_at=created, paid_at=created, ship_by=created + timedelta(hours=48),
                buyer_id="demo-fraudster" if i == 2 else buyer, buyer_message="请发顺丰" if i == 3 else "",
                seller_memo="送小礼品" if i == 4 else "",
                receiver=NormalizedAddress(name=f"客户{i}", phone=f"138{rng.randint(10000000, 99999999)}", province=province,
                                           city=city, district=district, address="" if i == 5 else f"幸福路 {rng.randint(1, 300)} 号"),
                goods_amount=paid, paid_amount=paid, is_presale=i == 6, presale_fully_paid=i != 6,
                lines=lines + ([NormalizedLine(platform_line_id=f"{i}-x", platform_item_id="unknown", platform_sku_id="",
                                               outer_id="NOT-IN-CATALOG", title="Unmapped item", quantity=1,
                                               price=Decimal("9.90"), paid=Decimal("9.90"))] if i == 7 else []),
            ))
        services.orders_ingest_normalized(shop=shop, normalized=batch)
        count += len(batch)
    shipped = 0
    for order_id in Order.objects.filter(status=OrderStatus.ALLOCATED).order_by("pk").values_list("pk", flat=True)[:2]:
        services.order_ship(order_id=order_id)
        shipped += 1
    return f"{count} demo orders ({shipped} shipped), {made} carrier rules"
