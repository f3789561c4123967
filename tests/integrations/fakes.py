"""An in-memory platform and adapter for the platform-independent tests (sync engine, storing path)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from integrations.adapters.base import AdapterError, Page, PlatformAdapter, ShipmentResult, StockResult
from integrations.normalized import NormalizedLine, NormalizedOrder, OrderState

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def make_order(pid: str, modified: datetime, state: str = OrderState.PAID, qty: int = 1) -> NormalizedOrder:
    return NormalizedOrder(
        platform="taobao", platform_order_id=pid, state=state, platform_status=state.upper(),
        modified_at=modified, created_at=modified - timedelta(minutes=5), paid_at=modified,
        paid_amount=Decimal("10.00") * qty,
        lines=[NormalizedLine(platform_line_id=f"{pid}-1", platform_item_id="I1", platform_sku_id="S1",
                              outer_id="SKU-1", title="Cup", quantity=qty, price=Decimal("10.00"),
                              paid=Decimal("10.00") * qty)],
        raw={"tid": pid, "modified": modified.isoformat(), "status": state},
    )


class FakePlatform:
    """Orders by id with their latest state; pages sorted newest first like the real APIs."""

    def __init__(self, *, seed: int = 1):
        self.orders: dict[str, NormalizedOrder] = {}
        self.rng = random.Random(seed)
        self.fail_every = 0  # every n-th call raises a retryable error (after the client's retries)
        self.calls = 0
        self.on_call = None  # hook(platform, start, end, page) run before answering
        self.duplicate = False  # repeat an item of the page
        self.shuffle = False  # reorder items within a page
        self.stock: dict[str, int] = {}
        self.shipments: list[tuple] = []

    def put(self, order: NormalizedOrder) -> None:
        self.orders[order.platform_order_id] = order

    def window(self, start, end):
        rows = [o for o in self.orders.values() if start <= o.modified_at < end]
        return sorted(rows, key=lambda o: (o.modified_at, o.platform_order_id), reverse=True)


class FakeAdapter(PlatformAdapter):
    platform = "taobao"
    max_window = timedelta(hours=6)
    page_size = 10

    def __init__(self, shop, platform: FakePlatform):
        super().__init__(shop)
        self.fake = platform

    def fetch_orders_page(self, *, start, end, page):
        fake = self.fake
        fake.calls += 1
        if fake.on_call:
            fake.on_call(fake, start, end, page)
        if fake.fail_every and fake.calls % fake.fail_every == 0:
            raise AdapterError("HTTP 503 after retries", retryable=True, status=503)
        rows = fake.window(start, end)
        items = rows[(page - 1) * self.page_size: page * self.page_size]
        if fake.duplicate and items:
            items = items + [fake.rng.choice(items)]
        if fake.shuffle:
            items = list(items)
            fake.rng.shuffle(items)
        return Page(items=list(items), total=len(rows), page=page, page_size=self.page_size)

    def push_stock(self, updates):
        out = []
        for update in updates:
            self.fake.stock[update.platform_sku_id or update.outer_id] = update.quantity
            out.append(StockResult(update=update, ok=True))
        return out

    def push_shipment(self, *, platform_order_id, carrier_code, tracking_no, lines=None):
        self.fake.shipments.append((platform_order_id, carrier_code, tracking_no))
        return ShipmentResult(ok=True, response={"is_success": True})
