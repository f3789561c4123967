"""Fixtures for the members tests: order snapshots served from memory through members.ports (the
orders contract, docs/INTERFACES.md), and helpers to ship orders and make levels."""

import itertools
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from members import ports, services
from members.models import MemberLevel
from orders.selectors import OrderLineSnapshot, OrderSnapshot

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
_ids = itertools.count(5000)


class FakeOrders:
    def __init__(self):
        self.snaps: dict[int, OrderSnapshot] = {}

    def __call__(self, *, order_ids):
        return [self.snaps[i] for i in sorted(set(order_ids)) if i in self.snaps]

    def add(self, *, buyer="b1", platform="taobao", phone=None, paid="100.00", name="张三", kind="platform",
            poid=None, shop_id=1, paid_at=None, lines=None, order_id=None) -> OrderSnapshot:
        oid = order_id or next(_ids)
        if phone is None:  # each buyer a phone of its own
            phone = f"13{zlib.crc32(f'{platform}:{buyer}'.encode()) % 10**9:09d}"
        poid = poid or f"P{oid}"
        paid = Decimal(paid)
        if lines is None:
            lines = [(poid, paid, False)]
        snap_lines = tuple(
            OrderLineSnapshot(id=oid * 10 + i, order_id=oid, platform_order_id=lp, platform_line_id=f"L{i}", sku_id=1,
                              sku_code="A", title="A", quantity=1, price=Decimal(lpaid), discount=Decimal("0"),
                              paid=Decimal(lpaid), refund_state="", is_stopped=stopped, warehouse_id=1)
            for i, (lp, lpaid, stopped) in enumerate(lines))
        at = paid_at or T0
        snap = OrderSnapshot(id=oid, shop_id=shop_id, platform=platform, platform_order_id=poid, kind=kind,
                             status="shipped", buyer_id=buyer, receiver_name=name, receiver_phone=phone,
                             receiver_province="浙江省", receiver_city="杭州市", currency="CNY", goods_amount=paid,
                             discount_amount=Decimal("0"), freight_amount=Decimal("0"), paid_amount=paid, paid_at=at,
                             shipped_at=at + timedelta(hours=5), warehouse_id=1, carrier_code="ZTO", tracking_no="T1",
                             lines=snap_lines)
        self.snaps[oid] = snap
        return snap

    def ship(self, **kw):
        snap = self.add(**kw)
        services.on_order_shipped(order_id=snap.id)
        return snap


@pytest.fixture
def orders(in_tenant_a):
    fake = FakeOrders()
    with ports.use_order_snapshots(fake):
        yield fake


def make_levels():
    specs = [(1, "普通会员", "0", 0, "1.00"), (2, "银卡", "500", 3, "1.20"), (3, "金卡", "2000", 8, "1.50")]
    return {rank: MemberLevel.objects.create(rank=rank, name=name, min_spend=Decimal(spend), min_orders=orders,
                                             points_multiplier=Decimal(mult))
            for rank, name, spend, orders, mult in specs}


@pytest.fixture
def levels(in_tenant_a):
    return make_levels()
