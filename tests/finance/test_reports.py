"""Reports add up to the ledger: the trial balance agrees, profit by month, by shop, by platform and
by SKU give the same totals, and the BI feed (API columns and the database view) holds every posted line."""

import pytest
from django.db import connection
from django.utils import timezone

from erp import events
from erp.tenancy.context import tenant_context
from finance import chart, selectors, services
from finance.models import VoucherLine
from integrations.models import Shop

from .conftest import D, bill, line, settle, ship

pytestmark = pytest.mark.django_db


@pytest.fixture
def activity(world):
    shop = world["shop"]
    jd = Shop.objects.create(code="jd1", name="JD shop", platform="jd")
    o1 = ship(shop, "P1", line("A", 2, price="25.00"), line("B", 1, price="30.00"), freight="8.00")
    ship(jd, "J1", line("B", 3, price="20.00"))
    events.publish("aftersales.refunded", ticket_id=1, order_id=o1.pk, shop_id=shop.pk, platform_order_id="P1",
                   amount=D("16.00"), currency="CNY", refunded_at=timezone.now(), kind="refund")
    settle(shop, bill("P1", "sale", "80.00"), bill("P1", "freight", "8.00"), bill("P1", "refund", "-16.00"),
           bill("P1", "commission", "-2.40"), bill("", "other", "-5.00"))
    settle(jd, bill("J1", "sale", "60.00", platform="jd"), bill("J1", "commission", "-3.00", platform="jd"))
    services.voucher_create(date=timezone.localdate(), memo="bank fee", post=True, lines=[
        services.LineSpec(account=chart.FINANCE_COST, debit=D("1.00")), services.LineSpec(account=chart.BANK, credit=D("1.00"))])
    return {"shop": shop, "jd": jd, **world}


def test_trial_balance_agrees_and_sums_to_the_ledger(activity):
    tb = selectors.trial_balance(period=selectors.current_period())
    assert tb.balanced
    posted = VoucherLine.objects.filter(voucher__status="posted")
    assert tb.totals.debit == sum(ln.debit for ln in posted) == sum(ln.credit for ln in posted)
    by_code = {r.code: r for r in tb.rows}
    parent = by_code["1122"]  # a subtotal of the platform receivables, not counted twice
    assert parent.is_parent and parent.debit == by_code["112201"].debit + by_code["112202"].debit
    assert tb.totals.debit == sum((r.debit for r in tb.rows if not r.is_parent), D("0"))
    assert by_code["112201"].closing_debit == by_code["112201"].closing_credit == D("0")  # taobao settled
    assert by_code["112202"].closing_debit == D("0") and by_code["101202"].closing_debit == D("57.00")
    assert selectors.books_verify() == []


def test_profit_reports_agree_with_each_other(activity):
    months, year = selectors.profit_by_month(year=timezone.localdate().year)
    assert year.revenue == D("50.00") + D("30.00") + D("8.00") + D("60.00")
    assert year.refunds == D("16.00")
    assert year.cogs == D("12.00") + D("10.00") + D("30.00")
    assert year.fees == D("2.40") + D("5.00") + D("3.00")
    assert year.gross_profit == year.revenue - year.refunds - year.cogs - year.fees
    assert year.other_expense == D("1.00") and year.net_profit == year.gross_profit - D("1.00")
    assert sum((m.gross_profit for m in months), D("0")) == year.gross_profit
    for by in ("shop", "platform", "sku"):
        rows, total = selectors.profit_by(by=by)
        assert total.gross_profit == year.gross_profit, by
        assert sum((r.gross_profit for r in rows), D("0")) == total.gross_profit, by
        assert sum((r.revenue for r in rows), D("0")) == year.revenue, by
    rows, _ = selectors.profit_by(by="platform")
    jd = next(r for r in rows if r.key == "jd")
    assert (jd.revenue, jd.cogs, jd.fees, jd.gross_profit, jd.margin) == (
        D("60.00"), D("30.00"), D("3.00"), D("27.00"), D("45.0"))
    rows, _ = selectors.profit_by(by="sku")
    a = next(r for r in rows if r.key == activity["A"].pk)
    assert a.label.startswith("A ") and a.cogs == D("12.00")


def test_ledger_feed_and_bi_view_hold_every_posted_line(activity, tenant_b):
    posted = VoucherLine.objects.filter(voucher__status="posted").count()
    rows = list(selectors.ledger_rows())
    assert len(rows) == posted
    assert {"line_id", "entry_date", "account_code", "debit", "credit", "shop_id", "platform", "sku_id",
            "platform_order_id"} <= set(rows[0])
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(debit) - sum(credit) FROM finance_ledger_bi")
        assert cursor.fetchone() == (posted, D("0.00"))
    with tenant_context(tenant_b.tenant), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM finance_ledger_bi")
        assert cursor.fetchone()[0] == 0  # row-level security applies through the view
