"""Operator pages: vouchers (list, detail, post / reverse), the trial balance, profit and loss with
margins by shop / platform / SKU, and the reconciliation queues. Reports export as CSV or XLSX."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework.exceptions import APIException

from erp.admin_site import role_may
from erp.exports import table_response
from erp.tenancy.dates import tenant_today, tenant_zone
from erp.views_helpers import error_text, tenant_page

from . import selectors, services, statements
from .models import Period, Reconciliation, ReconStatus, SourceType, Voucher, VoucherLine, VoucherStatus

PAGE = 50


def _date(value):
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _period(value) -> Period:
    try:
        year, month = (int(x) for x in (value or "").split("-"))
    except ValueError:
        return selectors.current_period()
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return selectors.current_period()
    return selectors.period_of(year=year, month=month)


def export(name: str, header: list[str], rows, fmt: str) -> HttpResponse:
    return table_response(name, header, rows, fmt)


def _wall_clock(when, zone):
    """An aware datetime as the tenant's naive wall-clock time (spreadsheet cells carry no zone)."""
    return when.astimezone(zone).replace(tzinfo=None) if when else None



# --- vouchers ---------------------------------------------------------------------------------------
@tenant_page(app_label="finance")
def vouchers(request):
    qs = Voucher.objects.select_related("period").order_by("-date", "-id")
    status = request.GET.get("status", "")
    source = request.GET.get("source", "")
    q = request.GET.get("q", "").strip()
    date_from, date_to = _date(request.GET.get("from")), _date(request.GET.get("to"))
    if status in VoucherStatus.values:
        qs = qs.filter(status=status)
    if source in SourceType.values:
        qs = qs.filter(source_type=source)
    if q:
        # a voucher by its memo or reference, or by a line: a bill id (in a settlement line's memo) or
        # the platform order it concerns
        in_lines = VoucherLine.objects.filter(Q(memo__icontains=q) | Q(platform_order_id=q)).values("voucher_id")
        qs = qs.filter(Q(memo__icontains=q) | Q(source_ref=q) | Q(pk__in=in_lines))
    if date_from:
        qs = qs.filter(date__gte=date_from)
    if date_to:
        qs = qs.filter(date__lte=date_to)
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "finance/vouchers.html", {
        "page": page, "status": status, "source": source, "q": q, "statuses": VoucherStatus.choices,
        "sources": SourceType.choices, "date_from": request.GET.get("from", ""), "date_to": request.GET.get("to", ""),
        "issues": selectors.open_posting_issues(),
    })


@tenant_page(app_label="finance")
def voucher_detail(request, pk):
    voucher = get_object_or_404(Voucher.objects.select_related("period", "reversal_of"), pk=pk)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "post":
                services.voucher_post(voucher=voucher, user=request.user)
                messages.success(request, _("Voucher posted."))
            elif action == "reverse":
                reversal = services.voucher_reverse(voucher=voucher, user=request.user)
                messages.success(request, _("Reversal %(no)s posted.") % {"no": reversal.display_no})
                return redirect("finance:voucher", pk=reversal.pk)
            elif action == "delete":
                services.voucher_delete(voucher=voucher)
                messages.success(request, _("Draft deleted."))
                return redirect("finance:vouchers")
        except (APIException, ValidationError) as exc:
            messages.error(request, error_text(exc))
        return redirect("finance:voucher", pk=pk)
    lines = voucher.lines.select_related("account").order_by("line_no", "id")
    return render(request, "finance/voucher_detail.html", {
        "voucher": voucher, "lines": lines, "reversals": voucher.reversals.all(),
        "debits": sum(ln.debit for ln in lines), "credits": sum(ln.credit for ln in lines),
        "may_write": role_may(request, "finance", write=True),
    })


NEW_LINES = 6


@tenant_page(app_label="finance")
def voucher_new(request):
    """A manual voucher: up to six lines; saved as a draft or posted at once (it must balance)."""
    from decimal import Decimal, InvalidOperation

    from .models import Account

    accounts = list(Account.objects.filter(is_active=True, children__isnull=True).order_by("code"))
    by_id = {str(a.pk): a for a in accounts}
    form = {"date": request.POST.get("date") or tenant_today().isoformat(), "memo": request.POST.get("memo", ""),
            "lines": [{"account": request.POST.get(f"account-{i}", ""), "debit": request.POST.get(f"debit-{i}", ""),
                       "credit": request.POST.get(f"credit-{i}", ""), "memo": request.POST.get(f"memo-{i}", "")}
                      for i in range(NEW_LINES)]}
    errors = []
    if request.method == "POST":
        date = _date(form["date"])
        if date is None:
            errors.append(_("Give the date as YYYY-MM-DD."))
        lines = []
        for n, row in enumerate(form["lines"], start=1):
            if not (row["account"] or row["debit"] or row["credit"]):
                continue
            account = by_id.get(row["account"])
            try:
                debit = Decimal(row["debit"] or "0")
                credit = Decimal(row["credit"] or "0")
            except InvalidOperation:
                errors.append(_("Line %(n)d: not an amount.") % {"n": n})
                continue
            if account is None:
                errors.append(_("Line %(n)d: choose an account.") % {"n": n})
                continue
            lines.append(services.LineSpec(account=account, debit=debit, credit=credit, memo=row["memo"][:300]))
        if not lines and not errors:
            errors.append(_("A voucher needs at least two lines."))
        if not errors:
            try:
                voucher = services.voucher_create(date=date, memo=form["memo"][:300], lines=lines, user=request.user,
                                                  post=request.POST.get("post") == "1")
                messages.success(request, _("Voucher %(no)s saved.") % {"no": voucher.display_no})
                return redirect("finance:voucher", pk=voucher.pk)
            except (APIException, ValidationError) as exc:
                errors.append(error_text(exc))
    return render(request, "finance/voucher_new.html", {"form": form, "accounts": accounts, "errors": errors})


# --- reports ----------------------------------------------------------------------------------------
@tenant_page(app_label="finance")
def trial_balance(request):
    if request.method == "POST":  # the month-end carry-forward of profit and loss (结转损益)
        return _carry_forward(request)
    period = _period(request.GET.get("period"))
    tb = selectors.trial_balance(period=period)
    if request.GET.get("format") in ("csv", "xlsx"):
        header = [_("Code"), _("Account"), _("Opening debit"), _("Opening credit"), _("Debit"), _("Credit"),
                  _("Closing debit"), _("Closing credit")]
        rows = [[r.code, r.name, r.opening_debit, r.opening_credit, r.debit, r.credit, r.closing_debit, r.closing_credit]
                for r in [*tb.rows, tb.totals]]
        rows[-1][1] = _("Total")
        return export(f"trial-balance-{period.key}", header, rows, request.GET["format"])
    periods = Period.objects.order_by("-year", "-month")[:36]
    return render(request, "finance/trial_balance.html", {"tb": tb, "period": period, "periods": periods,
                                                          "may_write": role_may(request, "finance", write=True)})


def _carry_forward(request):
    period = _period(request.POST.get("period"))
    target = f"{reverse('finance:trial-balance')}?period={period.key}"
    if period.pk is None:
        messages.info(request, _("Nothing to carry forward."))
        return redirect(target)
    try:
        posted = services.period_carry_forward(period=period, user=request.user)
    except (APIException, ValidationError) as exc:
        messages.error(request, error_text(exc))
        return redirect(target)
    if posted:
        messages.success(request, _("Profit and loss carried forward: %(no)s.") % {
            "no": ", ".join(v.display_no for v in posted)})
    else:
        messages.info(request, _("Nothing to carry forward."))
    return redirect(target)


@tenant_page(app_label="finance")
def account_ledger(request, pk):
    from .models import Account

    account = get_object_or_404(Account, pk=pk)
    period = _period(request.GET.get("period"))
    ledger = selectors.account_ledger(account=account, period=period)
    if request.GET.get("format") in ("csv", "xlsx"):
        header = [_("Date"), _("Voucher"), _("Memo"), _("Platform order"), _("Debit"), _("Credit"), _("Balance")]
        rows = [[ln.voucher.date, ln.voucher.display_no, ln.memo or ln.voucher.memo, ln.platform_order_id, ln.debit,
                 ln.credit, balance] for ln, balance in ledger["rows"]]
        return export(f"ledger-{account.code}-{period.key}", header, rows, request.GET["format"])
    return render(request, "finance/account_ledger.html", {
        "account": account, "period": period, "ledger": ledger,
        "periods": Period.objects.order_by("-year", "-month")[:36]})


@tenant_page(app_label="finance")
def reconciliation_detail(request, pk):
    from .models import SettlementLine, VoucherLine

    rec = get_object_or_404(Reconciliation, pk=pk)
    bills = SettlementLine.objects.filter(shop_id=rec.shop_id, platform_order_id=rec.platform_order_id).order_by("booked_at", "id")
    voucher_ids = (VoucherLine.objects.filter(shop_id=rec.shop_id, platform_order_id=rec.platform_order_id)
                   .values_list("voucher_id", flat=True).distinct())
    vouchers = Voucher.objects.filter(pk__in=voucher_ids, status="posted").select_related("period").order_by("date", "id")
    return render(request, "finance/reconciliation_detail.html", {"rec": rec, "bills": bills, "vouchers": vouchers})


@tenant_page(app_label="finance")
def profit(request):
    today = tenant_today()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    by = request.GET.get("by", "shop")
    by = by if by in selectors.DIMENSIONS else "shop"
    date_from = _date(request.GET.get("from")) or today.replace(day=1)
    date_to = _date(request.GET.get("to")) or today
    months, year_total = selectors.profit_by_month(year=year)
    rows, total = selectors.profit_by(by=by, date_from=date_from, date_to=date_to)
    fmt = request.GET.get("format")
    if fmt in ("csv", "xlsx"):
        header = [_("Group"), _("Revenue"), _("Refunds"), _("Net revenue"), _("Cost of goods"), _("Platform fees"),
                  _("Gross profit"), _("Margin %")]
        if request.GET.get("report") == "months":
            data = [*months, year_total]
            name = f"profit-{year}"
        else:
            data = [*rows, total]
            name = f"profit-by-{by}-{date_from}-{date_to}"
        out = [[p.label or _("Total"), p.revenue, p.refunds, p.net_revenue, p.cogs, p.fees, p.gross_profit, p.margin]
               for p in data]
        return export(name, header, out, fmt)
    return render(request, "finance/profit.html", {
        "year": year, "months": months, "year_total": year_total, "by": by, "rows": rows, "total": total,
        "date_from": date_from.isoformat(), "date_to": date_to.isoformat(),
        "dimensions": [("shop", _("Shop")), ("platform", _("Platform")), ("sku", _("SKU"))],
        "charts": selectors.profit_charts(months=months, rows=rows, by=by),
    })


@tenant_page(app_label="finance")
def reconciliation(request):
    if request.method == "POST":
        rec = get_object_or_404(Reconciliation, pk=request.POST.get("rec") or 0)
        try:
            services.reconciliation_resolve(reconciliation=rec, note=request.POST.get("note", ""), user=request.user)
            messages.success(request, _("Marked as resolved."))
        except (APIException, ValidationError) as exc:
            messages.error(request, error_text(exc))
        return redirect(request.get_full_path())
    status = request.GET.get("status", "")
    q = request.GET.get("q", "").strip()
    qs = selectors.reconciliation_queue(status=status if status in ReconStatus.values else None, q=q)
    if request.GET.get("format") in ("csv", "xlsx"):
        header = [_("Platform order"), _("Platform"), _("Shop"), _("Status"), _("Shipped"), _("Refunded"), _("Settled"),
                  _("Fees"), _("Difference"), _("Shipped at"), _("Last bill at"), _("Note")]
        zone = tenant_zone()
        rows = ([r.platform_order_id, r.platform, r.shop_id, r.get_status_display(), r.shipped_amount, r.refunded_amount,
                 r.settled_amount, r.fees_amount, r.difference,
                 _wall_clock(r.shipped_at, zone), _wall_clock(r.last_bill_at, zone), r.note]
                for r in qs.iterator())
        return export("reconciliation", header, rows, request.GET["format"])
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "finance/reconciliation.html", {
        "page": page, "status": status, "q": q, "statuses": ReconStatus.choices,
        "summary": selectors.reconciliation_summary(), "exceptions": [s.value for s in
                                                                     (ReconStatus.DIFFERENCE, ReconStatus.NO_ORDER,
                                                                      ReconStatus.UNSETTLED)],
        "may_write": role_may(request, "finance", write=True),
    })


# --- statements (资产负债表, 现金流量表) --------------------------------------------------------------
def _statement_period(request) -> tuple[int, int | None]:
    """?year=YYYY&month=M (no month: the whole year); a bad value falls back to this month."""
    today = tenant_today()
    try:
        year = int(request.GET.get("year") or today.year)
    except ValueError:
        year = today.year
    if not 2000 <= year <= 2100:
        year = today.year
    raw = request.GET.get("month", None)
    if raw is None:
        return year, today.month if year == today.year else 12
    try:
        month = int(raw) if raw else None
    except ValueError:
        month = None
    return year, month if month is None or 1 <= month <= 12 else None


def _statement_labels() -> dict:
    return {"item": _("Item"), "end": _("End of period"), "start": _("Start of year"), "total": _("Total"),
            "liabilities_and_equity": _("Total liabilities and owners' equity"), "inflow": _("Cash in"),
            "outflow": _("Cash out"), "net": _("Net"), "opening_cash": _("Cash at the start"),
            "net_change": _("Net change in cash"), "closing_cash": _("Cash at the end")}


def _statement_download(name: str, title: str, subtitle: str, header, rows, fmt: str) -> HttpResponse:
    if fmt == "pdf":
        response = HttpResponse(statements.table_pdf(title=title, subtitle=subtitle, header=header, rows=rows),
                                content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{name}.pdf"'
        return response
    return export(name, header, rows, fmt)


@tenant_page(app_label="finance")
def balance_sheet(request):
    year, month = _statement_period(request)
    sheet = statements.balance_sheet(year=year, month=month)
    fmt = request.GET.get("format")
    if fmt in ("csv", "xlsx", "pdf"):
        header, rows = statements.balance_sheet_table(sheet, _statement_labels())
        subtitle = _("At %(end)s; start of year: %(start)s") % {"end": sheet.as_of, "start": sheet.year_start}
        return _statement_download(f"balance-sheet-{sheet.label}", _("Balance sheet"), subtitle, header, rows, fmt)
    return render(request, "finance/balance_sheet.html", {
        "sheet": sheet, "year": year, "month": month, "months": range(1, 13),
        "sides": [(label, sheet.side(side), sheet.total(side), sheet.total(side, opening=True))
                  for side, label in statements.SIDES],
        "opening_le": sheet.total("liability", opening=True) + sheet.total("equity", opening=True)})


@tenant_page(app_label="finance")
def cash_flow(request):
    year, month = _statement_period(request)
    flow = statements.cash_flow(year=year, month=month)
    fmt = request.GET.get("format")
    if fmt in ("csv", "xlsx", "pdf"):
        header, rows = statements.cash_flow_table(flow, _statement_labels())
        subtitle = f"{flow.date_from} – {flow.date_to}"
        return _statement_download(f"cash-flow-{flow.label}", _("Cash flow statement"), subtitle, header, rows, fmt)
    return render(request, "finance/cash_flow.html", {
        "flow": flow, "year": year, "month": month, "months": range(1, 13),
        "activities": [(label, flow.activity(a), flow.net(a)) for a, label in statements.ACTIVITIES]})
