"""SKUs, warehouses, opening stock (ledger + books), bundles, barcodes, platform SKU mappings."""

from decimal import Decimal

import pytest
from django.core.management import call_command

from dataimport.models import JobStatus
from inventory.models import (
    SKU,
    BundleComponent,
    PlatformSkuMapping,
    Product,
    StockLevel,
    StockMove,
    Warehouse,
)

from .helpers import commit, csv_bytes, dry_run, issues, recon_ok, run, xlsx_bytes

pytestmark = pytest.mark.django_db

SKU_ROWS_ZH = [
    ["商家编码*", "SKU名称*", "商品编码", "商品名称", "条码", "成本价", "重量(克)", "规格属性", "状态"],
    ["TEE-W-M", "T恤 白 M", "TEE", "纯棉T恤", "6901", "¥25.50", "200", "颜色:白;尺码:M", "启用"],
    ["TEE-W-L", "T恤 白 L", "TEE", "纯棉T恤", "6902", "1,025.00", "210", "颜色:白;尺码:L", "active"],
    ["MUG", "马克杯", "", "", "", "12", "", "", ""],
]


def test_skus_utf8_bom_chinese_headers_dry_run_commit_and_rerun(in_tenant_a):
    data = csv_bytes(SKU_ROWS_ZH, bom=True)
    job = dry_run("skus", data)
    assert job.status == JobStatus.VALIDATED and job.file_format == "csv" and job.encoding == "utf-8-sig"
    assert (job.total_rows, job.to_create, job.to_update, job.to_skip, job.rejected) == (3, 3, 0, 0, 0)
    assert SKU.objects.count() == 0  # a dry run stores nothing
    job = commit(job)
    assert job.status == JobStatus.DONE and job.created_count == 3
    tee = SKU.objects.get(code="TEE-W-L")
    assert tee.unit_cost == Decimal("1025.00") and tee.product.code == "TEE" and tee.attributes == {"颜色": "白", "尺码": "L"}
    assert Product.objects.count() == 1 and SKU.objects.get(code="MUG").product is None
    assert recon_ok(job)
    again = run("skus", data)
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 3)


def test_skus_gb18030_english_headers_update(in_tenant_a):
    run("skus", csv_bytes(SKU_ROWS_ZH, bom=True))
    rows = [["SKU code", "SKU name", "Unit cost"], ["TEE-W-M", "T恤 白色 M", "26.00"], ["MUG", "马克杯", "12.00"]]
    job = run("skus", csv_bytes(rows, encoding="gb18030"))
    assert job.encoding == "gb18030"
    assert (job.created_count, job.updated_count, job.skipped_count) == (0, 1, 1)
    sku = SKU.objects.get(code="TEE-W-M")
    assert sku.name == "T恤 白色 M" and sku.barcode == "6901"  # a column left out keeps its value


def test_skus_xlsx(in_tenant_a):
    rows = [["sku_code", "name", "unit_cost", "weight_grams"], ["X1", "杯子", 12.3, 100], ["X2", "盘子", 8, None]]
    job = run("skus", xlsx_bytes(rows), name="skus.xlsx")
    assert job.file_format == "xlsx" and job.created_count == 2
    assert SKU.objects.get(code="X1").unit_cost == Decimal("12.30")


def test_warehouses(in_tenant_a):
    rows = [["仓库编码", "仓库名称", "类型", "服务省份", "优先级", "启用"],
            ["WH-SH", "上海仓", "自营", "上海，江苏,浙江", "10", "是"], ["WH-GZ", "广州仓", "第三方", "", "20", "否"]]
    job = run("warehouses", csv_bytes(rows))
    assert job.created_count == 2 and recon_ok(job)
    sh = Warehouse.objects.get(code="WH-SH")
    assert sh.regions == ["上海", "江苏", "浙江"] and sh.priority == 10 and sh.kind == "own"
    assert Warehouse.objects.get(code="WH-GZ").is_active is False
    assert run("warehouses", csv_bytes(rows)).skipped_count == 2


def _catalogue():
    run("warehouses", csv_bytes([["code", "name"], ["WH-SH", "上海仓"], ["WH-GZ", "广州仓"]]))
    run("skus", csv_bytes([["sku_code", "name", "unit_cost"], ["A", "A", "10.00"], ["B", "B", "5.00"], ["C", "C", "0"]]))


def test_opening_stock_through_the_ledger_and_the_books(in_tenant_a, capsys):
    from finance.models import VoucherLine

    _catalogue()
    rows = [["仓库编码", "商家编码", "库存数量", "成本单价"],
            ["WH-SH", "A", "100", "10.00"], ["WH-GZ", "A", "50", "13.00"], ["WH-SH", "B", "1,000", "¥5"]]
    job = run("opening_stock", csv_bytes(rows))
    assert job.created_count == 3 and job.status == JobStatus.DONE
    levels = {(lv.warehouse.code, lv.sku.code): lv.on_hand for lv in StockLevel.objects.select_related("warehouse", "sku")}
    assert levels == {("WH-SH", "A"): 100, ("WH-GZ", "A"): 50, ("WH-SH", "B"): 1000}
    assert StockMove.objects.filter(source_doc="opening-stock").count() == 3
    assert SKU.objects.get(code="A").unit_cost == Decimal("11.00")  # (100*10 + 50*13) / 150
    debit = sum(VoucherLine.objects.filter(account__code="1405").values_list("debit", flat=True))
    credit = sum(VoucherLine.objects.filter(account__code="3104").values_list("credit", flat=True))
    assert debit == credit == Decimal("6650.00")
    assert recon_ok(job), job.reconciliation
    call_command("verify_stock", "--tenant", in_tenant_a.tenant.slug)  # raises on drift
    from inventory.services import stock_verify

    assert stock_verify() == []
    again = run("opening_stock", csv_bytes(rows))
    assert (again.created_count, again.skipped_count) == (0, 3) and recon_ok(again)
    assert StockMove.objects.filter(source_doc="opening-stock").count() == 3
    assert VoucherLine.objects.filter(account__code="1405").count() == 3


def test_opening_stock_rejects_unknown_codes_and_a_changed_quantity(in_tenant_a):
    _catalogue()
    run("opening_stock", csv_bytes([["warehouse_code", "sku_code", "quantity"], ["WH-SH", "A", "5"]]))
    job = dry_run("opening_stock", csv_bytes([["warehouse_code", "sku_code", "quantity"],
                                              ["WH-SH", "A", "6"], ["WH-XX", "A", "1"], ["WH-SH", "NOPE", "1"],
                                              ["WH-SH", "B", "-1"], ["WH-SH", "C", "2"]]))
    found = issues(job)
    assert [(line, col) for line, col, _m in found] == [(2, "quantity"), (3, "warehouse_code"),
                                                        (4, "sku_code"), (5, "quantity")]
    assert "already has opening stock of 5" in found[0][2]
    assert "unknown SKU code" in found[2][2]
    assert job.rejected == 4 and job.to_create == 1
    with pytest.raises(Exception, match="rejected"):
        commit(job)
    job = commit(job, valid_only=True)
    assert job.created_count == 1 and StockLevel.objects.get(sku__code="C").on_hand == 2


def test_bundles_and_barcodes(in_tenant_a):
    _catalogue()
    run("skus", csv_bytes([["sku_code", "name"], ["SET", "套装"]]))
    rows = [["组合装商家编码", "子商品商家编码", "数量"], ["SET", "A", "2"], ["SET", "B", "1"]]
    job = run("bundles", csv_bytes(rows))
    assert job.created_count == 2 and SKU.objects.get(code="SET").is_bundle and recon_ok(job)
    assert set(BundleComponent.objects.values_list("component__code", "quantity")) == {("A", 2), ("B", 1)}
    assert run("bundles", csv_bytes(rows)).skipped_count == 2
    bad = dry_run("bundles", csv_bytes([["bundle_code", "component_code", "quantity"], ["A", "NOPE", "1"], ["A", "B", "1"]]))
    assert bad.rejected == 2
    job = run("barcodes", csv_bytes([["商家编码", "条码"], ["A", "690000001"], ["B", "690000002"]]))
    assert job.updated_count == 2 and SKU.objects.get(code="A").barcode == "690000001"


def test_sku_mappings(in_tenant_a):
    from integrations.models import Shop

    _catalogue()
    Shop.objects.create(code="tb-main", name="TB", platform="taobao")
    rows = [["店铺编码", "平台商品ID", "平台SKU ID", "商家编码"], ["tb-main", "1001", "s1", "A"], ["tb-main", "1001", "", "B"],
            ["nope", "1", "", "A"]]
    job = dry_run("sku_mappings", csv_bytes(rows))
    assert issues(job) == [(4, "店铺编码", "unknown shop code “nope”")]
    job = commit(job, valid_only=True)
    assert job.created_count == 2
    assert set(PlatformSkuMapping.objects.values_list("platform_sku_id", "sku__code", "match_method")) == {
        ("s1", "A", "manual"), ("", "B", "manual")}
