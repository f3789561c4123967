"""Reorder suggestions: recomputed from sales history, stock and open purchase orders (purchasing.planning
does the arithmetic), and turned into draft purchase orders, one per supplier.
"""

from __future__ import annotations

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


@transaction.atomic
def suggestions_recompute(*, today: date | None = None, sku_ids: list[int] | None = None) -> list[ReorderSuggestion]:
    """Replace the open reorder suggestions with fresh ones, one per SKU that needs buying. The SKUs
    planned are those with an active supplier item or with sales in the last year (bundles' sales
    count for their components)."""
    from inventory import selectors as inventory
    from orders import selectors as orders

    from .. import selectors

    settings = purchasing_settings()
    today = today or tenant_today()
    window = settings.history_days
    review = settings.review_period_days
    z = float(settings.service_level_z)
    since = today - timedelta(days=planning.YEAR_DAYS + window)
    items = list(SupplierItem.objects.filter(is_active=True, supplier__is_active=True).select_related("supplier"))
    if sku_ids is not None:
        items = [it for it in items if it.sku_id in set(sku_ids)]
    history: dict[int, dict[date, int]] = defaultdict(dict)
    sold = orders.daily_sales(since=since, until=today - timedelta(days=1))  # all: bundles sell components too
    sold_ids = {row.sku_id for row in sold}
    parts = inventory.bundle_components(sku_ids=list(sold_ids))
    for row in sold:
        for component, per in parts.get(row.sku_id, [(row.sku_id, 1)]):
            history[component][row.day] = history[component].get(row.day, 0) + row.quantity * per
    candidates = sorted({it.sku_id for it in items} | set(history))
    if sku_ids is not None:
        candidates = sorted(set(candidates) & {int(pk) for pk in sku_ids})
    skus = {pk: sku for pk, sku in inventory.skus_by_ids(sku_ids=candidates).items()
            if not sku.is_bundle and sku.status == "active"}
    avail = defaultdict(int)
    for (_w, sku_id), n in inventory.available_by_warehouse(sku_ids=list(skus)).items():
        avail[sku_id] += n
    on_order = selectors.on_order_by_sku(sku_ids=list(skus))
    preferred: dict[int, SupplierItem] = {}
    for item in sorted(items, key=lambda it: (not it.is_preferred, it.unit_price, it.pk)):
        preferred.setdefault(item.sku_id, item)
    stale = ReorderSuggestion.objects.filter(status=SuggestionStatus.OPEN)
    if sku_ids is not None:
        stale = stale.filter(sku_id__in=list(sku_ids))
    stale.delete()
    # ordered suggestions whose purchase order was cancelled explain nothing any more
    ReorderSuggestion.objects.filter(status=SuggestionStatus.ORDERED, purchase_order__isnull=True).delete()
    rows = []
    now = timezone.now()
    for sku_id, sku in sorted(skus.items()):
        item = preferred.get(sku_id)
        lead = item.lead_time_days if item else settings.default_lead_time_days
        moq = item.min_order_quantity if item else 1
        multiple = item.order_multiple if item else 1
        p = planning.plan(planning.PlanInput(
            today=today, history=history.get(sku_id, {}), available=avail[sku_id], on_order=on_order.get(sku_id, 0),
            lead_time_days=lead, review_period_days=review, service_level_z=z, history_days=window,
            min_order_quantity=moq, order_multiple=multiple))
        if p.suggested_quantity <= 0:
            continue
        price = item.unit_price if item else Decimal(sku.unit_cost or 0)
        rows.append(ReorderSuggestion(
            tenant_id=sku.tenant_id, sku=sku, supplier=item.supplier if item else None, supplier_item=item,
            computed_at=now, daily_demand=_dec(p.daily_demand), base_daily_demand=_dec(p.base_daily_demand),
            demand_std_dev=_dec(p.demand_std_dev), seasonal_factor=_dec(p.seasonal_factor), season_basis=p.season_basis,
            lead_time_days=lead, review_period_days=review, service_level_z=settings.service_level_z,
            safety_stock=p.safety_stock, available=avail[sku_id], on_order=on_order.get(sku_id, 0),
            reorder_point=p.reorder_point, target_stock=p.target_stock,
            days_of_cover=_dec(p.days_of_cover, "0.1") if p.days_of_cover is not None else None,
            net_requirement=p.net_requirement, min_order_quantity=moq, order_multiple=multiple,
            suggested_quantity=p.suggested_quantity, unit_price=price,
            currency=item.supplier.currency if item else sku.currency,
            amount=(price * p.suggested_quantity).quantize(CENT), urgent=p.urgent,
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
             .select_related("sku", "supplier", "purchase_order")}
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
    if warehouse is None:
        choices = inventory.warehouses_for_allocation()
        if not choices:
            raise ValidationError({"warehouse": [_("No active warehouse to receive the goods.")]})
        warehouse = choices[0]
    quantities = {int(k): v for k, v in (quantities or {}).items()}
    groups: dict[int, list[ReorderSuggestion]] = defaultdict(list)
    for s in found.values():
        groups[s.supplier_id].append(s)
    pos = []
    for supplier_id in sorted(groups):
        suggestions = sorted(groups[supplier_id], key=lambda s: s.sku_id)
        lines = [{"sku": s.sku, "quantity": quantities.get(s.pk, s.suggested_quantity), "unit_price": s.unit_price}
                 for s in suggestions]
        po = po_create(supplier=suggestions[0].supplier, warehouse=warehouse, lines=lines, actor=actor,
                       expected_date=expected_date, source=POSource.SUGGESTION,
                       why=_("From %(n)s reorder suggestions.") % {"n": len(suggestions)})
        ReorderSuggestion.objects.filter(pk__in=[s.pk for s in suggestions]).update(
            status=SuggestionStatus.ORDERED, purchase_order=po)
        pos.append(po)
    return pos
