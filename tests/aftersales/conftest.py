"""Fixtures for the after-sales tests: a real shop, SKUs, warehouse and stock, and real shipped orders
made through the orders services (ingest -> allocate -> ship) against the real inventory."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from erp import events
from integrations.models import Shop
from integrations.normalized import (
    NormalizedAddress,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderState,
)

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def english():
    """Pages may switch the thread's language (LocaleMiddleware); each test starts in English."""
    from django.utils import translation

    with translation.override("en"):
        yield


# --- the world ------------------------------------------------------------------------------------
@pytest.fixture
def shop(in_tenant_a):
    return Shop.objects.create(code="tb1", name="TB shop", platform="taobao")


@pytest.fixture
def real(shop):
    from inventory.models import SKU, Warehouse
    from inventory.services import stock_receive

    a = SKU.objects.create(code="A", name="Item A")
    b = SKU.objects.create(code="B", name="Item B")
    c = SKU.objects.create(code="C", name="Item C")
    wh = Warehouse.objects.create(code="MAIN", name="Main", priority=1)
    for sku in (a, b, c):
        stock_receive(warehouse=wh, sku=sku, quantity=50, reason="test")
    return {"A": a, "B": b, "C": c, "wh": wh, "shop": shop}


def line(outer_id="A", qty=1, price="30.00", lid=None):
    lid = lid or f"L{next(_seq)}"
    return NormalizedLine(platform_line_id=lid, platform_item_id=f"I-{outer_id}", platform_sku_id=f"S-{outer_id}",
                          outer_id=outer_id, title=f"Item {outer_id}", quantity=qty, price=Decimal(price),
                          paid=Decimal(price) * qty)


def norder(poid, *, lines, buyer="buyer1"):
    paid = sum((ln.paid for ln in lines), Decimal("0.00"))
    return NormalizedOrder(platform="taobao", platform_order_id=poid, state=OrderState.PAID,
                           platform_status="WAIT_SELLER_SEND_GOODS", modified_at=T0 + timedelta(minutes=1), created_at=T0,
                           paid_at=T0, buyer_id=buyer,
                           receiver=NormalizedAddress(name="张三", phone="13800000000", province="浙江省", city="杭州市",
                                                      district="西湖区", address=f"文三路 {poid} 号"),
                           goods_amount=paid, paid_amount=paid, lines=lines)


@pytest.fixture
def ship_order(real):
    """ship_order("P1", [line("A", 2, lid="a")], buyer=...) -> the shipped platform order."""
    from orders import services
    from orders.models import Order

    def make(poid=None, lines=None, buyer="buyer1"):
        poid = poid or f"P{next(_seq)}"
        services.orders_ingest_normalized(shop=real["shop"], normalized=[norder(poid, lines=lines or [line()], buyer=buyer)])
        order = Order.objects.get(shop=real["shop"], platform_order_id=poid, kind="platform")
        owner = order.merged_into or order
        services.order_ship(order_id=owner.pk)
        order.refresh_from_db()
        return order

    return make


def refund(poid, *, rid="R1", lid="", status="requested", version=1, amount="30.00", goods=False, reason="质量问题"):
    return NormalizedRefund(platform="taobao", platform_refund_id=rid, platform_order_id=poid, platform_line_id=lid,
                            status=status, platform_status=status.upper(), amount=Decimal(amount), reason=reason,
                            has_goods_return=goods, phase="after_shipment", modified_at=T0 + timedelta(hours=version),
                            version=version)


@pytest.fixture
def store_refund(real):
    """Store refunds through integrations (which publishes platform_refunds.changed -> orders ->
    order.after_sale_opened -> after-sales), as the refund pull does."""
    from django.db import transaction

    from integrations.store import store_refunds

    def store(*refunds):
        with transaction.atomic():
            return store_refunds(shop=real["shop"], refunds=list(refunds))

    return store


@pytest.fixture
def published():
    seen = []

    def refunded(**kw):
        seen.append(("aftersales.refunded", kw))

    def returned(**kw):
        seen.append(("aftersales.goods_returned", kw))

    events.subscribe("aftersales.refunded", refunded)
    events.subscribe("aftersales.goods_returned", returned)
    yield seen
    events._handlers["aftersales.refunded"].remove(refunded)
    events._handlers["aftersales.goods_returned"].remove(returned)


def level(sku, warehouse):
    from inventory.models import StockLevel

    row = StockLevel.objects.filter(sku=sku, warehouse=warehouse).first()
    return (row.on_hand, row.defective) if row else (0, 0)
