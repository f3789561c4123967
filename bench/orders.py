"""Orders: end-to-end ingestion throughput and API latency.

    make bench BENCH_ARGS="orders"          # or: python -m bench orders [--quick]

1. Ingest + review + merge + allocate: normalised platform orders go through
   ``orders.services.orders_ingest_normalized`` in pages of 500 (real inventory: SKU mapping through
   ``skus_for_platform_lines``, one availability read and one ``stock_reserve_batch`` per page),
   reported as orders/s and as a ratio to a bare COPY of the same order and line rows into scratch
   tables in the same run (temp tables: no indexes, no WAL, no row-level security).
   Target: >= 1,000 orders/s on 2 cores.
2. API latency with 100,000 orders (20,000 with --quick): the order list (50 rows, and 50 rows
   filtered by status) and the order detail, 8 concurrent clients (processes, each through the full
   Django stack with token authentication), beside the trivial authenticated ``/api/v1/me/`` in the
   same run. Targets: list p95 <= 50 ms, detail p95 <= 15 ms.
"""

from __future__ import annotations

import io
import multiprocessing
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bench.harness import percentiles, report, timer

PAGE = 500
CLIENTS = 8


def _tenant_world(slug: str, n_skus: int):
    from erp.tenancy.context import tenant_context
    from erp.tenancy.models import Tenant
    from integrations.models import Shop
    from inventory.models import SKU, StockLevel, Warehouse

    tenant, _ = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug})
    with tenant_context(tenant):
        shop, _ = Shop.objects.get_or_create(code="bench", defaults={"name": "Bench shop", "platform": "taobao"})
        if not Warehouse.objects.exists():
            Warehouse.objects.bulk_create([
                Warehouse(tenant=tenant, code="EAST", name="East", regions=["浙江省", "上海", "江苏省"], priority=1),
                Warehouse(tenant=tenant, code="ALL", name="All", priority=2)])
            SKU.objects.bulk_create([SKU(tenant=tenant, code=f"S{i:04d}", name=f"sku {i}", weight_grams=300)
                                     for i in range(n_skus)])
            StockLevel.objects.bulk_create([StockLevel(tenant=tenant, warehouse=w, sku=s, on_hand=10_000_000)
                                            for w in Warehouse.objects.all() for s in SKU.objects.all()])
    return tenant, shop


def _normalized(n: int, n_skus: int, seed: int = 1):
    from integrations.normalized import NormalizedAddress, NormalizedLine, NormalizedOrder, OrderState

    rng = random.Random(seed)
    t0 = datetime(2026, 11, 11, tzinfo=UTC)
    provinces = ["浙江省", "上海", "江苏省", "广东省", "北京", "四川省"]
    out = []
    for i in range(n):
        created = t0 + timedelta(seconds=i)
        lines = []
        for k in range(rng.choice((1, 1, 2, 3))):
            code = f"S{rng.randrange(n_skus):04d}"
            qty = rng.randint(1, 2)
            price = Decimal(rng.randint(10, 300))
            lines.append(NormalizedLine(platform_line_id=f"{i}-{k}", platform_item_id=f"item-{code}", platform_sku_id=f"sku-{code}",
                                        outer_id=code, title=f"Item {code}", quantity=qty, price=price, paid=price * qty))
        paid = sum((ln.paid for ln in lines), Decimal("0"))
        buyer = f"buyer{rng.randrange(n * 4)}"
        out.append(NormalizedOrder(
            platform="taobao", platform_order_id=f"T{seed}{i:08d}", state=OrderState.PAID,
            platform_status="WAIT_SELLER_SEND_GOODS", modified_at=created, created_at=created, paid_at=created,
            ship_by=created + timedelta(hours=48), buyer_id=buyer, buyer_message="快点发货" if i % 20 == 0 else "",
            receiver=NormalizedAddress(name=f"客户{i}", phone=f"138{i:08d}", province=rng.choice(provinces), city="某市",
                                       district="某区", address=f"幸福路 {i} 号"),
            goods_amount=paid, paid_amount=paid, lines=lines))
    return out


def _copy_baseline(orders) -> float:
    """COPY the same number of order and line rows into scratch tables shaped like ours."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_order ON COMMIT DROP AS SELECT * FROM orders_order WITH NO DATA")
        cursor.execute("CREATE TEMP TABLE bench_line ON COMMIT DROP AS SELECT * FROM orders_orderline WITH NO DATA")
        order_buf, line_buf = io.StringIO(), io.StringIO()
        now = datetime.now(UTC).isoformat()
        line_id = 0
        for i, n in enumerate(orders, start=1):
            r = n.receiver
            order_buf.write("\t".join(map(str, [
                i, 1, 1, n.platform, n.platform_order_id, "platform", n.buyer_id, r.name, r.phone, r.province, r.city,
                r.district, r.address, "h" * 40, "p" * 40, n.goods_amount, n.discount_amount, n.freight_amount,
                n.paid_amount, n.created_at.isoformat(), n.modified_at.isoformat(), n.paid_at.isoformat(), "approved",
                len(n.lines), sum(ln.quantity for ln in n.lines), now, now])) + "\n")
            for ln in n.lines:
                line_id += 1
                line_buf.write("\t".join(map(str, [line_id, 1, i, i, n.platform_order_id, ln.platform_line_id,
                                                   ln.platform_item_id, ln.platform_sku_id, ln.outer_id, ln.title,
                                                   ln.quantity, ln.price, ln.discount, ln.paid])) + "\n")
        start = time.perf_counter()
        raw = cursor.cursor
        with raw.copy("COPY bench_order (id, tenant_id, shop_id, platform, platform_order_id, kind, buyer_id, "
                      "receiver_name, receiver_phone, receiver_province, receiver_city, receiver_district, "
                      "receiver_address, address_hash, place_hash, goods_amount, discount_amount, freight_amount, "
                      "paid_amount, platform_created_at, platform_modified_at, paid_at, status, line_count, "
                      "total_quantity, created_at, updated_at) FROM STDIN") as copy:
            copy.write(order_buf.getvalue())
        with raw.copy("COPY bench_line (id, tenant_id, order_id, origin_order_id, platform_order_id, platform_line_id, "
                      "platform_item_id, platform_sku_id, outer_id, title, quantity, price, discount, paid) FROM STDIN") as copy:
            copy.write(line_buf.getvalue())
        return time.perf_counter() - start


def bench_ingest(n: int) -> None:
    from django.db import connection

    from erp.tenancy.context import tenant_context
    from orders.models import Order, OrderStatus
    from orders.services import orders_ingest_normalized

    n_skus = 300
    tenant, shop = _tenant_world("bench-orders-ingest", n_skus)
    warm = _normalized(PAGE, n_skus, seed=9)  # first sightings of the SKUs create their mappings
    orders = _normalized(n, n_skus, seed=1)
    with tenant_context(tenant):
        connection.apply_tenant_setting()
        copy_seconds = _copy_baseline(orders)
        orders_ingest_normalized(shop=shop, normalized=warm)
        with timer() as t:
            for start in range(0, n, PAGE):
                orders_ingest_normalized(shop=shop, normalized=orders[start:start + PAGE])
        done = Order.objects.filter(platform_order_id__startswith="T1").count()
        allocated = Order.objects.filter(status=OrderStatus.ALLOCATED).count()
        held = Order.objects.filter(status=OrderStatus.ON_HOLD).count()
    rate = n / t["seconds"]
    print(f"ingested {done:,} orders ({allocated:,} allocated shipments, {held:,} held by review) in {t['seconds']:.1f} s")
    report("ingest+review+merge+allocate orders/s", rate, "COPY same rows", n / copy_seconds)
    print(f"{'absolute target >= 1,000 orders/s':<48} {'MEETS' if rate >= 1000 else 'BELOW'} ({rate:,.0f}/s)", flush=True)


# --- API latency ----------------------------------------------------------------------------------
def _fill(tenant, shop, total: int) -> list[int]:
    """Bulk-create ``total`` orders with 2 lines and 3 timeline events each (fast: no review)."""
    from erp.tenancy.context import tenant_context
    from orders.models import EventKind, Order, OrderEvent, OrderLine, OrderStatus

    rng = random.Random(3)
    statuses = [OrderStatus.ALLOCATED] * 5 + [OrderStatus.SHIPPED] * 10 + [OrderStatus.ON_HOLD, OrderStatus.APPROVED,
                                                                             OrderStatus.PENDING_REVIEW]
    t0 = datetime(2026, 10, 1, tzinfo=UTC)
    with tenant_context(tenant):
        have = Order.objects.count()
        for start in range(have, total, 5000):
            batch = []
            for i in range(start, min(total, start + 5000)):
                at = t0 + timedelta(seconds=i * 20)
                status = rng.choice(statuses)
                batch.append(Order(tenant=tenant, shop=shop, platform="taobao", platform_order_id=f"F{i:09d}", status=status,
                                   hold_reasons=",buyer_message," if status == OrderStatus.ON_HOLD else "",
                                   buyer_id=f"b{i % 30000}", receiver_name="某人", receiver_province="浙江省",
                                   receiver_city="杭州市", receiver_address=f"路 {i} 号", address_hash=f"{i:040d}",
                                   place_hash=f"{i:040d}", goods_amount=Decimal("99.00"), paid_amount=Decimal("99.00"),
                                   platform_created_at=at, paid_at=at, line_count=2, total_quantity=3))
            Order.objects.bulk_create(batch)
            lines, evs = [], []
            for o in batch:
                for k in range(2):
                    lines.append(OrderLine(tenant=tenant, order=o, origin_order=o, platform_order_id=o.platform_order_id,
                                           platform_line_id=str(k), outer_id=f"S{k}", title="item", sku_id=k + 1,
                                           quantity=k + 1, price=Decimal("33.00"), paid=Decimal("33.00")))
                for code in ("created", "approved.auto", "allocated"):
                    evs.append(OrderEvent(tenant=tenant, order=o, kind=EventKind.RULE, code=code, message=code))
            OrderLine.objects.bulk_create(lines)
            OrderEvent.objects.bulk_create(evs)
        ids = list(Order.objects.order_by("-pk").values_list("pk", flat=True)[:5000])
    return ids


def _client_worker(job):
    kind, token, ids, seconds, start_at, seed = job
    from django.db import connection
    from rest_framework.test import APIClient

    from erp.api.throttling import TokenRateThrottle

    connection.close()
    TokenRateThrottle.THROTTLE_RATES = {"token": "100000000/min"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    rng = random.Random(seed)
    paths = {
        "list": lambda: "/api/v1/orders/",
        "list?status": lambda: "/api/v1/orders/?status=shipped",
        "detail": lambda: f"/api/v1/orders/{rng.choice(ids)}/",
        "me": lambda: "/api/v1/me/",
    }
    for _ in range(3):
        client.get(paths[kind](), secure=True)
    while time.time() < start_at:
        time.sleep(0.005)
    samples = []
    end = time.time() + seconds
    while time.time() < end:
        t = time.perf_counter()
        response = client.get(paths[kind](), secure=True)
        samples.append((time.perf_counter() - t) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{kind}: {response.status_code} {response.content[:200]}")
    connection.close()
    return samples


def _measure(kind: str, token: str, ids: list[int], seconds: float) -> tuple[float, float, int]:
    ctx = multiprocessing.get_context("fork")
    start_at = time.time() + 1.5
    with ctx.Pool(CLIENTS) as pool:
        results = pool.map(_client_worker, [(kind, token, ids, seconds, start_at, i) for i in range(CLIENTS)])
    samples = [s for r in results for s in r]
    p50, p95 = percentiles(samples)
    return p50, p95, len(samples)


def bench_api(total: int, seconds: float) -> None:
    from django.db import connection

    from erp.tenancy.context import tenant_context
    from erp.tenancy.roles import Role
    from erp.tenancy.services import api_token_issue, membership_add

    tenant, shop = _tenant_world("bench-orders-api", 10)
    with timer() as t:
        ids = _fill(tenant, shop, total)
    with tenant_context(tenant), connection.cursor() as cursor:
        connection.apply_tenant_setting()
        cursor.execute("ANALYZE orders_order; ANALYZE orders_orderline; ANALYZE orders_orderevent")
    print(f"{total:,} orders in the tenant (filled in {t['seconds']:.1f} s); {CLIENTS} concurrent clients, "
          f"{seconds:.0f} s per endpoint", flush=True)
    membership = membership_add(tenant=tenant, username="bench-orders-operator", role=Role.OPERATOR)
    token = api_token_issue(membership=membership)
    connection.close()
    me = _measure("me", token, ids, seconds)
    print(f"{'trivial /api/v1/me/':<48} p50 {me[0]:7.1f} ms   p95 {me[1]:7.1f} ms   ({me[2]:,} requests)", flush=True)
    for kind, target in (("list", 50), ("list?status", 50), ("detail", 15)):
        p50, p95, n = _measure(kind, token, ids, seconds)
        verdict = "meets" if p95 <= target else "BELOW"
        print(f"{'orders ' + kind + ' (50 rows)' if kind != 'detail' else 'order detail':<48} p50 {p50:7.1f} ms   "
              f"p95 {p95:7.1f} ms   ({n:,} requests)   p95 / trivial p95 {p95 / me[1]:4.1f}x   "
              f"[{verdict} target p95 <= {target} ms]", flush=True)


def run(args) -> None:
    quick = getattr(args, "quick", False)
    if not getattr(args, "api_only", False):
        bench_ingest(3000 if quick else 20000)
    bench_api(20_000 if quick else 100_000, 3 if quick else 10)
