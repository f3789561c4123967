"""The set-based commit paths (a staging table, then one statement per table for a batch): a blank
optional cell keeps the stored value, a product's changes count its SKUs as updated, orders whose
lines span batches get their totals from every line, a changed line is updated and its order's
totals recomputed, the dry run counts what the commit writes, and the same file again changes 0
rows (nothing rewritten: ``updated_at`` stays)."""

import dataclasses
from decimal import Decimal

import pytest

from dataimport import specs
from inventory.models import SKU, Product
from orders.models import Order, OrderLine

from .helpers import csv_bytes, dry_run, run

pytestmark = pytest.mark.django_db

SKU_HEAD = ["sku_code", "name", "product_code", "category", "barcode", "unit_cost"]


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 2 rows: an order's lines and a product's SKUs fall into several batches."""
    specs.get_type("skus")
    for name in ("skus", "orders"):
        monkeypatch.setitem(specs.REGISTRY, name, dataclasses.replace(specs.REGISTRY[name], batch_size=2))


def test_skus_blank_cells_keep_values_product_changes_and_rerun(in_tenant_a, small_batches):
    first = [SKU_HEAD, ["A1", "a1", "P", "服装", "690001", "10"], ["A2", "a2", "P", "", "690002", "11"],
             ["A3", "a3", "P", "", "", "12"], ["B1", "b1", "", "", "", ""]]
    job = run("skus", csv_bytes(first))
    assert (job.created_count, job.updated_count, job.skipped_count) == (4, 0, 0)
    product = Product.objects.get(code="P")
    assert product.name == "a1" and product.category == "服装"  # no product name: its first SKU's
    assert SKU.objects.get(code="B1").unit_cost == Decimal("0.00") and SKU.objects.get(code="B1").product is None
    stamps = dict(SKU.objects.values_list("code", "updated_at"))

    second = [SKU_HEAD, ["A1", "a1", "P", "家居", "", ""], ["A2", "a2", "P", "", "", "11"], ["B1", "b1", "", "", "", "5"]]
    checked = dry_run("skus", csv_bytes(second))
    job = run("skus", csv_bytes(second))
    assert (checked.to_create, checked.to_update, checked.to_skip) == (job.created_count, job.updated_count, job.skipped_count)
    # the category moves on the product, so both of its SKUs in the file change; B1 takes its cost
    assert (job.created_count, job.updated_count, job.skipped_count) == (0, 3, 0)
    a1 = SKU.objects.get(code="A1")
    assert a1.barcode == "690001" and a1.unit_cost == Decimal("10.00")  # blank cells keep the stored values
    assert Product.objects.get(code="P").category == "家居" and SKU.objects.get(code="B1").unit_cost == Decimal("5.00")
    assert SKU.objects.get(code="A3").updated_at == stamps["A3"]

    stamps = dict(SKU.objects.values_list("code", "updated_at"))
    again = run("skus", csv_bytes(second))
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 3)
    assert dict(SKU.objects.values_list("code", "updated_at")) == stamps  # nothing rewritten


ORDER_HEAD = ["shop_code", "platform_order_id", "line_no", "sku_code", "quantity", "price", "paid", "paid_at", "status"]


@pytest.fixture
def shop_and_skus(in_tenant_a):
    from integrations.models import Shop

    Shop.objects.create(code="tb-main", name="TB", platform="taobao")
    run("skus", csv_bytes([["sku_code", "name"], ["A", "A"], ["B", "B"]]))


def test_orders_spanning_batches_changed_line_and_rerun(shop_and_skus, small_batches):
    rows = [ORDER_HEAD,
            ["tb-main", "T1", "1", "A", "1", "10", "10", "2023-05-01 10:00", "completed"],
            ["tb-main", "T1", "2", "B", "2", "5", "9", "2023-05-01 10:00", "completed"],
            ["tb-main", "T1", "3", "A", "1", "10", "10", "2023-05-01 10:00", "completed"],
            ["tb-main", "T2", "1", "B", "1", "5", "5", "2023-06-01 10:00", "cancelled"],
            ["tb-main", "T2", "2", "A", "1", "10", "10", "2023-06-01 10:00", "cancelled"]]
    job = run("orders", csv_bytes(rows))
    assert (job.created_count, job.updated_count, job.skipped_count) == (5, 0, 0)
    t1 = Order.objects.get(platform_order_id="T1")
    assert (t1.line_count, t1.total_quantity, t1.goods_amount, t1.paid_amount, t1.discount_amount) == (
        3, 4, Decimal("30.00"), Decimal("29.00"), Decimal("1.00"))
    assert t1.source_ref.startswith("hist:") and t1.platform_status == "imported"
    assert all(line.is_stopped for line in OrderLine.objects.filter(platform_order_id="T2"))  # its order is cancelled
    assert Order.objects.get(platform_order_id="T2").line_count == 2
    assert job.reconciliation["file"] == job.reconciliation["db"]

    rows[2][6] = "10"  # T1 line 2 now paid 10 instead of 9
    checked = dry_run("orders", csv_bytes(rows))
    assert (checked.to_create, checked.to_update, checked.to_skip) == (0, 1, 4)
    stamp = Order.objects.get(platform_order_id="T2").updated_at
    job = run("orders", csv_bytes(rows))
    assert (job.created_count, job.updated_count, job.skipped_count) == (0, 1, 4)
    t1.refresh_from_db()
    assert t1.paid_amount == Decimal("30.00") and t1.discount_amount == Decimal("0.00")
    assert OrderLine.objects.get(platform_order_id="T1", platform_line_id="2").discount == Decimal("0.00")
    assert Order.objects.get(platform_order_id="T2").updated_at == stamp  # an order without changes is not touched

    again = run("orders", csv_bytes(rows))
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 5)
    assert OrderLine.objects.count() == 5


def test_orders_bad_rows_keep_their_line_numbers(shop_and_skus, small_batches):
    rows = [ORDER_HEAD,
            ["tb-main", "T1", "1", "A", "1", "10", "10", "2023-05-01 10:00", "completed"],
            ["tb-main", "T1", "2", "NOPE", "1", "10", "10", "2023-05-01 10:00", "completed"],
            ["tb-x", "T2", "1", "A", "1", "10", "10", "2023-05-01 10:00", "completed"],
            ["tb-main", "T3", "1", "A", "1", "1,2,3", "10", "2023-05-01 10:00", "completed"]]
    job = dry_run("orders", csv_bytes(rows))
    found = sorted((i.line, i.column) for i in job.issues.all())
    assert found == [(3, "sku_code"), (4, "shop_code"), (5, "price")]
    assert (job.to_create, job.rejected) == (1, 3)
