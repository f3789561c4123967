"""Finance writes: the ledger (vouchers posted only when balanced, reversals, periods), the posting
rules that turn business events into vouchers, and the settlement reconciliation of platform bills.

Every automatic posting carries (source_type, source_ref), unique per tenant, so an event delivered
twice posts once. Event handlers run in the publisher's transaction inside a savepoint: a finance
failure never stops a shipment; it is logged and kept as a PostingIssue to retry.
"""

from __future__ import annotations

import calendar
import datetime
import logging
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp.api.exceptions import Conflict
from erp.money import CENT, to_money
from erp.tenancy.context import require_tenant

from . import chart
from .models import (
    FEE_KINDS,
    SETTLED_KINDS,
    Account,
    BillKind,
    FinanceSettings,
    LineTag,
    Period,
    PeriodStatus,
    PostingIssue,
    Reconciliation,
    ReconStatus,
    SettlementLine,
    SourceType,
    Voucher,
    VoucherLine,
    VoucherStatus,
)

logger = logging.getLogger("finance")
ZERO = Decimal("0.00")


class PeriodClosed(Conflict):
    default_detail = "The accounting period is closed."


# --- ledger core -------------------------------------------------------------------------------------
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
    """The tenant-local calendar date of an aware datetime (or the date itself)."""
    if when is None:
        when = timezone.now()
    if isinstance(when, str):
        when = parse_datetime(when) or datetime.datetime.fromisoformat(when)
    if isinstance(when, datetime.datetime):
        if timezone.is_naive(when):
            when = timezone.make_aware(when, datetime.UTC)
        return when.astimezone(zoneinfo.ZoneInfo(require_tenant().timezone)).date()
    return when


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
    date = date or local_date(timezone.now())
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


# --- helpers for the posting rules -------------------------------------------------------------------
def _money(value) -> Decimal:
    if value is None or value == "":
        return ZERO
    return to_money(value)


def _allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` over ``weights`` pro rata, to the cent; the rounding rest goes to the last."""
    if not weights:
        return []
    base = sum(weights, ZERO)
    if base <= 0:
        parts = [ZERO] * len(weights)
        parts[-1] = total
        return parts
    parts = [(total * w / base).quantize(CENT) for w in weights]
    biggest = max(range(len(weights)), key=lambda i: weights[i])
    parts[biggest] += total - sum(parts, ZERO)  # the rounding rest goes where it is smallest relatively
    return parts


def _shipped_lines(snapshot, poid: str = "") -> list:
    """The snapshot's lines of one platform order that were not stopped (what was shipped and sold)."""
    lines = [ln for ln in (snapshot.lines if snapshot else ()) if not poid or ln.platform_order_id in ("", poid)]
    live = [ln for ln in lines if not ln.is_stopped]
    return live or lines


def _pair(dr: LineSpec, cr: LineSpec, amount: Decimal) -> list[LineSpec]:
    """Two lines for a signed amount: positive debits ``dr``, negative swaps the sides."""
    if amount == 0:
        return []
    if amount < 0:
        dr, cr, amount = cr, dr, -amount
    dr.debit, dr.credit, cr.credit, cr.debit = amount, ZERO, amount, ZERO
    return [dr, cr]


def sku_costs(sku_ids) -> dict[int, Decimal]:
    from inventory.selectors import sku_unit_costs

    ids = sorted({int(s) for s in sku_ids if s})
    return sku_unit_costs(sku_ids=ids) if ids else {}


def _order_snapshots(order_ids: list[int]) -> list:
    from orders.selectors import order_snapshots

    return order_snapshots(order_ids=order_ids)


def _snapshots_by_platform_ids(shop_id: int, platform_order_ids: list[str]) -> dict:
    from orders.selectors import order_snapshots_by_platform_ids

    if not platform_order_ids:
        return {}
    return order_snapshots_by_platform_ids(shop_id=shop_id, platform_order_ids=platform_order_ids)


def _shop_platform(shop_id) -> str:
    from integrations.selectors import shops_with_platform

    if not shop_id:
        return ""
    return shops_with_platform().filter(pk=shop_id).values_list("platform", flat=True).first() or ""


# --- posting rules -------------------------------------------------------------------------------------
def shipment_spec(snapshot, *, freight_by_poid: dict[str, Decimal] | None = None) -> tuple[VoucherSpec, dict[str, Decimal]]:
    """Dr 应收账款-平台 / Cr 主营业务收入 (goods and freight) and Dr 主营业务成本 / Cr 库存商品 at the
    SKUs' unit cost. Returns the voucher and the receivable booked per platform order id."""
    lines = [ln for ln in snapshot.lines if not ln.is_stopped]
    platform = snapshot.platform or ""
    receivable = chart.platform_account(chart.RECEIVABLE, platform)
    dims = dict(shop_id=snapshot.shop_id, platform=platform, currency=snapshot.currency or "CNY")
    per_poid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    out: list[LineSpec] = []
    for ln in lines:
        paid = _money(ln.paid)
        poid = ln.platform_order_id or snapshot.platform_order_id
        if paid > 0:
            per_poid[poid] += paid
            out.append(LineSpec(account=chart.REVENUE, credit=paid, tag=LineTag.SALES, sku_id=ln.sku_id,
                                order_id=snapshot.id, platform_order_id=poid,
                                memo=f"{ln.sku_code or ln.title} × {ln.quantity}", **dims))
    freight = _money(snapshot.freight_amount)
    if freight > 0:
        poids = [ln.platform_order_id for ln in lines if ln.platform_order_id]
        first = snapshot.platform_order_id if snapshot.platform_order_id in poids or not poids else poids[0]
        shares = {poid: amount for poid, amount in (freight_by_poid or {}).items() if amount > 0}
        if sum(shares.values(), ZERO) != freight:  # unknown split: all of it on the first platform order
            shares = {first: freight}
        for poid, amount in shares.items():
            per_poid[poid] += amount
            out.append(LineSpec(account=chart.REVENUE, credit=amount, tag=LineTag.FREIGHT, order_id=snapshot.id,
                                platform_order_id=poid, memo=_("Freight"), **dims))
    ar = [LineSpec(account=receivable, debit=amount, tag=LineTag.RECEIVABLE, order_id=snapshot.id,
                   platform_order_id=poid, memo=_("Receivable %(poid)s") % {"poid": poid}, **dims)
          for poid, amount in per_poid.items()]
    costs = sku_costs(ln.sku_id for ln in lines)
    cogs: list[LineSpec] = []
    qty_by_sku: dict[int, int] = defaultdict(int)
    for ln in lines:
        if ln.sku_id:
            qty_by_sku[ln.sku_id] += ln.quantity
    for sku_id, qty in sorted(qty_by_sku.items()):
        amount = (costs.get(sku_id, ZERO) * qty).quantize(CENT)
        if amount > 0:
            memo = _("Cost of %(qty)d units") % {"qty": qty}
            cogs.append(LineSpec(account=chart.COGS, debit=amount, tag=LineTag.COGS, sku_id=sku_id, order_id=snapshot.id,
                                 platform_order_id=snapshot.platform_order_id, memo=memo, **dims))
            cogs.append(LineSpec(account=chart.INVENTORY, credit=amount, tag=LineTag.STOCK, sku_id=sku_id,
                                 order_id=snapshot.id, platform_order_id=snapshot.platform_order_id, memo=memo, **dims))
    spec = VoucherSpec(date=local_date(snapshot.shipped_at), source_type=SourceType.ORDER_SHIPPED,
                       source_ref=str(snapshot.id), lines=ar + out + cogs,
                       memo=_("Order %(no)s shipped") % {"no": snapshot.platform_order_id or snapshot.id})
    return spec, dict(per_poid)


@transaction.atomic
def post_order_shipped(*, order_id: int) -> Voucher | None:
    snapshots = _order_snapshots([int(order_id)])
    if not snapshots:
        raise ValidationError(_("Order %(id)s not found.") % {"id": order_id})
    snapshot = snapshots[0]
    freight_by_poid = None
    if snapshot.kind == "merged" and _money(snapshot.freight_amount) > 0:
        # a merged shipment's freight is the sum of its platform orders': book each on its own order
        poids = sorted({ln.platform_order_id for ln in snapshot.lines if ln.platform_order_id})
        freight_by_poid = {poid: _money(o.freight_amount)
                           for poid, o in _snapshots_by_platform_ids(snapshot.shop_id, poids).items()}
    spec, per_poid = shipment_spec(snapshot, freight_by_poid=freight_by_poid)
    if len(spec.lines) < 2:
        return None
    made = vouchers_post_auto([spec])
    if not made:
        return None
    for poid, amount in per_poid.items():
        rec = _recon_row(snapshot.shop_id, poid, platform=snapshot.platform)
        rec.shipped_amount += amount
        rec.shipped_at = rec.shipped_at or snapshot.shipped_at or timezone.now()
        if poid == snapshot.platform_order_id or rec.order_id is None:
            rec.order_id = rec.order_id or snapshot.id
        _recompute(rec)
    return made[0]


@transaction.atomic
def post_refund(*, ticket_id, order_id=None, shop_id=None, platform_order_id: str = "", amount=None,
                currency: str = "CNY", refunded_at=None, kind: str = "refund", **_ignored) -> Voucher | None:
    """Dr 主营业务收入 (sales returns, spread over the order's SKUs) / Cr 应收账款-平台."""
    amount = _money(amount)
    if amount <= 0:
        return None
    snapshot = None
    if shop_id and platform_order_id:  # the platform order with its lines, wherever they are now
        snapshot = _snapshots_by_platform_ids(int(shop_id), [platform_order_id]).get(platform_order_id)
    if snapshot is None and order_id:
        snapshot = next(iter(_order_snapshots([int(order_id)])), None)
    shop_id = shop_id or (snapshot.shop_id if snapshot else None)
    platform = snapshot.platform if snapshot else _shop_platform(shop_id)
    poid = platform_order_id or (snapshot.platform_order_id if snapshot else "")
    dims = dict(shop_id=shop_id, platform=platform, currency=currency or "CNY", platform_order_id=poid,
                order_id=snapshot.id if snapshot else (int(order_id) if order_id else None))
    memo = _("Refund, after-sales ticket %(t)s") % {"t": ticket_id}
    lines_of = _shipped_lines(snapshot, poid)
    weights = [_money(ln.paid) for ln in lines_of]
    returns: list[LineSpec] = []
    if lines_of and sum(weights, ZERO) > 0:
        for ln, part in zip(lines_of, _allocate(amount, weights), strict=True):
            if part:
                returns.append(LineSpec(account=chart.REVENUE, debit=part, tag=LineTag.RETURNS, sku_id=ln.sku_id,
                                        memo=memo, **dims))
    else:
        returns.append(LineSpec(account=chart.REVENUE, debit=amount, tag=LineTag.RETURNS, memo=memo, **dims))
    ar = LineSpec(account=chart.platform_account(chart.RECEIVABLE, platform), credit=amount, tag=LineTag.RECEIVABLE,
                  memo=memo, **dims)
    spec = VoucherSpec(date=local_date(refunded_at), memo=memo, source_type=SourceType.AFTERSALES_REFUNDED,
                       source_ref=str(ticket_id), lines=[*returns, ar])
    made = vouchers_post_auto([spec])
    if not made:
        return None
    if shop_id and poid:
        rec = _recon_row(int(shop_id), poid, platform=platform)
        rec.refunded_amount += amount
        if rec.order_id is None and snapshot is not None:
            rec.order_id = snapshot.id
        _recompute(rec)
    return made[0]


def _stock_lines(lines, *, sign: int, memo: str, supplier_id=None, currency="CNY") -> tuple[list[LineSpec], Decimal]:
    out, total = [], ZERO
    for row in lines or ():
        qty = int(row.get("quantity") or 0)
        amount = (_money(row.get("unit_cost")) * qty).quantize(CENT)
        if amount <= 0:
            continue
        total += amount
        side = {"debit": amount} if sign > 0 else {"credit": amount}
        out.append(LineSpec(account=chart.INVENTORY, tag=LineTag.STOCK, sku_id=row.get("sku_id"),
                            supplier_id=supplier_id, currency=currency, memo=f"{memo} × {qty}", **side))
    return out, total


@transaction.atomic
def post_purchase(*, receipt_id, supplier_id=None, received_at=None, currency: str = "CNY", lines=None,
                  returned: bool = False, purchase_order_id=None, **_ignored) -> Voucher | None:
    """Received: Dr 库存商品 (per SKU) / Cr 应付账款. Returned to the supplier: the other way round."""
    memo = (_("Goods returned to supplier, receipt %(r)s") if returned else _("Goods received, receipt %(r)s")) % {
        "r": receipt_id}
    stock, total = _stock_lines(lines, sign=-1 if returned else 1, memo=memo, supplier_id=supplier_id,
                                currency=currency or "CNY")
    if total <= 0:
        return None
    side = {"debit": total} if returned else {"credit": total}
    payable = LineSpec(account=chart.PAYABLE, tag=LineTag.PAYABLE, supplier_id=supplier_id, currency=currency or "CNY",
                       memo=memo, **side)
    spec = VoucherSpec(date=local_date(received_at), memo=memo, source_ref=str(receipt_id),
                       source_type=SourceType.PURCHASE_RETURNED if returned else SourceType.PURCHASE_RECEIVED,
                       lines=[payable, *stock] if returned else [*stock, payable])
    made = vouchers_post_auto([spec])
    return made[0] if made else None


@transaction.atomic
def post_goods_returned(*, ticket_id, lines=None, warehouse_id=None, source_ref: str = "", **_ignored) -> Voucher | None:
    """Sellable goods back from a buyer: Dr 库存商品 / Cr 主营业务成本 at unit cost (defective ones
    stay in the cost of goods)."""
    good = [row for row in lines or () if not row.get("defective")]
    costs = sku_costs(row.get("sku_id") for row in good)
    memo = _("Goods returned by buyer, ticket %(t)s") % {"t": ticket_id}
    out = []
    for row in good:
        amount = (costs.get(int(row.get("sku_id") or 0), ZERO) * int(row.get("quantity") or 0)).quantize(CENT)
        if amount > 0:
            out.append(LineSpec(account=chart.INVENTORY, debit=amount, tag=LineTag.STOCK, sku_id=row["sku_id"], memo=memo))
            out.append(LineSpec(account=chart.COGS, credit=amount, tag=LineTag.COGS, sku_id=row["sku_id"], memo=memo))
    if not out:
        return None
    made = vouchers_post_auto([VoucherSpec(date=local_date(None), memo=memo, source_type=SourceType.GOODS_RETURNED,
                                           source_ref=source_ref or str(ticket_id), lines=out)])
    return made[0] if made else None


ADJUST_MEMOS = {
    "stocktake": gettext_lazy("Stocktake %(doc)s"),
    "adjustment": gettext_lazy("Stock adjustment %(doc)s"),
    "scrap": gettext_lazy("Defective units scrapped %(doc)s"),
    "transfer_shortage": gettext_lazy("Units missing from transfer %(doc)s"),
}


def stock_adjusted_ref(payload: dict) -> str:
    """The voucher's source reference: the event's own reference (one business operation), else its
    moves (an older publisher without ``ref``)."""
    ref = str(payload.get("ref") or "").strip()
    if not ref:
        ref = "moves:" + ",".join(str(m) for m in sorted(int(m) for m in payload.get("move_ids") or ()))
    return ref[:120]


@transaction.atomic
def post_stock_adjusted(*, ref: str = "", kind: str = "", lines=None, source_doc: str = "", reason: str = "",
                        occurred_at=None, warehouse_id=None, source_ref: str = "", **_ignored) -> Voucher | None:
    """A stock change outside purchasing, shipping and returns (stocktake, manual adjustment, scrap of
    defective units, units lost in a transfer), valued at the unit cost the event carries:
    a loss Dr 营业外支出 (6711) / Cr 库存商品 (1405), a gain Dr 库存商品 / Cr 营业外收入 (6301), per SKU.

    Booked straight to profit and loss, not through 待处理财产损溢 (1901): posting the stocktake (or
    the adjustment) is already the operator's approval, so a second approval step would only leave
    amounts waiting in 1901 with no one to clear them. Lines at zero cost post nothing: stock with no
    recorded cost carries no value in 库存商品, so its count changes none either (an event of only such
    lines posts no voucher)."""
    memo = str(ADJUST_MEMOS.get(kind, ADJUST_MEMOS["adjustment"])) % {"doc": source_doc or ref}
    if kind == "adjustment" and reason:
        memo = f"{memo}: {reason}"  # the operator's reason
    out: list[LineSpec] = []
    for row in lines or ():
        qty = int(row.get("quantity") or 0)
        amount = (_money(row.get("unit_cost")) * abs(qty)).quantize(CENT)
        if amount <= 0:
            continue  # zero cost: nothing in 库存商品 to take out or put in
        sku_id = int(row["sku_id"]) if row.get("sku_id") else None
        dims = dict(sku_id=sku_id, currency=row.get("currency") or "CNY", memo=f"{memo} ({qty:+d})")
        if qty < 0:  # 盘亏 / write-off
            out += [LineSpec(account=chart.NON_OPERATING_EXPENSE, debit=amount, **dims),
                    LineSpec(account=chart.INVENTORY, credit=amount, tag=LineTag.STOCK, **dims)]
        else:  # 盘盈
            out += [LineSpec(account=chart.INVENTORY, debit=amount, tag=LineTag.STOCK, **dims),
                    LineSpec(account=chart.NON_OPERATING_INCOME, credit=amount, **dims)]
    if not out:
        logger.info("finance: stock change %s has no cost to book", source_ref or ref)
        return None
    made = vouchers_post_auto([VoucherSpec(date=local_date(occurred_at), memo=memo, source_type=SourceType.STOCK_ADJUSTED,
                                           source_ref=source_ref or ref, lines=out)])
    return made[0] if made else None


# --- settlement reconciliation -----------------------------------------------------------------------
FEE_ACCOUNT = {BillKind.COMMISSION: (chart.COMMISSION, LineTag.COMMISSION),
               BillKind.SERVICE_FEE: (chart.SERVICE_FEE, LineTag.SERVICE_FEE),
               BillKind.OTHER: (chart.OTHER_FEE, LineTag.OTHER_FEE)}


def _bill_kind(kind: str) -> str:
    return kind if kind in BillKind.values else BillKind.OTHER


def _platform_account(parent_code: str, platform: str, cache: dict | None) -> Account:
    if cache is None:
        return chart.platform_account(parent_code, platform)
    key = (parent_code, platform)
    if key not in cache:
        cache[key] = chart.platform_account(parent_code, platform)
    return cache[key]


def settlement_lines_for(*, shop_id: int, platform: str, bill_id: str, kind: str, delta: Decimal, snapshot,
                         poid: str, memo: str, cache: dict | None = None) -> list[LineSpec]:
    """Lines for a bill amount (signed): money in the platform wallet against the receivable for
    sale, freight and refund lines; against the fee accounts for commissions and fees (spread over
    the order's SKUs when the order is known)."""
    wallet = _platform_account(chart.WALLET, platform, cache)
    dims = dict(shop_id=shop_id, platform=platform, platform_order_id=poid,
                order_id=snapshot.id if snapshot else None, currency=(snapshot.currency if snapshot else "") or "CNY")
    if kind in SETTLED_KINDS:
        receivable = _platform_account(chart.RECEIVABLE, platform, cache)
        return _pair(LineSpec(account=wallet, tag=LineTag.SETTLEMENT, memo=memo, **dims),
                     LineSpec(account=receivable, tag=LineTag.RECEIVABLE, memo=memo, **dims), delta)
    account, tag = FEE_ACCOUNT[kind]
    fee = -delta  # a fee is a negative bill amount
    lines_of = _shipped_lines(snapshot, poid)
    weights = [_money(ln.paid) for ln in lines_of]
    if lines_of and sum(weights, ZERO) > 0:
        parts = [(ln.sku_id, p) for ln, p in zip(lines_of, _allocate(abs(fee), weights), strict=True) if p]
    else:
        parts = [(None, abs(fee))]
    sign = 1 if fee > 0 else -1
    out = []
    for sku_id, part in parts:
        side = {"debit": part} if sign > 0 else {"credit": part}
        out.append(LineSpec(account=account, tag=tag, sku_id=sku_id, memo=memo, **side, **dims))
    side = {"credit": abs(fee)} if sign > 0 else {"debit": abs(fee)}
    out.append(LineSpec(account=wallet, tag=LineTag.SETTLEMENT, memo=memo, **side, **dims))
    return out


# A settlement voucher holds the lines of many bill lines; line_no is a small integer, so a page whose
# lines would overflow one voucher is split over several (in page order).
SETTLEMENT_VOUCHER_MAX_LINES = 2000


@dataclass
class _BillPosting:
    """One bill line to post now: its voucher lines and where its voucher goes."""

    bill_id: str
    posting: int  # 1 for the first posting of this bill id, 2 for its first adjustment...
    memo: str
    date: datetime.date
    lines: list[LineSpec]


def _settlement_accounts(platforms) -> tuple[dict, dict[str, Account]]:
    """The accounts settlement lines post to, in one query: ({(parent code, platform): wallet or
    receivable sub-account} as settlement_lines_for's cache, {fee account code: Account}). A missing
    platform sub-account is created (chart.platform_account), a missing fee account with the chart."""
    wanted = {chart.platform_account_code(parent, platform or "own"): (parent, platform)
              for platform in platforms for parent in (chart.WALLET, chart.RECEIVABLE)}
    fee_codes = sorted({code for code, _tag in FEE_ACCOUNT.values()})
    found = {a.code: a for a in Account.objects.filter(code__in=[*wanted, *fee_codes])}
    cache = {key: found.get(code) or chart.platform_account(*key) for code, key in wanted.items()}
    fees = {code: found.get(code) or chart.account_by_code(code) for code in fee_codes}
    return cache, fees


def _settlement_specs(shop_id: int, postings: list[_BillPosting]) -> list[VoucherSpec]:
    """The settlement vouchers of a page: one per booking date and currency (a voucher lies in one
    period), each with the lines of its bill lines in page order (their memos name the bill ids).
    A voucher of a single bill line keeps the reference ``shop:bill[:posting]``; a voucher of several
    is ``shop:date:count:digest`` of its (bill id, posting) pairs, so the same postings give the same
    reference and any other set a new one."""
    import hashlib

    groups: dict[tuple, list[list[_BillPosting]]] = defaultdict(lambda: [[]])
    for posting in postings:
        chunks = groups[(posting.date, posting.lines[0].currency)]
        if chunks[-1] and sum(len(p.lines) for p in chunks[-1]) + len(posting.lines) > SETTLEMENT_VOUCHER_MAX_LINES:
            chunks.append([])
        chunks[-1].append(posting)
    specs = []
    for (date, _currency), chunks in groups.items():
        for chunk in chunks:
            lines = [ln for p in chunk for ln in p.lines]
            if len(chunk) == 1:
                p = chunk[0]
                ref = f"{shop_id}:{p.bill_id}" + (f":{p.posting}" if p.posting > 1 else "")
                memo = p.memo
            else:
                keys = "\n".join(sorted(f"{p.bill_id}\t{p.posting}" for p in chunk))
                digest = hashlib.sha1(keys.encode()).hexdigest()[:16]
                ref = f"{shop_id}:{date.isoformat()}:{len(chunk)}:{digest}"
                memo = (f"{SourceType.PLATFORM_BILL.label} {date.isoformat()} × {len(chunk)}: "
                        f"{chunk[0].bill_id} … {chunk[-1].bill_id}")
            specs.append(VoucherSpec(date=date, memo=memo, source_type=SourceType.PLATFORM_BILL, source_ref=ref,
                                     lines=lines))
    return specs


@transaction.atomic
def settle_bill_lines(*, shop_id: int, bills: list) -> dict:
    """Book NormalizedBillLines of one shop. A bill id booked before with the same amount changes
    nothing; a changed amount posts the difference. The bill lines that post go into one settlement
    voucher per booking date (see _settlement_specs), each bill line with its own voucher lines.
    A constant number of statements whatever the number of bill lines. Returns counts ("posted":
    bill lines posted now)."""
    shop_id = int(shop_id)
    if not bills:
        return {"posted": 0, "unchanged": 0}
    ids = [b.platform_bill_id for b in bills]
    stored = {s.platform_bill_id: s for s in SettlementLine.objects.select_for_update().filter(
        shop_id=shop_id, platform_bill_id__in=ids)}
    poids = sorted({b.platform_order_id for b in bills if b.platform_order_id})
    snapshots = _snapshots_by_platform_ids(shop_id, poids)
    new_rows, changed_rows, touched = [], [], set()
    unchanged = 0
    platforms: dict[str, str] = {}

    def shop_platform() -> str:
        if "" not in platforms:
            platforms[""] = _shop_platform(shop_id)
        return platforms[""]

    latest: dict[str, object] = {}
    for bill in bills:  # a bill id twice in one batch: the later one wins
        latest[bill.platform_bill_id] = bill
    todo = []
    for bill in latest.values():
        amount = _money(bill.amount)
        row = stored.get(bill.platform_bill_id)
        delta = amount - (row.amount if row else ZERO)
        if row is not None and delta == 0:
            unchanged += 1
            continue
        snapshot = snapshots.get(bill.platform_order_id) if bill.platform_order_id else None
        platform = bill.platform or (snapshot.platform if snapshot else "") or shop_platform()
        todo.append((bill, row, amount, delta, snapshot, platform))
    if not todo:
        return {"posted": 0, "unchanged": unchanged}
    accounts, fee_accounts = _settlement_accounts({platform for *_rest, platform in todo})
    postings: list[_BillPosting] = []
    for bill, row, amount, delta, snapshot, platform in todo:
        kind = row.kind if row else _bill_kind(bill.kind)
        n = (row.postings + 1) if row else 1
        memo = (f"{BillKind(kind).label} {bill.platform_bill_id}"
                + (f" ({_('adjustment')})" if row else "") + (f" {bill.description}" if bill.description else ""))
        lines = settlement_lines_for(shop_id=shop_id, platform=platform, bill_id=bill.platform_bill_id, kind=kind,
                                     delta=delta, snapshot=snapshot, poid=bill.platform_order_id, memo=memo,
                                     cache=accounts)
        for ln in lines:
            if isinstance(ln.account, str):
                ln.account = fee_accounts.get(ln.account, ln.account)
        postings.append(_BillPosting(bill_id=bill.platform_bill_id, posting=n, memo=memo,
                                     date=local_date(bill.booked_at), lines=lines))
        if row is None:
            new_rows.append(SettlementLine(
                shop_id=shop_id, platform=platform, platform_bill_id=bill.platform_bill_id,
                platform_order_id=bill.platform_order_id or "", order_id=snapshot.id if snapshot else None, kind=kind,
                amount=amount, booked_at=bill.booked_at, description=(bill.description or "")[:300]))
        else:
            row.amount, row.postings, row.booked_at = amount, n, bill.booked_at
            row.order_id = row.order_id or (snapshot.id if snapshot else None)
            changed_rows.append(row)
        if bill.platform_order_id:
            touched.add(bill.platform_order_id)
            platforms[bill.platform_order_id] = platform
    specs = _settlement_specs(shop_id, postings)
    made = vouchers_post_auto(specs)
    if len(made) != len(specs):
        # a reference posted before means these bill lines were booked meanwhile (a concurrent pull):
        # recording them again without their voucher would leave the books short; the retry skips them
        raise Conflict(_("These bill lines were settled meanwhile: retry to skip them."))
    tenant = require_tenant()
    for row in new_rows:
        row.tenant = tenant
    SettlementLine.objects.bulk_create(new_rows)
    if changed_rows:
        _update_rows(SettlementLine, changed_rows, ["amount", "postings", "booked_at", "order_id"])
    _refresh_recons(shop_id, sorted(touched), snapshots, platforms)
    return {"posted": len(postings), "unchanged": unchanged}


def _recon_row(shop_id: int, poid: str, *, platform: str = "") -> Reconciliation:
    rec = Reconciliation.objects.select_for_update().filter(shop_id=shop_id, platform_order_id=poid).first()
    if rec is None:
        rec, _created = Reconciliation.objects.get_or_create(shop_id=shop_id, platform_order_id=poid,
                                                             defaults={"platform": platform})
    if platform and not rec.platform:
        rec.platform = platform
    return rec


def _recon_rows(shop_id: int, wanted: dict[str, str]) -> dict[str, Reconciliation]:
    """_recon_row for many platform orders ({platform order id: platform}), locked, in one query (three
    when some are new)."""
    rows = {r.platform_order_id: r for r in Reconciliation.objects.select_for_update().filter(
        shop_id=shop_id, platform_order_id__in=list(wanted)).order_by("platform_order_id")}
    missing = [poid for poid in wanted if poid not in rows]
    if missing:
        tenant = require_tenant()
        Reconciliation.objects.bulk_create(
            [Reconciliation(tenant=tenant, shop_id=shop_id, platform_order_id=poid, platform=wanted[poid])
             for poid in missing], ignore_conflicts=True)  # made concurrently: theirs is as good
        rows.update({r.platform_order_id: r for r in Reconciliation.objects.select_for_update().filter(
            shop_id=shop_id, platform_order_id__in=missing).order_by("platform_order_id")})
    for poid, platform in wanted.items():
        if platform and not rows[poid].platform:
            rows[poid].platform = platform
    return rows


_RECON_SETTLEMENT_FIELDS = ["platform", "order_id", "settled_amount", "fees_amount", "bill_lines", "last_bill_at",
                            "difference", "status", "updated_at"]


def _refresh_recons(shop_id: int, poids: list[str], snapshots: dict, platforms: dict | None = None) -> None:
    """Settled amount, fees, bill count and status of these platform orders from all their settlement
    lines. Four statements whatever their number (six when some have no reconciliation yet)."""
    if not poids:
        return
    sums = {row["platform_order_id"]: row for row in SettlementLine.objects.filter(
        shop_id=shop_id, platform_order_id__in=poids).values("platform_order_id").order_by().annotate(
        settled=Sum("amount", filter=Q(kind__in=SETTLED_KINDS)), fees=Sum("amount", filter=Q(kind__in=FEE_KINDS)),
        n=Count("id"), last=Max("booked_at"))}
    recs = _recon_rows(shop_id, {poid: snapshots[poid].platform if poid in snapshots else (platforms or {}).get(poid, "")
                                 for poid in poids})
    now = timezone.now()
    for poid in poids:
        snapshot = snapshots.get(poid)
        rec = recs[poid]
        agg = sums.get(poid) or {}
        rec.settled_amount = agg.get("settled") or ZERO
        rec.fees_amount = -(agg.get("fees") or ZERO)
        rec.bill_lines = agg.get("n") or 0
        rec.last_bill_at = agg.get("last")
        if snapshot is not None and rec.order_id is None:
            rec.order_id = snapshot.id
        _recompute_status(rec)
        rec.updated_at = now
    _update_rows(Reconciliation, [recs[poid] for poid in poids], _RECON_SETTLEMENT_FIELDS)


def _update_rows(model, rows: list, fields: list[str], *, batch: int = 1000) -> None:
    """Write ``fields`` of these (tenant's) rows: on Postgres one UPDATE ... FROM (VALUES ...) per
    ``batch`` rows (Django's bulk_update builds a CASE per field and row, whose compiling cost more
    than the settlement itself); elsewhere bulk_update. Row-level security applies as to any query."""
    from django.db import connection

    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(rows, fields)
        return
    qn = connection.ops.quote_name
    meta = model._meta
    cols = [meta.pk, *(meta.get_field(name) for name in fields)]
    cell = "(" + ", ".join(f"CAST(%s AS {f.cast_db_type(connection)})" for f in cols) + ")"
    sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in cols[1:])
    names = ", ".join(qn(f.column) for f in cols)
    pk = qn(meta.pk.column)
    tenant_id = require_tenant().pk
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            params = [f.get_db_prep_save(getattr(row, f.attname), connection) for row in part for f in cols]
            cursor.execute(f"UPDATE {qn(meta.db_table)} AS t SET {sets} FROM (VALUES {', '.join([cell] * len(part))}) "
                           f"AS v({names}) WHERE t.{pk} = v.{pk} AND t.tenant_id = %s", [*params, tenant_id])


def _recompute_status(rec: Reconciliation) -> None:
    rec.difference = rec.settled_amount - (rec.shipped_amount - rec.refunded_amount)
    if rec.bill_lines == 0:
        rec.status = ReconStatus.UNSETTLED if rec.status == ReconStatus.UNSETTLED else ReconStatus.AWAITING
    elif rec.order_id is None and rec.shipped_at is None:
        rec.status = ReconStatus.NO_ORDER
    elif rec.difference == 0:
        rec.status = ReconStatus.MATCHED
    else:
        rec.status = ReconStatus.DIFFERENCE


def _recompute(rec: Reconciliation) -> None:
    _recompute_status(rec)
    rec.save()


@transaction.atomic
def reconciliation_resolve(*, reconciliation: Reconciliation, note: str, user=None) -> Reconciliation:
    """An operator accepts an exception (a subsidy, a write-off booked by hand); new bills reopen it."""
    rec = Reconciliation.objects.select_for_update().get(pk=reconciliation.pk)
    if rec.status not in (ReconStatus.DIFFERENCE, ReconStatus.NO_ORDER, ReconStatus.UNSETTLED):
        raise Conflict(_("Only an exception (difference, bill without order, unsettled) can be resolved."))
    if not (note or "").strip():
        raise ValidationError({"note": [_("Say why the exception is accepted.")]})
    rec.status, rec.note = ReconStatus.RESOLVED, note.strip()[:300]
    rec.save(update_fields=["status", "note", "updated_at"])
    return rec


@transaction.atomic
def reconciliation_flag_unsettled(*, now=None) -> int:
    """Shipped orders with no bill line after the tenant's settlement_due_days go to the unsettled queue."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings_get().settlement_due_days)
    return Reconciliation.objects.filter(status=ReconStatus.AWAITING, bill_lines=0, shipped_at__lt=cutoff).update(
        status=ReconStatus.UNSETTLED, updated_at=now)


# --- event handlers ------------------------------------------------------------------------------------
def _handle(source_type: str, source_ref, fn, payload: dict):
    """Run a posting rule in a savepoint; a failure is logged and kept as a PostingIssue, never
    raised into the publisher's transaction."""
    try:
        with transaction.atomic():
            result = fn(**payload)
        PostingIssue.objects.filter(source_type=source_type, source_ref=str(source_ref), resolved_at__isnull=True) \
            .update(resolved_at=timezone.now())
        return result
    except Exception as exc:  # noqa: BLE001 - any failure of a posting rule
        logger.exception("finance: posting %s %s failed", source_type, source_ref)
        _record_issue(source_type, str(source_ref), payload, exc)
        return None


def _record_issue(source_type: str, source_ref: str, payload: dict, exc: Exception) -> None:
    import json

    try:
        with transaction.atomic():
            data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder, default=str))
            PostingIssue.objects.update_or_create(
                source_type=source_type, source_ref=source_ref,
                defaults={"payload": data, "error": f"{type(exc).__name__}: {exc}"[:1000], "resolved_at": None,
                          "last_tried_at": timezone.now()})
    except Exception:  # noqa: BLE001 - never let the bookkeeping of a failure fail the publisher
        logger.exception("finance: could not record the posting issue %s %s", source_type, source_ref)


def on_order_shipped(*, order_id, **_extra):
    return _handle(SourceType.ORDER_SHIPPED, order_id, post_order_shipped, {"order_id": order_id})


def on_purchase_received(**payload):
    return _handle(SourceType.PURCHASE_RECEIVED, payload.get("receipt_id"), post_purchase, dict(payload))


def on_purchase_returned(**payload):
    return _handle(SourceType.PURCHASE_RETURNED, payload.get("receipt_id"), post_purchase,
                   {**payload, "returned": True})


def on_aftersales_refunded(**payload):
    return _handle(SourceType.AFTERSALES_REFUNDED, payload.get("ticket_id"), post_refund, dict(payload))


def goods_returned_ref(payload: dict) -> str:
    """A ticket may return goods to several warehouses, or in several receipts: the reference names
    the ticket, the warehouse and the lines, so a repeated event posts once and a new receipt posts."""
    import hashlib

    lines = sorted((int(r.get("sku_id") or 0), int(r.get("quantity") or 0), bool(r.get("defective")))
                   for r in payload.get("lines") or ())
    digest = hashlib.sha1(repr(lines).encode()).hexdigest()[:12]
    return f"{payload.get('ticket_id')}:{payload.get('warehouse_id') or ''}:{digest}"


def on_goods_returned(**payload):
    ref = goods_returned_ref(payload)
    return _handle(SourceType.GOODS_RETURNED, ref, post_goods_returned, {**payload, "source_ref": ref})


def on_stock_adjusted(**payload):
    ref = stock_adjusted_ref(payload)
    return _handle(SourceType.STOCK_ADJUSTED, ref, post_stock_adjusted, {**payload, "source_ref": ref})


def on_platform_bills_changed(*, shop_id, platform_bill_ids, **_extra):
    from integrations.selectors import normalized_bill_lines

    def run(*, shop_id, platform_bill_ids):
        bills = normalized_bill_lines(shop_id=shop_id, platform_bill_ids=list(platform_bill_ids))
        return settle_bill_lines(shop_id=shop_id, bills=bills)

    ref = f"{shop_id}:{platform_bill_ids[0] if platform_bill_ids else ''}+{len(platform_bill_ids)}"
    return _handle("platform_bills.changed", ref, run, {"shop_id": shop_id, "platform_bill_ids": list(platform_bill_ids)})


HANDLERS = {
    SourceType.ORDER_SHIPPED: lambda p: post_order_shipped(**p),
    SourceType.PURCHASE_RECEIVED: lambda p: post_purchase(**p),
    SourceType.PURCHASE_RETURNED: lambda p: post_purchase(**p),
    SourceType.AFTERSALES_REFUNDED: lambda p: post_refund(**p),
    SourceType.GOODS_RETURNED: lambda p: post_goods_returned(**p),
    SourceType.STOCK_ADJUSTED: lambda p: post_stock_adjusted(**p),
}


@transaction.atomic
def posting_issue_retry(*, issue: PostingIssue) -> bool:
    """Run a failed posting again with its stored payload. True when it went through now."""
    issue = PostingIssue.objects.select_for_update().get(pk=issue.pk)
    if issue.resolved_at is not None:
        raise Conflict(_("This issue is resolved already."))
    payload = dict(issue.payload)
    try:
        with transaction.atomic():
            if issue.source_type == "platform_bills.changed":
                from integrations.selectors import normalized_bill_lines

                bills = normalized_bill_lines(shop_id=payload["shop_id"], platform_bill_ids=payload["platform_bill_ids"])
                settle_bill_lines(shop_id=payload["shop_id"], bills=bills)
            else:
                HANDLERS[issue.source_type](payload)
    except Exception as exc:  # noqa: BLE001
        issue.error, issue.last_tried_at, issue.attempts = f"{type(exc).__name__}: {exc}"[:1000], timezone.now(), issue.attempts + 1
        issue.save(update_fields=["error", "last_tried_at", "attempts"])
        return False
    issue.resolved_at, issue.attempts = timezone.now(), issue.attempts + 1
    issue.save(update_fields=["resolved_at", "attempts"])
    return True


def posting_issues_retry_all(*, limit: int = 500) -> int:
    """Retry every open posting issue (the daily job does; a fixed cause lets them through). Each
    runs in its own transaction. Returns how many went through."""
    done = 0
    for issue in PostingIssue.objects.filter(resolved_at__isnull=True).order_by("id")[:limit]:
        try:
            done += posting_issue_retry(issue=issue)
        except Conflict:
            continue
    return done


# --- month-end carry-forward of profit and loss (结转损益) ------------------------------------------
def carry_forward_ref(period: Period) -> str:
    """The source_ref of a period's first carry-forward voucher; later ones add ":2", ":3"..."""
    return f"carry-forward:{period.key}"


def _carry_forward_balances(period: Period) -> dict[tuple[int, str], Decimal]:
    """Net debit (debits minus credits) per (revenue or expense account, currency) of the period's
    posted lines, earlier carry-forward vouchers included (so a rerun sees only what is left)."""
    from .models import AccountType

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
