"""Fixtures for the after-sales tests: a real shop, SKUs, warehouse and stock, and real shipped orders
made through the orders services (ingest -> allocate -> ship) against the real inventory.

While orders.selectors.order_snapshots / orders.services.order_create_reship (docs/INTERFACES.md)
are not in orders yet, stand-ins with the documented signatures are patched into aftersales.ports;
once orders has them, the real ones are used."""

import itertools
from dataclasses import dataclass
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


# --- stand-ins for the orders contracts (used only while orders lacks them) -----------------------
@dataclass(frozen=True)
class _LineSnap:
    id: int
    order_id: int
    platform_order_id: str
    platform_line_id: str
    sku_id: int | None
    sku_code: str
    title: str
    quantity: int
    price: Decimal
    discount: Decimal
    paid: Decimal
    refund_state: str
    is_stopped: bool
    warehouse_id: int | None


@dataclass(frozen=True)
class _OrderSnap:
    id: int
    shop_id: int
    platform: str
    platform_order_id: str
    kind: str
    status: str
    buyer_id: str
    currency: str
    paid_amount: Decimal
    shipped_at: object
    warehouse_id: int | None
    lines: tuple


def _standin_snapshots(*, order_ids):
    from orders.models import Order, OrderLine

    result = []
    for order in Order.objects.filter(pk__in=list(order_ids)).order_by("pk"):
        lines = OrderLine.objects.filter(origin_order=order).select_related("order").order_by("pk")
        if not lines.exists():
            lines = OrderLine.objects.filter(order=order).select_related("order").order_by("pk")
        snaps = tuple(_LineSnap(id=ln.pk, order_id=ln.order_id, platform_order_id=ln.platform_order_id,
                                platform_line_id=ln.platform_line_id, sku_id=ln.sku_id, sku_code=ln.sku_code,
                                title=ln.title, quantity=ln.quantity, price=ln.price, discount=ln.discount, paid=ln.paid,
                                refund_state=ln.refund_state, is_stopped=ln.is_stopped,
                                warehouse_id=ln.warehouse_id or ln.order.warehouse_id) for ln in lines)
        shipped = order.shipped_at or next((ln.order.shipped_at for ln in lines if ln.order.shipped_at), None)
        result.append(_OrderSnap(id=order.pk, shop_id=order.shop_id, platform=order.platform,
                                 platform_order_id=order.platform_order_id, kind=order.kind, status=order.status,
                                 buyer_id=order.buyer_id, currency=order.currency, paid_amount=order.paid_amount,
                                 shipped_at=shipped, warehouse_id=order.warehouse_id, lines=snaps))
    return result


class _StandinReship:
    def __init__(self):
        self.made = {}

    def __call__(self, *, order_id, lines, why, actor=None, source_ref):
        from django.core.exceptions import ValidationError

        from orders.models import Order

        if source_ref in self.made:
            return self.made[source_ref]
        original = Order.objects.get(pk=order_id)
        if not original.shipped_at and original.status not in ("shipped", "completed"):
            raise ValidationError({"order_id": ["never shipped"]})
        order = Order.objects.create(shop_id=original.shop_id, platform=original.platform, platform_order_id="",
                                     kind="split", buyer_id=original.buyer_id, status="approved")
        self.made[source_ref] = order
        return order


@pytest.fixture(autouse=True)
def orders_contracts(monkeypatch):
    from aftersales import ports
    from orders import selectors as order_selectors
    from orders import services as order_services

    if not hasattr(order_selectors, "order_snapshots"):
        monkeypatch.setattr(ports, "order_snapshots", lambda *, order_ids: _standin_snapshots(order_ids=order_ids))
    if not hasattr(order_services, "order_create_reship"):
        standin = _StandinReship()
        monkeypatch.setattr(ports, "order_create_reship", standin)


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
                                                      district="西湖区", address="文三路 1 号"),
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
