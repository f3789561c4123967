"""The catalogue's stock-related writes: bundle composition and the moving-average unit cost after a
purchase receipt.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from .. import stock_sql
from ..models import SKU, BundleComponent, PlatformSkuMapping, StockLevel
from ._common import _own, _quantity, _stock_sku


@transaction.atomic
def sku_set_components(*, bundle: SKU, components) -> SKU:
    """Make ``bundle`` a bundle of [(sku, qty)] (replacing its components). A SKU that holds stock
    cannot become a bundle, and a bundle cannot contain a bundle."""
    bundle = _own(SKU, bundle, "bundle")
    parts: dict[int, int] = {}
    for item in components or []:
        sku, qty = (item["sku"], item["quantity"]) if isinstance(item, dict) else item
        sku = _own(SKU, sku, "components")
        if sku.pk == bundle.pk:
            raise ValidationError({"components": [_("A bundle cannot contain itself.")]})
        if sku.is_bundle:
            raise ValidationError({"components": [_("A bundle cannot contain another bundle.")]})
        parts[sku.pk] = parts.get(sku.pk, 0) + _quantity(qty, field="components")
    if not parts:
        raise ValidationError({"components": [_("A bundle needs at least one component.")]})
    if StockLevel.objects.filter(sku=bundle).exclude(on_hand=0, reserved=0, in_transit=0, defective=0, locked=0).exists():
        raise ValidationError({"components": [_("This SKU holds stock; it cannot become a bundle.")]})
    if BundleComponent.objects.filter(component=bundle).exists():
        raise ValidationError({"components": [_("This SKU is a component of a bundle; it cannot become a bundle.")]})
    BundleComponent.objects.filter(bundle=bundle).delete()
    BundleComponent.objects.bulk_create([BundleComponent(tenant=bundle.tenant, bundle=bundle, component_id=c, quantity=q)
                                         for c, q in sorted(parts.items())])
    SKU.objects.filter(pk=bundle.pk).update(is_bundle=True)
    bundle.is_bundle = True
    stock_sql.mark_mappings_dirty(PlatformSkuMapping.objects.filter(sku=bundle).values_list("id", flat=True))
    return bundle


# --- costs ---------------------------------------------------------------------------------------

@transaction.atomic
def sku_cost_update_on_receipt(*, sku: SKU, quantity: int, unit_cost) -> SKU:
    """Moving weighted average cost after a purchase receipt (called by purchasing, in the receipt's
    transaction, right after stock_receive put the ``quantity`` units in): the units already on hand
    in every warehouse keep their old cost, the received ones cost ``unit_cost``.
    new = (old cost × (on hand − quantity) + unit_cost × quantity) / on hand, rounded to the cent."""
    from decimal import ROUND_HALF_UP, Decimal

    from django.db.models import Sum

    from erp.money import CENT, to_money

    quantity = _quantity(quantity)
    try:
        unit_cost = to_money(unit_cost)
    except (TypeError, ValueError):
        raise ValidationError({"unit_cost": [_("Not a valid amount.")]}) from None
    if unit_cost < 0:
        raise ValidationError({"unit_cost": [_("Must not be negative.")]})
    sku = _stock_sku(_own(SKU, sku, "sku"))
    sku = SKU.objects.select_for_update().get(pk=sku.pk)
    on_hand = StockLevel.objects.filter(sku_id=sku.pk).aggregate(n=Sum("on_hand"))["n"] or 0
    before = max(on_hand - quantity, 0)
    total = before + quantity
    cost = (Decimal(sku.unit_cost or 0) * before + unit_cost * quantity) / total
    sku.unit_cost = cost.quantize(CENT, rounding=ROUND_HALF_UP)
    sku.save(update_fields=["unit_cost", "updated_at"])
    return sku
