"""Promotion analysis: what a promotion sold and earned against the same SKUs before it.

Attribution: the lines of its SKUs in orders of its shops paid inside its window (orders.selectors
``sales_lines_in_window``: cancelled orders and stopped lines do not count). Per promotion and per
SKU: units, GMV (list price × units), discounts, paid (net sales), platform fees (the commissions
and fees the settlements posted for those orders and SKUs, finance.selectors), cost of goods (units
× the SKU's unit cost), gross profit = paid − fees − cost of goods, and margin = gross profit / paid.

Baseline: the same SKUs in the same shops in an equal window right before the promotion (for a
promotion still running, as long as it has run so far). ROI = (gross profit − baseline gross
profit) / (discounts + spend): the extra profit per yuan the promotion cost; none when it cost
nothing. A promotion is named in the report when one of its SKUs sold well (units at least
``uplift`` × its baseline units, and at least ``min_units``) at a margin below ``margin_below`` %.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from .models import SKU, Promotion, PromotionShop, PromotionSKU

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
DEFAULT_MARGIN_BELOW = Decimal("10")
DEFAULT_UPLIFT = Decimal("1.5")
DEFAULT_MIN_UNITS = 1


@dataclass
class Figures:
    units: int = 0
    orders: int = 0
    gmv: Decimal = ZERO
    discount: Decimal = ZERO
    paid: Decimal = ZERO
    fees: Decimal = ZERO
    cogs: Decimal = ZERO

    @property
    def gross_profit(self) -> Decimal:
        return self.paid - self.fees - self.cogs

    @property
    def margin(self) -> Decimal | None:
        if not self.paid:
            return None
        return (self.gross_profit * 100 / self.paid).quantize(Decimal("0.1"))

    def add(self, other: Figures) -> None:
        for name in ("units", "orders", "gmv", "discount", "paid", "fees", "cogs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        margin = self.margin
        return {"units": self.units, "orders": self.orders, "gmv": str(self.gmv), "discount": str(self.discount),
                "paid": str(self.paid), "fees": str(self.fees), "cogs": str(self.cogs),
                "gross_profit": str(self.gross_profit), "margin": None if margin is None else str(margin)}


@dataclass
class SkuResult:
    sku_id: int
    code: str
    name: str
    promo: Figures
    baseline: Figures
    flagged: bool = False

    @property
    def uplift(self) -> Decimal | None:
        if not self.baseline.units:
            return None
        return (Decimal(self.promo.units) / self.baseline.units).quantize(CENT)

    def as_dict(self) -> dict:
        return {"sku_id": self.sku_id, "code": self.code, "name": self.name, "promotion": self.promo.as_dict(),
                "baseline": self.baseline.as_dict(), "uplift": None if self.uplift is None else str(self.uplift),
                "flagged": self.flagged}


@dataclass
class PromotionResult:
    promotion: Promotion
    window: tuple[datetime.datetime, datetime.datetime]
    baseline_window: tuple[datetime.datetime, datetime.datetime]
    promo: Figures = field(default_factory=Figures)
    baseline: Figures = field(default_factory=Figures)
    skus: list[SkuResult] = field(default_factory=list)

    @property
    def investment(self) -> Decimal:
        return self.promo.discount + self.promotion.spend

    @property
    def incremental_profit(self) -> Decimal:
        return self.promo.gross_profit - self.baseline.gross_profit

    @property
    def roi(self) -> Decimal | None:
        if not self.investment:
            return None
        return (self.incremental_profit / self.investment).quantize(CENT)

    @property
    def flagged_skus(self) -> list[SkuResult]:
        return [s for s in self.skus if s.flagged]

    def as_dict(self) -> dict:
        p = self.promotion
        roi = self.roi
        return {"id": p.pk, "name": p.name, "starts_at": p.starts_at.isoformat(), "ends_at": p.ends_at.isoformat(),
                "analysed_until": self.window[1].isoformat(),
                "baseline_from": self.baseline_window[0].isoformat(), "spend": str(p.spend),
                "promotion": self.promo.as_dict(), "baseline": self.baseline.as_dict(),
                "investment": str(self.investment), "incremental_profit": str(self.incremental_profit),
                "roi": None if roi is None else str(roi), "flagged": bool(self.flagged_skus),
                "flagged_skus": [s.code for s in self.flagged_skus], "skus": [s.as_dict() for s in self.skus]}


def _figures(*, shop_ids, sku_ids, start, end, costs: dict[int, Decimal]) -> tuple[dict[int, Figures], int]:
    """Per SKU figures of the window and the number of distinct orders."""
    from finance.selectors import platform_fees_by_order_sku
    from orders.selectors import sales_lines_in_window

    out = {sku_id: Figures() for sku_id in sku_ids}
    if end <= start or not shop_ids or not sku_ids:
        return out, 0
    rows = sales_lines_in_window(shop_ids=shop_ids, sku_ids=sku_ids, start=start, end=end)
    fees = platform_fees_by_order_sku(order_ids={r["order_id"] for r in rows})
    for r in rows:
        f = out[r["sku_id"]]
        f.units += r["quantity"]
        f.orders += 1
        f.gmv += r["gmv"]
        f.discount += r["discount"]
        f.paid += r["paid"]
        f.fees += fees.get((r["order_id"], r["sku_id"]), ZERO)
        f.cogs += (costs.get(r["sku_id"], ZERO) * r["quantity"]).quantize(CENT)
    return out, len({r["order_id"] for r in rows})


def promotion_analyse(*, promotion: Promotion, margin_below: Decimal = DEFAULT_MARGIN_BELOW,
                      uplift: Decimal = DEFAULT_UPLIFT, min_units: int = DEFAULT_MIN_UNITS,
                      now: datetime.datetime | None = None) -> PromotionResult:
    now = now or timezone.now()
    start = promotion.starts_at
    end = max(start, min(promotion.ends_at, now))
    length = end - start
    result = PromotionResult(promotion=promotion, window=(start, end), baseline_window=(start - length, start))
    shop_ids = list(PromotionShop.objects.filter(promotion=promotion).values_list("shop_id", flat=True))
    skus = {s.pk: s for s in SKU.objects.filter(pk__in=PromotionSKU.objects.filter(promotion=promotion).values("sku_id"))}
    costs = {pk: s.unit_cost for pk, s in skus.items()}
    promo, promo_orders = _figures(shop_ids=shop_ids, sku_ids=list(skus), start=start, end=end, costs=costs)
    base, base_orders = _figures(shop_ids=shop_ids, sku_ids=list(skus), start=start - length, end=start, costs=costs)
    for sku_id in sorted(skus, key=lambda pk: skus[pk].code):
        row = SkuResult(sku_id=sku_id, code=skus[sku_id].code, name=skus[sku_id].name, promo=promo[sku_id],
                        baseline=base[sku_id])
        margin = row.promo.margin
        sold_well = row.promo.units >= max(min_units, uplift * row.baseline.units) and row.promo.units > 0
        row.flagged = bool(sold_well and margin is not None and margin < margin_below)
        result.skus.append(row)
        result.promo.add(row.promo)
        result.baseline.add(row.baseline)
    result.promo.orders, result.baseline.orders = promo_orders, base_orders
    return result


def promotions_report(*, promotions=None, margin_below: Decimal = DEFAULT_MARGIN_BELOW,
                      uplift: Decimal = DEFAULT_UPLIFT, min_units: int = DEFAULT_MIN_UNITS, limit: int = 50,
                      now: datetime.datetime | None = None) -> list[PromotionResult]:
    """The analysis of ``promotions`` (default: the latest ``limit`` that have started), newest first."""
    now = now or timezone.now()
    if promotions is None:
        promotions = Promotion.objects.filter(starts_at__lte=now).order_by("-starts_at", "-id")[:limit]
    return [promotion_analyse(promotion=p, margin_below=margin_below, uplift=uplift, min_units=min_units, now=now)
            for p in promotions]
