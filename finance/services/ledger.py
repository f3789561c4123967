"""The ledger core: voucher and line specs, the tenant's finance settings, accounting periods, manual
vouchers (draft, edit, post, delete, reverse) and the set-based posting of system vouchers
(vouchers_post_auto). A voucher posts only when balanced, into an open period, and never changes
after; a correction is a reversal.

Every automatic posting carries (source_type, source_ref), unique per tenant, so an event delivered
twice posts once.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.money import to_money
from erp.tenancy.context import require_tenant
from erp.tenancy.dates import tenant_date, tenant_today

from .. import chart
from ..models import Account, FinanceSettings, Period, SourceType, Voucher, VoucherLine, VoucherStatus

ZERO = Decimal("0.00")


class PeriodClosed(Conflict):
    default_detail = "The accounting period is closed."


@dataclass
class LineSpec:
    account: Account | str  # an Account or its code
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    memo: str = ""
    tag: str = ""
    currency: str = "CNY"
    shop_id: int | None = None
    platform: str = ""
    order_id: int | None = None
    platform_order_id: str = ""
    sku_id: int | None = None
    supplier_id: int | None = None


@dataclass
class VoucherSpec:
    date: datetime.date
    memo: str
    source_type: str
    source_ref: str
    lines: list[LineSpec] = field(default_factory=list)


def settings_get() -> FinanceSettings:
    """The tenant's one settings row (made with the defaults on first use)."""
    obj = FinanceSettings.objects.first()
    if obj is None:
        obj, _created = FinanceSettings.objects.get_or_create(tenant=require_tenant())
    return obj


def local_date(when) -> datetime.date:
    """The booking date of an event: the tenant-local calendar date of an aware datetime (naive = UTC;
    an ISO string, as a stored payload carries it, is parsed first), a date as is, None = the tenant's
    today (erp.tenancy.dates)."""
    if when is None:
        return tenant_today()
    if isinstance(when, str):
        when = parse_datetime(when) or datetime.datetime.fromisoformat(when)
    return tenant_date(when)


def period_get(*, year: int, month: int, lock: bool = False) -> Period:
    """The period of that month, created open when it does not exist yet."""
    if not 1 <= month <= 12:
        raise ValidationError({"month": [_("A month is 1 to 12.")]})
    qs = Period.objects.select_for_update() if lock else Period.objects
    period = qs.filter(year=year, month=month).first()
    if period is None:
        period, _created = Period.objects.get_or_create(year=year, month=month)
        if lock:
            period = Period.objects.select_for_update().get(pk=period.pk)
    return period


def _open_period_on_or_after(date: datetime.date) -> tuple[Period, datetime.date]:
    """Automatic postings dated in a closed month go to the first day of the next open month."""
    year, month, day = date.year, date.month, date
    for _step in range(240):
        period = period_get(year=year, month=month)
        if period.is_open:
            return period, day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        day = datetime.date(year, month, 1)
    raise PeriodClosed(_("No open period after %(date)s.") % {"date": date})



def _account_index(line_lists) -> tuple[dict[str, Account], set[int]]:
    """Accounts named by code in these lines (the standard chart is created when one is missing)
    and the ids of accounts that have sub-accounts (postings go to the leaves). Two queries."""
    codes = {ln.account for lines in line_lists for ln in lines if isinstance(ln.account, str)}
    found = {a.code: a for a in Account.objects.filter(code__in=codes)} if codes else {}
    if codes - set(found):
        chart.chart_ensure()
        found = {a.code: a for a in Account.objects.filter(code__in=codes)}
    parents = set(Account.objects.filter(children__isnull=False).values_list("pk", flat=True).distinct())
    return found, parents


def _check_lines(lines: list[LineSpec], *, balanced: bool, index=None) -> list[tuple[LineSpec, Account]]:
    """Line shape (and, to post, balance) rules; raises ValidationError naming the problem."""
    errors: list[str] = []
    by_code, parents = index or _account_index([lines])
    resolved = []
    for n, ln in enumerate(lines, start=1):
        account = by_code.get(ln.account) if isinstance(ln.account, str) else ln.account
        if account is None:
            errors.append(_("Line %(n)d: unknown account %(code)s.") % {"n": n, "code": ln.account})
            continue
        try:
            debit, credit = to_money(ln.debit or 0), to_money(ln.credit or 0)
        except (TypeError, ValueError):
            errors.append(_("Line %(n)d: not an amount.") % {"n": n})
            continue
        if debit < 0 or credit < 0:
            errors.append(_("Line %(n)d: amounts cannot be negative.") % {"n": n})
        elif (debit > 0) == (credit > 0):
            errors.append(_("Line %(n)d: give either a debit or a credit.") % {"n": n})
        if not account.is_active:
            errors.append(_("Line %(n)d: account %(code)s is inactive.") % {"n": n, "code": account.code})
        if account.pk in parents:
            errors.append(_("Line %(n)d: post to a sub-account of %(code)s.") % {"n": n, "code": account.code})
        ln.debit, ln.credit = debit, credit
        resolved.append((ln, account))
    if len({ln.currency for ln in lines}) > 1:
        errors.append(_("All lines of a voucher must be in one currency."))
    if balanced and not errors:
        if len(lines) < 2:
            errors.append(_("A voucher needs at least two lines."))
        debits = sum((ln.debit for ln in lines), ZERO)
        credits = sum((ln.credit for ln in lines), ZERO)
        if debits != credits:
            errors.append(_("Debits %(d)s and credits %(c)s do not balance.") % {"d": debits, "c": credits})
    if errors:
        raise ValidationError({"lines": errors})
    return resolved


def _line_rows(voucher: Voucher, resolved) -> list[VoucherLine]:
    return [VoucherLine(tenant_id=voucher.tenant_id, voucher=voucher, line_no=n, account=account, debit=ln.debit,
                        credit=ln.credit, currency=ln.currency, memo=ln.memo[:300], tag=ln.tag, shop_id=ln.shop_id,
                        platform=ln.platform or "", order_id=ln.order_id, platform_order_id=ln.platform_order_id or "",
                        sku_id=ln.sku_id, supplier_id=ln.supplier_id)
            for n, (ln, account) in enumerate(resolved, start=1)]


def _writable_period(date: datetime.date, *, lock: bool = True) -> Period:
    period = period_get(year=date.year, month=date.month, lock=lock)
    if not period.is_open:
        raise PeriodClosed(_("Period %(p)s is closed: it accepts no postings.") % {"p": period.key})
    return period


def _next_number(period: Period) -> int:
    """Called with the period row locked."""
    Period.objects.filter(pk=period.pk).update(last_number=period.last_number + 1)
    period.last_number += 1
    return period.last_number


@transaction.atomic
def voucher_create(*, date: datetime.date, memo: str = "", lines: list[LineSpec], user=None, post: bool = False,
                   source_type: str = SourceType.MANUAL, source_ref: str = "") -> Voucher:
    """A manual voucher: a draft (lines well-formed, balance not yet required) or posted at once."""
    resolved = _check_lines(lines, balanced=post)
    period = _writable_period(date)
    if source_ref and Voucher.objects.filter(source_type=source_type, source_ref=source_ref).exists():
        raise ValidationError({"source_ref": [_("A voucher for this source reference exists already.")]})
    voucher = Voucher.objects.create(period=period, date=date, memo=memo, source_type=source_type,
                                     source_ref=source_ref, created_by=user)
    VoucherLine.objects.bulk_create(_line_rows(voucher, resolved))
    if post:
        voucher = voucher_post(voucher=voucher, user=user)
    return voucher


@transaction.atomic
def voucher_update(*, voucher: Voucher, date: datetime.date, memo: str, lines: list[LineSpec]) -> Voucher:
    """Replace a draft's date, memo and lines. A posted voucher is never edited (409)."""
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    if voucher.is_posted:
        raise Conflict(_("Voucher %(no)s is posted: correct it with a reversal.") % {"no": voucher.display_no})
    resolved = _check_lines(lines, balanced=False)
    _writable_period(voucher.date, lock=False)
    voucher.period = _writable_period(date)
    voucher.date, voucher.memo = date, memo
    voucher.save(update_fields=["period", "date", "memo", "updated_at"])
    VoucherLine.objects.filter(voucher=voucher).delete()
    VoucherLine.objects.bulk_create(_line_rows(voucher, resolved))
    return voucher


@transaction.atomic
def voucher_delete(*, voucher: Voucher) -> None:
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    if voucher.is_posted:
        raise Conflict(_("Voucher %(no)s is posted: it cannot be deleted, only reversed.") % {"no": voucher.display_no})
    voucher.delete()


def _specs_of(voucher: Voucher) -> list[LineSpec]:
    return [LineSpec(account=ln.account, debit=ln.debit, credit=ln.credit, memo=ln.memo, tag=ln.tag,
                     currency=ln.currency, shop_id=ln.shop_id, platform=ln.platform, order_id=ln.order_id,
                     platform_order_id=ln.platform_order_id, sku_id=ln.sku_id, supplier_id=ln.supplier_id)
            for ln in voucher.lines.select_related("account").order_by("line_no", "id")]


@transaction.atomic
def voucher_post(*, voucher: Voucher, user=None) -> Voucher:
    """Post a draft: it must balance (two lines or more, one-sided non-negative amounts) and its
    period be open. It gets the period's next number; from then on it never changes."""
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    if voucher.is_posted:
        raise Conflict(_("Voucher %(no)s is posted already.") % {"no": voucher.display_no})
    _check_lines(_specs_of(voucher), balanced=True)
    period = _writable_period(voucher.date)
    voucher.period = period
    voucher.number = _next_number(period)
    voucher.status, voucher.posted_at = VoucherStatus.POSTED, timezone.now()
    voucher.save(update_fields=["period", "number", "status", "posted_at", "updated_at"])
    return voucher


@transaction.atomic
def voucher_reverse(*, voucher: Voucher, date: datetime.date | None = None, memo: str = "", user=None) -> Voucher:
    """A posted voucher is corrected by its mirror image (debits and credits swapped), posted on
    ``date`` (default today) in an open period. A voucher is reversed once."""
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    if not voucher.is_posted:
        raise Conflict(_("Only a posted voucher can be reversed; delete or edit a draft instead."))
    if Voucher.objects.filter(reversal_of=voucher).exists():
        raise Conflict(_("Voucher %(no)s has been reversed already.") % {"no": voucher.display_no})
    lines = _specs_of(voucher)
    for ln in lines:
        ln.debit, ln.credit = ln.credit, ln.debit
    date = date or tenant_today()
    resolved = _check_lines(lines, balanced=True)
    period = _writable_period(date)
    reversal = Voucher.objects.create(
        period=period, date=date, memo=memo or _("Reversal of %(no)s") % {"no": voucher.display_no},
        source_type=SourceType.REVERSAL, source_ref=str(voucher.pk), reversal_of=voucher, created_by=user,
        number=_next_number(period), posted_at=timezone.now())
    VoucherLine.objects.bulk_create(_line_rows(reversal, resolved))
    reversal.status = VoucherStatus.POSTED
    reversal.save(update_fields=["status"])
    return reversal


def vouchers_post_auto(specs: list[VoucherSpec]) -> list[Voucher]:
    """Post system vouchers in a constant number of statements. Specs whose (source_type,
    source_ref) posted before are skipped (idempotent); a date in a closed month moves to the next
    open one. Returns the vouchers created."""
    if not specs:
        return []
    tenant = require_tenant()
    todo = _unposted(specs)
    if not todo:
        return []
    index = _account_index([spec.lines for spec in todo])
    resolved_lines = [_check_lines(spec.lines, balanced=True, index=index) for spec in todo]
    periods: dict[tuple[int, int], Period] = {}
    placed = []
    for spec in todo:
        period, date = _open_period_on_or_after(spec.date)
        periods[(period.year, period.month)] = period
        placed.append((period, date))
    locked = {(p.year, p.month): p for p in Period.objects.select_for_update().filter(
        pk__in=[p.pk for p in periods.values()]).order_by("pk")}
    # Whoever posted the same event concurrently held these locks and has committed by now: look again.
    still = {(s.source_type, s.source_ref) for s in _unposted(todo)}
    keep = [i for i, spec in enumerate(todo) if (spec.source_type, spec.source_ref) in still]
    if len(keep) < len(todo):
        todo = [todo[i] for i in keep]
        resolved_lines = [resolved_lines[i] for i in keep]
        placed = [placed[i] for i in keep]
        if not todo:
            return []
    now = timezone.now()
    vouchers = []
    for spec, (period, date) in zip(todo, placed, strict=True):
        period = locked[(period.year, period.month)]
        if not period.is_open:  # closed between the look-up and the lock
            raise PeriodClosed(_("Period %(p)s is closed: it accepts no postings.") % {"p": period.key})
        period.last_number += 1
        vouchers.append(Voucher(tenant=tenant, period=period, number=period.last_number, date=date,
                                memo=spec.memo[:300], source_type=spec.source_type, source_ref=spec.source_ref,
                                posted_at=now))
    for period in locked.values():
        Period.objects.filter(pk=period.pk).update(last_number=period.last_number)
    Voucher.objects.bulk_create(vouchers)
    rows = []
    for voucher, resolved in zip(vouchers, resolved_lines, strict=True):
        rows.extend(_line_rows(voucher, resolved))
    VoucherLine.objects.bulk_create(rows)
    Voucher.objects.filter(pk__in=[v.pk for v in vouchers]).update(status=VoucherStatus.POSTED)
    for voucher in vouchers:
        voucher.status = VoucherStatus.POSTED
    return vouchers


def _unposted(specs: list[VoucherSpec]) -> list[VoucherSpec]:
    """The specs with lines whose (source_type, source_ref) has no voucher yet (first of duplicates)."""
    wanted = defaultdict(set)
    for spec in specs:
        wanted[spec.source_type].add(spec.source_ref)
    q = Q()
    for source_type, refs in wanted.items():
        q |= Q(source_type=source_type, source_ref__in=list(refs))
    seen = set(Voucher.objects.filter(q).values_list("source_type", "source_ref"))
    out = []
    for spec in specs:
        key = (spec.source_type, spec.source_ref)
        if key in seen or not spec.lines:
            continue
        seen.add(key)
        out.append(spec)
    return out
