"""Members imported with their purchase history before this system: the file's lifetime spend and
orders (else the buyer's imported historical orders) are booked as opening history, which levels
and RFM count; historical orders imported later feed members already there; the same files again
change nothing."""

from decimal import Decimal

import pytest

from members.models import Member, MemberIdentity, MemberLevel, MemberOpening

from .helpers import csv_bytes, dry_run, recon_ok, run

pytestmark = pytest.mark.django_db

MEMBERS = [["平台", "买家ID", "姓名", "累计消费金额", "累计订单数", "最近购买时间"],
           ["淘宝", "tb_1", "李四", "6,000.00", "12", "2024-05-20 21:30"],
           ["淘宝", "tb_2", "王五", "", "", ""],
           ["淘宝", "tb_3", "赵六", "", "", ""]]
ORDERS_HEAD = ["shop_code", "platform_order_id", "line_no", "sku_code", "quantity", "price", "paid", "paid_at", "status",
               "buyer_id", "freight"]


@pytest.fixture
def world(in_tenant_a):
    from integrations.models import Shop

    Shop.objects.create(code="tb-main", name="TB", platform="taobao")
    run("skus", csv_bytes([["sku_code", "name"], ["A", "A"]]))
    MemberLevel.objects.create(rank=1, name="银卡", min_spend=Decimal("1000"))
    MemberLevel.objects.create(rank=2, name="金卡", min_spend=Decimal("5000"))


def member(buyer_id) -> Member:
    return Member.objects.get(pk=MemberIdentity.objects.get(buyer_id=buyer_id).member_id)


def test_lifetime_columns_and_historical_orders_feed_levels_and_rfm(world):
    orders = [ORDERS_HEAD,
              ["tb-main", "H1", "1", "A", "1", "700", "700", "2023-01-05 10:00", "completed", "tb_2", "10"],
              ["tb-main", "H2", "1", "A", "1", "500", "500", "2023-08-05 10:00", "completed", "tb_2", ""],
              ["tb-main", "H3", "1", "A", "1", "900", "900", "2023-09-05 10:00", "cancelled", "tb_2", ""]]
    run("orders", csv_bytes(orders))  # before the members: nobody to feed yet

    job = run("members", csv_bytes(MEMBERS))
    assert job.created_count == 3 and recon_ok(job), job.reconciliation
    tb1, tb2, tb3 = member("tb_1"), member("tb_2"), member("tb_3")
    assert (tb1.lifetime_paid, tb1.order_count, tb1.level.name) == (Decimal("6000.00"), 12, "金卡")
    assert tb1.last_order_at.year == 2024
    # tb_2: no figures in the file -> its imported orders (the cancelled one is no sale; freight is not spend)
    assert (tb2.lifetime_paid, tb2.order_count, tb2.level.name) == (Decimal("1200.00"), 2, "银卡")
    assert tb2.first_order_at.year == 2023 and tb2.last_order_at.month == 8
    assert (tb3.lifetime_paid, tb3.order_count, tb3.level) == (0, 0, None)
    assert tb1.segment and tb2.segment and tb1.rfm_m > tb2.rfm_m and tb3.segment == ""  # RFM counts the history
    assert MemberOpening.objects.get(identity__buyer_id="tb_1").source == "file"
    assert MemberOpening.objects.get(identity__buyer_id="tb_2").source == "orders"

    stamps = dict(Member.objects.values_list("pk", "updated_at"))
    again = run("members", csv_bytes(MEMBERS))
    assert (again.created_count, again.updated_count, again.skipped_count) == (0, 0, 3)
    assert dict(Member.objects.values_list("pk", "updated_at")) == stamps and MemberOpening.objects.count() == 2

    more = [ORDERS_HEAD, ["tb-main", "H4", "1", "A", "1", "4000", "4000", "2024-02-01 10:00", "completed", "tb_2", ""],
            ["tb-main", "H5", "1", "A", "1", "99", "99", "2024-02-01 10:00", "completed", "tb_1", ""]]
    run("orders", csv_bytes(more))  # tb_2 is a member now: its history grows; tb_1 keeps the file's figures
    tb2 = member("tb_2")
    assert (tb2.lifetime_paid, tb2.order_count, tb2.level.name) == (Decimal("5200.00"), 3, "金卡")
    assert member("tb_1").lifetime_paid == Decimal("6000.00")
    run("orders", csv_bytes(more))
    assert member("tb_2").order_count == 3


def test_changed_lifetime_figures_update_the_member(world):
    run("members", csv_bytes(MEMBERS[:2]))
    changed = [MEMBERS[0], ["淘宝", "tb_1", "李四", "800", "", ""]]
    checked = dry_run("members", csv_bytes(changed))
    assert (checked.to_create, checked.to_update) == (0, 1)
    job = run("members", csv_bytes(changed))
    assert job.updated_count == 1
    tb1 = member("tb_1")
    assert (tb1.lifetime_paid, tb1.order_count) == (Decimal("800.00"), 12)  # the blank orders cell keeps 12
    assert tb1.level.name == "金卡"  # below its level now: down per the downgrade policy, not at once


def test_bad_lifetime_cells_are_line_numbered(world):
    rows = [MEMBERS[0], ["淘宝", "tb_1", "李四", "abc", "-1", "someday"]]
    job = dry_run("members", csv_bytes(rows))
    assert {(i.line, i.column) for i in job.issues.all()} == {(2, "累计消费金额"), (2, "累计订单数"), (2, "最近购买时间")}
