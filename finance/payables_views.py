"""Payables pages: supplier statements (list, generate, detail with adjust / send / post / pay), the
supplier balance and ageing report (CSV / XLSX), and the supplier portal's statements (confirm or
dispute lines), which a supplier user sees for its own supplier only."""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from rest_framework.exceptions import APIException

from erp.admin_site import role_may
from erp.exports import table_response
from erp.tenancy.dates import tenant_today
from erp.tenancy.supplier_access import supplier_id_of, supplier_page
from erp.views_helpers import error_text, keyset_page, tenant_page

from . import selectors
from .models import StatementStatus, SupplierStatement
from .services import payables

PORTAL_STATUSES = [s for s in StatementStatus.values if s != StatementStatus.DRAFT]


def _suppliers():
    from purchasing.selectors import suppliers_brief

    return suppliers_brief()


def _month(value) -> tuple[int, int] | None:
    try:
        year, month = (int(x) for x in (value or "").split("-"))
    except ValueError:
        return None
    return (year, month) if 2000 <= year <= 2100 and 1 <= month <= 12 else None


def _previous_month() -> str:
    first = tenant_today().replace(day=1) - datetime.timedelta(days=1)
    return f"{first.year}-{first.month:02d}"


@tenant_page(app_label="finance")
def statements(request):
    if request.method == "POST":  # generate
        period = _month(request.POST.get("month"))
        supplier = request.POST.get("supplier", "")
        if period is None or not supplier.isdigit():
            messages.error(request, _("Choose a supplier and a month (YYYY-MM)."))
            return redirect("finance:statements")
        try:
            statement = payables.statement_generate(supplier_id=int(supplier), year=period[0], month=period[1],
                                                    user=request.user)
        except (APIException, ValidationError) as exc:
            messages.error(request, error_text(exc))
            return redirect("finance:statements")
        messages.success(request, _("Statement %(no)s generated.") % {"no": statement.number})
        return redirect("finance:statement", pk=statement.pk)
    status = request.GET.get("status", "")
    supplier = request.GET.get("supplier", "")
    period = _month(request.GET.get("month"))
    qs = selectors.supplier_statements(
        supplier_id=int(supplier) if supplier.isdigit() and len(supplier) < 18 else None,
        status=status if status in StatementStatus.values else "",
        year=period[0] if period else None, month=period[1] if period else None)
    page = keyset_page(request, qs, size=50)
    return render(request, "finance/statements.html", {
        "rows": page.rows, "next_url": page.next_url, "statuses": StatementStatus.choices, "status": status,
        "supplier": supplier, "month": request.GET.get("month", ""), "suppliers": _suppliers().values(),
        "default_month": _previous_month(), "may_write": role_may(request, "finance", write=True),
    })


def _act(request, statement):
    action = request.POST.get("action", "")
    p = request.POST
    if action == "adjust":
        corrects = p.get("corrects", "")
        payables.statement_adjust(statement=statement, amount=p.get("amount", ""), memo=p.get("memo", ""),
                                  corrects=int(corrects) if corrects.isdigit() and len(corrects) < 18 else None,
                                  user=request.user)
        return _("Adjustment added.")
    if action == "regenerate":
        payables.WORKFLOW.check(statement, "regenerate")
        payables.statement_generate(supplier_id=statement.supplier_id, year=statement.year, month=statement.month,
                                    user=request.user)
        return _("Statement regenerated.")
    if action == "send":
        payables.statement_send(statement=statement, why=p.get("why", ""), user=request.user)
        return _("Statement sent to the supplier.")
    if action == "post":
        payables.statement_post(statement=statement, user=request.user)
        return _("Payable posted.")
    if action == "pay":
        paid_on = None
        if p.get("paid_on"):
            try:
                paid_on = datetime.date.fromisoformat(p["paid_on"])
            except ValueError:
                raise ValidationError({"paid_on": [_("A date (YYYY-MM-DD).")]}) from None
        payables.statement_pay(statement=statement, amount=p.get("amount", ""), paid_on=paid_on,
                               reference=p.get("reference", ""), user=request.user)
        return _("Payment recorded.")
    raise ValidationError({"action": [_("Unknown action.")]})


def _labelled(events):
    """The timeline's events with their statuses in words (``from_label``, ``to_label``)."""
    labels = dict(StatementStatus.choices)
    events = list(events)
    for event in events:
        event.from_label = labels.get(event.from_status, event.from_status)
        event.to_label = labels.get(event.to_status, event.to_status)
    return events


@tenant_page(app_label="finance")
def statement_detail(request, pk):
    statement = SupplierStatement.objects.filter(pk=pk).first()
    if statement is None:
        raise Http404(_("No such supplier statement."))
    if request.method == "POST":
        try:
            messages.success(request, _act(request, statement))
        except (APIException, ValidationError) as exc:
            messages.error(request, error_text(exc))
        return redirect("finance:statement", pk=pk)
    return render(request, "finance/statement_detail.html", {
        "st": statement, "lines": statement.lines.order_by("date", "id"), "events": _labelled(statement.events.order_by("id")),
        "payments": statement.payments.select_related("voucher", "voucher__period").order_by("paid_on", "id"),
        "actions": payables.WORKFLOW.allowed_actions(statement), "may_write": role_may(request, "finance", write=True),
        "today": tenant_today(),
    })



def _ageing_header():
    return [_("Supplier"), _("Not yet due"), _("0-30 days"), _("31-60 days"), _("61-90 days"), _("Over 90 days"),
            _("Outstanding"), _("Ledger 2202")]


@tenant_page(app_label="finance")
def ageing(request):
    as_of = None
    raw = request.GET.get("as_of", "")
    if raw:
        try:
            as_of = datetime.date.fromisoformat(raw)
        except ValueError:
            messages.error(request, _("A date (YYYY-MM-DD)."))
    report = selectors.supplier_ageing(as_of=as_of)
    fmt = request.GET.get("format", "")
    if fmt in ("csv", "xlsx"):
        rows = [[r["supplier_name"], *[r[b] for b in selectors.AGEING_BUCKETS], r["total"], r["ledger"]]
                for r in report["rows"]]
        t = report["totals"]
        rows.append([_("Total"), *[t[b] for b in selectors.AGEING_BUCKETS], t["total"], None])
        return table_response("supplier-ageing", _ageing_header(), rows, fmt,
                              preamble=[[_("As of"), report["as_of"]]])
    return render(request, "finance/ageing.html", {"report": report, "as_of": report["as_of"],
                                                   "buckets": selectors.AGEING_BUCKETS, "header": _ageing_header()})


# --- the supplier portal ---------------------------------------------------------------------------------
def _portal_qs(request):
    return SupplierStatement.objects.filter(supplier_id=supplier_id_of(request), status__in=PORTAL_STATUSES)


@supplier_page
def portal_statements(request):
    page = keyset_page(request, _portal_qs(request).order_by("-year", "-month", "-id"), size=50)
    return render(request, "finance/portal_statements.html", {"rows": page.rows, "next_url": page.next_url})


@supplier_page
def portal_statement(request, pk):
    statement = _portal_qs(request).filter(pk=pk).first()
    if statement is None:
        raise Http404(_("No such supplier statement."))
    if request.method == "POST":
        try:
            if request.POST.get("action") == "confirm":
                payables.statement_confirm(statement=statement, supplier_id=supplier_id_of(request), user=request.user)
                messages.success(request, _("Statement confirmed."))
            elif request.POST.get("action") == "dispute":
                chosen = [{"line": v, "reason": request.POST.get(f"reason-{v}", "")}
                          for v in request.POST.getlist("line")]
                payables.statement_dispute(statement=statement, lines=chosen, supplier_id=supplier_id_of(request),
                                           user=request.user)
                messages.success(request, _("Your dispute was sent to the buyer."))
            else:
                raise ValidationError({"action": [_("Unknown action.")]})
        except (APIException, ValidationError) as exc:
            messages.error(request, error_text(exc))
        return redirect("finance:portal-statement", pk=pk)
    actions = payables.WORKFLOW.allowed_actions(statement)
    return render(request, "finance/portal_statement.html", {
        "st": statement, "lines": statement.lines.order_by("date", "id"),
        "events": _labelled(statement.events.filter(kind="status").order_by("id")),
        "payments": statement.payments.order_by("paid_on", "id"),
        "can_confirm": "confirm" in actions, "can_dispute": "dispute" in actions,
    })
