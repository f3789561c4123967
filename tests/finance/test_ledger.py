"""The ledger: a voucher posts only when it balances (service and database), closed periods refuse
postings, posted vouchers never change (reversals correct them), numbers run per period."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from erp.api.exceptions import Conflict
from finance import chart, services
from finance.models import Period, Voucher, VoucherLine, VoucherStatus
from finance.selectors import books_verify

from .conftest import D

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 11, 5)
L = services.LineSpec


def pair(amount="100.00", dr=chart.BANK, cr="3001"):
    return [L(account=dr, debit=D(amount)), L(account=cr, credit=D(amount))]


def test_balanced_voucher_posts_with_the_next_number(books):
    v1 = services.voucher_create(date=DAY, memo="capital", lines=pair(), post=True)
    v2 = services.voucher_create(date=DAY, memo="more", lines=pair("5.00"), post=True)
    assert (v1.status, v1.number, v2.number) == (VoucherStatus.POSTED, 1, 2)
    assert v1.period.key == "2026-11" and v1.display_no == "记-2026-11-0001"
    other = services.voucher_create(date=datetime.date(2026, 12, 1), lines=pair(), post=True)
    assert other.number == 1  # numbering is per period


@pytest.mark.parametrize("lines, message", [
    ([L(account=chart.BANK, debit=D("10.00")), L(account="3001", credit=D("9.99"))], "do not balance"),
    ([L(account=chart.BANK, debit=D("10.00"))], "at least two lines"),
    ([L(account=chart.BANK, debit=D("-10.00")), L(account="3001", credit=D("-10.00"))], "negative"),
    ([L(account=chart.BANK, debit=D("10.00"), credit=D("10.00")), L(account="3001", credit=D("0"))], "either a debit"),
    ([L(account="9999", debit=D("1.00")), L(account="3001", credit=D("1.00"))], "unknown account"),
    ([L(account=chart.RECEIVABLE, debit=D("1.00")), L(account="3001", credit=D("1.00"))], "sub-account"),
])
def test_service_refuses_what_does_not_balance_and_writes_nothing(books, lines, message):
    with pytest.raises(ValidationError) as exc:
        services.voucher_create(date=DAY, lines=lines, post=True)
    assert message in str(exc.value)
    assert not Voucher.objects.exists() and not VoucherLine.objects.exists()


def test_a_draft_may_be_unbalanced_but_cannot_post(books):
    draft = services.voucher_create(date=DAY, lines=[L(account=chart.BANK, debit=D("10")), L(account="3001", credit=D("9"))])
    assert draft.status == VoucherStatus.DRAFT and draft.number is None
    with pytest.raises(ValidationError):
        services.voucher_post(voucher=draft)
    services.voucher_update(voucher=draft, date=DAY, memo="fixed", lines=pair("10.00"))
    posted = services.voucher_post(voucher=draft)
    assert posted.number == 1 and posted.memo == "fixed"
    with pytest.raises(Conflict):
        services.voucher_post(voucher=posted)
    with pytest.raises(Conflict):
        services.voucher_update(voucher=posted, date=DAY, memo="x", lines=pair())
    with pytest.raises(Conflict):
        services.voucher_delete(voucher=posted)


def _db_error(sql, params):
    with pytest.raises(IntegrityError) as exc, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(exc.value)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database guards are Postgres triggers")
def test_database_refuses_unbalanced_posting_and_changes_to_posted_vouchers(books):
    draft = services.voucher_create(date=DAY, lines=[L(account=chart.BANK, debit=D("10")), L(account="3001", credit=D("9"))])
    # posting around the service: the trigger checks the balance
    message = _db_error("UPDATE finance_voucher SET status = 'posted', number = 99, posted_at = now() WHERE id = %s",
                        [draft.pk])
    assert "does not balance" in message
    # one-sided, non-negative lines are CHECK constraints
    with pytest.raises(IntegrityError), transaction.atomic():
        VoucherLine.objects.create(voucher=draft, account=draft.lines.first().account, debit=D("1"), credit=D("1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        VoucherLine.objects.create(voucher=draft, account=draft.lines.first().account, debit=D("-1"))
    posted = services.voucher_create(date=DAY, lines=pair(), post=True)
    line = posted.lines.first()
    assert "posted" in _db_error("UPDATE finance_voucherline SET debit = 1 WHERE id = %s", [line.pk])
    assert "posted" in _db_error("DELETE FROM finance_voucherline WHERE id = %s", [line.pk])
    assert "posted" in _db_error("UPDATE finance_voucher SET memo = 'x' WHERE id = %s", [posted.pk])
    assert "posted" in _db_error("DELETE FROM finance_voucher WHERE id = %s", [posted.pk])
    assert "posted" in _db_error(
        "INSERT INTO finance_voucherline (tenant_id, voucher_id, line_no, account_id, debit, credit, currency, memo, tag,"
        " platform, platform_order_id) VALUES (%s, %s, 9, %s, 1, 0, 'CNY', '', '', '', '')",
        [posted.tenant_id, posted.pk, line.account_id])
    assert books_verify() == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database guards are Postgres triggers")
def test_database_refuses_posting_into_a_closed_period_or_without_lines(books):
    draft = services.voucher_create(date=DAY, lines=pair())
    services.voucher_update(voucher=draft, date=datetime.date(2026, 12, 3), memo="moved", lines=pair())
    period = Period.objects.get(year=2026, month=12)
    Period.objects.filter(pk=period.pk).update(status="closed")
    message = _db_error("UPDATE finance_voucher SET status = 'posted', number = 1, posted_at = now() WHERE id = %s",
                        [draft.pk])
    assert "open period" in message
    message = _db_error(
        "INSERT INTO finance_voucher (tenant_id, period_id, number, date, memo, source_type, source_ref, status,"
        " posted_at, created_at, updated_at) VALUES (%s, %s, 5, %s, '', 'manual', '', 'posted', now(), now(), now())",
        [draft.tenant_id, Period.objects.get(year=2026, month=11).pk, DAY])
    assert "does not balance" in message


def test_closed_period_refuses_postings_until_reopened(books):
    draft = services.voucher_create(date=DAY, lines=pair())
    period = Period.objects.get(year=2026, month=11)
    with pytest.raises(Conflict):  # drafts first
        services.period_close(period=period)
    services.voucher_post(voucher=draft)
    services.period_close(period=period)
    with pytest.raises(Conflict):
        services.period_close(period=period)
    with pytest.raises(services.PeriodClosed):
        services.voucher_create(date=DAY, lines=pair(), post=True)
    with pytest.raises(services.PeriodClosed):
        services.voucher_reverse(voucher=draft, date=DAY)
    assert Voucher.objects.count() == 1
    services.period_reopen(period=period)
    assert services.voucher_create(date=DAY, lines=pair(), post=True).number == 2


def test_reversal_mirrors_the_voucher_once(books):
    original = services.voucher_create(date=DAY, memo="wrong", lines=pair("42.00"), post=True)
    reversal = services.voucher_reverse(voucher=original, date=DAY)
    assert reversal.reversal_of_id == original.pk and reversal.status == VoucherStatus.POSTED
    got = sorted((ln.account.code, ln.debit, ln.credit) for ln in reversal.lines.all())
    assert got == [(chart.BANK, D("0"), D("42.00")), ("3001", D("42.00"), D("0"))]
    with pytest.raises(Conflict):
        services.voucher_reverse(voucher=original, date=DAY)
    draft = services.voucher_create(date=DAY, lines=pair())
    with pytest.raises(Conflict):
        services.voucher_reverse(voucher=draft)
    original.refresh_from_db()
    assert original.memo == "wrong" and original.lines.count() == 2  # untouched
    balances = {ln.account.code for ln in VoucherLine.objects.filter(voucher__status="posted")}
    assert balances == {chart.BANK, "3001"}
    assert books_verify() == []


def test_auto_postings_in_a_closed_month_go_to_the_next_open_one(books):
    services.period_close(period=services.period_get(year=2026, month=10))
    spec = services.VoucherSpec(date=datetime.date(2026, 10, 20), memo="late", source_type="manual",
                                source_ref="late-1", lines=pair())
    (voucher,) = services.vouchers_post_auto([spec])
    assert voucher.date == datetime.date(2026, 11, 1) and voucher.period.key == "2026-11"
    assert services.vouchers_post_auto([spec]) == []  # same source: posted once


def test_verify_books_command(books, capsys):
    services.voucher_create(date=DAY, lines=pair(), post=True)
    call_command("verify_books", tenant=books.tenant.slug)
    assert "books balance" in capsys.readouterr().out
