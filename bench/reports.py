"""Reports at scale: each report's p95 at two order counts and how it grows.

    make bench BENCH_ARGS="reports"          # or: python -m bench reports [--quick]

Orders (and two lines each) are generated set-based (``INSERT … SELECT … FROM generate_series``,
one statement per table and step) into the bench database, in one tenant, paid at pseudo-random
seconds over the 59 days before the run; orders paid in the last 3 hours are still open (to review,
allocated or shipped), older ones shipped within a day (1 in 20 cancelled); updated_at is the
shipping time. The analytics rollups (and the per-order facts) are refreshed for those days and
today and yesterday are then marked dirty, as the order events keep them in production (today's
orders keep changing, yesterday's ship): the reports sum those days from their orders' facts. Each
report is called
REPEAT times at 100,000 and at 1,000,000 orders (10,000 and 100,000 with --quick) and its p95 is
printed with the ratio between the two sizes: the data grows 10x; a report that reads rollups or
pages by key should grow far less. Reports: the analytics sales summary (7 and 30 days), the big
screen, the finance profit by SKU, the BI orders feed (first page, and an incremental page by
changed_since). Also timed: the order event's handler (an order's facts read again and stored,
its days marked), and once per size the check that the summary of today equals the orders report.
"""

from __future__ import annotations

import time
from datetime import timedelta

from bench.harness import percentiles

SLUG = "bench-reports"
REPEAT = 20
DAYS = 60


def _insert_orders(tenant, shop, first: int, last: int, now) -> None:
    """Orders first..last-1 (and 2 lines each) in two INSERT … SELECT statements, paid in the
    (DAYS - 1) days before ``now`` (order g at a pseudo-random second: g * 7919 modulo the span)."""
    from django.db import connection

    from orders.models import Order, OrderLine

    overrides_order = {
        "tenant_id": "%(tenant)s", "shop_id": "%(shop)s", "platform": "'taobao'",
        "platform_order_id": "'R' || lpad(g::text, 9, '0')", "buyer_id": "'b' || (g %% 50000)",
        "receiver_province": "(ARRAY['浙江省','上海','江苏省','广东省','北京','四川省'])[1 + g %% 6]",
        "receiver_city": "'某市'", "address_hash": "md5(g::text) || '00000000'", "place_hash": "md5(g::text) || '00000000'",
        "goods_amount": "99.00", "paid_amount": "99.00", "currency": "'CNY'",
        # open orders are the recent ones (paid in the last 3 hours); older ones shipped or cancelled
        "status": "CASE WHEN secs < 10800 THEN (ARRAY['pending_review','allocated','shipped'])[1 + g %% 3] "
                  "WHEN g %% 20 = 0 THEN 'cancelled' ELSE 'shipped' END",
        "platform_created_at": "%(now)s::timestamptz - make_interval(secs => secs)",
        "paid_at": "%(now)s::timestamptz - make_interval(secs => secs)",
        "shipped_at": "CASE WHEN secs >= 10800 OR g %% 3 = 2 THEN %(now)s::timestamptz "
                      "- make_interval(secs => secs - least(secs / 2, 86400)) END",
        "line_count": "2", "total_quantity": "3",
        # stored when paid, last changed when shipped (within a day): an incremental BI pull sees the
        # last hour's changes only
        "created_at": "%(now)s::timestamptz - make_interval(secs => secs)",
        "updated_at": "%(now)s::timestamptz - make_interval(secs => secs - least(secs / 2, 86400))",
    }
    overrides_line = {
        "tenant_id": "%(tenant)s", "order_id": "o.id", "origin_order_id": "o.id",
        "platform_order_id": "o.platform_order_id", "platform_line_id": "k::text", "outer_id": "'S' || k",
        "title": "'item'", "sku_id": "1 + (o.id + k) %% 200", "sku_code": "'S' || ((o.id + k) %% 200)",
        "quantity": "k", "price": "33.00", "paid": "33.00 * k",
        # a shipped order's lines left with their stock committed; a cancelled order's were stopped
        "is_committed": "o.status = 'shipped'", "is_stopped": "o.status = 'cancelled'",
    }

    def columns(model, overrides):
        cols, exprs, params = [], [], {}
        for f in model._meta.concrete_fields:
            if f.primary_key:
                continue
            cols.append(connection.ops.quote_name(f.column))
            if f.column in overrides:
                exprs.append(overrides[f.column])
            else:
                params[f.column] = f.get_db_prep_save(f.get_default(), connection)
                exprs.append(f"%({f.column})s")
        return ", ".join(cols), ", ".join(exprs), params

    base = {"tenant": tenant.pk, "shop": shop.pk, "now": now.isoformat(), "span": (DAYS - 1) * 86400}
    with connection.cursor() as cursor:
        cols, exprs, params = columns(Order, overrides_order)
        cursor.execute(f"INSERT INTO orders_order ({cols}) SELECT {exprs} FROM (SELECT g, "
                       f"(g::bigint * 7919) %% %(span)s AS secs FROM generate_series(%(first)s, %(last)s) g) x",
                       {**params, **base, "first": first, "last": last - 1})
        cols, exprs, params = columns(OrderLine, overrides_line)
        cursor.execute(f"INSERT INTO orders_orderline ({cols}) SELECT {exprs} FROM orders_order o, "
                       f"generate_series(1, 2) k WHERE o.tenant_id = %(tenant)s AND o.platform_order_id >= %(lo)s "
                       f"AND o.platform_order_id <= %(hi)s",
                       {**params, **base, "lo": f"R{first:09d}", "hi": f"R{last - 1:09d}"})
        cursor.execute("ANALYZE orders_order")
        cursor.execute("ANALYZE orders_orderline")


def _reports():
    from django.utils import timezone

    from analytics import selectors as analytics
    from analytics.services.bi import DATASETS
    from erp.tenancy.dates import tenant_today
    from finance import selectors as finance

    today = tenant_today()
    week = analytics.summary_params({"date_from": str(today - timedelta(days=6)), "date_to": str(today)})
    month = analytics.summary_params({"date_from": str(today - timedelta(days=29)), "date_to": str(today)})
    since = timezone.now() - timedelta(hours=1)
    return [
        ("analytics sales summary, 7 days", lambda: analytics.sales_summary(params=week)),
        ("analytics sales summary, 30 days", lambda: analytics.sales_summary(params=month)),
        ("big screen", lambda: analytics.bigscreen()),
        ("finance profit by SKU, 30 days", lambda: finance.profit_by(by="sku", date_from=today - timedelta(days=29),
                                                                     date_to=today)),
        ("BI orders feed, first page (500)", lambda: analytics.bi_page(dataset=DATASETS["orders"])),
        ("BI orders feed, changed_since page", lambda: analytics.bi_page(dataset=DATASETS["orders"],
                                                                         changed_since=since, after=1000)),
    ]


def _measure() -> dict[str, float]:
    from django.core.cache import cache

    out = {}
    for label, call in _reports():
        samples = []
        for _ in range(REPEAT):
            cache.clear()
            start = time.perf_counter()
            call()
            samples.append((time.perf_counter() - start) * 1000)
        out[label] = percentiles(samples)[1]
    return out


def _event_path(today) -> float:
    """p95 of the handler of order.shipped for one of today's orders (its facts re-read and stored,
    its days marked; outside a transaction on_commit runs at once)."""
    from analytics.services import on_order_changed
    from erp.tenancy.dates import day_range
    from orders.models import Order

    start, end = day_range(today)
    ids = list(Order.objects.filter(paid_at__gte=start, paid_at__lt=end).order_by("-paid_at")
               .values_list("id", flat=True)[:REPEAT])
    samples = []
    for order_id in ids:
        began = time.perf_counter()
        on_order_changed(order_id=order_id)
        samples.append((time.perf_counter() - began) * 1000)
    return percentiles(samples)[1]


def _check_equal(today) -> None:
    from analytics import selectors as analytics
    from orders import reports

    ours = analytics.sales_summary(params=analytics.Params(date_from=today, date_to=today))["totals"]
    theirs = reports.sales_report(params=reports.ReportParams(date_from=today, date_to=today)).as_dict()["totals"]
    same = all(ours[k] == theirs[k] for k in ours)
    print(f"  summary of today = orders report of today: {'yes' if same else 'NO'} "
          f"(paid orders {ours['paid_orders']:,}, GMV {ours['gmv']})", flush=True)


def run(args) -> None:
    from django.db import connection
    from django.utils import timezone

    from analytics.services import days_mark_dirty, rollups_refresh_days
    from erp.tenancy.context import tenant_context
    from erp.tenancy.dates import tenant_today
    from erp.tenancy.models import Tenant
    from finance.seed import seed_demo as finance_seed
    from integrations.models import Shop

    small, large = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    tenant, _ = Tenant.objects.get_or_create(slug=SLUG, defaults={"name": SLUG})
    results = {}
    with tenant_context(tenant):
        connection.apply_tenant_setting()
        shop, _ = Shop.objects.get_or_create(code="bench", defaults={"name": "Bench shop", "platform": "taobao"})
        finance_seed(tenant=tenant)
        have, now = 0, timezone.now()
        for size in (small, large):
            start = time.perf_counter()
            for first in range(have, size, 200_000):
                _insert_orders(tenant, shop, first, min(size, first + 200_000), now)
            today = tenant_today()
            rollups_refresh_days(first=today - timedelta(days=DAYS - 1), last=today)
            # as in production: today's orders keep changing and yesterday's ship, read from their facts
            days_mark_dirty(days=[today - timedelta(days=1), today])
            have = size
            print(f"{size:,} orders generated and rolled up in {time.perf_counter() - start:.1f} s", flush=True)
            results[size] = _measure()
            results[size]["order event -> facts (one order)"] = _event_path(today)
            _check_equal(today)
    print(f"\n{'report':<40} {'p95 @' + format(small, ','):>14} {'p95 @' + format(large, ','):>16}   ratio  (data x10)")
    for label in results[small]:
        a, b = results[small][label], results[large][label]
        flag = "" if b <= 300 or label.startswith("order event") else "  [ABOVE 300 ms]"
        print(f"{label:<40} {a:>11.1f} ms {b:>13.1f} ms   {b / a if a else float('nan'):5.2f}x{flag}", flush=True)
