"""Settlement reconciliation: bill lines matched to orders by platform order id, settlement
vouchers, differences, bills without orders, duplicates, late and out-of-order arrival, and the
unsettled queue."""

import datetime

import pytest
from django.utils import timezone

from erp import events
from finance import chart, services, tasks
from finance.models import FinanceSettings, Reconciliation, SettlementLine, SourceType, Voucher, VoucherLine
from finance.selectors import account_balances, books_verify
from integrations.models import PlatformBillLine
from integrations.normalized import NormalizedBillLine
from integrations.store import store_bill_lines

from .conftest import D, bill, line, settle, ship

pytestmark = pytest.mark.django_db


def rec(poid="P1"):
    return Reconciliation.objects.get(platform_order_id=poid)


def test_bills_that_add_up_match_and_clear_the_receivable(world):
    shop = world["shop"]
    ship(shop, "P1", line("A", 2, price="25.00"), freight="8.00")
    settle(shop, bill("P1", "sale", "50.00"), bill("P1", "freight", "8.00"), bill("P1", "commission", "-1.50"),
           bill("P1", "service_fee", "-0.30"))
    r = rec()
    assert (r.status, r.settled_amount, r.fees_amount, r.difference, r.bill_lines) == (
        "matched", D("58.00"), D("1.80"), D("0.00"), 4)
    balances = account_balances()
    assert balances["112201"] == D("0.00")  # receivable cleared
    assert balances["101201"] == D("56.20")  # the wallet holds sale + freight - fees
    assert balances[chart.COMMISSION] == D("1.50") and balances[chart.SERVICE_FEE] == D("0.30")
    fee_lines = VoucherLine.objects.filter(account__code=chart.COMMISSION)
    assert {ln.sku_id for ln in fee_lines} == {world["A"].pk}  # fees spread over the order's SKUs
    assert books_verify() == []


def test_amount_difference_is_an_exception_with_its_difference(world):
    shop = world["shop"]
    ship(shop, "P1", line("A", 1, price="30.00"))
    settle(shop, bill("P1", "sale", "29.00"))
    r = rec()
    assert (r.status, r.difference) == ("difference", D("-1.00"))
    settle(shop, bill("P1", "sale", "1.00"))  # the rest arrives later
    assert rec().status == "matched"


def test_same_bill_line_twice_changes_nothing(world):
    shop = world["shop"]
    ship(shop, "P1", line("A", 1, price="30.00"))
    b = bill("P1", "sale", "30.00", bill_id="X1")
    settle(shop, b)
    before = (Voucher.objects.count(), VoucherLine.objects.count(), rec().settled_amount)
    assert settle(shop, b) == {"posted": 0, "unchanged": 1}
    settle(shop, b, b)
    assert (Voucher.objects.count(), VoucherLine.objects.count(), rec().settled_amount) == before
    assert SettlementLine.objects.count() == 1


def test_changed_bill_amount_posts_only_the_difference(world):
    shop = world["shop"]
    ship(shop, "P1", line("A", 1, price="30.00"))
    settle(shop, bill("P1", "sale", "28.00", bill_id="X1"))
    settle(shop, bill("P1", "sale", "30.00", bill_id="X1"))
    refs = sorted(Voucher.objects.filter(source_type=SourceType.PLATFORM_BILL).values_list("source_ref", flat=True))
    assert refs == [f"{shop.pk}:X1", f"{shop.pk}:X1:2"]
    assert rec().status == "matched" and account_balances()["112201"] == D("0.00")


def test_bill_before_shipment_and_bill_without_order(world):
    shop = world["shop"]
    settle(shop, bill("NOPE", "sale", "10.00"))
    assert rec("NOPE").status == "no_order"
    # the bill of P2 arrives first (out of order), the shipment afterwards: matched in the end
    settle(shop, bill("P2", "sale", "40.00"))
    assert rec("P2").status == "no_order"
    ship(shop, "P2", line("B", 2, price="20.00"))
    r = rec("P2")
    assert (r.status, r.difference, r.order_id is not None) == ("matched", D("0.00"), True)
    assert books_verify() == []


def test_refund_bill_after_aftersales_refund_matches(world):
    shop = world["shop"]
    order = ship(shop, "P1", line("A", 2, price="25.00"))
    events.publish("aftersales.refunded", ticket_id=1, order_id=order.pk, shop_id=shop.pk, platform_order_id="P1",
                   amount=D("25.00"), currency="CNY", refunded_at=timezone.now(), kind="refund")
    settle(shop, bill("P1", "sale", "50.00"), bill("P1", "refund", "-25.00"))
    r = rec()
    assert (r.status, r.expected_amount, r.settled_amount) == ("matched", D("25.00"), D("25.00"))
    assert account_balances()["112201"] == D("0.00")


def test_platform_bills_changed_event_through_the_store(world):
    """The real path: integrations stores bill lines and publishes platform_bills.changed; a replay
    of the same page changes nothing."""
    shop = world["shop"]
    ship(shop, "P1", line("A", 1, price="30.00"))
    page = [NormalizedBillLine(platform="taobao", platform_bill_id="80001", platform_order_id="P1", kind="sale",
                               amount=D("30.00"), booked_at=timezone.now()),
            NormalizedBillLine(platform="taobao", platform_bill_id="80002", platform_order_id="P1", kind="commission",
                               amount=D("-0.90"), booked_at=timezone.now())]
    from django.db import transaction

    with transaction.atomic():
        result = store_bill_lines(shop=shop, lines=page)
    assert result.consumer_error == "" and PlatformBillLine.objects.count() == 2
    assert rec().status == "matched" and rec().fees_amount == D("0.90")
    vouchers = Voucher.objects.count()
    with transaction.atomic():
        store_bill_lines(shop=shop, lines=page)
    events.publish("platform_bills.changed", shop_id=shop.pk, platform_bill_ids=["80001", "80002"])
    assert Voucher.objects.count() == vouchers


def test_unsettled_orders_are_flagged_after_the_due_days(world):
    shop = world["shop"]
    ship(shop, "P1", line("A", 1, price="30.00"))
    ship(shop, "P2", line("A", 1, price="30.00"))
    settings = services.settings_get()
    settings.settlement_due_days = 10
    settings.save()
    Reconciliation.objects.filter(platform_order_id="P1").update(
        shipped_at=timezone.now() - datetime.timedelta(days=11))
    assert tasks.flag_unsettled.delay().get() == 1  # one tenant to look at (eager in tests)
    assert tasks.flag_unsettled_for_tenant.delay(tenant_id=world["shop"].tenant_id).get() == {"flagged": 0, "retried": 0}
    assert rec("P1").status == "unsettled" and rec("P2").status == "awaiting"
    settle(shop, bill("P1", "sale", "30.00"))  # a late bill still settles it
    assert rec("P1").status == "matched"
    assert FinanceSettings.objects.count() == 1


def test_operator_resolves_an_exception(world):
    shop = world["shop"]
    ship(shop, "P1", line("A", 1, price="30.00"))
    settle(shop, bill("P1", "sale", "32.00"))
    r = services.reconciliation_resolve(reconciliation=rec(), note="platform subsidy")
    assert (r.status, r.note) == ("resolved", "platform subsidy")


def test_merged_shipment_books_and_reconciles_each_platform_order(world):
    from orders import services as order_services
    from orders.models import Order

    from .conftest import norder

    shop = world["shop"]
    order_services.orders_ingest_normalized(shop=shop, normalized=[
        norder("M1", lines=[line("A", 1, price="20.00")], freight_amount=D("5.00")),
        norder("M2", lines=[line("B", 2, price="15.00")], freight_amount=D("8.00"))])
    merged = Order.objects.filter(kind="merged").first()
    assert merged is not None, list(Order.objects.values_list("platform_order_id", "kind", "status"))
    order_services.order_ship(order_id=merged.pk)
    ar = {ln.platform_order_id: ln.debit for ln in VoucherLine.objects.filter(tag="receivable")}
    assert ar == {"M1": D("25.00"), "M2": D("38.00")}  # each platform order with its own freight
    assert rec("M1").shipped_amount == D("25.00") and rec("M2").shipped_amount == D("38.00")
    settle(shop, bill("M1", "sale", "20.00"), bill("M1", "freight", "5.00"), bill("M2", "sale", "30.00"),
           bill("M2", "freight", "8.00"), bill("M2", "commission", "-0.60"))
    assert (rec("M1").status, rec("M2").status) == ("matched", "matched")
    # a refund on one of them is spread over that platform order's SKUs only
    events.publish("aftersales.refunded", ticket_id=5, order_id=None, shop_id=shop.pk, platform_order_id="M2",
                   amount=D("15.00"), currency="CNY", refunded_at=timezone.now(), kind="refund")
    returns = VoucherLine.objects.filter(tag="returns")
    assert [(ln.sku_id, ln.debit) for ln in returns] == [(world["B"].pk, D("15.00"))]
    assert books_verify() == []
