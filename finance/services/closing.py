"""Period close and reopen, and the month-end carry-forward of profit and loss (结转损益) to
3103 本年利润 that closing a period runs first."""

from __future__ import annotations

import calendar
import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.money import to_money

from .. import chart
from ..models import Account, Period, PeriodStatus, SourceType, Voucher, VoucherLine, VoucherStatus
from .ledger import ZERO, LineSpec, PeriodClosed, _line_rows, _next_number


@transaction.atomic
def period_close(*, period: Period, user=None) -> Period:
    period = Period.objects.select_for_update().get(pk=period.pk)
    if not period.is_open:
        raise Conflict(_("Period %(p)s is already closed.") % {"p": period.key})
    if Voucher.objects.filter(period=period, status=VoucherStatus.DRAFT).exists():
        raise Conflict(_("Period %(p)s still has draft vouchers: post or delete them first.") % {"p": period.key})
    period_carry_forward(period=period, user=user)  # a closed month's revenue and expense accounts are zero
    period.refresh_from_db(fields=["last_number"])
    period.status, period.closed_at, period.closed_by = PeriodStatus.CLOSED, timezone.now(), user
    period.save(update_fields=["status", "closed_at", "closed_by"])
    return period


@transaction.atomic
def period_reopen(*, period: Period, user=None) -> Period:
    period = Period.objects.select_for_update().get(pk=period.pk)
    if period.is_open:
        raise Conflict(_("Period %(p)s is already open.") % {"p": period.key})
    period.status, period.closed_at, period.closed_by = PeriodStatus.OPEN, None, None
    period.save(update_fields=["status", "closed_at", "closed_by"])
    return period


# --- month-end carry-forward of profit and loss (结转损益) ------------------------------------------
def carry_forward_ref(period: Period) -> str:
    """The source_ref of a period's first carry-forward voucher; later ones add ":2", ":3"..."""
    return f"carry-forward:{period.key}"


def _carry_forward_balances(period: Period) -> dict[tuple[int, str], Decimal]:
    """Net debit (debits minus credits) per (revenue or expense account, currency) of the period's
    posted lines, earlier carry-forward vouchers included (so a rerun sees only what is left)."""
    from ..models import AccountType

    rows = (VoucherLine.objects.filter(voucher__status=VoucherStatus.POSTED, voucher__period=period,
                                       account__type__in=[AccountType.REVENUE, AccountType.EXPENSE])
            .values("account_id", "currency").order_by().annotate(d=Sum("debit"), c=Sum("credit")))
    out = {}
    for r in rows:
        net = to_money(r["d"] or ZERO) - to_money(r["c"] or ZERO)
        if net:
            out[(r["account_id"], r["currency"])] = net
    return out


@transaction.atomic
def period_carry_forward(*, period: Period, user=None) -> list[Voucher]:
    """Carry the period's profit and loss to 本年利润 (结转损益): one posted voucher dated the
    period's last day that brings every revenue and expense account's balance for the period to
    zero (a credit balance is debited, a debit balance credited, whichever the account's normal
    side) with the net profit credited (a loss debited) to 3103 本年利润.

    Idempotent: with nothing left to carry it posts nothing. Postings that arrive later in the
    still-open period are carried by a new voucher for the difference ("carry-forward:<period>:2",
    ...); a posted voucher is never edited. One voucher per currency when the period has several.
    A closed period refuses (409). Returns the vouchers posted (empty: nothing to carry)."""
    period = Period.objects.select_for_update().get(pk=period.pk)  # postings into the period wait for us
    if not period.is_open:
        raise PeriodClosed(_("Period %(p)s is closed: its profit and loss has been carried forward; "
                             "reopen it to carry forward again.") % {"p": period.key})
    balances = _carry_forward_balances(period)
    if not balances:
        return []
    accounts = Account.objects.in_bulk({account_id for account_id, _cur in balances})
    profit_account = chart.account_by_code(chart.PROFIT_THIS_YEAR)
    last_day = datetime.date(period.year, period.month, calendar.monthrange(period.year, period.month)[1])
    base = carry_forward_ref(period)
    done = Voucher.objects.filter(source_type=SourceType.CARRY_FORWARD).filter(
        Q(source_ref=base) | Q(source_ref__startswith=f"{base}:")).count()
    memo = _("Carry-forward of profit and loss %(p)s") % {"p": period.key}
    vouchers = []
    for currency in sorted({cur for _a, cur in balances}, key=lambda c: (c != "CNY", c)):
        lines: list[tuple[LineSpec, Account]] = []
        total = ZERO
        for (account_id, cur), net in sorted(balances.items(), key=lambda kv: accounts[kv[0][0]].code):
            if cur != currency:
                continue
            account = accounts[account_id]
            side = {"credit": net} if net > 0 else {"debit": -net}
            lines.append((LineSpec(account=account, currency=currency, memo=memo, **side), account))
            total += net
        if total:  # the net: a profit (credit balances exceed debit ones) is credited to 本年利润
            side = {"credit": -total} if total < 0 else {"debit": total}
            lines.append((LineSpec(account=profit_account, currency=currency, memo=memo, **side), profit_account))
        debits = sum((ln.debit for ln, _a in lines), ZERO)
        credits = sum((ln.credit for ln, _a in lines), ZERO)
        if len(lines) < 2 or debits != credits:  # cannot happen: the lines mirror posted, balanced amounts
            raise ValidationError({"lines": [_("Debits %(d)s and credits %(c)s do not balance.") % {"d": debits, "c": credits}]})
        done += 1
        ref = base if done == 1 else f"{base}:{done}"
        # Posted like a reversal (not through _check_lines): it must also carry the balance of an
        # account deactivated since it was posted to.
        voucher = Voucher.objects.create(period=period, date=last_day, memo=memo[:300],
                                         source_type=SourceType.CARRY_FORWARD, source_ref=ref, created_by=user,
                                         number=_next_number(period), posted_at=timezone.now())
        VoucherLine.objects.bulk_create(_line_rows(voucher, lines))
        voucher.status = VoucherStatus.POSTED
        voucher.save(update_fields=["status"])
        vouchers.append(voucher)
    return vouchers
