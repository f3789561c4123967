"""Fixtures for the finance tests: real orders (orders services) shipped against real inventory,
and helpers to publish the documented events and bill lines."""

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from finance import chart, services
from integrations.normalized import NormalizedBillLine
from inventory import services as inv_services
from inventory.models import SKU, Warehouse
from orders import services as order_services
from orders.models import Order
from tests.orders.conftest import integ, line, norder, shop  # noqa: F401  (fixtures reused)

_bill_seq = itertools.count(1)
D = Decimal


@pytest.fixture
def books(in_tenant_a):
    chart.chart_ensure()
    return in_tenant_a


@pytest.fixture
def world(books, shop, integ):  # noqa: F811
    """A taobao shop, SKUs A (cost 6.00) and B (cost 10.00) in stock in one warehouse."""
    a = SKU.objects.create(code="A", name="Item A", unit_cost=D("6.00"))
    b = SKU.objects.create(code="B", name="Item B", unit_cost=D("10.00"))
    wh = Warehouse.objects.create(code="W1", name="Main", priority=1)
    inv_services.stock_receive(warehouse=wh, sku=a, quantity=50, reason="test")
    inv_services.stock_receive(warehouse=wh, sku=b, quantity=50, reason="test")
    return {"shop": shop, "A": a, "B": b, "wh": wh}


def ship(the_shop, poid, *lines, freight="0.00"):
    """Ingest a paid platform order and ship it; returns the order."""
    order_services.orders_ingest_normalized(shop=the_shop, normalized=[
        norder(poid, lines=list(lines), freight_amount=D(freight), platform=the_shop.platform)])
    order = Order.objects.get(platform_order_id=poid, kind="platform")
    order_services.order_ship(order_id=order.pk)
    return Order.objects.get(pk=order.pk)


def bill(poid, kind, amount, *, bill_id=None, platform="taobao", booked_at=None):
    return NormalizedBillLine(platform=platform, platform_bill_id=bill_id or f"B{next(_bill_seq)}",
                              platform_order_id=poid, kind=kind, amount=D(amount),
                              booked_at=booked_at or timezone.now())


def settle(the_shop, *bills):
    return services.settle_bill_lines(shop_id=the_shop.pk, bills=list(bills))


T0 = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
__all__ = ["D", "T0", "bill", "line", "settle", "ship"]
