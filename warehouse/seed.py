"""Demo data: bin locations for the stocked SKUs of every own warehouse and an electronic-waybill
carrier account (simulated SF Express, for every own warehouse) with a rate table. Idempotent."""

from __future__ import annotations

from decimal import Decimal

from inventory import selectors as inventory_selectors

from .models import CarrierAccount, CarrierRate, SkuBin
from .services import bin_assign


def seed_demo(*, tenant) -> str:
    own = [w for w in inventory_selectors.warehouses(active_only=True) if w.kind == "own"]
    if not own:
        return "warehouse: no own warehouse, nothing seeded"
    account, created = CarrierAccount.objects.get_or_create(
        code="SF-DEMO", defaults={"name": "SF Express (simulated)", "carrier_code": "SF", "warehouse_id": None,
                                  "range_start": 100000, "range_end": 999999, "next_number": 100000,
                                  "first_weight_g": 1000, "first_cost": Decimal("12.00"),
                                  "extra_cost_per_kg": Decimal("2.00")})
    if created:
        CarrierRate.objects.create(account=account, provinces=["浙江", "上海", "江苏"], first_weight_g=1000,
                                   first_cost=Decimal("8.00"), extra_cost_per_kg=Decimal("1.00"))
        CarrierRate.objects.create(account=account, provinces=[], first_weight_g=1000, first_cost=Decimal("12.00"),
                                   extra_cost_per_kg=Decimal("3.00"))
    bins = 0
    for warehouse in own:
        done = set(SkuBin.objects.filter(warehouse_id=warehouse.pk).values_list("sku_id", flat=True))
        for n, sku in enumerate(inventory_selectors.stock_skus().order_by("code")[:200]):
            if sku.pk in done:
                continue
            bin_assign(warehouse_id=warehouse.pk, sku_id=sku.pk, bin_code=f"A-{n // 10 + 1:02d}-{n % 10 + 1:02d}",
                       sort_key=n)
            bins += 1
    return f"warehouse: carrier account {account.code}, {bins} SKU bins"
