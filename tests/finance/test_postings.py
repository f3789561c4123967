"""Posting rules from business events: accounts and amounts of each rule, idempotent per source
reference, and a failing posting never stops the business event."""

import datetime

import pytest

from erp import events
from finance import chart, services
from finance.models import PostingIssue, Reconciliation, SourceType, Voucher, VoucherLine
from finance.selectors import books_verify
from finance.services import rules

from .conftest import T0, D, line, ship

pytestmark = pytest.mark.django_db


def lines_of(voucher):
    return sorted((ln.account.code, ln.debit, ln.credit, ln.tag, ln.sku_id) for ln in voucher.lines.all())


def test_order_shipped_books_receivable_revenue_freight_and_cost(world):
    order = ship(world["shop"], "P1", line("A", 2, price="25.00"), line("B", 1, price="30.00"), freight="8.00")
    voucher = Voucher.objects.get(source_type=SourceType.ORDER_SHIPPED, source_ref=str(order.pk))
    a, b = world["A"].pk, world["B"].pk
    assert lines_of(voucher) == sorted([
        ("112201", D("88.00"), D("0"), "receivable", None),
        (chart.REVENUE, D("0"), D("50.00"), "sales", a),
        (chart.REVENUE, D("0"), D("30.00"), "sales", b),
        (chart.REVENUE, D("0"), D("8.00"), "freight", None),
        (chart.COGS, D("12.00"), D("0"), "cogs", a),
        (chart.INVENTORY, D("0"), D("12.00"), "stock", a),
        (chart.COGS, D("10.00"), D("0"), "cogs", b),
        (chart.INVENTORY, D("0"), D("10.00"), "stock", b),
    ])
    assert {ln.platform_order_id for ln in voucher.lines.all()} == {"P1"}
    assert {(ln.shop_id, ln.platform, ln.order_id) for ln in voucher.lines.all()} == {(world["shop"].pk, "taobao", order.pk)}
    rec = Reconciliation.objects.get(platform_order_id="P1")
    assert (rec.status, rec.shipped_amount, rec.order_id) == ("awaiting", D("88.00"), order.pk)
    assert books_verify() == []


def test_order_shipped_twice_posts_once(world):
    order = ship(world["shop"], "P1", line("A", 1, price="20.00"))
    events.publish("order.shipped", order_id=order.pk)
    services.on_order_shipped(order_id=order.pk)
    assert Voucher.objects.filter(source_type=SourceType.ORDER_SHIPPED).count() == 1
    assert Reconciliation.objects.get().shipped_amount == D("20.00")


def test_purchase_received_and_returned(books):
    payload = dict(receipt_id=7, purchase_order_id=3, supplier_id=11, warehouse_id=1,
                   received_at=T0, currency="CNY", amount=D("64.00"),
                   lines=[{"sku_id": 5, "quantity": 4, "unit_cost": D("6.00")}, {"sku_id": 6, "quantity": 2, "unit_cost": D("20.00")}])
    events.publish("purchase.received", **payload)
    events.publish("purchase.received", **payload)
    voucher = Voucher.objects.get(source_type=SourceType.PURCHASE_RECEIVED)
    assert voucher.source_ref == "7" and voucher.date == datetime.date(2026, 11, 10)
    assert lines_of(voucher) == sorted([(chart.INVENTORY, D("24.00"), D("0"), "stock", 5),
                                        (chart.INVENTORY, D("40.00"), D("0"), "stock", 6),
                                        (chart.PAYABLE, D("0"), D("64.00"), "payable", None)])
    assert {ln.supplier_id for ln in voucher.lines.all()} == {11}
    events.publish("purchase.returned", **{**payload, "receipt_id": 8, "lines": payload["lines"][:1], "amount": D("24.00")})
    back = Voucher.objects.get(source_type=SourceType.PURCHASE_RETURNED)
    assert lines_of(back) == sorted([(chart.PAYABLE, D("24.00"), D("0"), "payable", None),
                                     (chart.INVENTORY, D("0"), D("24.00"), "stock", 5)])


def test_aftersales_refund_reverses_revenue_against_the_platform_receivable(world):
    order = ship(world["shop"], "P1", line("A", 2, price="25.00"), line("B", 1, price="50.00"))
    payload = dict(ticket_id=9, order_id=order.pk, shop_id=world["shop"].pk, platform_order_id="P1", amount=D("30.00"),
                   currency="CNY", refunded_at=T0, kind="refund")
    events.publish("aftersales.refunded", **payload)
    events.publish("aftersales.refunded", **payload)
    voucher = Voucher.objects.get(source_type=SourceType.AFTERSALES_REFUNDED)
    got = lines_of(voucher)
    assert got == sorted([(chart.REVENUE, D("15.00"), D("0"), "returns", world["A"].pk),
                          (chart.REVENUE, D("15.00"), D("0"), "returns", world["B"].pk),
                          ("112201", D("0"), D("30.00"), "receivable", None)])
    rec = Reconciliation.objects.get(platform_order_id="P1")
    assert (rec.refunded_amount, rec.expected_amount) == (D("30.00"), D("70.00"))


def test_refund_without_order_still_books_against_the_shop_platform(world):
    events.publish("aftersales.refunded", ticket_id=10, order_id=None, shop_id=world["shop"].pk, platform_order_id="ZZ",
                   amount="12.50", currency="CNY", refunded_at=T0.isoformat(), kind="refund")
    voucher = Voucher.objects.get(source_type=SourceType.AFTERSALES_REFUNDED)
    assert lines_of(voucher) == sorted([(chart.REVENUE, D("12.50"), D("0"), "returns", None),
                                        ("112201", D("0"), D("12.50"), "receivable", None)])


def test_goods_returned_put_cost_back_in_stock_except_defective(world):
    payload = dict(ticket_id=9, warehouse_id=world["wh"].pk,
                   lines=[{"sku_id": world["A"].pk, "quantity": 2, "defective": False},
                          {"sku_id": world["B"].pk, "quantity": 1, "defective": True}])
    events.publish("aftersales.goods_returned", **payload)
    events.publish("aftersales.goods_returned", **payload)
    voucher = Voucher.objects.get(source_type=SourceType.GOODS_RETURNED)
    assert lines_of(voucher) == sorted([(chart.INVENTORY, D("12.00"), D("0"), "stock", world["A"].pk),
                                        (chart.COGS, D("0"), D("12.00"), "cogs", world["A"].pk)])


def test_a_failing_posting_does_not_stop_shipping_and_can_be_retried(world, monkeypatch, client, tenant_a):
    def broken(sku_ids):
        raise RuntimeError("cost service down")

    monkeypatch.setattr(rules, "sku_costs", broken)
    order = ship(world["shop"], "P1", line("A", 1, price="20.00"))
    assert order.status == "shipped"
    assert not Voucher.objects.exists() and not VoucherLine.objects.exists()
    issue = PostingIssue.objects.get()
    assert (issue.source_type, issue.source_ref, issue.resolved_at) == ("order.shipped", str(order.pk), None)
    assert "cost service down" in issue.error
    assert services.posting_issue_retry(issue=issue) is False
    from django.urls import reverse

    from erp.tenancy.roles import Role
    from finance.apps import finance_cards

    client.force_login(tenant_a.members[Role.FINANCE].user)
    assert "1 posting failed" in client.get(reverse("finance:vouchers")).content.decode()
    from types import SimpleNamespace

    cards = finance_cards(SimpleNamespace(membership=tenant_a.members[Role.FINANCE]))
    assert str(cards[0].title) == "Postings that failed" and cards[0].value == 1
    monkeypatch.undo()
    from finance import tasks

    assert tasks.flag_unsettled.delay().get() == 1  # the daily job retries it
    issue.refresh_from_db()
    assert issue.resolved_at is not None and issue.attempts == 3
    assert Voucher.objects.filter(source_type=SourceType.ORDER_SHIPPED).count() == 1


def test_first_posting_of_a_tenant_creates_the_chart(in_tenant_a, shop, integ):
    """No seed, no chart yet: the first shipment creates the standard chart and posts."""
    from finance.models import Account
    from inventory.models import SKU, Warehouse
    from inventory.services import stock_receive

    sku = SKU.objects.create(code="A", name="A", unit_cost=D("3.00"))
    stock_receive(warehouse=Warehouse.objects.create(code="W", name="W"), sku=sku, quantity=5, reason="test")
    assert not Account.objects.exists()
    ship(shop, "P9", line("A", 1, price="10.00"))
    assert not PostingIssue.objects.exists()
    assert Voucher.objects.filter(source_type=SourceType.ORDER_SHIPPED).count() == 1
    assert Account.objects.filter(code="112201").count() == 1
