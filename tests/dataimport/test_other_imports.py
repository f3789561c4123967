"""Suppliers, supplier items, members (identities, phone, level, opening points), account opening
balances."""

from decimal import Decimal

import pytest

from dataimport.models import JobStatus

from .helpers import commit, csv_bytes, dry_run, issues, recon_ok, run, xlsx_bytes

pytestmark = pytest.mark.django_db


def test_suppliers_and_items(in_tenant_a):
    from purchasing.models import Supplier, SupplierItem

    run("skus", csv_bytes([["sku_code", "name"], ["A", "A"], ["B", "B"]]))
    rows = [["供应商编码", "供应商名称", "联系人", "邮箱", "账期(天)", "启用"], ["S1", "杭州服饰", "张三", "a@example.com", "45", "是"],
            ["S2", "义乌小商品", "", "", "", "否"], ["S3", "坏邮箱", "", "not-an-email", "", ""]]
    job = dry_run("suppliers", csv_bytes(rows, encoding="gb18030"))
    assert issues(job) == [(4, "邮箱", "“not-an-email” is not an email address")]
    job = commit(job, valid_only=True)
    assert job.created_count == 2 and recon_ok(job)
    assert Supplier.objects.get(code="S1").payment_terms_days == 45 and not Supplier.objects.get(code="S2").is_active
    items = [["supplier_code", "sku_code", "unit_price", "MOQ", "Case pack", "Lead time (days)", "Preferred"],
             ["S1", "A", "¥22.00", "50", "10", "7", "yes"], ["S2", "A", "21", "", "", "", "yes"],
             ["S2", "B", "3.5", "1", "1", "3", "no"], ["S9", "B", "1", "1", "1", "1", ""]]
    job = dry_run("supplier_items", csv_bytes(items))
    assert [line for line, _c, _m in issues(job)] == [3, 5]
    job = commit(job, valid_only=True)
    assert job.created_count == 2 and recon_ok(job)
    item = SupplierItem.objects.get(supplier__code="S1", sku__code="A")
    assert (item.unit_price, item.min_order_quantity, item.order_multiple, item.lead_time_days, item.is_preferred) == (
        Decimal("22.00"), 50, 10, 7, True)
    # S2 becomes preferred for A in a later file: the flag moves
    job = run("supplier_items", csv_bytes([items[0], ["S2", "A", "21", "", "", "", "是"]]))
    assert job.created_count == 1
    assert list(SupplierItem.objects.filter(sku__code="A", is_preferred=True).values_list("supplier__code", flat=True)) == ["S2"]
    assert run("supplier_items", csv_bytes([items[0], ["S2", "A", "21", "", "", "", "是"]])).skipped_count == 1


def test_members_identities_points_and_levels(in_tenant_a):
    from members.models import Member, MemberIdentity, MemberLevel, PointsEntry
    from members.services import points_balance

    MemberLevel.objects.create(rank=1, name="金卡")
    rows = [["平台", "买家ID", "姓名", "手机号", "会员等级", "积分余额"],
            ["淘宝", "tb_1", "李四", "138 0013 8000", "金卡", "1200"],
            ["京东", "jd_1", "李四", "+86 13800138000", "", "300"],
            ["pdd", "pdd_1", "王五", "138****8000", "", ""],
            ["taobao", "tb_2", "赵六", "", "钻石", "10"],
            ["weibo", "wb_1", "", "", "", ""]]
    job = dry_run("members", xlsx_bytes(rows), name="members.xlsx")
    assert [(line, col) for line, col, _m in issues(job)] == [(5, "会员等级"), (6, "平台")]
    job = commit(job, valid_only=True)
    assert job.created_count == 3 and recon_ok(job), job.reconciliation
    tb = MemberIdentity.objects.get(platform="taobao", buyer_id="tb_1").member
    jd = MemberIdentity.objects.get(platform="jd", buyer_id="jd_1").member
    assert tb.pk == jd.pk  # one person across platforms: the same phone
    assert MemberIdentity.objects.get(buyer_id="pdd_1").member_id != tb.pk  # a masked phone never matches
    assert tb.level.name == "金卡" and points_balance(member_id=tb.pk) == 1500
    assert Member.objects.get(pk=tb.pk).points_balance == 1500
    assert PointsEntry.objects.count() == 2
    again = run("members", xlsx_bytes(rows[:4]), name="members.xlsx")
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 3)
    assert PointsEntry.objects.count() == 2
    changed = dry_run("members", csv_bytes([rows[0], ["淘宝", "tb_1", "李四", "", "", "999"]]))
    assert "already" in issues(changed)[0][2]


def test_account_opening_balances(in_tenant_a):
    from finance.models import Voucher

    rows = [["科目编码", "借方余额", "贷方余额", "日期"], ["1002", "50,000.00", "", "2024-01-01"],
            ["2202", "", "20000", "2024-01-01"], ["3001", "", "30000", "2024-01-01"]]
    job = run("account_balances", csv_bytes(rows))
    assert job.status == JobStatus.DONE and recon_ok(job), job.reconciliation
    voucher = Voucher.objects.get(source_ref="opening-balances")
    assert voucher.status == "posted" and voucher.date.isoformat() == "2024-01-01"
    assert run("account_balances", csv_bytes(rows)).skipped_count == 3
    unbalanced = dry_run("account_balances", csv_bytes([rows[0], ["1002", "10", "", ""], ["9999", "", "5", ""]]))
    assert {m for _l, _c, m in issues(unbalanced)} >= {"unknown account “9999”"}
    assert unbalanced.rejected == 2
