"""Month-end carry-forward of profit and loss (结转损益): one voucher on the period's last day zeroes
every revenue and expense account for the period against 3103 本年利润; it is idempotent, later
postings are carried as a difference voucher, closing carries forward first, and the profit reports
never count it."""

import datetime

import pytest
from django.urls import reverse

from erp.tenancy.roles import Role
from finance import chart, selectors, services
from finance.models import Account, Period, SourceType, Voucher, VoucherLine, VoucherStatus
from finance.selectors import books_verify

from .conftest import D

pytestmark = pytest.mark.django_db
API = "/api/v1/finance"
DAY = datetime.date(2026, 11, 5)
LAST = datetime.date(2026, 11, 30)
L = services.LineSpec


def post(*lines, date=DAY):
    return services.voucher_create(date=date, lines=list(lines), post=True)


def month_activity():
    """Sales 100 (Cr 6001), cost 60 (Dr 6401), commission 5 (Dr 660101), other income 3 (Cr 6051)."""
    post(L(account=chart.BANK, debit=D("100.00")), L(account=chart.REVENUE, credit=D("100.00")))
    post(L(account=chart.COGS, debit=D("60.00")), L(account=chart.INVENTORY, credit=D("60.00")))
    post(L(account=chart.COMMISSION, debit=D("5.00")), L(account=chart.BANK, credit=D("5.00")))
    post(L(account=chart.BANK, debit=D("3.00")), L(account=chart.OTHER_INCOME, credit=D("3.00")))


def period_11():
    return Period.objects.get(year=2026, month=11)


def lines_of(voucher):
    return {ln.account.code: (ln.debit, ln.credit) for ln in voucher.lines.select_related("account")}


def pl_balances(period):
    """Net (debit - credit) of every revenue / expense account within the period, zero ones left out."""
    out = {}
    for ln in VoucherLine.objects.filter(voucher__period=period, voucher__status=VoucherStatus.POSTED,
                                         account__type__in=["revenue", "expense"]).select_related("account"):
        out[ln.account.code] = out.get(ln.account.code, D("0")) + ln.debit - ln.credit
    return {code: net for code, net in out.items() if net}


def profit_balance(period):
    lines = VoucherLine.objects.filter(voucher__period=period, voucher__status=VoucherStatus.POSTED,
                                       account__code=chart.PROFIT_THIS_YEAR)
    return sum((ln.credit - ln.debit for ln in lines), D("0"))  # credit side: a profit


def test_profit_this_year_account_is_in_the_chart(books):
    account = Account.objects.get(code=chart.PROFIT_THIS_YEAR)
    assert (account.name, account.type) == ("本年利润", "equity")
    assert chart.chart_ensure() == 0  # idempotent for an existing tenant


def test_carry_forward_zeroes_revenue_and_expense_with_the_net_to_profit(books):
    month_activity()
    (voucher,) = services.period_carry_forward(period=period_11())
    assert voucher.status == VoucherStatus.POSTED and voucher.date == LAST
    assert (voucher.source_type, voucher.source_ref) == (SourceType.CARRY_FORWARD, "carry-forward:2026-11")
    assert lines_of(voucher) == {
        chart.REVENUE: (D("100.00"), D("0")), chart.OTHER_INCOME: (D("3.00"), D("0")),
        chart.COGS: (D("0"), D("60.00")), chart.COMMISSION: (D("0"), D("5.00")),
        chart.PROFIT_THIS_YEAR: (D("0"), D("38.00")),  # 103 - 65
    }
    assert pl_balances(period_11()) == {}
    assert profit_balance(period_11()) == D("38.00")
    tb = selectors.trial_balance(period=period_11())
    assert tb.balanced
    closing = {r.code: (r.closing_debit, r.closing_credit) for r in tb.rows}
    assert closing[chart.REVENUE] == (D("0"), D("0")) and closing[chart.COGS] == (D("0"), D("0"))
    assert closing[chart.PROFIT_THIS_YEAR] == (D("0"), D("38.00"))
    assert books_verify() == []


def test_a_loss_and_wrong_side_balances(books):
    # Returns exceed sales: 6001 ends with a debit balance; a refunded fee leaves 660102 with a credit one.
    post(L(account=chart.BANK, debit=D("20.00")), L(account=chart.REVENUE, credit=D("20.00")))
    post(L(account=chart.REVENUE, debit=D("50.00")), L(account=chart.BANK, credit=D("50.00")))
    post(L(account=chart.BANK, debit=D("7.00")), L(account=chart.SERVICE_FEE, credit=D("7.00")))
    post(L(account="6602", debit=D("12.34")), L(account=chart.BANK, credit=D("12.34")))
    (voucher,) = services.period_carry_forward(period=period_11())
    assert lines_of(voucher) == {
        chart.REVENUE: (D("0"), D("30.00")),  # a debit balance is credited
        chart.SERVICE_FEE: (D("7.00"), D("0")),  # a credit balance is debited
        "6602": (D("0"), D("12.34")),
        chart.PROFIT_THIS_YEAR: (D("35.34"), D("0")),  # a loss: -30 + 7 - 12.34
    }
    assert pl_balances(period_11()) == {}
    assert profit_balance(period_11()) == D("-35.34")
    assert books_verify() == []


def test_no_net_means_no_profit_line(books):
    post(L(account=chart.BANK, debit=D("10.00")), L(account=chart.REVENUE, credit=D("10.00")))
    post(L(account=chart.COGS, debit=D("10.00")), L(account=chart.BANK, credit=D("10.00")))
    (voucher,) = services.period_carry_forward(period=period_11())
    assert lines_of(voucher) == {chart.REVENUE: (D("10.00"), D("0")), chart.COGS: (D("0"), D("10.00"))}


def test_idempotent_and_later_postings_carry_the_difference(books):
    month_activity()
    (first,) = services.period_carry_forward(period=period_11())
    assert services.period_carry_forward(period=period_11()) == []  # nothing left: nothing posted
    assert Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).count() == 1
    post(L(account=chart.BANK, debit=D("40.00")), L(account=chart.REVENUE, credit=D("40.00")), date=DAY)
    post(L(account=chart.COGS, debit=D("25.00")), L(account=chart.INVENTORY, credit=D("25.00")), date=DAY)
    (second,) = services.period_carry_forward(period=period_11())
    assert second.source_ref == "carry-forward:2026-11:2" and second.date == LAST
    assert lines_of(second) == {chart.REVENUE: (D("40.00"), D("0")), chart.COGS: (D("0"), D("25.00")),
                                chart.PROFIT_THIS_YEAR: (D("0"), D("15.00"))}
    first.refresh_from_db()
    assert lines_of(first)[chart.PROFIT_THIS_YEAR] == (D("0"), D("38.00"))  # the posted one is untouched
    assert services.period_carry_forward(period=period_11()) == []
    assert profit_balance(period_11()) == D("53.00") and pl_balances(period_11()) == {}
    assert books_verify() == []


def test_nothing_to_carry(books):
    post(L(account=chart.BANK, debit=D("100.00")), L(account="3001", credit=D("100.00")))
    assert services.period_carry_forward(period=period_11()) == []
    assert not Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).exists()


def test_each_period_carries_only_its_own_month(books):
    month_activity()
    post(L(account=chart.BANK, debit=D("9.00")), L(account=chart.REVENUE, credit=D("9.00")),
         date=datetime.date(2026, 12, 3))
    (nov,) = services.period_carry_forward(period=period_11())
    (dec,) = services.period_carry_forward(period=Period.objects.get(year=2026, month=12))
    assert lines_of(nov)[chart.PROFIT_THIS_YEAR] == (D("0"), D("38.00"))
    assert lines_of(dec) == {chart.REVENUE: (D("9.00"), D("0")), chart.PROFIT_THIS_YEAR: (D("0"), D("9.00"))}
    assert dec.date == datetime.date(2026, 12, 31) and dec.source_ref == "carry-forward:2026-12"


def test_close_carries_forward_first_and_a_closed_period_refuses(books):
    month_activity()
    period = services.period_close(period=period_11())
    assert period.status == "closed"
    voucher = Voucher.objects.get(source_type=SourceType.CARRY_FORWARD)
    assert voucher.period_id == period.pk and voucher.number == 5  # after the month's four vouchers
    assert pl_balances(period) == {} and profit_balance(period) == D("38.00")
    with pytest.raises(services.PeriodClosed):
        services.period_carry_forward(period=period)
    # Reopened, posted to and closed again: only the difference is carried, by a new voucher.
    services.period_reopen(period=period)
    post(L(account=chart.BANK, debit=D("2.00")), L(account=chart.REVENUE, credit=D("2.00")))
    services.period_close(period=period)
    refs = sorted(Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).values_list("source_ref", flat=True))
    assert refs == ["carry-forward:2026-11", "carry-forward:2026-11:2"]
    assert pl_balances(period) == {} and profit_balance(period) == D("40.00")
    assert selectors.trial_balance(period=period).balanced and books_verify() == []


def test_profit_reports_do_not_count_it(books):
    month_activity()
    before_months, before_year = selectors.profit_by_month(year=2026)
    before_by = {by: selectors.profit_by(by=by)[1].as_dict() for by in selectors.DIMENSIONS}
    (voucher,) = services.period_carry_forward(period=period_11())
    months, year = selectors.profit_by_month(year=2026)
    assert year.as_dict() == before_year.as_dict()
    assert [m.as_dict() for m in months] == [m.as_dict() for m in before_months]
    assert year.net_profit == D("38.00") == months[10].net_profit
    for by in selectors.DIMENSIONS:
        assert selectors.profit_by(by=by)[1].as_dict() == before_by[by], by
    # Its reversal is no revenue or expense either.
    services.voucher_reverse(voucher=voucher, date=LAST)
    assert selectors.profit_by_month(year=2026)[1].as_dict() == before_year.as_dict()
    assert selectors.profit_by(by="platform")[1].as_dict() == before_by["platform"]
    # The ledger feed keeps it, marked by its source type for BI consumers to filter on.
    feed = {r["source_type"] for r in selectors.ledger_rows()}
    assert SourceType.CARRY_FORWARD in feed


def test_api_carry_forward_200_and_409(books):
    api = books.api(Role.FINANCE)
    month_activity()
    pk = period_11().pk
    response = api.post(f"{API}/periods/{pk}/carry-forward/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["voucher"]["source_ref"] == "carry-forward:2026-11" and len(body["vouchers"]) == 1
    assert {ln["account_code"] for ln in body["voucher"]["lines"]} >= {chart.REVENUE, chart.PROFIT_THIS_YEAR}
    again = api.post(f"{API}/periods/{pk}/carry-forward/")
    assert again.status_code == 200 and again.json()["voucher"] is None and again.json()["vouchers"] == []
    assert api.post(f"{API}/periods/{pk}/close/").status_code == 200
    closed = api.post(f"{API}/periods/{pk}/carry-forward/")
    assert closed.status_code == 409 and "closed" in closed.json()["detail"]
    assert Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).count() == 1
    assert books.api(Role.OPERATOR).post(f"{API}/periods/{pk}/carry-forward/").status_code == 403


def test_api_is_tenant_isolated(books, tenant_b):
    month_activity()
    pk = period_11().pk
    assert tenant_b.api(Role.FINANCE).post(f"{API}/periods/{pk}/carry-forward/").status_code == 404
    assert not Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).exists()


def test_page_button(client, books, tenant_a):
    month_activity()
    client.force_login(tenant_a.members[Role.FINANCE].user)
    url = reverse("finance:trial-balance")
    page = client.get(url, {"period": "2026-11"}).content.decode()
    assert 'id="carry-forward"' in page
    response = client.post(url, {"period": "2026-11"})
    assert response.status_code == 302 and response["Location"].endswith("?period=2026-11")
    assert Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).count() == 1
    client.post(url, {"period": "2026-11"})  # nothing left
    assert Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).count() == 1
    services.period_close(period=period_11())
    assert 'id="carry-forward"' not in client.get(url, {"period": "2026-11"}).content.decode()
    client.post(url, {"period": "2026-11"})  # closed: a message, no posting
    assert Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).count() == 1
    client.force_login(tenant_a.members[Role.OPERATOR].user)
    assert client.post(url, {"period": "2026-11"}).status_code == 403
