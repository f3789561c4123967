"""Historical orders: stored as completed/cancelled orders that never touch stock or the books,
feed daily_sales, are idempotent, and are refused for an order the platform already sent."""

import datetime as dt
from decimal import Decimal

import pytest

from dataimport.models import JobStatus
from orders.models import Order, OrderLine

from .helpers import csv_bytes, dry_run, issues, recon_ok, run, xlsx_bytes

pytestmark = pytest.mark.django_db

HEAD = ["店铺编码", "订单号", "行号", "商家编码", "数量", "单价", "实付金额", "付款时间", "订单状态", "买家ID", "运费"]


@pytest.fixture
def catalogue(in_tenant_a):
    from integrations.models import Shop

    from .helpers import csv_bytes as make

    shop = Shop.objects.create(code="tb-main", name="TB", platform="taobao")
    run("skus", make([["sku_code", "name", "unit_cost"], ["A", "A", "10"], ["B", "B", "5"]]))
    run("warehouses", make([["code", "name"], ["WH", "WH"]]))
    run("opening_stock", make([["warehouse_code", "sku_code", "quantity"], ["WH", "A", "7"]]))
    return shop


ROWS = [HEAD,
        ["tb-main", "T1", "1", "A", "2", "59.00", "110.00", "2023/06/18 20:15", "交易成功", "buyer1", "5"],
        ["tb-main", "T1", "2", "B", "1", "¥20", "20", "2023-06-18 20:15:00", "交易成功", "buyer1", ""],
        ["tb-main", "T2", "1", "A", "1", "59", "59", "2024年1月2日", "已取消", "buyer2", ""],
        ["tb-main", "T3", "1", "B", "3", "20", "1,234.50", "20240201", "completed", "", ""]]


def test_historical_orders_end_to_end(catalogue):
    from finance.models import Voucher
    from inventory.models import StockLevel, StockMove
    from orders.selectors import daily_sales

    moves_before, vouchers_before = StockMove.objects.count(), Voucher.objects.count()
    job = run("orders", csv_bytes(ROWS, encoding="gb18030"))
    assert job.status == JobStatus.DONE and job.created_count == 4 and recon_ok(job), job.reconciliation
    t1 = Order.objects.get(platform_order_id="T1")
    assert t1.status == "completed" and t1.line_count == 2 and t1.total_quantity == 3
    assert t1.goods_amount == Decimal("138.00") and t1.paid_amount == Decimal("135.00")  # 110 + 20 + freight 5
    assert Order.objects.get(platform_order_id="T2").status == "cancelled"
    assert not OrderLine.objects.filter(is_reserved=True).exists() and not OrderLine.objects.filter(is_committed=True).exists()
    assert StockMove.objects.count() == moves_before and Voucher.objects.count() == vouchers_before
    assert StockLevel.objects.get(sku__code="A").reserved == 0
    sales = {(d.day, d.sku_id): d.quantity for d in daily_sales(since=dt.date(2023, 1, 1), until=dt.date(2024, 12, 31))}
    assert sum(sales.values()) == 2 + 1 + 3  # the cancelled order is not a sale
    assert job.reconciliation["file"]["amount:2023-06"] == "130.00"
    again = run("orders", csv_bytes(ROWS))
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 4)
    assert OrderLine.objects.count() == 4


def test_historical_orders_xlsx_update_and_bad_rows(catalogue):
    run("orders", csv_bytes(ROWS))
    rows = [["shop_code", "platform_order_id", "line_no", "sku_code", "quantity", "paid", "paid_at"],
            ["tb-main", "T1", "1", "A", "2", 100.5, dt.datetime(2023, 6, 18, 20, 15)],
            ["tb-main", "T1", "3", "A", "1", 10, dt.datetime(2023, 6, 18, 20, 15)],
            ["tb-main", "T9", "1", "NOPE", "1", 10, "2023-06-18"],
            ["nope", "T9", "1", "A", "1", 10, "2023-06-18"],
            ["tb-main", "T1", "3", "A", "1", 10, "2023-06-18"],
            ["tb-main", "T8", "1", "A", "0", "abc", "31/31/2023"]]
    job = dry_run("orders", xlsx_bytes(rows), name="orders.xlsx")
    found = issues(job)
    lines = sorted({line for line, _c, _m in found})
    assert lines == [4, 5, 6, 7]
    assert any("duplicate key" in m for line, _c, m in found if line == 6)
    assert {c for line, c, _m in found if line == 7} == {"quantity", "paid", "paid_at"}
    assert (job.to_create, job.to_update) == (1, 1)
    job = run_valid_only(job)
    assert Order.objects.get(platform_order_id="T1").line_count == 3
    assert OrderLine.objects.get(platform_order_id="T1", platform_line_id="1").paid == Decimal("100.50")


def run_valid_only(job):
    from .helpers import commit

    return commit(job, valid_only=True)


def test_an_order_pulled_from_the_platform_is_not_imported(catalogue):
    Order.objects.create(shop=catalogue, platform="taobao", platform_order_id="T1", status="shipped")
    job = dry_run("orders", csv_bytes(ROWS[:2]))
    assert issues(job)[0][0] == 2 and "pulled from the platform" in issues(job)[0][2]
