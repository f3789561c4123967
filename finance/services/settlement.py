"""Settlement of platform bills: NormalizedBillLines of a shop booked set-based (wallet against
receivable for sales, freight and refunds; fee accounts for commissions and fees), one settlement
voucher per booking date and currency, the stored SettlementLines, and their reconciliations refreshed.
A bill id booked before with the same amount changes nothing; a changed amount posts the difference.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.tenancy.context import require_tenant

from .. import chart
from ..models import SETTLED_KINDS, Account, BillKind, LineTag, SettlementLine, SourceType
from .ledger import ZERO, LineSpec, VoucherSpec, local_date, vouchers_post_auto
from .reconciliation import _refresh_recons, _update_rows
from .rules import _allocate, _money, _pair, _shipped_lines, _shop_platform, _snapshots_by_platform_ids

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

