"""Payables: supplier statements (对账单) and the payments against them.

A statement covers one supplier and one month. It is generated from purchasing's goods receipts
(quantity × purchase order price) and returns (negative), plus the adjustment lines the buyer adds
(agreed price changes, corrections of disputed lines). Generating again adds what is new while the
statement is a draft and never duplicates a line (a receipt line is on one statement only).

States (erp.workflow): draft -> sent -> confirmed | disputed; disputed -> (adjustment) -> sent;
confirmed -> posted -> paid (payments may be partial).

Posting and the ledger: a goods receipt already posts Dr 1405 库存商品 / Cr 2202 应付账款 at the
receipt's unit cost when it happens (finance.services.rules.post_purchase), a return the other way
round. So the statement does not book its total again: its voucher (source ``supplier.statement``)
books only the difference between what the statement says and what the receipts and returns on it
booked on 2202 — the agreed adjustments and any price that changed after receipt — against 1405
(a price change on goods bought is a change of their cost; 小企业会计准则 has no GR/IR account).
A statement whose documents booked exactly its total posts no voucher. A payment posts
Dr 2202 应付账款 / Cr 1002 银行存款 (source ``supplier.payment``) dated when it was paid.
"""

from __future__ import annotations

import calendar
import datetime
import logging
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp.api.exceptions import Conflict
from erp.money import CENT, to_money
from erp.tenancy.dates import month_range, tenant_date, tenant_today
from erp.workflow import Action, DocumentWorkflow, Stamp, actor_user, why_required

from .. import chart
from ..models import (
    PostingIssue,
    SourceType,
    StatementEvent,
    StatementLineKind,
    StatementStatus,
    SupplierPayment,
    SupplierStatement,
    SupplierStatementLine,
    VoucherLine,
    VoucherStatus,
)
from .ledger import ZERO, LineSpec, VoucherSpec, voucher_create, vouchers_post_auto
from .rules import _pair as signed_pair

logger = logging.getLogger("finance")
S = StatementStatus


def _has_lines(doc) -> str:
    return "" if doc.lines.exists() else _("The statement has no lines: nothing to send.")


def _outstanding(doc) -> str:
    return "" if doc.total_amount - doc.paid_amount > 0 else _("Nothing is outstanding on this statement.")


WORKFLOW = DocumentWorkflow(
    model=SupplierStatement, event_model=StatementEvent, event_fk="statement",
    not_found="No such supplier statement.",
    refusal=gettext_lazy("Statement %(no)s is %(status)s: cannot %(action)s it."),
    actions={
        "regenerate": Action({S.DRAFT}, gettext_lazy("regenerate")),
        "adjust": Action({S.DRAFT, S.DISPUTED}, gettext_lazy("add an adjustment to")),
        "send": Action({S.DRAFT, S.DISPUTED}, gettext_lazy("send"), checks=(_has_lines,)),
        "confirm": Action({S.SENT}, gettext_lazy("confirm")),
        "dispute": Action({S.SENT}, gettext_lazy("dispute")),
        "post": Action({S.CONFIRMED}, gettext_lazy("post")),
        "pay": Action({S.POSTED}, gettext_lazy("record a payment against"), checks=(_outstanding,)),
    },
    transitions={S.DRAFT: {S.SENT}, S.SENT: {S.CONFIRMED, S.DISPUTED}, S.DISPUTED: {S.SENT},
                 S.CONFIRMED: {S.POSTED}, S.POSTED: {S.PAID}},
    stamps=[Stamp("sent_at", {S.SENT}), Stamp("confirmed_at", {S.CONFIRMED}), Stamp("posted_at", {S.POSTED}),
            Stamp("paid_at", {S.PAID})],
)

# who acts on a statement: the buyer side or the supplier (for the notification's recipients)
NOTIFY_EVENTS = {"sent": "supplier", "confirmed": "buyer", "disputed": "buyer", "paid": "supplier"}


def _notify(statement: SupplierStatement, what: str) -> None:
    """Tell the other side through purchasing's notifications (in-app, and e-mail after commit):
    the supplier's users when a statement is sent or paid, the tenant's finance members when the
    supplier confirms or disputes. A notification failure never undoes the statement's change."""
    try:
        from purchasing.services import notify
    except ImportError:  # an installation without purchasing's notifications
        return
    texts = {
        "sent": gettext_lazy("Statement %(no)s for %(period)s is ready for your confirmation."),
        "confirmed": gettext_lazy("%(supplier)s confirmed statement %(no)s."),
        "disputed": gettext_lazy("%(supplier)s disputed statement %(no)s."),
        "paid": gettext_lazy("Statement %(no)s is paid in full."),
    }
    subject = str(texts[what] % {"no": statement.number, "period": statement.key, "supplier": statement.supplier_name})
    to_supplier = NOTIFY_EVENTS[what] == "supplier"
    target = {"supplier_id": statement.supplier_id} if to_supplier else {"role": "finance"}
    url = reverse("finance:portal-statement" if to_supplier else "finance:statement", args=[statement.pk])
    try:
        with transaction.atomic():
            notify(subject=subject, url=url, code=f"statement.{what}", **target)
    except Exception:  # noqa: BLE001 - a notification never fails the business change
        logger.exception("finance: notifying statement %s %s failed", statement.pk, what)


# --- generation -----------------------------------------------------------------------------------------
def _last_day(year: int, month: int) -> datetime.date:
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


LATE_LOOKBACK_MONTHS = 12  # how far back a statement looks for documents dated before its month


def _months_before(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) - n
    return index // 12, index % 12 + 1


def _supplier(supplier_id: int) -> dict:
    from purchasing.selectors import suppliers_brief

    found = suppliers_brief(ids=[supplier_id]).get(int(supplier_id))
    if found is None:
        raise ValidationError({"supplier": [_("No such supplier.")]})
    return found


def _check_period(year, month) -> tuple[int, int]:
    try:
        year, month = int(year), int(month)
    except (TypeError, ValueError):
        raise ValidationError({"month": [_("Give the year and the month as numbers.")]}) from None
    if not 1 <= month <= 12:
        raise ValidationError({"month": [_("A month is 1 to 12.")]})
    if not 2000 <= year <= 2100:
        raise ValidationError({"year": [_("A year between 2000 and 2100.")]})
    today = tenant_today()
    if (year, month) > (today.year, today.month):
        raise ValidationError({"month": [_("The month has not begun yet.")]})
    return year, month


def _sync_lines(statement: SupplierStatement, *, user=None) -> int:
    """Add the supplier's receipt and return lines of the month that are on no statement yet and
    refresh the price of those on this draft (an agreed change of the PO price). Returns how many
    lines were added."""
    from purchasing.selectors import supplier_documents

    start, end = month_range(statement.year, statement.month)
    # and what is dated in an earlier month whose statement had already left the draft when it came
    # in (a receipt entered late): the next statement picks it up, so nothing goes unbilled
    late_start, _end = month_range(*_months_before(statement.year, statement.month, LATE_LOOKBACK_MONTHS))
    docs = supplier_documents(supplier_id=statement.supplier_id, start=late_start, end=end)
    if any(d["received_at"] < start for d in docs):
        gone = set(SupplierStatement.objects.filter(supplier_id=statement.supplier_id).exclude(status=S.DRAFT)
                   .values_list("year", "month"))

        def belongs(d):
            if d["received_at"] >= start:
                return True
            day = tenant_date(d["received_at"])
            return (day.year, day.month) in gone

        docs = [d for d in docs if belongs(d)]
    ids = [d["receipt_line_id"] for d in docs]
    taken = dict(SupplierStatementLine.objects.filter(receipt_line_id__in=ids).values_list("receipt_line_id", "statement_id"))
    mine = {ln.receipt_line_id: ln for ln in statement.lines.filter(receipt_line_id__in=ids)}
    new, changed = [], []
    for d in docs:
        unit_price = to_money(d["unit_price"])
        amount = (unit_price * d["quantity"]).quantize(CENT)
        kind = StatementLineKind.RETURN if d["quantity"] < 0 else StatementLineKind.RECEIPT
        line = mine.get(d["receipt_line_id"])
        if line is not None:
            if line.unit_price != unit_price or line.amount != amount:
                line.unit_price, line.amount = unit_price, amount
                changed.append(line)
            continue
        if d["receipt_line_id"] in taken:
            continue  # on another statement
        new.append(SupplierStatementLine(
            tenant_id=statement.tenant_id, statement=statement, kind=kind, receipt_id=d["receipt_id"], receipt_line_id=d["receipt_line_id"],
            receipt_number=d["receipt_number"], purchase_order_id=d["purchase_order_id"],
            purchase_order_number=d["purchase_order_number"], sku_id=d["sku_id"], sku_code=d["sku_code"],
            date=tenant_date(d["received_at"]), quantity=d["quantity"], unit_price=unit_price, amount=amount,
            created_by=actor_user(user)))
    if new:
        SupplierStatementLine.objects.bulk_create(new)
    if changed:
        SupplierStatementLine.objects.bulk_update(changed, ["unit_price", "amount"])
    return len(new)


def _retotal(statement: SupplierStatement) -> None:
    statement.total_amount = statement.lines.aggregate(t=Sum("amount"))["t"] or ZERO


@transaction.atomic
def statement_generate(*, supplier_id: int, year: int, month: int, user=None) -> SupplierStatement:
    """The supplier's statement of that month, made on first call (a draft, due at month end plus
    the supplier's payment terms). Again on a draft: new receipts and returns are added, changed PO
    prices refreshed, nothing duplicated. A statement past draft is returned as it is."""
    year, month = _check_period(year, month)
    supplier = _supplier(supplier_id)
    statement = SupplierStatement.objects.select_for_update().filter(
        supplier_id=supplier["id"], year=year, month=month).first()
    created = False
    if statement is None:
        statement, created = SupplierStatement.objects.get_or_create(
            supplier_id=supplier["id"], year=year, month=month,
            defaults={"number": f"ST-{year}{month:02d}-{supplier['id']:05d}", "supplier_name": supplier["label"][:250],
                      "currency": supplier["currency"] or "CNY", "payment_terms_days": supplier["payment_terms_days"],
                      "due_date": _last_day(year, month) + datetime.timedelta(days=supplier["payment_terms_days"])})
        statement = SupplierStatement.objects.select_for_update().get(pk=statement.pk)
        if created:
            WORKFLOW.log(statement, "status", "generated", _("Statement generated."), actor=user, to_status=S.DRAFT)
    if statement.status != S.DRAFT:
        return statement
    added = _sync_lines(statement, user=user)
    _retotal(statement)
    statement.generated_at = timezone.now()
    statement.save(update_fields=["total_amount", "generated_at", "updated_at"])
    if added and not created:
        WORKFLOW.log(statement, "edit", "regenerated", _("%(n)d new lines added.") % {"n": added}, actor=user)
    return statement


def statements_generate_month(*, year: int, month: int, user=None) -> list[SupplierStatement]:
    """Every supplier's statement of the month that had receipts or returns in it (the monthly job)."""
    from purchasing.selectors import supplier_ids_with_documents

    year, month = _check_period(year, month)
    start, end = month_range(year, month)
    return [statement_generate(supplier_id=sid, year=year, month=month, user=user)
            for sid in supplier_ids_with_documents(start=start, end=end)]


# --- the buyer's side -----------------------------------------------------------------------------------
@transaction.atomic
def statement_adjust(*, statement, amount, memo: str, sku_id: int | None = None, corrects: int | None = None,
                     user=None) -> SupplierStatementLine:
    """An adjustment line (an agreed price change, a credit note, the correction of a disputed
    line): a signed amount with its reason, on a draft or disputed statement."""
    statement = WORKFLOW.lock(statement)
    WORKFLOW.check(statement, "adjust")
    memo = why_required(memo, "memo")
    try:
        amount = to_money(amount)
    except (TypeError, ValueError, ArithmeticError):
        raise ValidationError({"amount": [_("Not an amount.")]}) from None
    if amount == 0:
        raise ValidationError({"amount": [_("An adjustment cannot be zero.")]})
    target = None
    if corrects is not None:
        target = statement.lines.filter(pk=corrects).first()
        if target is None:
            raise ValidationError({"corrects": [_("Not a line of this statement.")]})
    line = SupplierStatementLine.objects.create(
        statement=statement, kind=StatementLineKind.ADJUSTMENT, date=min(tenant_today(), _last_day(statement.year, statement.month)),
        amount=amount, memo=memo[:300], sku_id=sku_id or (target.sku_id if target else None),
        sku_code=target.sku_code if target else "", receipt_number=target.receipt_number if target else "",
        purchase_order_number=target.purchase_order_number if target else "", corrects=target,
        created_by=actor_user(user))
    _retotal(statement)
    statement.save(update_fields=["total_amount", "updated_at"])
    WORKFLOW.log(statement, "edit", "adjusted", memo, actor=user, data={"line": line.pk, "amount": str(amount)})
    return line


@transaction.atomic
def statement_send(*, statement, why: str = "", user=None) -> SupplierStatement:
    """Send the statement to the supplier (again after a dispute: the disputes are answered by the
    adjustments or by ``why``, which is then required for each disputed line left uncorrected)."""
    statement = WORKFLOW.lock(statement)
    WORKFLOW.check(statement, "send")
    if statement.status == S.DRAFT:
        _sync_lines(statement, user=user)
        _retotal(statement)
    disputed = statement.lines.filter(disputed=True)
    uncorrected = [ln for ln in disputed if not ln.corrections.exists()]
    if uncorrected and not (why or "").strip():
        raise ValidationError({"why": [_("Lines %(lines)s are disputed and not corrected: say why they stand.") % {
            "lines": ", ".join(str(ln.pk) for ln in uncorrected)}]})
    disputed.update(disputed=False)
    WORKFLOW.set_status(statement, S.SENT, why=(why or "").strip(), actor=user)
    _notify(statement, "sent")
    return statement


# --- the supplier's side --------------------------------------------------------------------------------
def _own(statement, supplier_id: int | None) -> SupplierStatement:
    """Lock the statement; a supplier user reaches only its own supplier's (404 otherwise)."""
    doc = WORKFLOW.lock(statement)
    if supplier_id is not None and doc.supplier_id != int(supplier_id):
        from django.http import Http404

        raise Http404(WORKFLOW.not_found)
    return doc


@transaction.atomic
def statement_confirm(*, statement, supplier_id: int | None = None, user=None) -> SupplierStatement:
    """The supplier agrees: confirmed, and the payable is posted at once (when the posting is refused,
    e.g. a receipt's own posting failed, the statement stays confirmed for finance to post)."""
    statement = _own(statement, supplier_id)
    WORKFLOW.check(statement, "confirm")
    WORKFLOW.set_status(statement, S.CONFIRMED, actor=user)
    _notify(statement, "confirmed")
    try:
        with transaction.atomic():
            _post(statement, user=None)
    except Conflict as exc:
        WORKFLOW.log(statement, "system", "post_refused", str(exc.detail))
    return statement


@transaction.atomic
def statement_dispute(*, statement, lines: list[dict], supplier_id: int | None = None, user=None) -> SupplierStatement:
    """The supplier disputes lines, each with its reason: [{"line": id, "reason": "..."}]."""
    statement = _own(statement, supplier_id)
    WORKFLOW.check(statement, "dispute")
    if not lines:
        raise ValidationError({"lines": [_("Name the lines you dispute.")]})
    by_id = {ln.pk: ln for ln in statement.lines.all()}
    errors, chosen = [], []
    for n, item in enumerate(lines, start=1):
        try:
            line = by_id.get(int(item.get("line")))
        except (TypeError, ValueError, AttributeError):
            line = None
        reason = str((item or {}).get("reason") or "").strip() if isinstance(item, dict) else ""
        if line is None:
            errors.append(_("Item %(n)d: not a line of this statement.") % {"n": n})
        elif not reason:
            errors.append(_("Item %(n)d: say why.") % {"n": n})
        else:
            line.disputed, line.dispute_reason = True, reason[:500]
            chosen.append(line)
    if errors:
        raise ValidationError({"lines": errors})
    SupplierStatementLine.objects.bulk_update(chosen, ["disputed", "dispute_reason"])
    summary = "; ".join(f"#{ln.pk}: {ln.dispute_reason}" for ln in chosen)
    WORKFLOW.set_status(statement, S.DISPUTED, why=summary, actor=user,
                        data={"lines": [ln.pk for ln in chosen]})
    _notify(statement, "disputed")
    return statement


# --- posting and payments -------------------------------------------------------------------------------
def _booked_on_receipt(statement: SupplierStatement) -> dict[tuple[str, str], Decimal]:
    """What each receipt / return on the statement booked on 2202 (credit positive), reversals
    included: {(source_type, receipt id): amount}."""
    refs = defaultdict(set)
    for kind, receipt_id in statement.lines.filter(receipt_id__isnull=False).values_list("kind", "receipt_id").distinct():
        source = SourceType.PURCHASE_RETURNED if kind == StatementLineKind.RETURN else SourceType.PURCHASE_RECEIVED
        refs[source].add(str(receipt_id))
    if not refs:
        return {}
    match = Q()
    for source, ids in refs.items():
        match |= Q(voucher__source_type=source, voucher__source_ref__in=ids)
        match |= Q(voucher__reversal_of__source_type=source, voucher__reversal_of__source_ref__in=ids)
    rows = (VoucherLine.objects.filter(match, account__code=chart.PAYABLE, voucher__status=VoucherStatus.POSTED)
            .values("voucher__source_type", "voucher__source_ref", "voucher__reversal_of__source_type",
                    "voucher__reversal_of__source_ref")
            .annotate(cr=Sum("credit"), dr=Sum("debit")).order_by())
    booked: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for r in rows:
        if r["voucher__source_type"] == SourceType.REVERSAL:
            key = (r["voucher__reversal_of__source_type"], r["voucher__reversal_of__source_ref"])
        else:
            key = (r["voucher__source_type"], r["voucher__source_ref"])
        booked[key] += (r["cr"] or ZERO) - (r["dr"] or ZERO)
    return dict(booked)


def _pair(amount: Decimal, **dims) -> list[LineSpec]:
    """More payable (positive): Dr 1405 / Cr 2202; less (negative): the other way round."""
    return signed_pair(LineSpec(account=chart.INVENTORY, tag="stock", **dims),
                       LineSpec(account=chart.PAYABLE, tag="payable", **dims), amount)


def statement_voucher_lines(statement: SupplierStatement) -> tuple[list[LineSpec], Decimal]:
    """The payable voucher's lines (what the receipts did not book already) and what they booked."""
    booked = _booked_on_receipt(statement)
    per_doc: dict[tuple[str, str], list] = defaultdict(list)
    out: list[LineSpec] = []
    dims = {"supplier_id": statement.supplier_id, "currency": statement.currency}
    for ln in statement.lines.order_by("date", "id"):
        if ln.kind == StatementLineKind.ADJUSTMENT:
            out += _pair(ln.amount, sku_id=ln.sku_id, memo=f"{statement.number}: {ln.memo}"[:300], **dims)
        else:
            source = SourceType.PURCHASE_RETURNED if ln.kind == StatementLineKind.RETURN else SourceType.PURCHASE_RECEIVED
            per_doc[(source, str(ln.receipt_id))].append(ln)
    for key, lines in per_doc.items():
        amount = sum((ln.amount for ln in lines), ZERO)
        diff = amount - booked.get(key, ZERO)
        if diff:
            memo = _("%(st)s: %(doc)s at the agreed price %(amount)s, booked %(booked)s") % {
                "st": statement.number, "doc": lines[0].receipt_number, "amount": amount, "booked": booked.get(key, ZERO)}
            out += _pair(diff, memo=memo[:300], **dims)
    return out, sum(booked.values(), ZERO)


def _post(statement: SupplierStatement, *, user=None) -> SupplierStatement:
    WORKFLOW.check(statement, "post")
    receipts = [str(r) for r in statement.lines.filter(receipt_id__isnull=False).values_list("receipt_id", flat=True).distinct()]
    failed = PostingIssue.objects.filter(source_type__in=[SourceType.PURCHASE_RECEIVED, SourceType.PURCHASE_RETURNED],
                                         source_ref__in=receipts, resolved_at__isnull=True).first()
    if failed is not None:
        raise Conflict(_("The posting of receipt %(ref)s failed and waits for a retry: retry it, then post the statement.")
                       % {"ref": failed.source_ref})
    lines, booked = statement_voucher_lines(statement)
    if lines:
        when = min(tenant_today(), _last_day(statement.year, statement.month))
        made = vouchers_post_auto([VoucherSpec(
            date=when, memo=_("Supplier statement %(no)s (%(supplier)s)") % {
                "no": statement.number, "supplier": statement.supplier_name}, source_type=SourceType.SUPPLIER_STATEMENT,
            source_ref=str(statement.pk), lines=lines)])
        if made:
            statement.voucher = made[0]
    statement.booked_amount = booked
    WORKFLOW.set_status(statement, S.POSTED, actor=user,
                        data={"voucher": statement.voucher_id, "booked_on_receipt": str(booked)})
    return statement


@transaction.atomic
def statement_post(*, statement, user=None) -> SupplierStatement:
    """Post a confirmed statement's payable (when the automatic posting on confirmation was refused)."""
    return _post(WORKFLOW.lock(statement), user=user)


@transaction.atomic
def statement_pay(*, statement, amount, paid_on: datetime.date | None = None, reference: str = "",
                  user=None) -> SupplierPayment:
    """Record a payment against a posted statement (at most what is outstanding) and post
    Dr 2202 / Cr 1002 on ``paid_on`` (default today; a closed month is a 409). Paid in full, the
    statement is paid. The same ``reference`` twice records one payment."""
    reference = (reference or "").strip()[:100]
    statement = WORKFLOW.lock(statement)
    if reference:
        existing = SupplierPayment.objects.filter(reference=reference).first()
        if existing is not None:
            if existing.statement_id == statement.pk and existing.amount == to_money(amount):
                return existing
            raise ValidationError({"reference": [_("This reference is recorded for another payment.")]})
    WORKFLOW.check(statement, "pay")
    try:
        amount = to_money(amount)
    except (TypeError, ValueError, ArithmeticError):
        raise ValidationError({"amount": [_("Not an amount.")]}) from None
    outstanding = statement.total_amount - statement.paid_amount
    if amount <= 0:
        raise ValidationError({"amount": [_("A payment is more than zero.")]})
    if amount > outstanding:
        raise ValidationError({"amount": [_("At most %(o)s is outstanding.") % {"o": outstanding}]})
    paid_on = paid_on or tenant_today()
    if paid_on > tenant_today():
        raise ValidationError({"paid_on": [_("A payment cannot be dated in the future.")]})
    n = statement.payments.count() + 1
    memo = _("Payment to %(supplier)s, statement %(no)s") % {"supplier": statement.supplier_name, "no": statement.number}
    if reference:
        memo = f"{memo} ({reference})"
    dims = {"supplier_id": statement.supplier_id, "currency": statement.currency, "memo": memo[:300]}
    voucher = voucher_create(date=paid_on, memo=memo[:300], post=True, user=actor_user(user),
                             source_type=SourceType.SUPPLIER_PAYMENT, source_ref=f"{statement.pk}:{n}",
                             lines=[LineSpec(account=chart.PAYABLE, debit=amount, tag="payable", **dims),
                                    LineSpec(account=chart.BANK, credit=amount, **dims)])
    payment = SupplierPayment.objects.create(statement=statement, supplier_id=statement.supplier_id, amount=amount,
                                             currency=statement.currency, paid_on=paid_on, reference=reference,
                                             voucher=voucher, created_by=actor_user(user))
    statement.paid_amount += amount
    statement.save(update_fields=["paid_amount", "updated_at"])
    WORKFLOW.log(statement, "edit", "payment", memo, actor=user,
                 data={"payment": payment.pk, "amount": str(amount), "voucher": voucher.pk})
    if statement.paid_amount == statement.total_amount:
        WORKFLOW.set_status(statement, S.PAID, actor=user)
        _notify(statement, "paid")
    return payment
