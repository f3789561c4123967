"""Data import from CSV: 100,000 SKUs and 1,000,000 historical order lines (``--quick``: 20,000 and
100,000), through the same pipeline as the pages, the API and ``manage.py import_data``.

For each file: the dry run (read, parse, validate, classify against the database) and the commit
(the same plus the set-based writes, batch by batch, and the read-back for the reconciliation), as
rows/s, and the commit's ratio to a raw COPY of the same rows (typed as they are stored: SKU rows;
order and order line rows) into plain tables of the same shape and indexes, in the same database
in the same run. Then the same file again must change 0 rows, the reconciliation must match, and
the peak RSS of the process is printed (the file is streamed, so it stays bounded). The time the
commit spends on the job's history (which rows each batch created or updated) is printed with it.
"""

from __future__ import annotations

import csv
import io
import os
import random
import resource
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _write_csv(path: str, header: list[str], rows) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


def _sku_rows(n: int):
    for i in range(n):
        yield [f"SKU{i:06d}", f"商品 {i} 规格", f"P{i // 4:06d}", f"69{i:011d}", f"{(i % 500) + 1}.50", str(100 + i % 900)]


def _order_rows(n_lines: int, n_skus: int, seed: int = 7):
    rng = random.Random(seed)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    line = 0
    order = 0
    while line < n_lines:
        order += 1
        paid = start + timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
        stamp = paid.strftime("%Y-%m-%d %H:%M:%S")
        status = "cancelled" if order % 40 == 0 else "completed"
        for k in range(1, rng.choice((1, 2, 3, 3, 4)) + 1):
            if line >= n_lines:
                break
            line += 1
            qty = rng.randrange(1, 4)
            price = Decimal(rng.randrange(990, 29900)) / 100
            yield ["tb-main", f"T{order:09d}", str(k), f"SKU{rng.randrange(n_skus):06d}", str(qty), str(price),
                   str(price * qty), stamp, status, f"buyer{order % 50000}"]


SKU_HEADER = ["商家编码", "SKU名称", "商品编码", "条码", "成本价", "重量(克)"]
ORDER_HEADER = ["店铺编码", "订单号", "行号", "商家编码", "数量", "单价", "实付金额", "付款时间", "订单状态", "买家ID"]


AUDIT = {"seconds": 0.0}


def _timed_store_changes():
    """Time the job's history (ImportChange rows, and history rows of simple-history models) inside
    the commit: what the audit costs."""
    from dataimport.services import pipeline

    original = pipeline.store_changes

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            AUDIT["seconds"] += time.perf_counter() - started

    pipeline.store_changes = timed


def _audit_line(job, commit_seconds: float) -> str:
    from django.db.models import Count, Sum

    from dataimport.models import ImportChange

    got = ImportChange.objects.filter(job=job).aggregate(rows=Count("id"), ids=Sum("count"))
    share = AUDIT["seconds"] / commit_seconds if commit_seconds else 0
    return (f"job history {got['ids'] or 0:,} row ids in {got['rows']:,} rows, {AUDIT['seconds']:.2f}s "
            f"({share:.1%} of the commit)")


def _import(kind: str, path: str):
    from dataimport import services
    from dataimport.models import JobStatus

    AUDIT["seconds"] = 0.0

    with open(path, "rb") as fh:
        job = services.job_create(import_type=kind, upload=fh, file_name=os.path.basename(path), run=False)
    started = time.perf_counter()
    job = services.dry_run(job_id=job.pk)
    dry = time.perf_counter() - started
    assert job.status == JobStatus.VALIDATED and job.rejected == 0, (job.status, job.file_error, job.rejected)
    services.job_commit(job=job, queue=False)
    started = time.perf_counter()
    while services.commit_run(job_id=job.pk) == "more":
        pass
    committed = time.perf_counter() - started
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    return job, dry, committed


def _copy_seconds(tables: list[tuple[str, list[str], object]], references: dict[str, str] | None = None) -> float:
    """COPY typed rows into plain tables shaped like the real ones, all in one transaction, timed
    up to its commit, then dropped. Shaped like: the same columns, defaults, indexes, CHECK
    constraints and foreign keys (deferred, as Django makes them: checked at the commit, which is
    why the commit is timed); a reference to a table also copied points at its copy
    (``references``: real table -> its copy, filled in here). Row-level security is the one thing
    left out: COPY cannot write a table under it (the importer stages and INSERTs for that)."""
    from django.db import connection

    references = {} if references is None else references
    data = {}
    for table, _columns, rows in tables:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
        data[table] = buffer.getvalue()
        references[table] = f"bench_copy_{table}"
    with connection.cursor() as cursor:
        connection.set_autocommit(False)
        try:
            for table, _columns, _rows in tables:
                scratch = references[table]
                cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
                cursor.execute(f"CREATE TABLE {scratch} (LIKE {table} INCLUDING DEFAULTS INCLUDING IDENTITY "
                               "INCLUDING INDEXES INCLUDING CONSTRAINTS)")
                cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                               "AND is_nullable = 'NO' AND column_name <> 'id'", [scratch])
                for (column,) in cursor.fetchall():  # the columns left out stay empty (the importer fills them all)
                    cursor.execute(f'ALTER TABLE {scratch} ALTER COLUMN "{column}" DROP NOT NULL')
                cursor.execute("SELECT conname, pg_get_constraintdef(oid), confrelid::regclass::text FROM pg_constraint "
                               "WHERE conrelid = %s::regclass AND contype = 'f'", [table])
                for name, definition, target in cursor.fetchall():
                    if target in references:
                        definition = definition.replace(f"REFERENCES {target}(", f"REFERENCES {references[target]}(")
                    cursor.execute(f'ALTER TABLE {scratch} ADD CONSTRAINT "bc_{name[:55]}" {definition}')
            connection.commit()
            connection.apply_tenant_setting()
            started = time.perf_counter()
            for table, columns, _rows in tables:
                with cursor.cursor.copy(f"COPY {references[table]} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(data[table])
            connection.commit()  # the deferred foreign key checks run here
            seconds = time.perf_counter() - started
        finally:
            connection.rollback()
            for table, _columns, _rows in reversed(tables):
                cursor.execute(f"DROP TABLE IF EXISTS {references[table]} CASCADE")
            connection.commit()
            connection.set_autocommit(True)
    return seconds


def run(args) -> None:
    from bench.harness import report
    from dataimport.selectors import reconciliation_rows
    from erp.tenancy.context import tenant_context
    from erp.tenancy.models import Tenant
    from integrations.models import Shop

    n_skus = 20_000 if args.quick else 100_000
    n_lines = 100_000 if args.quick else 1_000_000
    tenant, _ = Tenant.objects.get_or_create(slug="bench-imports", defaults={"name": "Bench imports"})
    workdir = tempfile.mkdtemp(prefix="bench-imports-")
    os.environ["DATAIMPORT_DIR"] = os.path.join(workdir, "store")
    from django.conf import settings

    settings.DATAIMPORT_DIR = os.environ["DATAIMPORT_DIR"]
    settings.DATAIMPORT_MAX_FILE_BYTES = 1024 * 1024 * 1024
    sku_path, order_path = os.path.join(workdir, "skus.csv"), os.path.join(workdir, "orders.csv")
    _write_csv(sku_path, SKU_HEADER, _sku_rows(n_skus))
    _write_csv(order_path, ORDER_HEADER, _order_rows(n_lines, n_skus))
    print(f"  files: {n_skus:,} SKUs ({os.path.getsize(sku_path) / 1e6:.1f} MB), {n_lines:,} order lines "
          f"({os.path.getsize(order_path) / 1e6:.1f} MB); RSS before {_rss_mb():.0f} MB", flush=True)

    _timed_store_changes()
    with tenant_context(tenant):
        Shop.objects.get_or_create(code="tb-main", defaults={"name": "TB", "platform": "taobao"})
        sku_job, sku_dry, sku_commit = _import("skus", sku_path)
        print(f"  SKUs: dry run {sku_dry:.1f}s, commit {sku_commit:.1f}s, created {sku_job.created_count:,}; "
              f"{_audit_line(sku_job, sku_commit)}; peak RSS {_rss_mb():.0f} MB", flush=True)
        order_job, order_dry, order_commit = _import("orders", order_path)
        print(f"  order lines: dry run {order_dry:.1f}s, commit {order_commit:.1f}s, created {order_job.created_count:,}; "
              f"{_audit_line(order_job, order_commit)}; peak RSS {_rss_mb():.0f} MB", flush=True)
        mismatched = [r["metric"] for r in reconciliation_rows(order_job) + reconciliation_rows(sku_job) if not r["matches"]]
        again, again_dry, again_commit = _import("orders", order_path)
        changed = again.created_count + again.updated_count
        print(f"  the same order file again: {again.skipped_count:,} unchanged, {changed} changed "
              f"(dry run {again_dry:.1f}s, commit {again_commit:.1f}s); reconciliation "
              f"{'matches' if not mismatched else 'DIFFERS: ' + ', '.join(mismatched[:5])}", flush=True)

        sku_again, _d, sku_again_commit = _import("skus", sku_path)
        print(f"  the same SKU file again: {sku_again.skipped_count:,} unchanged, "
              f"{sku_again.created_count + sku_again.updated_count} changed (commit {sku_again_commit:.1f}s)", flush=True)

        now = datetime.now(UTC).isoformat()
        shop = Shop.objects.get(code="tb-main")
        product_ids: dict[str, int] = {}
        for r in _sku_rows(n_skus):
            product_ids.setdefault(r[2], len(product_ids) + 1)
        sku_seconds = _copy_seconds([
            ("inventory_product", ["id", "tenant_id", "created_at", "updated_at", "code", "name", "category", "brand",
                                   "description", "status"],
             ([pid, tenant.pk, now, now, code, code, "", "", "", "active"] for code, pid in product_ids.items())),
            ("inventory_sku", ["tenant_id", "created_at", "updated_at", "product_id", "code", "barcode", "name", "attributes",
                               "unit_cost", "currency", "weight_grams", "status", "is_bundle"],
             ([tenant.pk, now, now, product_ids[r[2]], r[0], r[3], r[1], "{}", r[4], "CNY", r[5], "active", "f"]
              for r in _sku_rows(n_skus))),
        ])
        orders, lines = {}, []
        for r in _order_rows(n_lines, n_skus):
            orders.setdefault(r[1], (r[7], r[8], r[9]))
            lines.append(r)
        order_ids = {poid: i for i, poid in enumerate(orders, start=1)}
        line_seconds = _copy_seconds([
            ("orders_order", ["id", "tenant_id", "created_at", "updated_at", "shop_id", "platform", "platform_order_id",
                              "kind", "buyer_id", "buyer_level", "seller_flag", "status", "paid_at", "platform_created_at",
                              "source_ref", "platform_status", "goods_amount", "discount_amount", "freight_amount",
                              "paid_amount", "line_count", "total_quantity", "weight_g", "is_presale",
                              "presale_fully_paid", "currency"],
             ([order_ids[poid], tenant.pk, now, now, shop.pk, "taobao", poid, "platform", buyer, 0, 0, status, paid, paid,
               f"hist:{shop.pk}:{poid}", "imported", "0", "0", "0", "0", 1, 1, 0, "f", "t", "CNY"]
              for poid, (paid, status, buyer) in orders.items())),
            ("orders_orderline", ["tenant_id", "order_id", "origin_order_id", "platform_order_id", "platform_line_id",
                                  "outer_id", "sku_id", "sku_code", "quantity", "price", "discount", "paid",
                                  "is_presale", "weight_g", "refund_version", "is_stopped", "is_reserved", "is_committed",
                                  "title", "platform_item_id", "platform_sku_id", "sku_properties", "refund_state",
                                  "platform_refund_id"],
             ([tenant.pk, order_ids[r[1]], order_ids[r[1]], r[1], r[2], r[3], 1, r[3], r[4], r[5], "0", r[6], "f", 0, -1,
               "f", "f", "f", "", "", "", "", "", ""] for r in lines)),
        ])
        del lines, orders, order_ids, product_ids

    sku_copy_rate = n_skus / sku_seconds
    line_copy_rate = n_lines / line_seconds
    report("SKUs dry run (rows/s)", n_skus / sku_dry, "COPY", sku_copy_rate, unit=" rows/s")
    report("SKUs commit (rows/s)", n_skus / sku_commit, "COPY", sku_copy_rate, unit=" rows/s", target=0.25)
    report("order lines dry run (rows/s)", n_lines / order_dry, "COPY", line_copy_rate, unit=" rows/s")
    report("order lines commit (rows/s)", n_lines / order_commit, "COPY", line_copy_rate, unit=" rows/s", target=0.25)
    print(f"  peak RSS of the run: {_rss_mb():.0f} MB (files streamed; the order COPY baseline holds its rows in memory)",
          flush=True)
    shutil.rmtree(workdir, ignore_errors=True)  # the generated files and the stored uploads
