"""Fixtures for the orders tests: a shop, and in-memory fakes of the inventory and integrations
contracts (docs/INTERFACES.md) swapped in through orders.ports."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from erp import events
from integrations.models import Shop
from integrations.normalized import NormalizedAddress, NormalizedLine, NormalizedOrder, OrderState
from orders import ports

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
_seq = itertools.count(1)


class FakeInventory:
    """The contract in memory: reservations idempotent per ref, never more than available."""

    def __init__(self):
        self.skus: dict[str, ports.SkuInfo] = {}
        self.whs: list[ports.WarehouseInfo] = []
        self.on_hand: dict[tuple[int, int], int] = {}
        self.reservations: dict[str, tuple[int, int, int]] = {}
        self.committed: dict[str, tuple[int, int, int]] = {}

    def add_sku(self, code, sku_id=None, weight_g=300):
        sku = ports.SkuInfo(id=sku_id or 1000 + len(self.skus), code=code, weight_g=weight_g)
        self.skus[code] = sku
        return sku

    def add_warehouse(self, wid, code="", regions=(), priority=0):
        self.whs.append(ports.WarehouseInfo(id=wid, code=code or f"W{wid}", regions=tuple(regions), priority=priority))
        self.whs.sort(key=lambda w: (w.priority, w.id))

    def stock(self, wid, code, qty):
        key = (wid, self.skus[code].id)
        self.on_hand[key] = self.on_hand.get(key, 0) + qty

    def reserved(self, wid, sku_id):
        return sum(q for w, s, q in self.reservations.values() if (w, s) == (wid, sku_id))

    # --- the port ---
    def sku_for_line(self, *, shop, platform_item_id, platform_sku_id, outer_id):
        return self.skus.get(outer_id)

    def skus_by_id(self, *, sku_ids):
        return {s.id: s for s in self.skus.values() if s.id in set(sku_ids)}

    def warehouses(self):
        return list(self.whs)

    def available(self, *, sku_ids):
        return {key: n - self.reserved(*key) for key, n in self.on_hand.items() if key[1] in set(sku_ids)}

    def reserve_many(self, *, warehouse, items, shop=None):
        for sku_id, qty, ref in items:
            if ref in self.reservations:
                continue
            free = self.on_hand.get((warehouse.id, sku_id), 0) - self.reserved(warehouse.id, sku_id)
            if free < qty:
                raise ports.InsufficientStock(sku_id, warehouse.id, qty, free)
            self.reservations[ref] = (warehouse.id, sku_id, qty)

    def release(self, *, ref_id):
        res = self.reservations.pop(ref_id, None)
        return res[2] if res else 0

    def commit(self, *, ref_id, source_doc=""):
        res = self.reservations.pop(ref_id, None)
        if res is None:
            return 0
        self.on_hand[(res[0], res[1])] -= res[2]
        self.committed[ref_id] = res
        return res[2]


class FakeIntegrations:
    def __init__(self):
        self.pushes = []
        self.orders = {}
        self.refunds = {}

    def normalized_orders(self, *, shop_id, platform_order_ids):
        return [self.orders[i] for i in platform_order_ids if i in self.orders]

    def normalized_refunds(self, *, shop_id, platform_refund_ids):
        return [self.refunds[i] for i in platform_refund_ids if i in self.refunds]

    def shipment_push_enqueue(self, *, shop, platform_order_id, carrier_code, tracking_no, lines=None):
        self.pushes.append((shop.pk, platform_order_id, carrier_code, tracking_no, lines))
        return True


class FakeCarrier:
    """The carrier behind the ship button (orders.ports.carrier_ship) for the orders' own tests, whose
    warehouses are FakeInventory ids: it numbers its waybills and ships the order with them (the
    real path, warehouse.services.order_ship_by_carrier, is tested in tests/warehouse)."""

    def __init__(self):
        self.shipped = []

    def ship(self, *, order_id, actor=None):
        from orders.services import order_ship

        order_ship(order_id=order_id, actor=actor, tracking_no=f"FC{len(self.shipped) + 1:010d}", carrier_code="FC")
        self.shipped.append(order_id)


@pytest.fixture
def fake_carrier():
    fake = FakeCarrier()
    with ports.use_carrier(fake):
        yield fake


@pytest.fixture
def inv():
    fake = FakeInventory()
    with ports.use_inventory(fake):
        yield fake


@pytest.fixture
def integ():
    fake = FakeIntegrations()
    with ports.use_integrations(fake):
        yield fake


@pytest.fixture
def shop(in_tenant_a):
    return Shop.objects.create(code="tb1", name="TB shop", platform="taobao")


@pytest.fixture
def world(shop, inv, integ):
    """A tenant with a shop, SKUs A and B, warehouses 1 (east, priority 0) and 2 (all regions)."""
    inv.add_sku("A", 1)
    inv.add_sku("B", 2)
    inv.add_warehouse(1, "EAST", regions=("浙江省", "上海"), priority=0)
    inv.add_warehouse(2, "ALL", priority=5)
    return shop


@pytest.fixture
def published():
    """Records order.shipped / order.after_sale_opened publications."""
    seen = []

    def shipped(**kw):
        seen.append(("order.shipped", kw))

    def after_sale(**kw):
        seen.append(("order.after_sale_opened", kw))

    events.subscribe("order.shipped", shipped)
    events.subscribe("order.after_sale_opened", after_sale)
    yield seen
    events._handlers["order.shipped"].remove(shipped)
    events._handlers["order.after_sale_opened"].remove(after_sale)


def line(outer_id="A", qty=1, price="10.00", lid=None, **kw):
    lid = lid or f"L{next(_seq)}"
    return NormalizedLine(platform_line_id=lid, platform_item_id=f"I-{outer_id}", platform_sku_id=f"S-{outer_id}",
                          outer_id=outer_id, title=f"Item {outer_id}", quantity=qty, price=Decimal(price),
                          paid=Decimal(price) * qty, **kw)


def address(**kw):
    base = dict(name="张三", phone="13800000000", province="浙江省", city="杭州市", district="西湖区", address="文三路 1 号")
    base.update(kw)
    return NormalizedAddress(**base)


def norder(poid=None, *, lines=None, state=OrderState.PAID, modified=None, buyer="buyer1", receiver=None,
           platform="taobao", platform_status="WAIT_SELLER_SEND_GOODS", created=None, **kw):
    poid = poid or f"P{next(_seq)}"
    lines = lines if lines is not None else [line()]
    paid = sum((ln.paid for ln in lines), Decimal("0.00"))
    created = created or T0
    return NormalizedOrder(platform=platform, platform_order_id=poid, state=state, platform_status=platform_status,
                           modified_at=modified or created + timedelta(minutes=1), created_at=created,
                           paid_at=created, buyer_id=buyer, receiver=receiver or address(), goods_amount=paid,
                           paid_amount=kw.pop("paid_amount", paid), lines=lines, **kw)
