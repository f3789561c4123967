"""Purchasing with real orders (orders' own services, real inventory): sales history for the
suggestions, and a receipt releasing orders that waited for stock."""

from datetime import timedelta
from decimal import Decimal

import pytest

from purchasing import services
from tests.orders.conftest import integ  # noqa: F401  (fake integrations for orders' ingestion)


@pytest.mark.django_db
@pytest.mark.usefixtures("integ")
def test_suggestions_from_real_orders(pw):
    """Sales come from orders (orders.selectors.daily_sales) created through orders' own services."""
    from integrations.models import Shop
    from orders import services as orders
    from tests.orders.conftest import T0, address, line, norder

    shop = Shop.objects.create(code="tb1", name="TB", platform="taobao")
    today = T0.date() + timedelta(days=14)
    settings = services.purchasing_settings()
    settings.history_days = 14
    settings.save()
    orders.orders_ingest_normalized(shop=shop, normalized=[
        norder(f"R{n}", buyer=f"b{n}", receiver=address(address=f"r{n}"), created=T0 + timedelta(days=n),
               lines=[line(pw.sku.code, qty=3)]) for n in range(14)])
    (s,) = services.suggestions_recompute(today=today)
    assert s.sku_id == pw.sku.pk and s.base_daily_demand == Decimal("3.000")
    assert s.target_stock == 3 * 17 and s.suggested_quantity == 60  # 51 -> MOQ 50 / case 10 -> 60


@pytest.mark.django_db
@pytest.mark.usefixtures("integ")
def test_a_receipt_releases_orders_waiting_for_stock(pw, django_capture_on_commit_callbacks):
    from integrations.models import Shop
    from orders import services as orders
    from orders.models import Order, OrderStatus
    from tests.orders.conftest import line, norder

    shop = Shop.objects.create(code="tb2", name="TB", platform="taobao")
    orders.orders_ingest_normalized(shop=shop, normalized=[norder("W1", lines=[line(pw.sku.code, qty=2)])])
    order = Order.objects.get(platform_order_id="W1")
    assert order.out_of_stock_since is not None
    po = pw.sent_po([{"sku": pw.sku, "quantity": 50}])
    with django_capture_on_commit_callbacks(execute=True):
        services.po_receive(po_id=po.pk, reference="OOS-1", lines=[{"sku": pw.sku.pk, "quantity": 50}])
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and order.out_of_stock_since is None
