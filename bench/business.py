"""Business: what the downstream apps (finance, members) cost on the hot paths.

    make bench BENCH_ARGS="business"          # or: python -m bench business [--quick]

Each figure is a ratio to a baseline measured in the same run, on the same scratch database, in
alternating chunks (so table growth and the neighbours' load fall on both sides alike):

1. Shipping: allocated orders (real inventory, SKUs with a unit cost, ingested through
   ``orders_ingest_normalized``) shipped one by one through ``orders.services.order_ship`` (waybill,
   stock commit, outbox, "order.shipped": finance posts a revenue + cost voucher, members earn
   points), in orders/s, against the same shipping with the finance and members subscribers detached
   from ``erp.events`` (restored after). The ratio is what the books and the points cost per parcel.
2. Settlement: platform bill lines (a sale and a commission line per shipped platform order) stored
   through ``integrations.store.store_bill_lines`` in pages of 100 (publishes "platform_bills.changed":
   finance books each line and reconciles the order), in lines/s, against ``store_bill_lines`` with
   ``publish=False`` (storage only) on as many other bill lines.
3. Replay: the same bill pages stored again, and "platform_bills.changed" published again for every
   bill id (finance sees each one a second time): must post no new voucher. FAILS loudly otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.harness import report, timer

CHUNK = 50  # orders per alternating chunk when shipping
PAGE = 100  # bill lines per page (one transaction each, as the platform pull stores them)
SLUG = "bench-business"


def _world(n_orders: int):
    """A tenant with the finance chart, carrier rules, SKUs with a unit cost and allocated orders."""
    from bench.orders import _normalized, _tenant_world
    from erp.tenancy.context import tenant_context
    from finance.seed import seed_demo as finance_seed
    from inventory.models import SKU
    from members.services import member_settings
    from orders.models import CarrierRule, Order, OrderStatus
    from orders.services import order_settings, orders_ingest_normalized

    n_skus = 200
    tenant, shop = _tenant_world(SLUG, n_skus)
    with tenant_context(tenant):
        finance_seed(tenant=tenant)  # chart of accounts, open period, settings
        member_settings()
        order_settings()
        SKU.objects.update(unit_cost=Decimal("12.50"))
        if not CarrierRule.objects.exists():
            CarrierRule.objects.create(name="ZTO", carrier_code="ZTO", first_cost=Decimal("4.50"),
                                       extra_cost_per_kg=Decimal("1.50"), priority=10)
        # a little more than needed: review holds some (buyer messages) and merges a few
        normalized = _normalized(int(n_orders * 1.15) + 20, n_skus, seed=4)
        for start in range(0, len(normalized), 500):
            orders_ingest_normalized(shop=shop, normalized=normalized[start:start + 500])
        allocated = list(Order.objects.filter(status=OrderStatus.ALLOCATED).order_by("pk").values_list("pk", flat=True))
    return tenant, shop, allocated


def _ship(order_ids: list[int]) -> float:
    from orders.services import order_ship

    with timer() as t:
        for oid in order_ids:
            order_ship(order_id=oid)
    return t["seconds"]


def bench_shipping(tenant, allocated: list[int], n: int) -> list[int]:
    """Ship n orders with every subscriber and n without finance and members; returns the former."""
    from erp import events
    from erp.tenancy.context import tenant_context
    from finance.models import SourceType, Voucher
    from members.models import MemberOrder, PointsEntry
    from orders.models import Waybill

    if len(allocated) < 2 * n:
        n = len(allocated) // 2
    full_ids, bare_ids = [], []
    for i in range(0, 2 * n, 2 * CHUNK):  # chunks: full, bare, full, bare ...
        full_ids += allocated[i:i + CHUNK]
        bare_ids += allocated[i + CHUNK:i + 2 * CHUNK]
    full_ids, bare_ids = full_ids[:n], bare_ids[:n]
    original = events.handlers("order.shipped")
    detached = [h for h in original if not h.__module__.startswith(("finance.services", "members.services"))]
    assert len(detached) == len(original) - 2, [h.__module__ for h in original]
    t_full = t_bare = 0.0
    with tenant_context(tenant):
        try:
            for i in range(0, n, CHUNK):
                events._handlers["order.shipped"] = list(original)
                t_full += _ship(full_ids[i:i + CHUNK])
                events._handlers["order.shipped"] = list(detached)
                t_bare += _ship(bare_ids[i:i + CHUNK])
        finally:
            events._handlers["order.shipped"] = list(original)
        vouchers = Voucher.objects.filter(source_type=SourceType.ORDER_SHIPPED).count()
        member_orders = MemberOrder.objects.count()
        points = PointsEntry.objects.filter(kind="earn").count()
        waybills = Waybill.objects.count()
    print(f"  shipped {n:,} + {n:,} orders in chunks of {CHUNK}: {waybills:,} waybills, {vouchers:,} shipment vouchers, "
          f"{member_orders:,} member orders, {points:,} points entries", flush=True)
    if vouchers != n or member_orders != n:
        print(f"  FAILED: expected {n} shipment vouchers and {n} member orders (a subscriber failed quietly: "
              "see finance PostingIssue / the members log)", flush=True)
    report("order_ship with finance + members (orders/s)", n / t_full, "subscribers detached", n / t_bare,
           unit=" orders/s")
    spare = allocated[2 * n:2 * n + 2]
    if len(spare) == 2:  # where the time goes: SQL statements per parcel, one more order each way
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        counts = []
        with tenant_context(tenant):
            try:
                for oid, handlers in zip(spare, (original, detached), strict=True):
                    events._handlers["order.shipped"] = list(handlers)
                    with CaptureQueriesContext(connection) as queries:
                        _ship([oid])
                    counts.append(len(queries))
            finally:
                events._handlers["order.shipped"] = list(original)
        print(f"  SQL statements per parcel: {counts[0]} with finance + members, {counts[1]} detached", flush=True)
    return full_ids


def _bills(tenant, shop, shipped_ids: list[int], prefix: str, limit: int):
    """Bill lines for the shipped orders: per platform order, a sale of what we shipped and a 5% commission."""
    from erp.tenancy.context import tenant_context
    from finance.models import Reconciliation
    from integrations.normalized import NormalizedBillLine
    from orders.models import OrderLine

    with tenant_context(tenant):
        poids = sorted(set(OrderLine.objects.filter(order_id__in=shipped_ids, is_committed=True)
                           .values_list("platform_order_id", flat=True)))
        expected = dict(Reconciliation.objects.filter(shop_id=shop.pk, platform_order_id__in=poids)
                        .values_list("platform_order_id", "shipped_amount"))
    booked = datetime.now(UTC) - timedelta(hours=1)
    lines = []
    for k, poid in enumerate(poids):
        sale = expected.get(poid) or Decimal("0")
        if sale <= 0:
            continue
        at = booked + timedelta(seconds=k)
        fee = (sale * Decimal("0.05")).quantize(Decimal("0.01"))
        lines.append(NormalizedBillLine(platform="taobao", platform_bill_id=f"{prefix}{poid}-S", platform_order_id=poid,
                                        kind="sale", amount=sale, booked_at=at, description="交易收入",
                                        raw={"id": f"{prefix}{poid}-S", "amount": str(sale)}))
        lines.append(NormalizedBillLine(platform="taobao", platform_bill_id=f"{prefix}{poid}-C", platform_order_id=poid,
                                        kind="commission", amount=-fee, booked_at=at, description="技术服务费",
                                        raw={"id": f"{prefix}{poid}-C", "amount": str(-fee)}))
    lines = lines[:limit - limit % 2]
    return [lines[i:i + PAGE] for i in range(0, len(lines), PAGE)]


def _store(shop, pages, *, publish: bool):
    from django.db import transaction

    from integrations.store import store_bill_lines

    changed = 0
    errors = []
    with timer() as t:
        for page in pages:
            with transaction.atomic():
                result = store_bill_lines(shop=shop, lines=page, publish=publish)
            changed += result.created + result.updated
            if result.consumer_error:
                errors.append(result.consumer_error)
    return t["seconds"], changed, errors


def bench_settlement(tenant, shop, shipped_ids: list[int], m: int) -> None:
    from erp import events
    from erp.tenancy.context import tenant_context
    from finance.models import PostingIssue, Reconciliation, ReconStatus, SettlementLine, SourceType, Voucher
    from finance.selectors import books_verify

    full = _bills(tenant, shop, shipped_ids, "B", m)
    bare = _bills(tenant, shop, shipped_ids, "X", m)  # other bill ids, the same shape; never published
    n_lines = sum(len(p) for p in full)
    t_full = t_bare = 0.0
    errors = []
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    per_page = []
    with tenant_context(tenant):
        for k, (a, b) in enumerate(zip(full, bare, strict=True)):  # alternating pages: settled, stored only
            last = k == len(full) - 1
            with CaptureQueriesContext(connection) as q_full:
                seconds, _changed, errs = _store(shop, [a], publish=True)
            t_full += seconds
            errors += errs
            with CaptureQueriesContext(connection) as q_bare:
                t_bare += _store(shop, [b], publish=False)[0]
            if last:
                per_page = [len(q_full), len(q_bare), len(a)]
        settled = SettlementLine.objects.count()
        bill_vouchers = Voucher.objects.filter(source_type=SourceType.PLATFORM_BILL).count()
        recon = defaultdict(int)
        for status in Reconciliation.objects.values_list("status", flat=True):
            recon[status] += 1
        issues = PostingIssue.objects.filter(resolved_at__isnull=True).count()
    print(f"  {n_lines:,} + {n_lines:,} bill lines in pages of {PAGE}: {settled:,} settlement lines, {bill_vouchers:,} "
          f"settlement vouchers; reconciliation {dict(recon)}; open posting issues {issues}", flush=True)
    if errors or settled != n_lines or recon.get(ReconStatus.MATCHED, 0) == 0:
        print(f"  FAILED: settlement did not book every line or match any order ({errors[:2]})", flush=True)
    if per_page:
        print(f"  SQL statements per page of {per_page[2]} lines: {per_page[0]} settled, {per_page[1]} stored only",
              flush=True)
    report("store_bill_lines + settle + reconcile (lines/s)", n_lines / t_full, "publish=False", n_lines / t_bare,
           unit=" lines/s")

    # 3. the same bills again: through the storing path, then finance shown every bill id once more
    with tenant_context(tenant):
        before = Voucher.objects.count()
        with timer() as t_replay:
            _seconds, changed, _errs = _store(shop, full, publish=True)
        from django.db import transaction

        with transaction.atomic():
            for page in full:
                events.publish("platform_bills.changed", shop_id=shop.pk,
                               platform_bill_ids=[b.platform_bill_id for b in page])
        after = Voucher.objects.count()
        settled_after = SettlementLine.objects.count()
        unbalanced = books_verify()
    print(f"  replay of {n_lines:,} bill lines ({n_lines / t_replay['seconds']:,.0f} lines/s through the store; "
          f"{changed} rows changed) and every bill id republished to finance: vouchers {before:,} before, "
          f"{after:,} after; settlement lines {settled:,} -> {settled_after:,}; books_verify: "
          f"{'clean' if not unbalanced else unbalanced[:3]}", flush=True)
    if after != before or changed or settled_after != settled or unbalanced:
        print("  " + "!" * 80 + f"\n  FAILED: replaying the same bills changed the books: vouchers {before} -> {after}, "
              f"rows changed {changed}, settlement lines {settled} -> {settled_after}, books_verify {unbalanced[:3]}\n  "
              + "!" * 80, flush=True)


def run(args) -> None:
    quick = getattr(args, "quick", False)
    n = 200 if quick else 1000
    tenant, shop, allocated = _world(2 * n)
    print(f"  {len(allocated):,} allocated orders ready", flush=True)
    shipped = bench_shipping(tenant, allocated, n)
    bench_settlement(tenant, shop, shipped, 2 * len(shipped))
