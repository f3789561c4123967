"""The balance sheet and the cash flow statement against a hand-computed set of books, the books
balance after a realistic mixed history (orders shipped, settled, refunded, goods bought and paid
for), and the pages, exports and API."""

import datetime
import io

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from erp import events
from erp.tenancy.roles import Role
from finance import chart, selectors, services, statements
from finance.models import Period

from .conftest import D, bill, line, settle, ship

pytestmark = pytest.mark.django_db
L = services.LineSpec


def _post(day, memo, *pairs):
    """pairs: (account code, debit, credit)."""
    return services.voucher_create(date=day, memo=memo, post=True, lines=[
        L(account=code, debit=D(debit), credit=D(credit)) for code, debit, credit in pairs])


@pytest.fixture
def hand_books(books):
    """Books worked out by hand (amounts in the comments of the tests)."""
    _post(datetime.date(2024, 12, 20), "owner puts cash in", ("1001", "500", "0"), ("3001", "0", "500"))
    _post(datetime.date(2025, 1, 5), "capital to the bank", ("1002", "10000", "0"), ("3001", "0", "10000"))
    _post(datetime.date(2025, 1, 10), "goods bought on credit", ("1405", "3000", "0"), ("2202", "0", "3000"))
    _post(datetime.date(2025, 1, 15), "order shipped", ("112201", "1200", "0"), ("6001", "0", "1200"),
          ("6401", "600", "0"), ("1405", "0", "600"))
    _post(datetime.date(2025, 1, 25), "taobao settles", ("101201", "1164", "0"), ("660101", "36", "0"),
          ("112201", "0", "1200"))
    _post(datetime.date(2025, 2, 3), "supplier paid", ("2202", "2000", "0"), ("1002", "0", "2000"))
    _post(datetime.date(2025, 2, 10), "wallet withdrawn to the bank", ("1002", "1000", "0"), ("101201", "0", "1000"))
    _post(datetime.date(2025, 2, 20), "bank charge", ("6603", "5", "0"), ("1002", "0", "5"))
    return books


def _items(statement):
    return {i.key: i for i in statement.items}


def test_balance_sheet_by_hand(hand_books):
    jan = statements.balance_sheet(year=2025, month=1)
    items = _items(jan)
    assert jan.as_of == datetime.date(2025, 1, 31)
    assert items["cash"].amount == D("11664.00")  # 500 + 10000 + 1164
    assert items["cash"].opening == D("500.00")
    assert items["receivables"].amount == D("0.00")
    assert items["inventories"].amount == D("2400.00")  # 3000 - 600
    assert items["payables"].amount == D("3000.00")
    assert items["capital"].amount == D("10500.00") and items["capital"].opening == D("500.00")
    assert items["retained"].amount == D("564.00") == jan.unclosed_profit  # 1200 - 600 - 36
    assert jan.total_assets == D("14064.00") == jan.total_liabilities_and_equity
    assert jan.balanced

    year = statements.balance_sheet(year=2025)
    items = _items(year)
    assert year.as_of == datetime.date(2025, 12, 31)
    assert items["cash"].amount == D("9659.00")  # 500 + (10000 - 2000 + 1000 - 5) + (1164 - 1000)
    assert items["payables"].amount == D("1000.00")
    assert items["retained"].amount == D("559.00")  # 564 - 5
    assert year.total_assets == D("12059.00") == year.total_liabilities_and_equity

    # carrying January's profit forward to 3103 moves it inside equity, the sheet does not change
    services.period_carry_forward(period=Period.objects.get(year=2025, month=1))
    after = statements.balance_sheet(year=2025, month=1)
    assert after.unclosed_profit == D("0.00") and _items(after)["retained"].amount == D("564.00")
    assert after.total_assets == D("14064.00") and after.balanced


def test_cash_flow_by_hand(hand_books):
    jan = statements.cash_flow(year=2025, month=1)
    items = _items(jan)
    assert (jan.opening_cash, jan.closing_cash) == (D("500.00"), D("11664.00"))
    assert (items["sales"].inflow, items["sales"].outflow) == (D("1200.00"), D("0.00"))  # the settlement
    assert items["fees"].outflow == D("36.00") and items["fees"].amount == D("-36.00")
    assert items["capital"].inflow == D("10000.00")
    assert items["purchases"].amount == D("0.00")  # bought on credit: no cash yet
    assert jan.net("operating") == D("1164.00") and jan.net("financing") == D("10000.00")
    assert jan.net() == D("11164.00") and jan.reconciles

    feb = statements.cash_flow(year=2025, month=2)
    items = _items(feb)
    assert items["purchases"].outflow == D("2000.00")  # the supplier paid
    assert items["interest"].outflow == D("5.00")
    assert items["sales"].inflow == D("0.00")  # the wallet withdrawal moves cash between cash accounts
    assert feb.net() == D("-2005.00") and feb.reconciles

    year = statements.cash_flow(year=2025)
    items = _items(year)
    assert (items["sales"].amount, items["fees"].amount, items["purchases"].amount, items["capital"].amount,
            items["interest"].amount) == (D("1200.00"), D("-36.00"), D("-2000.00"), D("10000.00"), D("-5.00"))
    assert (year.opening_cash, year.net(), year.closing_cash) == (D("500.00"), D("9159.00"), D("9659.00"))
    assert year.reconciles


def test_books_balance_after_a_mixed_history(world):
    shop = world["shop"]
    o1 = ship(shop, "P1", line("A", 2, price="25.00"), line("B", 1, price="30.00"), freight="8.00")
    ship(shop, "P2", line("B", 2, price="28.00"))
    events.publish("aftersales.refunded", ticket_id=1, order_id=o1.pk, shop_id=shop.pk, platform_order_id="P1",
                   amount=D("16.00"), currency="CNY", refunded_at=timezone.now(), kind="refund")
    settle(shop, bill("P1", "sale", "80.00"), bill("P1", "freight", "8.00"), bill("P1", "refund", "-16.00"),
           bill("P1", "commission", "-2.40"), bill("", "other", "-5.00"))
    settle(shop, bill("P2", "sale", "56.00"), bill("P2", "commission", "-1.68"))
    events.publish("purchase.received", receipt_id=7, purchase_order_id=3, supplier_id=11, warehouse_id=world["wh"].pk,
                   received_at=timezone.now(), currency="CNY", amount=D("64.00"),
                   lines=[{"sku_id": world["A"].pk, "quantity": 4, "unit_cost": D("6.00")},
                          {"sku_id": world["B"].pk, "quantity": 4, "unit_cost": D("10.00")}])
    today = timezone.localdate()
    _post(today, "capital", (chart.BANK, "1000", "0"), ("3001", "0", "1000"))
    _post(today, "supplier paid", (chart.PAYABLE, "64", "0"), (chart.BANK, "0", "64"))
    assert selectors.books_verify() == []

    sheet = statements.balance_sheet(year=today.year, month=today.month)
    assert sheet.balanced and sheet.total_assets == sheet.total_liabilities_and_equity
    _months, pl = selectors.profit_by_month(year=today.year)
    assert sheet.unclosed_profit == pl.net_profit  # the period's profit is inside equity
    assert _items(sheet)["payables"].amount == D("0.00")

    flow = statements.cash_flow(year=today.year, month=today.month)
    items = _items(flow)
    assert flow.reconciles and flow.closing_cash == _items(sheet)["cash"].amount
    assert items["sales"].inflow == D("80.00") + D("8.00") + D("56.00") and items["sales"].outflow == D("16.00")
    assert items["fees"].outflow == D("2.40") + D("5.00") + D("1.68")
    assert items["purchases"].outflow == D("64.00") and items["capital"].inflow == D("1000.00")

    # the month's profit carried forward, the sheet still balances and says the same
    services.period_carry_forward(period=Period.objects.get(year=today.year, month=today.month))
    again = statements.balance_sheet(year=today.year, month=today.month)
    assert again.balanced and again.total_assets == sheet.total_assets and again.unclosed_profit == D("0.00")


def test_pages_exports_and_api(hand_books, client, tenant_a):
    client.force_login(tenant_a.members[Role.FINANCE].user)
    body = client.get(reverse("finance:balance-sheet"), {"year": "2025", "month": "1"}).content.decode()
    assert "Balance sheet" in body and "14064.00" in body and "balanced" in body
    body = client.get(reverse("finance:cash-flow"), {"year": "2025", "month": ""}).content.decode()
    assert "Cash flow statement" in body and "9659.00" in body and "reconciles with cash" in body
    assert "Net (CNY)</th>" in body  # the amounts' currency in the column heads
    body = client.get(reverse("finance:balance-sheet"), {"year": "2025", "month": "1"}).content.decode()
    assert "End of period (CNY)</th>" in body and "<th>Total Assets</th>" in body
    for name in ("balance-sheet", "cash-flow"):
        for params in ({}, {"year": "junk", "month": "13"}):
            assert client.get(reverse(f"finance:{name}"), params).status_code == 200
    zh = client.get(reverse("finance:balance-sheet"), {"year": "2025"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert 'lang="zh-hans"' in zh.content.decode()

    xlsx = client.get(reverse("finance:balance-sheet"), {"year": "2025", "month": "1", "format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert any(r[0] == "Total liabilities and owners' equity" and D(str(r[1])) == D("14064.00") for r in rows)
    pdf = client.get(reverse("finance:cash-flow"), {"year": "2025", "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    api = tenant_a.api(Role.FINANCE)
    data = api.get("/api/v1/finance/reports/balance-sheet/", {"year": 2025, "month": 1}).json()
    assert data["balanced"] and data["totals"]["assets"] == "14064.00"
    data = api.get("/api/v1/finance/reports/cash-flow/", {"year": 2025}).json()
    assert data["reconciles"] and data["closing_cash"] == "9659.00" and data["net"] == "9159.00"
    bad = api.get("/api/v1/finance/reports/cash-flow/", {"month": 13})
    assert bad.status_code == 400 and "month" in bad.json()["errors"]
    assert tenant_a.api(Role.WAREHOUSE).get("/api/v1/finance/reports/balance-sheet/").status_code == 403
