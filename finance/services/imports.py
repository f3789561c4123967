"""Set-based postings for the data import (dataimport app): the opening stock voucher and the
opening balances of accounts.

- ``opening_stock_post(posted=..., options=...)``: one posted voucher per committed batch of opening
  stock (reference ``opening-stock:<job>:<first line>``, idempotent through ``vouchers_post_auto``):
  Dr 1405 库存商品 per (warehouse, SKU) line with the SKU as dimension and the warehouse in the memo,
  Cr 3104 利润分配 (the offset of opening balances) for the total.
- ``account_balances_import(rows=..., commit=..., options=...)``: the whole file as one voucher that
  must balance, reference ``opening-balances``; importing it again changes nothing, a different file
  afterwards is refused (correct with a manual voucher). 1405 is refused while opening stock has been
  booked (that import valued it already).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from erp.tenancy.dates import tenant_today

from .. import chart
from ..models import Account, SourceType, Voucher, VoucherLine
from .ledger import LineSpec, VoucherSpec, vouchers_post_auto

OPENING_STOCK_REF = "opening-stock:"
OPENING_BALANCES_REF = "opening-balances"
ZERO = Decimal("0.00")


def _stock_memo(warehouse_code: str) -> str:
    return f"期初库存 opening stock {warehouse_code}"[:300]


def opening_stock_post(*, posted: dict, options: dict) -> list[Voucher]:
    lines = [ln for ln in posted.get("lines", []) if Decimal(ln["amount"]) > 0]
    if not lines:
        return []
    total = sum((Decimal(ln["amount"]) for ln in lines), ZERO)
    specs = [LineSpec(account=chart.INVENTORY, debit=Decimal(ln["amount"]), sku_id=ln["sku_id"],
                      memo=_stock_memo(ln["warehouse_code"])) for ln in lines]
    specs.append(LineSpec(account=chart.PROFIT_DISTRIBUTION, credit=total, memo="期初库存 opening stock"))
    ref = f"{OPENING_STOCK_REF}{options.get('job_id', '')}:{posted.get('first_line', 0)}"
    return vouchers_post_auto([VoucherSpec(date=tenant_today(), memo=_("Opening stock (import %(ref)s)")
                                           % {"ref": options.get("source", "")}, source_type=SourceType.MANUAL,
                                           source_ref=ref[:120], lines=specs)])


def opening_stock_reconcile(*, rows: list[dict], options: dict) -> dict:
    """Stock value per warehouse read back from the books (rows that gave a unit cost)."""
    from inventory.selectors import skus_by_codes

    wanted = [r for r in rows if "unit_cost" in r]
    if not wanted:
        return {}
    skus = {code: sku.pk for code, sku in skus_by_codes(codes={r["sku_code"] for r in wanted}).items()}
    memos = {_stock_memo(r["warehouse_code"]): r["warehouse_code"] for r in wanted}
    booked = defaultdict(Decimal)
    for sku_id, memo, debit in VoucherLine.objects.filter(
            voucher__source_type=SourceType.MANUAL, voucher__source_ref__startswith=OPENING_STOCK_REF,
            account__code=chart.INVENTORY, sku_id__in=set(skus.values()), memo__in=list(memos)).values_list(
            "sku_id", "memo", "debit"):
        booked[(memos[memo], sku_id)] += debit
    totals = defaultdict(Decimal)
    for r in wanted:
        totals[f"value:{r['warehouse_code']}"] += booked.get((r["warehouse_code"], skus.get(r["sku_code"])), ZERO)
    return dict(totals)


def _opening_voucher():
    return Voucher.objects.filter(source_type=SourceType.MANUAL, source_ref=OPENING_BALANCES_REF).first()


def account_balances_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    result = {"created": 0, "updated": 0, "unchanged": 0, "errors": []}
    chart.chart_ensure()
    accounts = {a.code: a for a in Account.objects.filter(code__in={r["account_code"] for r in rows})}
    parents = set(Account.objects.filter(children__isnull=False).values_list("code", flat=True).distinct())
    stock_booked = VoucherLine.objects.filter(voucher__source_ref__startswith=OPENING_STOCK_REF).exists()
    dates = {r["date"] for r in rows if "date" in r}
    good = []
    for row in rows:
        account = accounts.get(row["account_code"])
        debit, credit = row.get("debit", ZERO), row.get("credit", ZERO)
        if account is None:
            result["errors"].append((row["line"], "account_code", _("unknown account “%(code)s”") % {"code": row["account_code"]}))
        elif account.code in parents:
            result["errors"].append((row["line"], "account_code", _("post to a sub-account of %(code)s") % {"code": account.code}))
        elif not account.is_active:
            result["errors"].append((row["line"], "account_code", _("account %(code)s is inactive") % {"code": account.code}))
        elif account.code == chart.INVENTORY and stock_booked:
            result["errors"].append((row["line"], "account_code", _(
                "1405 is booked by the opening stock import already; leave it out (and its offset)")))
        elif debit < 0 or credit < 0:
            result["errors"].append((row["line"], "debit", _("amounts cannot be negative")))
        elif debit > 0 and credit > 0:
            result["errors"].append((row["line"], "credit", _("give the balance on one side: debit or credit")))
        else:
            good.append((row, account, debit, credit))
    if len(dates) > 1:
        result["errors"].extend((r["line"], "date", _("every row must have the same opening date")) for r in rows)
        return result
    debits = sum((d for _r, _a, d, _c in good), ZERO)
    credits = sum((c for _r, _a, _d, c in good), ZERO)
    if result["errors"] or debits != credits:
        message = _("the file does not balance: debits %(d)s, credits %(c)s") % {"d": debits, "c": credits} \
            if debits != credits else _("another row of the file is rejected; the opening voucher must balance")
        bad = {line for line, _c, _m in result["errors"]}
        result["errors"].extend((r["line"], "debit", message) for r, *_rest in good if r["line"] not in bad)
        return result
    existing = _opening_voucher()
    wanted = {(a.code, d, c) for _r, a, d, c in good if d or c}
    if existing is not None:
        have = set(existing.lines.values_list("account__code", "debit", "credit"))
        if have == wanted:
            result["unchanged"] = len(rows)
            return result
        result["errors"].extend((r["line"], "account_code", _(
            "opening balances were posted already (voucher %(v)s) with other figures; correct them with a manual "
            "voucher") % {"v": existing.pk}) for r, *_rest in good)
        return result
    result["created"] = len(rows)
    if commit and wanted:
        date = dates.pop() if dates else tenant_today()
        lines = [LineSpec(account=a.code, debit=d, credit=c, memo="期初余额 opening balance")
                 for _r, a, d, c in good if d or c]
        try:
            vouchers_post_auto([VoucherSpec(date=date, memo=_("Opening balances (import %(ref)s)")
                                            % {"ref": options.get("source", "")}, source_type=SourceType.MANUAL,
                                            source_ref=OPENING_BALANCES_REF, lines=lines)])
        except ValidationError as exc:
            result["created"] = 0
            result["errors"].extend((r["line"], "account_code", "; ".join(exc.messages)) for r, *_rest in good)
    return result


def account_balances_reconcile(*, rows: list[dict], options: dict) -> dict:
    voucher = _opening_voucher()
    if voucher is None:
        return {"rows": 0, "debit": ZERO, "credit": ZERO}
    codes = {r["account_code"] for r in rows}
    lines = list(voucher.lines.filter(account__code__in=codes).values_list("account__code", "debit", "credit"))
    zero_rows = sum(1 for r in rows if not r.get("debit") and not r.get("credit"))
    return {"rows": len({c for c, _d, _c in lines}) + zero_rows, "debit": sum((d for _c, d, _x in lines), ZERO),
            "credit": sum((c for _c, _d, c in lines), ZERO)}
