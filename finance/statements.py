"""Financial statements from the posted ledger (小企业会计准则 layouts): the balance sheet (资产负债表)
at a month's or a year's end with the year-start column, and the cash flow statement (现金流量表,
direct method) of a month or a year.

Balance sheet: every posted line counts once, on the line item of its account's top-level code
(sub-accounts such as 1012xx platform wallets fall under their parent); accounts the layout does not
name land on the "other" item of their type, so nothing is dropped. Profit not yet carried forward
to 3103 本年利润 (revenue and expense balances) is shown inside 未分配利润: assets always equal
liabilities plus equity when the ledger balances.

Cash flow: cash is 1001 库存现金, 1002 银行存款 and 1012 其他货币资金 (the platform wallets). For every
posted voucher that moves cash, its other lines are the counterparts: a credit is cash in, a debit
cash out, classified by the counterpart's account (a settlement credits 应收账款: cash in from
sales; its commission debit: platform fees out; paying a supplier debits 应付账款: purchases out).
A balanced voucher's counterparts sum to its cash movement, so opening cash plus the net flow
equals closing cash; transfers between cash accounts have no counterpart and do not count."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy as _

from . import chart
from .models import AccountType, VoucherLine, VoucherStatus

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
CASH_CODES = (chart.CASH, chart.BANK, chart.WALLET)


def _q(value) -> Decimal:
    if value is None:
        return ZERO
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT)


def _root(code: str) -> str:
    return code[:4]


def _posted():
    return VoucherLine.objects.filter(voucher__status=VoucherStatus.POSTED)


def _cash_q(prefix: str = "") -> Q:
    q = Q()
    for code in CASH_CODES:
        q |= Q(**{f"{prefix}account__code__startswith": code})
    return q


# --- balance sheet -------------------------------------------------------------------------------------
# (key, label, side, top-level codes); side: asset / liability / equity. The "other" items take the
# accounts of their type no item names.
BS_ITEMS = [
    ("cash", _("Cash and cash equivalents (货币资金)"), "asset", ("1001", "1002", "1012")),
    ("short_investments", _("Short-term investments (短期投资)"), "asset", ("1101",)),
    ("notes_receivable", _("Notes receivable (应收票据)"), "asset", ("1121",)),
    ("receivables", _("Accounts receivable (应收账款)"), "asset", ("1122",)),
    ("prepayments", _("Prepayments (预付账款)"), "asset", ("1123",)),
    ("other_receivables", _("Other receivables (其他应收款)"), "asset", ("1221",)),
    ("inventories", _("Inventories (存货)"), "asset",
     ("1401", "1402", "1403", "1404", "1405", "1406", "1407", "1408", "1411", "1421")),
    ("fixed_assets", _("Fixed assets, net (固定资产)"), "asset", ("1601", "1602")),
    ("intangibles", _("Intangible assets (无形资产)"), "asset", ("1701", "1702")),
    ("other_assets", _("Other assets"), "asset", ()),
    ("short_loans", _("Short-term borrowings (短期借款)"), "liability", ("2001",)),
    ("notes_payable", _("Notes payable (应付票据)"), "liability", ("2201",)),
    ("payables", _("Accounts payable (应付账款)"), "liability", ("2202",)),
    ("advances", _("Advances from customers (预收账款)"), "liability", ("2203",)),
    ("payroll", _("Employee pay payable (应付职工薪酬)"), "liability", ("2211",)),
    ("taxes", _("Taxes payable (应交税费)"), "liability", ("2221",)),
    ("other_payables", _("Other payables (其他应付款)"), "liability", ("2241",)),
    ("long_loans", _("Long-term borrowings (长期借款)"), "liability", ("2501",)),
    ("other_liabilities", _("Other liabilities"), "liability", ()),
    ("capital", _("Paid-in capital (实收资本)"), "equity", ("3001",)),
    ("capital_reserve", _("Capital reserve (资本公积)"), "equity", ("3002",)),
    ("surplus_reserve", _("Surplus reserve (盈余公积)"), "equity", ("3101",)),
    ("retained", _("Retained earnings (未分配利润)"), "equity", (chart.PROFIT_THIS_YEAR, chart.PROFIT_DISTRIBUTION)),
    ("other_equity", _("Other equity"), "equity", ()),
]
_BS_BY_CODE = {code: key for key, _label, _side, codes in BS_ITEMS for code in codes}
_BS_OTHER = {AccountType.ASSET: "other_assets", AccountType.LIABILITY: "other_liabilities",
             AccountType.EQUITY: "other_equity"}
SIDES = (("asset", _("Assets")), ("liability", _("Liabilities")), ("equity", _("Owners' equity")))


@dataclass
class StatementItem:
    key: str
    label: str
    side: str
    amount: Decimal = ZERO  # balance sheet: at the end; cash flow: net
    opening: Decimal = ZERO  # balance sheet: at the start of the year
    inflow: Decimal = ZERO  # cash flow only
    outflow: Decimal = ZERO

    def as_dict(self) -> dict:
        return {"key": self.key, "label": str(self.label), "side": self.side, "amount": str(self.amount),
                "opening": str(self.opening), "inflow": str(self.inflow), "outflow": str(self.outflow)}


@dataclass
class BalanceSheet:
    label: str
    as_of: datetime.date
    year_start: datetime.date  # the opening column is the balance at the end of the day before it
    items: list[StatementItem] = field(default_factory=list)
    unclosed_profit: Decimal = ZERO  # revenue less expense not yet carried forward (inside retained)

    def side(self, side: str) -> list[StatementItem]:
        return [i for i in self.items if i.side == side]

    def total(self, side: str, *, opening: bool = False) -> Decimal:
        return sum(((i.opening if opening else i.amount) for i in self.side(side)), ZERO)

    @property
    def total_assets(self) -> Decimal:
        return self.total("asset")

    @property
    def total_liabilities_and_equity(self) -> Decimal:
        return self.total("liability") + self.total("equity")

    @property
    def balanced(self) -> bool:
        return (self.total_assets == self.total_liabilities_and_equity
                and self.total("asset", opening=True) == self.total("liability", opening=True) + self.total("equity", opening=True))

    def as_dict(self) -> dict:
        return {"label": self.label, "as_of": self.as_of.isoformat(), "year_start": self.year_start.isoformat(),
                "balanced": self.balanced, "unclosed_profit": str(self.unclosed_profit),
                "totals": {"assets": str(self.total_assets), "liabilities": str(self.total("liability")),
                           "equity": str(self.total("equity")),
                           "liabilities_and_equity": str(self.total_liabilities_and_equity),
                           "opening_assets": str(self.total("asset", opening=True)),
                           "opening_liabilities_and_equity": str(self.total("liability", opening=True)
                                                                 + self.total("equity", opening=True))},
                "items": [i.as_dict() for i in self.items]}


def _balances_on(as_of: datetime.date) -> tuple[dict[str, Decimal], Decimal]:
    """{balance sheet item: amount on its normal side} at the end of ``as_of``, and the profit not
    carried forward (revenue less expense balances)."""
    out: dict[str, Decimal] = {}
    unclosed = ZERO
    rows = (_posted().filter(voucher__date__lte=as_of).values("account__code", "account__type").order_by()
            .annotate(d=Sum("debit"), c=Sum("credit")))
    for r in rows:
        net = _q(r["d"]) - _q(r["c"])  # debit balance
        type_ = r["account__type"]
        if type_ == AccountType.REVENUE:
            unclosed -= net
            continue
        if type_ == AccountType.EXPENSE:
            unclosed -= net
            continue
        key = _BS_BY_CODE.get(_root(r["account__code"])) or _BS_OTHER[type_]
        side = next(s for k, _lb, s, _c in BS_ITEMS if k == key)
        # an account counts on its item's side: a contra account (e.g. accumulated depreciation
        # under fixed assets) reduces it
        out[key] = out.get(key, ZERO) + (net if side == "asset" else -net)
    out["retained"] = out.get("retained", ZERO) + unclosed
    return out, unclosed


def balance_sheet(*, year: int, month: int | None = None) -> BalanceSheet:
    """The balance sheet at the end of ``month`` of ``year`` (the year's end when month is None),
    with the balances at the start of the year beside it."""
    if month is None:
        as_of, label = datetime.date(year, 12, 31), str(year)
    else:
        as_of = datetime.date(year + (month == 12), month % 12 + 1, 1) - datetime.timedelta(days=1)
        label = f"{year}-{month:02d}"
    year_start = datetime.date(year, 1, 1)
    closing, unclosed = _balances_on(as_of)
    opening, _u = _balances_on(year_start - datetime.timedelta(days=1))
    sheet = BalanceSheet(label=label, as_of=as_of, year_start=year_start, unclosed_profit=unclosed)
    for key, item_label, side, _codes in BS_ITEMS:
        amount, start = closing.get(key, ZERO), opening.get(key, ZERO)
        if amount or start or _codes:
            sheet.items.append(StatementItem(key=key, label=item_label, side=side, amount=amount, opening=start))
    return sheet


# --- cash flow -----------------------------------------------------------------------------------------
# (key, label, activity, top-level codes of the counterpart). Counterparts the list does not name are
# other operating cash.
CF_ITEMS = [
    ("sales", _("Cash received from sales: platform settlements and receipts (销售商品收到的现金)"), "operating",
     (chart.RECEIVABLE, chart.REVENUE, "2203", "1121")),
    ("purchases", _("Cash paid for goods: supplier payments (购买商品支付的现金)"), "operating",
     (chart.PAYABLE, "1123", "2201", chart.INVENTORY, "1401", "1402", "1403", "1404", "1406", "1408", "1411",
      chart.COGS)),
    ("fees", _("Platform commissions and fees (平台佣金及服务费)"), "operating", (chart.SELLING,)),
    ("payroll", _("Cash paid to employees (支付的职工薪酬)"), "operating", ("2211",)),
    ("taxes", _("Taxes paid (支付的税费)"), "operating", ("2221", "6403")),
    ("other_operating", _("Other operating cash (其他与经营活动有关的现金)"), "operating", ()),
    ("fixed_assets", _("Fixed and intangible assets bought or sold (购建或处置长期资产)"), "investing",
     ("1601", "1602", "1604", "1701", "1101", "1501", "1511")),
    ("borrowings", _("Borrowings received or repaid (借款)"), "financing", ("2001", "2501")),
    ("interest", _("Interest and bank charges paid (利息及手续费)"), "financing", (chart.FINANCE_COST,)),
    ("capital", _("Capital contributed (吸收投资)"), "financing", ("3001", "3002")),
    ("distributions", _("Profit distributed (分配利润)"), "financing", (chart.PROFIT_DISTRIBUTION, "2232")),
]
_CF_BY_CODE = {code: key for key, _label, _act, codes in CF_ITEMS for code in codes}
ACTIVITIES = (("operating", _("Operating activities")), ("investing", _("Investing activities")),
              ("financing", _("Financing activities")))


@dataclass
class CashFlow:
    label: str
    date_from: datetime.date
    date_to: datetime.date
    items: list[StatementItem] = field(default_factory=list)
    opening_cash: Decimal = ZERO
    closing_cash: Decimal = ZERO

    def activity(self, activity: str) -> list[StatementItem]:
        return [i for i in self.items if i.side == activity]

    def net(self, activity: str | None = None) -> Decimal:
        return sum((i.amount for i in self.items if activity is None or i.side == activity), ZERO)

    @property
    def reconciles(self) -> bool:
        """Opening cash plus the net flow is the closing cash."""
        return self.opening_cash + self.net() == self.closing_cash

    def as_dict(self) -> dict:
        return {"label": self.label, "date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(),
                "opening_cash": str(self.opening_cash), "closing_cash": str(self.closing_cash),
                "net": str(self.net()), "reconciles": self.reconciles,
                "activities": {a: str(self.net(a)) for a, _lb in ACTIVITIES},
                "items": [i.as_dict() for i in self.items]}


def _cash_on(day: datetime.date) -> Decimal:
    r = _posted().filter(_cash_q(), voucher__date__lte=day).aggregate(d=Sum("debit"), c=Sum("credit"))
    return _q(r["d"]) - _q(r["c"])


def cash_flow(*, year: int, month: int | None = None) -> CashFlow:
    """The cash flow statement of ``month`` of ``year`` (the whole year when month is None), by
    voucher date."""
    if month is None:
        date_from, date_to, label = datetime.date(year, 1, 1), datetime.date(year, 12, 31), str(year)
    else:
        date_from = datetime.date(year, month, 1)
        date_to = datetime.date(year + (month == 12), month % 12 + 1, 1) - datetime.timedelta(days=1)
        label = f"{year}-{month:02d}"
    return cash_flow_between(date_from=date_from, date_to=date_to, label=label)


def cash_flow_between(*, date_from: datetime.date, date_to: datetime.date, label: str = "") -> CashFlow:
    window = Q(voucher__date__gte=date_from, voucher__date__lte=date_to)
    cash_vouchers = _posted().filter(window).filter(_cash_q()).values("voucher_id")
    rows = (_posted().filter(window, voucher_id__in=cash_vouchers).exclude(_cash_q())
            .values("account__code").order_by().annotate(d=Sum("debit"), c=Sum("credit")))
    found: dict[str, list[Decimal]] = {}
    for r in rows:
        key = _CF_BY_CODE.get(_root(r["account__code"]), "other_operating")
        acc = found.setdefault(key, [ZERO, ZERO])
        acc[0] += _q(r["c"])  # a counterpart credit: cash came in
        acc[1] += _q(r["d"])  # a counterpart debit: cash went out
    flow = CashFlow(label=label or f"{date_from}..{date_to}", date_from=date_from, date_to=date_to,
                    opening_cash=_cash_on(date_from - datetime.timedelta(days=1)), closing_cash=_cash_on(date_to))
    for key, item_label, activity, _codes in CF_ITEMS:
        inflow, outflow = found.get(key, (ZERO, ZERO))
        flow.items.append(StatementItem(key=key, label=item_label, side=activity, amount=inflow - outflow,
                                        inflow=inflow, outflow=outflow))
    return flow


# --- exports -------------------------------------------------------------------------------------------
def balance_sheet_table(sheet: BalanceSheet, labels: dict) -> tuple[list, list[list]]:
    """Header and rows of the balance sheet for a spreadsheet or PDF (``labels``: translated words)."""
    header = [labels["item"], labels["end"], labels["start"]]
    rows: list[list] = []
    for side, side_label in SIDES:
        rows.append([str(side_label), None, None])
        rows += [[str(i.label), i.amount, i.opening] for i in sheet.side(side)]
        rows.append([f"{labels['total']} {side_label}", sheet.total(side), sheet.total(side, opening=True)])
    rows.append([labels["liabilities_and_equity"], sheet.total_liabilities_and_equity,
                 sheet.total("liability", opening=True) + sheet.total("equity", opening=True)])
    return header, rows


def cash_flow_table(flow: CashFlow, labels: dict) -> tuple[list, list[list]]:
    header = [labels["item"], labels["inflow"], labels["outflow"], labels["net"]]
    rows: list[list] = []
    for activity, activity_label in ACTIVITIES:
        rows.append([str(activity_label), None, None, None])
        rows += [[str(i.label), i.inflow, i.outflow, i.amount] for i in flow.activity(activity)]
        rows.append([f"{labels['net']} {activity_label}", None, None, flow.net(activity)])
    rows.append([labels["opening_cash"], None, None, flow.opening_cash])
    rows.append([labels["net_change"], None, None, flow.net()])
    rows.append([labels["closing_cash"], None, None, flow.closing_cash])
    return header, rows


def table_pdf(*, title: str, subtitle: str, header: list, rows: list[list]) -> bytes:
    """An A4 PDF of a statement table: the first column is the label, the others amounts (right
    aligned); rows without amounts are section headings. CID font: Chinese labels render."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setTitle(title)
    _width, height = A4
    columns = len(header) - 1
    right_edges = [195 - 28 * (columns - 1 - n) for n in range(columns)]
    y = height - 20 * mm

    def page_header():
        nonlocal y
        pdf.setFont(font, 14)
        pdf.drawString(15 * mm, y, title)
        y -= 7 * mm
        pdf.setFont(font, 9)
        pdf.drawString(15 * mm, y, subtitle)
        y -= 8 * mm
        pdf.setFont(font, 9)
        pdf.drawString(15 * mm, y, str(header[0]))
        for edge, text in zip(right_edges, header[1:], strict=True):
            pdf.drawRightString(edge * mm, y, str(text))
        y -= 2 * mm
        pdf.line(15 * mm, y, 195 * mm, y)
        y -= 5 * mm

    page_header()
    for row in rows:
        if y < 20 * mm:
            pdf.showPage()
            y = height - 20 * mm
            page_header()
        heading = all(v is None for v in row[1:])
        pdf.setFont(font, 10 if heading else 9)
        text = str(row[0])
        limit = 60 if columns <= 2 else 48
        pdf.drawString((15 if heading else 18) * mm, y, text if len(text) <= limit else text[:limit - 1] + "…")
        for edge, value in zip(right_edges, row[1:], strict=True):
            if value is not None:
                pdf.drawRightString(edge * mm, y, f"{value:,.2f}" if isinstance(value, Decimal) else str(value))
        y -= 6 * mm
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


__all__ = ["BalanceSheet", "CashFlow", "balance_sheet", "cash_flow", "cash_flow_between"]
