"""Orders pulled and stored per second, against COPY of the same rows into the same database.

1. end to end: the simulated platforms (HTTP, in-process thread) -> adapters (sign, page, map) ->
   storing path (COPY into a temp staging table + INSERT ... ON CONFLICT) for every shop;
2. the storing path alone: the same pages, already mapped, stored into a fresh shop page by page
   (one transaction per page of 100, as the pull does);
3. the baseline: the same rows COPYed in one statement into a plain copy of the table;
4. replaying the same pages must change 0 rows.

Other apps' subscribers of ``platform_orders.changed`` are switched off: this measures integrations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def run(args) -> None:
    from django.db import connection, transaction

    from bench.harness import report, timer
    from erp import events
    from erp.tenancy.context import tenant_context
    from erp.tenancy.models import Tenant
    from integrations.adapters import adapter_class
    from integrations.mock_platforms.client import control
    from integrations.mock_platforms.server import running_mock_platforms
    from integrations.models import Job, PlatformOrder
    from integrations.services import shop_create
    from integrations.store import order_row, store_order_rows
    from integrations.sync import run_job

    hours = 2 if args.quick else 6
    per_hour = 400 if args.quick else 1500
    events._handlers["platform_orders.changed"] = []
    tenant, _ = Tenant.objects.get_or_create(slug="bench-integrations", defaults={"name": "Bench integrations"})
    creds = {
        "taobao": ("tb-main", "/taobao/router/rest", {"app_key": "tb-app-key", "app_secret": "tb-app-secret",
                                                      "access_token": "tb-session-main"}),
        "jd": ("jd-main", "/jd/routerjson", {"app_key": "jd-app-key", "app_secret": "jd-app-secret",
                                             "access_token": "jd-token-main"}),
        "pdd": ("pdd-main", "/pdd/api/router", {"app_key": "pdd-client-id", "app_secret": "pdd-client-secret",
                                                "access_token": "pdd-token-main"}),
    }
    with running_mock_platforms(seed=2) as url, tenant_context(tenant):
        start = datetime.now(UTC) - timedelta(hours=hours, seconds=30)
        control(url, "reset", {"seed": 2, "start_time": start.isoformat().replace("+00:00", "Z")})
        control(url, "config", {"orders_per_hour": per_hour, "fault_rate": 0, "promotions": False})
        control(url, "advance", {"seconds": (datetime.now(UTC) - start).total_seconds() - 5}, timeout=600)
        shops = []
        for platform, (code, path, cred) in creds.items():
            shop, _secret = shop_create(code=code, name=code, platform=platform, api_base_url=url + path,
                                        credentials=cred, initial_lookback_hours=hours + 1, sync_lag_seconds=0)
            shops.append(shop)

        # 1. end to end
        with timer() as t_pull:
            runs = [run_job(shop=shop, job=Job.PULL_ORDERS, trigger="bench") for shop in shops]
        stored = sum(r.created for r in runs)
        assert all(r.status == "success" for r in runs), [r.error for r in runs]
        print(f"  pulled {stored} orders from 3 platforms ({sum(r.pages for r in runs)} pages, "
              f"{sum(r.fetched for r in runs)} records fetched) in {t_pull['seconds']:.2f}s", flush=True)

        # the same rows, mapped once more from what the platforms show now
        pages: list[list[tuple]] = []
        for shop in shops:
            adapter = adapter_class(shop.platform)(shop)
            rows = [order_row(adapter.map_order(o["order"]))
                    for o in control(url, "orders", platform=shop.platform, shop=shop.code, timeout=600)["orders"]]
            pages += [rows[i:i + 100] for i in range(0, len(rows), 100)]
        n_rows = sum(len(p) for p in pages)

    with tenant_context(tenant):
        target, _secret = shop_create(code="bench-store", name="bench store", platform="taobao")

        # 2. the storing path alone
        with timer() as t_store:
            created = 0
            for page in pages:
                with transaction.atomic():
                    created += store_order_rows(shop=target, rows=page).created
        assert created == n_rows, (created, n_rows)

        # 4. replaying changes nothing
        with timer() as t_replay:
            changed = 0
            for page in pages:
                with transaction.atomic():
                    result = store_order_rows(shop=target, rows=page)
                    changed += result.created + result.updated
        assert PlatformOrder.objects.filter(shop=target).count() == n_rows

        # 3. COPY baseline: same rows, same database, a plain table of the same shape and indexes
        table = PlatformOrder._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_copy_platformorder")
            cursor.execute(f"CREATE TABLE bench_copy_platformorder (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING INDEXES)")
            columns = "tenant_id, shop_id, platform_order_id, platform_modified_at, state, payload, normalized, " \
                      "version, created_at, updated_at"
            now = datetime.now(UTC)
            with timer() as t_copy, transaction.atomic():
                connection.apply_tenant_setting()
                with cursor.cursor.copy(f"COPY bench_copy_platformorder ({columns}) FROM STDIN") as copy:
                    for page in pages:
                        for pid, modified, state, payload, normalized in page:
                            copy.write_row((tenant.pk, target.pk, pid, modified, state, payload, normalized, 1,
                                            now, now))
            cursor.execute("DROP TABLE bench_copy_platformorder")

    copy_rate = n_rows / t_copy["seconds"]
    print(f"  {n_rows} rows; replay of the same {len(pages)} pages changed {changed} rows "
          f"({n_rows / t_replay['seconds']:,.0f} rows/s checked)", flush=True)
    report("pull + store end to end (orders/s)", stored / t_pull["seconds"], "COPY", copy_rate, unit=" rows/s")
    report("storing path: staging COPY + upsert (rows/s)", n_rows / t_store["seconds"], "COPY", copy_rate,
           unit=" rows/s", target=0.40)
    if changed:
        print(f"  FAILED: replaying the same pages changed {changed} rows (must be 0)", flush=True)
