"""Finance reads: the trial balance, profit and loss by month, profit and margin by shop / platform /
SKU, the reconciliation queues and the flat ledger for BI. Every figure is derived from posted
voucher lines (the ledger is the truth)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from erp.tenancy.dates import tenant_today

from . import chart
from .models import (
    DEBIT_NORMAL,
    Account,
    AccountType,
    LineTag,
    Period,
    Reconciliation,
    ReconStatus,
    SourceType,
    Voucher,
    VoucherLine,
    VoucherStatus,
)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
FEE_CODES = (chart.COMMISSION, chart.SERVICE_FEE, chart.OTHER_FEE)


def _q(value) -> Decimal:
    """A summed amount to the cent (SQLite sums decimals without their scale)."""
    if value is None:
        return ZERO
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT)


def posted_lines():
    return VoucherLine.objects.filter(voucher__status=VoucherStatus.POSTED)


def period_range(period: Period) -> tuple[datetime.date, datetime.date]:
    start = datetime.date(period.year, period.month, 1)
    end = datetime.date(period.year + (period.month == 12), period.month % 12 + 1, 1)
    return start, end


def current_period() -> Period:
    """This month's period (an unsaved open one when nothing was posted in it yet: reads create nothing)."""
    today = tenant_today()
    return period_of(year=today.year, month=today.month)


def period_of(*, year: int, month: int) -> Period:
    return Period.objects.filter(year=year, month=month).first() or Period(year=year, month=month)


# --- trial balance ------------------------------------------------------------------------------------
@dataclass
class TrialBalanceRow:
    account_id: int
    code: str
    name: str
    type: str
    opening_debit: Decimal = ZERO
    opening_credit: Decimal = ZERO
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    closing_debit: Decimal = ZERO
    closing_credit: Decimal = ZERO
    is_parent: bool = False  # a subtotal of its sub-accounts (not counted in the totals)


@dataclass
class TrialBalance:
    period: Period
    rows: list[TrialBalanceRow] = field(default_factory=list)
    totals: TrialBalanceRow | None = None

    @property
    def balanced(self) -> bool:
        t = self.totals
        return (t.opening_debit == t.opening_credit and t.debit == t.credit and t.closing_debit == t.closing_credit)


def _sides(net: Decimal) -> tuple[Decimal, Decimal]:
    return (net, ZERO) if net >= 0 else (ZERO, -net)


def trial_balance(*, period: Period) -> TrialBalance:
    """Per account: the opening balance (all postings before the period), the period's debits and
    credits, and the closing balance, each balance shown on its side. Totals agree when the books do."""
    start, _end = period_range(period)
    before = Q(voucher__date__lt=start)
    within = Q(voucher__period__year=period.year, voucher__period__month=period.month)
    agg = (posted_lines().filter(before | within).values("account_id").order_by()
           .annotate(od=Sum("debit", filter=before), oc=Sum("credit", filter=before),
                     d=Sum("debit", filter=within), c=Sum("credit", filter=within)))
    agg = list(agg)
    accounts = {a.pk: a for a in Account.objects.filter(pk__in=[r["account_id"] for r in agg])}
    parents = {a.pk: a for a in Account.objects.filter(pk__in={a.parent_id for a in accounts.values() if a.parent_id})}
    tb = TrialBalance(period=period)
    totals = TrialBalanceRow(account_id=0, code="", name="", type="")
    subtotals: dict[int, list] = {}
    for r in agg:
        account = accounts[r["account_id"]]
        od, oc, d, c = _q(r["od"]), _q(r["oc"]), _q(r["d"]), _q(r["c"])
        row = _tb_row(account, od - oc, d, c)
        if any((row.opening_debit, row.opening_credit, row.debit, row.credit)):
            tb.rows.append(row)
        for name in ("opening_debit", "opening_credit", "debit", "credit", "closing_debit", "closing_credit"):
            setattr(totals, name, getattr(totals, name) + getattr(row, name))
        if account.parent_id:
            sub = subtotals.setdefault(account.parent_id, [ZERO, ZERO, ZERO])
            sub[0], sub[1], sub[2] = sub[0] + od - oc, sub[1] + d, sub[2] + c
    for parent_id, (opening, d, c) in subtotals.items():
        row = _tb_row(parents[parent_id], opening, d, c)
        row.is_parent = True
        if any((row.opening_debit, row.opening_credit, row.debit, row.credit)):
            tb.rows.append(row)
    tb.rows.sort(key=lambda r: r.code)
    tb.totals = totals
    return tb


def _tb_row(account: Account, opening_net: Decimal, debit: Decimal, credit: Decimal) -> TrialBalanceRow:
    row = TrialBalanceRow(account_id=account.pk, code=account.code, name=account.name, type=account.type)
    row.opening_debit, row.opening_credit = _sides(opening_net)
    row.debit, row.credit = debit, credit
    row.closing_debit, row.closing_credit = _sides(opening_net + debit - credit)
    return row


def account_ledger(*, account: Account, period: Period):
    """An account's posted lines in a period with the running balance on its normal side, and the
    opening and closing balances (明细账). Sub-accounts' lines count for a parent account."""
    start, _end = period_range(period)
    ids = [account.pk, *Account.objects.filter(parent=account).values_list("pk", flat=True)]
    lines = posted_lines().filter(account_id__in=ids)
    opening = lines.filter(voucher__date__lt=start).aggregate(d=Sum("debit"), c=Sum("credit"))
    sign = 1 if account.debit_normal else -1
    balance = sign * (_q(opening["d"]) - _q(opening["c"]))
    opening_balance = balance
    rows = []
    for ln in (lines.filter(voucher__period__year=period.year, voucher__period__month=period.month)
               .select_related("voucher", "voucher__period", "account").order_by("voucher__date", "voucher__number", "id")):
        balance += sign * (ln.debit - ln.credit)
        rows.append((ln, balance))
    return {"opening": opening_balance, "rows": rows, "closing": balance,
            "debit": sum((ln.debit for ln, _b in rows), ZERO), "credit": sum((ln.credit for ln, _b in rows), ZERO)}


def account_balances(*, as_of: datetime.date | None = None) -> dict[str, Decimal]:
    """Net balance per account code on its normal side (debit-normal accounts debit minus credit)."""
    qs = posted_lines()
    if as_of is not None:
        qs = qs.filter(voucher__date__lte=as_of)
    out = {}
    for r in qs.values("account__code", "account__type").order_by().annotate(d=Sum("debit"), c=Sum("credit")):
        net = _q(r["d"]) - _q(r["c"])
        out[r["account__code"]] = net if r["account__type"] in DEBIT_NORMAL else -net
    return out


# --- profit -------------------------------------------------------------------------------------------
@dataclass
class Profit:
    key: object = None
    label: str = ""
    revenue: Decimal = ZERO  # goods and freight income
    refunds: Decimal = ZERO  # sales returns
    cogs: Decimal = ZERO
    fees: Decimal = ZERO  # platform commissions and fees
    other_income: Decimal = ZERO
    other_expense: Decimal = ZERO

    @property
    def net_revenue(self) -> Decimal:
        return self.revenue - self.refunds

    @property
    def gross_profit(self) -> Decimal:
        return self.net_revenue - self.cogs - self.fees

    @property
    def net_profit(self) -> Decimal:
        return self.gross_profit + self.other_income - self.other_expense

    @property
    def margin(self) -> Decimal | None:
        if self.net_revenue == 0:
            return None
        return (self.gross_profit * 100 / self.net_revenue).quantize(Decimal("0.1"))

    def add(self, code: str, type_: str, tag: str, debit: Decimal, credit: Decimal) -> None:
        if code == chart.REVENUE:
            if tag == LineTag.RETURNS:
                self.refunds += debit - credit
            else:
                self.revenue += credit - debit
        elif code == chart.COGS:
            self.cogs += debit - credit
        elif code in FEE_CODES:
            self.fees += debit - credit
        elif type_ == AccountType.REVENUE:
            self.other_income += credit - debit
        elif type_ == AccountType.EXPENSE:
            self.other_expense += debit - credit

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "revenue": self.revenue, "refunds": self.refunds,
                "net_revenue": self.net_revenue, "cogs": self.cogs, "fees": self.fees, "gross_profit": self.gross_profit,
                "margin": self.margin, "other_income": self.other_income, "other_expense": self.other_expense,
                "net_profit": self.net_profit}


# Closing entries are not revenue or expense: the month-end carry-forward (结转损益) to 本年利润 and
# the reversal of one. BI consumers of finance_ledger_bi filter them out the same way (source_type).
NOT_PROFIT_AND_LOSS = Q(voucher__source_type=SourceType.CARRY_FORWARD) | Q(
    voucher__reversal_of__source_type=SourceType.CARRY_FORWARD)


def _pl_lines(date_from=None, date_to=None):
    """Posted revenue and expense lines, less the carry-forward vouchers (they would cancel the month)."""
    qs = (posted_lines().filter(account__type__in=[AccountType.REVENUE, AccountType.EXPENSE])
          .exclude(NOT_PROFIT_AND_LOSS))
    if date_from:
        qs = qs.filter(voucher__date__gte=date_from)
    if date_to:
        qs = qs.filter(voucher__date__lte=date_to)
    return qs


def profit_by_month(*, year: int) -> tuple[list[Profit], Profit]:
    """Profit and loss per month of ``year`` (the voucher's period) and the year's total."""
    months = {m: Profit(key=m, label=f"{year}-{m:02d}") for m in range(1, 13)}
    total = Profit(key=year, label=str(year))
    rows = (_pl_lines().filter(voucher__period__year=year)
            .values("voucher__period__month", "account__code", "account__type", "tag").order_by()
            .annotate(d=Sum("debit"), c=Sum("credit")))
    for r in rows:
        args = (r["account__code"], r["account__type"], r["tag"], _q(r["d"]), _q(r["c"]))
        months[r["voucher__period__month"]].add(*args)
        total.add(*args)
    return [months[m] for m in range(1, 13)], total


DIMENSIONS = {"shop": "shop_id", "platform": "platform", "sku": "sku_id"}


def profit_by(*, by: str, date_from=None, date_to=None) -> tuple[list[Profit], Profit]:
    """Profit and margin by shop, platform or SKU over a date range; lines without the dimension
    (e.g. a shop-wide fee) are a row of their own ("—") so the rows add up to the total."""
    column = DIMENSIONS[by]
    groups: dict[object, Profit] = {}
    total = Profit(key=None, label="")
    rows = (_pl_lines(date_from, date_to).values(column, "account__code", "account__type", "tag").order_by()
            .annotate(d=Sum("debit"), c=Sum("credit")))
    for r in rows:
        key = r[column] if r[column] not in ("", None) else None
        args = (r["account__code"], r["account__type"], r["tag"], _q(r["d"]), _q(r["c"]))
        groups.setdefault(key, Profit(key=key)).add(*args)
        total.add(*args)
    labels = _labels(by, [k for k in groups if k is not None])
    for key, profit in groups.items():
        profit.label = labels.get(key, str(key)) if key is not None else "—"
    out = sorted(groups.values(), key=lambda p: (p.key is None, -p.gross_profit, str(p.key)))
    return out, total


def profit_charts(*, months: list[Profit], rows: list[Profit], by: str, top: int = 15) -> dict:
    """Chart specs (static/erp/charts.js) from the profit page's own figures: the monthly trend of
    ``profit_by_month`` (net revenue, gross profit, margin %) and the margin of the ``profit_by`` rows
    with the most gross profit (the dimension's "—" row left out: it has no margin of its own)."""
    from django.utils.translation import gettext as _

    money = [{"name": _("Amount")}, {"name": _("Margin %"), "unit": "%"}]
    groups = [p for p in rows if p.key is not None][:top]
    return {
        "trend": {"type": "bar", "categories": [p.label for p in months], "axes": money,
                  "series": [{"name": _("Net revenue"), "data": [p.net_revenue for p in months]},
                             {"name": _("Gross profit"), "data": [p.gross_profit for p in months]},
                             {"name": _("Margin %"), "type": "line", "axis": 1, "unit": "%",
                              "data": [p.margin for p in months]}]},
        "margin": {"type": "bar", "horizontal": True, "categories": [p.label for p in groups], "by": by, "axes": money,
                   "series": [{"name": _("Gross profit"), "data": [p.gross_profit for p in groups]},
                              {"name": _("Margin %"), "type": "line", "axis": 1, "unit": "%",
                               "data": [p.margin for p in groups]}],
                   "empty": _("Nothing posted.")},
    }


def _labels(by: str, keys: list) -> dict:
    if not keys:
        return {}
    if by == "platform":
        return {k: chart.PLATFORMS.get(k, (None, k))[1] for k in keys}
    if by == "shop":
        from integrations.selectors import shops_with_platform

        names = {s.pk: f"{s.name} ({s.platform})" for s in shops_with_platform().filter(pk__in=keys)}
        return {k: names.get(k, f"#{k}") for k in keys}  # an inactive shop keeps its id
    from inventory.selectors import skus_by_ids

    return {pk: f"{s.code} {s.name}" for pk, s in skus_by_ids(sku_ids=keys).items()}


def month_gross_profit() -> dict:
    today = tenant_today()
    start = today.replace(day=1)
    _rows, total = profit_by(by="platform", date_from=start, date_to=today)
    return {"gross_profit": total.gross_profit, "margin": total.margin, "net_revenue": total.net_revenue}


def open_posting_issues() -> int:
    from .models import PostingIssue

    return PostingIssue.objects.filter(resolved_at__isnull=True).count()


# --- reconciliation -----------------------------------------------------------------------------------
def reconciliation_counts() -> dict[str, int]:
    rows = Reconciliation.objects.values_list("status").order_by().annotate(n=Count("id"))
    counts = dict(rows)
    return {s: counts.get(s, 0) for s in ReconStatus.values}


def reconciliation_summary() -> list[dict]:
    """Per status: orders, shipped, settled, fees and the sum of differences."""
    rows = (Reconciliation.objects.values("status").order_by()
            .annotate(orders=Count("id"), shipped=Sum("shipped_amount"), refunded=Sum("refunded_amount"),
                      settled=Sum("settled_amount"), fees=Sum("fees_amount"), difference=Sum("difference")))
    found = {r["status"]: r for r in rows}
    out = []
    for value, label in ReconStatus.choices:
        r = found.get(value, {})
        out.append({"status": value, "label": str(label), "orders": r.get("orders", 0),
                    **{k: _q(r.get(k)) for k in ("shipped", "refunded", "settled", "fees", "difference")}})
    return out


def reconciliation_queue(*, status: str | None = None, shop_id: int | None = None, q: str = ""):
    qs = Reconciliation.objects.all().order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if shop_id:
        qs = qs.filter(shop_id=shop_id)
    if q:
        qs = qs.filter(platform_order_id=q)
    return qs


# --- ledger -------------------------------------------------------------------------------------------
BI_COLUMNS = [
    ("line_id", "id"), ("voucher_id", "voucher_id"), ("voucher_number", "voucher__number"),
    ("period_year", "voucher__period__year"), ("period_month", "voucher__period__month"),
    ("entry_date", "voucher__date"), ("posted_at", "voucher__posted_at"), ("source_type", "voucher__source_type"),
    ("source_ref", "voucher__source_ref"), ("reversal_of_id", "voucher__reversal_of_id"),
    ("voucher_memo", "voucher__memo"), ("account_code", "account__code"), ("account_name", "account__name"),
    ("account_type", "account__type"), ("debit", "debit"), ("credit", "credit"), ("currency", "currency"),
    ("tag", "tag"), ("shop_id", "shop_id"), ("platform", "platform"), ("order_id", "order_id"),
    ("platform_order_id", "platform_order_id"), ("sku_id", "sku_id"), ("supplier_id", "supplier_id"),
    ("line_memo", "memo"),
]


def ledger_rows(*, date_from=None, date_to=None, account_code: str = ""):
    """Posted voucher lines with their dimensions, in stable columns (the BI feed; the same columns
    as the finance_ledger_bi database view, less net_debit and tenant_id)."""
    qs = posted_lines().order_by("id")
    if date_from:
        qs = qs.filter(voucher__date__gte=date_from)
    if date_to:
        qs = qs.filter(voucher__date__lte=date_to)
    if account_code:
        qs = qs.filter(account__code__startswith=account_code)
    plain = [path for name, path in BI_COLUMNS if name == path]
    return qs.values(*plain, **{name: F(path) for name, path in BI_COLUMNS if name != path})


@dataclass
class BooksProblem:
    kind: str
    message: str


def books_verify() -> list[BooksProblem]:
    """Every posted voucher balances with two or more one-sided lines; the trial balance of every
    period agrees; no posted voucher sits in a period its date is not in."""
    problems = []
    bad = (Voucher.objects.filter(status=VoucherStatus.POSTED).annotate(
        n=Count("lines"), d=Sum("lines__debit"), c=Sum("lines__credit")))
    for v in bad.filter(Q(n__lt=2) | ~Q(d=F("c"))).select_related("period"):
        problems.append(BooksProblem("unbalanced", f"voucher {v.display_no} (id {v.pk}): {v.n} lines, "
                                                   f"debits {v.d or ZERO}, credits {v.c or ZERO}"))
    sides = posted_lines().filter(Q(debit__lt=0) | Q(credit__lt=0) | Q(debit__gt=0, credit__gt=0)).count()
    if sides:
        problems.append(BooksProblem("lines", f"{sides} posted line(s) negative or on both sides"))
    for v in Voucher.objects.filter(status=VoucherStatus.POSTED).select_related("period").iterator():
        if (v.date.year, v.date.month) != (v.period.year, v.period.month):
            problems.append(BooksProblem("period", f"voucher {v.display_no} dated {v.date} is in period {v.period.key}"))
    totals = posted_lines().aggregate(d=Sum("debit"), c=Sum("credit"))
    if _q(totals["d"]) != _q(totals["c"]):
        problems.append(BooksProblem("ledger", f"all debits {totals['d']} != all credits {totals['c']}"))
    for period in Period.objects.order_by("year", "month"):
        tb = trial_balance(period=period)
        if not tb.balanced:
            t = tb.totals
            problems.append(BooksProblem("trial_balance", f"{period.key}: opening {t.opening_debit}/{t.opening_credit}, "
                                                          f"period {t.debit}/{t.credit}, closing {t.closing_debit}/"
                                                          f"{t.closing_credit}"))
    return problems


# --- payables: supplier statements, balances and ageing ----------------------------------------------------
AGEING_BUCKETS = ("not_due", "d0_30", "d31_60", "d61_90", "d90_plus")


def ageing_bucket(days_overdue: int) -> str:
    """The bucket of an amount ``days_overdue`` past its due date (negative: not due yet)."""
    if days_overdue < 0:
        return "not_due"
    if days_overdue <= 30:
        return "d0_30"
    if days_overdue <= 60:
        return "d31_60"
    if days_overdue <= 90:
        return "d61_90"
    return "d90_plus"


def supplier_statements(*, supplier_id=None, status: str = "", year=None, month=None):
    """The tenant's supplier statements, newest period first, optionally of one supplier/status/month."""
    from .models import SupplierStatement

    qs = SupplierStatement.objects.all().order_by("-year", "-month", "supplier_name", "-id")
    if supplier_id is not None:
        qs = qs.filter(supplier_id=int(supplier_id))
    if status:
        qs = qs.filter(status=status)
    if year:
        qs = qs.filter(year=int(year))
    if month:
        qs = qs.filter(month=int(month))
    return qs


def payables_ledger_balances(*, supplier_ids=None) -> dict[int, Decimal]:
    """应付账款 (2202) per supplier from the posted ledger: credits minus debits (receipts, returns,
    statement differences and payments)."""
    from . import chart
    from .models import VoucherLine, VoucherStatus

    qs = VoucherLine.objects.filter(account__code=chart.PAYABLE, voucher__status=VoucherStatus.POSTED,
                                    supplier_id__isnull=False)
    if supplier_ids is not None:
        qs = qs.filter(supplier_id__in=list(supplier_ids))
    rows = qs.values("supplier_id").annotate(cr=Sum("credit"), dr=Sum("debit")).order_by()
    return {r["supplier_id"]: (r["cr"] or ZERO) - (r["dr"] or ZERO) for r in rows}


def supplier_ageing(*, as_of=None, supplier_id=None) -> dict:
    """What is owed to each supplier on its posted statements (total less payments), by days past
    the due date (month end + the supplier's payment terms): not yet due, 0-30, 31-60, 61-90, >90.
    Each row also carries the 2202 ledger balance (it includes receipts of statements not yet
    posted). {"as_of", "rows": [{supplier_id, supplier_name, <buckets>, total, ledger, statements}],
    "totals": {<buckets>, total}}."""
    from .models import StatementStatus, SupplierStatement

    as_of = as_of or tenant_today()
    qs = SupplierStatement.objects.filter(status=StatementStatus.POSTED).order_by("supplier_name", "year", "month")
    if supplier_id is not None:
        qs = qs.filter(supplier_id=int(supplier_id))
    by_supplier: dict[int, dict] = {}
    for st in qs:
        owed = st.total_amount - st.paid_amount
        if owed == 0:
            continue
        row = by_supplier.setdefault(st.supplier_id, {
            "supplier_id": st.supplier_id, "supplier_name": st.supplier_name, "total": ZERO, "statements": 0,
            **{b: ZERO for b in AGEING_BUCKETS}})
        due = st.due_date or as_of
        row[ageing_bucket((as_of - due).days)] += owed
        row["total"] += owed
        row["statements"] += 1
    ledger = payables_ledger_balances(supplier_ids=list(by_supplier) if supplier_id is None else [int(supplier_id)])
    for sid, row in by_supplier.items():
        row["ledger"] = ledger.get(sid, ZERO)
    rows = sorted(by_supplier.values(), key=lambda r: (r["supplier_name"], r["supplier_id"]))
    totals = {b: sum((r[b] for r in rows), ZERO) for b in (*AGEING_BUCKETS, "total")}
    return {"as_of": as_of, "rows": rows, "totals": totals}


def platform_fees_by_order_sku(*, order_ids) -> dict[tuple[int, int | None], Decimal]:
    """{(order id, SKU id): platform commissions and fees posted for it} (settlements spread an
    order's fees over its SKUs; a fee without SKU is keyed by None). Reads the posted ledger."""
    ids = list(order_ids)
    if not ids:
        return {}
    rows = (posted_lines().filter(order_id__in=ids, account__code__in=FEE_CODES)
            .values("order_id", "sku_id").order_by().annotate(d=Sum("debit"), c=Sum("credit")))
    return {(r["order_id"], r["sku_id"]): _q(r["d"]) - _q(r["c"]) for r in rows}
