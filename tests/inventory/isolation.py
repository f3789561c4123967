"""Row builders for inventory models the generic isolation test cannot build automatically."""

import datetime

from django.utils import timezone

from erp.tenancy.testing import build_row, register_row_builder
from inventory.models import SKU, StockLock, Warehouse


def _stock_lock():
    from integrations.models import Shop

    now = timezone.now()
    return StockLock.objects.create(
        name="iso", shop=build_row(Shop), warehouse=build_row(Warehouse), sku=build_row(SKU), quantity=1,
        starts_at=now, ends_at=now + datetime.timedelta(hours=1),
    )


register_row_builder(StockLock, _stock_lock)
