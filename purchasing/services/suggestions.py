"""Reorder suggestions: recomputed from sales history, stock and open purchase orders (purchasing.planning
does the arithmetic), and turned into draft purchase orders, one per supplier.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.money import CENT
from erp.tenancy.dates import tenant_today

from .. import planning
from ..models import POSource, PurchaseOrder, ReorderSuggestion, SuggestionStatus, SupplierItem
from .common import purchasing_settings
from .orders import po_create


def _dec(value: float, places: str = "0.001") -> Decimal:
    return Decimal(str(round(value, 6))).quantize(Decimal(places))


HISTORY_DAYS = planning.YEAR_DAYS + 91  # a year for the season, plus the recent quarter
SHARE_DAYS = 91  # the warehouses' shares of a SKU's demand: their shipments over the last quarter


def _choose_supplier(candidates: list[dict], cover: float | None) -> tuple[dict, str]:
    """The cheapest candidate among those whose lead time ends before the stock runs out (all of them
    when the stock lasts forever); when none arrives in time, the fastest. Ties: the preferred
    item, then the shorter lead time, then the older item. Returns (candidate, reason)."""
    if len(candidates) == 1:
        return candidates[0], "only" if candidates[0]["item"] is not None else "none"
    in_time = [c for c in candidates if cover is None or c["lead"] <= cover]
    if in_time:
        best = min(in_time, key=lambda c: (c["price"], not c["preferred"], c["lead"], c["pk"]))
        return best, "cheapest"
    return min(candidates, key=lambda c: (c["lead"], c["price"], not c["preferred"], c["pk"])), "fastest"


@transaction.atomic
def suggestions_recompute(*, today: date | None = None, sku_ids: list[int] | None = None) -> list[ReorderSuggestion]:
    """Replace the open reorder suggestions with fresh ones, one per SKU and warehouse that needs
    buying (purchasing.forecast does the statistics). The SKUs planned are those with an active
    supplier item or with sales in the history (bundles' sales count for their components).

    Per SKU: the daily sales of the last ``HISTORY_DAYS`` (from its first sale), split over the
    warehouses by their share of its shipments in the last quarter (no shipments: all to the first
    warehouse by priority). Per warehouse: its out-of-stock days (inventory ledger) are imputed, not
    zero demand; promotion days (the promotion calendar) are divided by the measured uplift, and coming
    promotion days in the protection window multiplied by it; season from the same weeks last year
    with a year of history, else the Holt-Winters trend; safety stock from the measured forecast error;
    stock position = available + on order + in transit; MOQ and case pack of the chosen supplier
    (``_choose_supplier``). Bulk reads only: a fixed number of queries whatever the SKU count."""
    import numpy as np

    from inventory import selectors as inventory
    from orders import selectors as orders

    from .. import forecast, selectors

    settings = purchasing_settings()
    today = today or tenant_today()
    yesterday = today - timedelta(days=1)
    recent = max(int(settings.history_days), 1)
    review = int(settings.review_period_days)
    z = float(settings.service_level_z)
    since = today - timedelta(days=HISTORY_DAYS)
    items = list(SupplierItem.objects.filter(is_active=True, supplier__is_active=True).select_related("supplier"))
    if sku_ids is not None:
        wanted = {int(pk) for pk in sku_ids}
        items = [it for it in items if it.sku_id in wanted]
    history: dict[int, dict[date, float]] = defaultdict(dict)
    sold = orders.daily_sales(since=since, until=yesterday)  # all: bundles sell components too
    parts = inventory.bundle_components(sku_ids=list({row.sku_id for row in sold}))
    for row in sold:
        for component, per in parts.get(row.sku_id, [(row.sku_id, 1)]):
            history[component][row.day] = history[component].get(row.day, 0) + row.quantity * per
    candidates = sorted({it.sku_id for it in items} | set(history))
    if sku_ids is not None:
        candidates = sorted(set(candidates) & wanted)
    skus = {pk: sku for pk, sku in inventory.skus_by_ids(sku_ids=candidates).items()
            if not sku.is_bundle and sku.status == "active"}
    ids = list(skus)
    stock = inventory.stock_figures(sku_ids=ids)
    pipeline = selectors.pipeline_by_warehouse_sku(sku_ids=ids)
    outages = inventory.stockout_days(sku_ids=ids, since=since, until=yesterday)
    max_lead = max([it.lead_time_days for it in items] + [settings.default_lead_time_days])
    horizon = max(max_lead + review, 1)
    promo_days = inventory.promotion_days(sku_ids=ids, since=since, until=today + timedelta(days=horizon - 1))
    shipped = inventory.shipped_by_warehouse(sku_ids=ids, since=today - timedelta(days=SHARE_DAYS), until=yesterday)
    allocation = inventory.warehouses_for_allocation()
    default_wh = allocation[0].pk if allocation else None
    by_sku_items: dict[int, list[SupplierItem]] = defaultdict(list)
    for item in items:
        by_sku_items[item.sku_id].append(item)
    shares: dict[int, dict[int | None, float]] = defaultdict(dict)
    for (wh, sku_id), n in shipped.items():
        shares[sku_id][wh] = n
    stale = ReorderSuggestion.objects.filter(status=SuggestionStatus.OPEN)
    if sku_ids is not None:
        stale = stale.filter(sku_id__in=list(wanted))
    stale.delete()
    # ordered suggestions whose purchase order was cancelled explain nothing any more
    ReorderSuggestion.objects.filter(status=SuggestionStatus.ORDERED, purchase_order__isnull=True).delete()
    rows = []
    now = timezone.now()
    for sku_id, sku in sorted(skus.items()):
        sold_days = history.get(sku_id, {})
        first = min(sold_days) if sold_days else yesterday
        n = (today - first).days
        days = [first + timedelta(days=i) for i in range(n)]
        total = np.array([float(sold_days.get(d, 0)) for d in days])
        split = shares.get(sku_id) or {default_wh: 1.0}
        whole = sum(split.values())
        future = [today + timedelta(days=i) for i in range(horizon)]
        promo = promo_days.get(sku_id, set())
        for wh, weight in sorted(split.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            share = weight / whole
            out_days = outages.get((wh, sku_id), set())
            fc = forecast.forecast_demand(
                total * share, horizon=horizon, out_of_stock=[d in out_days for d in days],
                promotion=[d in promo for d in days], future_promotion=[d in promo for d in future])
            figures = stock.get((wh, sku_id), {})
            available = int(figures.get("available", 0))
            pipe = pipeline.get((wh, sku_id), {"on_order": 0, "in_transit": 0})
            in_transit = pipe["in_transit"] + int(figures.get("in_transit", 0))  # from suppliers and transfers
            mean_daily = float(fc.daily.mean()) if fc.daily.size else 0.0
            cover = round(max(available, 0) / mean_daily, 1) if mean_daily > 0 else None
            options = []
            for item in by_sku_items.get(sku_id) or [None]:
                lead = item.lead_time_days if item else settings.default_lead_time_days
                moq = item.min_order_quantity if item else 1
                multiple = item.order_multiple if item else 1
                op = forecast.order_quantity(fc, lead_time_days=lead, review_period_days=review, service_level_z=z,
                                             available=available, on_order=pipe["on_order"], in_transit=in_transit,
                                             min_order_quantity=moq, order_multiple=multiple)
                price = item.unit_price if item else Decimal(sku.unit_cost or 0)
                options.append({"item": item, "pk": item.pk if item else 0, "lead": lead, "moq": moq,
                                "multiple": multiple, "price": price, "preferred": bool(item and item.is_preferred),
                                "plan": op})
            chosen, reason = _choose_supplier(options, cover)
            op, item, lead = chosen["plan"], chosen["item"], chosen["lead"]
            if op.suggested_quantity <= 0:
                continue
            protection = max(lead + review, 1)
            ordinary = fc.ordinary_daily if fc.ordinary_daily is not None else fc.daily
            cleaned = forecast.clean_history(total * share, out_of_stock=[d in out_days for d in days],
                                             promotion=[d in promo for d in days]).demand
            base = float(cleaned[-recent:].mean()) if cleaned.size else 0.0
            ordinary_daily = float(np.resize(ordinary, protection)[:protection].mean()) if ordinary.size else 0.0
            daily = op.demand_over_protection / protection
            safety = op.safety_stock
            reorder_point = math.ceil(round(float(np.resize(fc.daily, max(lead, 1))[:lead].sum()), 6)) + safety
            rows.append(ReorderSuggestion(
                tenant_id=sku.tenant_id, sku=sku, warehouse_id=wh, supplier=item.supplier if item else None,
                supplier_item=item, computed_at=now, daily_demand=_dec(daily), base_daily_demand=_dec(base),
                demand_std_dev=_dec(fc.sigma),
                seasonal_factor=_dec(min(ordinary_daily / base, 999) if base > 0 else 1.0), season_basis=fc.basis,
                lead_time_days=lead, review_period_days=review, service_level_z=settings.service_level_z,
                safety_stock=safety, available=available, on_order=pipe["on_order"], in_transit=in_transit,
                reorder_point=reorder_point, target_stock=op.target_stock,
                days_of_cover=_dec(cover, "0.1") if cover is not None else None,
                net_requirement=op.net_requirement, min_order_quantity=chosen["moq"], order_multiple=chosen["multiple"],
                suggested_quantity=op.suggested_quantity, unit_price=chosen["price"],
                currency=item.supplier.currency if item else sku.currency,
                amount=(chosen["price"] * op.suggested_quantity).quantize(CENT),
                urgent=available + pipe["on_order"] + in_transit <= reorder_point,
                warehouse_share=_dec(share), history_days=n,
                history_units=int(round(float((total * share).sum()))), stockout_days=fc.imputed_days,
                promotion_days=sum(1 for d in days if d in promo), promotion_uplift=_dec(fc.uplift),
                coming_promotion_days=sum(1 for d in future[:protection] if d in promo),
                forecast_demand=_dec(op.demand_over_protection),
                forecast_error=_dec(forecast.protection_sigma(fc, protection)), supplier_reason=reason,
                alternatives=[{"supplier": o["item"].supplier.code, "supplier_id": o["item"].supplier_id,
                               "unit_price": str(o["price"]), "lead_time_days": o["lead"], "moq": o["moq"],
                               "case_pack": o["multiple"], "quantity": o["plan"].suggested_quantity}
                              for o in options if o["item"] is not None],
            ))
    for row in rows:
        row.explanation = selectors.suggestion_explanation(row)  # a snapshot; pages and API explain afresh
    return ReorderSuggestion.objects.bulk_create(rows)


@transaction.atomic
def suggestions_create_pos(*, suggestion_ids, actor=None, warehouse=None, quantities: dict | None = None,
                           expected_date: date | None = None) -> list[PurchaseOrder]:
    """Turn open suggestions into draft purchase orders, one per supplier (destination: the given
    warehouse, else the first active warehouse by priority). ``quantities`` may override the
    suggested quantity per suggestion id. A suggestion already ordered is a 409."""
    from inventory import selectors as inventory

    if not isinstance(suggestion_ids, (list, tuple, set)) or not suggestion_ids:
        raise ValidationError({"suggestions": [_("Pick at least one suggestion.")]})
    try:
        ids = sorted({int(getattr(i, "pk", i)) for i in suggestion_ids})
    except (TypeError, ValueError):
        raise ValidationError({"suggestions": [_("Suggestion ids are whole numbers.")]}) from None
    found = {s.pk: s for s in ReorderSuggestion.objects.select_for_update(of=("self",)).filter(pk__in=ids)
             .select_related("sku", "supplier", "purchase_order", "warehouse")}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({"suggestions": [_("Unknown suggestions: %(ids)s.") % {"ids": ", ".join(map(str, missing))}]})
    ordered = [s for s in found.values() if s.status != SuggestionStatus.OPEN]
    if ordered:
        s = ordered[0]
        raise Conflict(_("The suggestion for %(sku)s was already ordered (%(po)s); recompute the suggestions.")
                       % {"sku": s.sku.code, "po": s.purchase_order.number if s.purchase_order else "—"})
    orphans = [s.sku.code for s in found.values() if s.supplier is None]
    if orphans:
        raise ValidationError({"suggestions": [_("No supplier for %(skus)s: add a supplier item first.")
                                               % {"skus": ", ".join(sorted(orphans))}]})
    fallback = warehouse
    if fallback is None:
        choices = inventory.warehouses_for_allocation()
        if not choices and any(s.warehouse_id is None for s in found.values()):
            raise ValidationError({"warehouse": [_("No active warehouse to receive the goods.")]})
        fallback = choices[0] if choices else None
    quantities = {int(k): v for k, v in (quantities or {}).items()}
    groups: dict[tuple, list[ReorderSuggestion]] = defaultdict(list)
    for s in found.values():
        # a chosen warehouse takes every line; else each suggestion's own warehouse
        destination = warehouse if warehouse is not None else (s.warehouse if s.warehouse_id else fallback)
        groups[(s.supplier_id, destination.pk)].append(s)
    pos = []
    for key in sorted(groups):
        suggestions = sorted(groups[key], key=lambda s: s.sku_id)
        destination = warehouse if warehouse is not None else (suggestions[0].warehouse if suggestions[0].warehouse_id
                                                               else fallback)
        merged: dict[int, dict] = {}
        for s in suggestions:
            quantity = quantities.get(s.pk, s.suggested_quantity)
            if s.sku_id in merged:  # one SKU from two warehouses' suggestions into one chosen warehouse
                try:
                    merged[s.sku_id]["quantity"] = int(merged[s.sku_id]["quantity"]) + int(quantity)
                except (TypeError, ValueError):
                    raise ValidationError({"quantities": [_("Quantities are whole numbers.")]}) from None
            else:
                merged[s.sku_id] = {"sku": s.sku, "quantity": quantity, "unit_price": s.unit_price}
        po = po_create(supplier=suggestions[0].supplier, warehouse=destination, lines=list(merged.values()), actor=actor,
                       expected_date=expected_date, source=POSource.SUGGESTION,
                       why=_("From %(n)s reorder suggestions.") % {"n": len(suggestions)})
        ReorderSuggestion.objects.filter(pk__in=[s.pk for s in suggestions]).update(
            status=SuggestionStatus.ORDERED, purchase_order=po)
        pos.append(po)
    return pos
