"""Suppliers' items: the preferred supplier item of a SKU and the item a supplier offers for a SKU.
"""

from __future__ import annotations

from django.db import transaction

from ..models import Supplier, SupplierItem


@transaction.atomic
def supplier_item_save(*, item: SupplierItem) -> SupplierItem:
    """Save a supplier item; making it preferred takes the flag from the SKU's other items."""
    if item.is_preferred:
        SupplierItem.objects.filter(sku_id=item.sku_id, is_preferred=True).exclude(pk=item.pk).update(is_preferred=False)
    item.save()
    return item


def supplier_item_for(*, supplier: Supplier, sku_id: int) -> SupplierItem | None:
    return SupplierItem.objects.filter(supplier=supplier, sku_id=sku_id).first()
