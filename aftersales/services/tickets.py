"""Tickets opened and decided: an operator's case for a shipped order (lines checked against the
order, goods never in two tickets), the automatic approval rule, approve / reject / await the return /
cancel (one by one or in bulk), and the SLA flag on overdue tickets.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.tenancy.dates import tenant_today, tenant_zone
from erp.workflow import why_required

from .. import ports
from ..models import (
    REFUND_KINDS,
    RETURN_KINDS,
    TERMINAL,
    AftersalesSettings,
    EventKind,
    Ticket,
    TicketKind,
    TicketLine,
    TicketSource,
)
from ..models import TicketStatus as S
from .common import _amount, aftersales_settings
from .decisions import AGREE_REFUND, AGREE_RETURN, REFUSE, _push_decision
from .workflow import WORKFLOW


def _sla_due(kind: str, settings: AftersalesSettings, start=None):
    return (start or timezone.now()) + timedelta(hours=settings.sla_hours(kind))


def _new_ticket(**fields) -> Ticket:
    settings = aftersales_settings()
    ticket = Ticket(number=f"tmp-{uuid.uuid4().hex[:27]}", **fields)
    ticket.sla_due_at = _sla_due(ticket.kind, settings)
    ticket.save()
    ticket.number = f"AS{tenant_today():%Y%m%d}-{ticket.pk}"
    Ticket.objects.filter(pk=ticket.pk).update(number=ticket.number)
    return ticket


def _line_share(line, quantity: int) -> Decimal:
    paid = Decimal(line.paid or 0)
    if not line.quantity:
        return paid
    return (paid * quantity / line.quantity).quantize(Decimal("0.01"))


def _quantities_in_tickets(order_line_ids: list[int]) -> dict[int, int]:
    """Units of each order line already in a live or completed ticket (reships aside): the same
    goods cannot be returned or refunded twice."""
    if not order_line_ids:
        return {}
    rows = (TicketLine.objects.filter(order_line_id__in=order_line_ids)
            .exclude(ticket__status__in=[S.REJECTED, S.CANCELLED]).exclude(ticket__kind=TicketKind.RESHIP)
            .values("order_line_id").annotate(n=Sum("quantity")).order_by())
    return {r["order_line_id"]: r["n"] or 0 for r in rows}


@transaction.atomic
def ticket_create(*, order_id: int, kind: str, reason: str, lines: list[dict] | None = None,
                  requested_amount=None, note: str = "", warehouse_id: int | None = None, actor=None) -> Ticket:
    """An operator opens a case for a shipped order. ``lines``: dicts with ``order_line_id``,
    ``quantity`` (default: the whole line), optional ``amount`` and ``exchange_sku_id``. A refund-only
    ticket may have no lines (the whole order) but then needs ``requested_amount``."""
    if kind not in TicketKind.values:
        raise ValidationError({"kind": [_("Choose one of %(kinds)s.") % {"kinds": ", ".join(TicketKind.values)}]})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("Give the buyer's reason.")]})
    try:
        order_id = int(order_id)
    except (TypeError, ValueError):
        raise ValidationError({"order_id": [_("Unknown order.")]}) from None
    snapshot = ports.order_snapshot(order_id)
    if snapshot is None:
        raise ValidationError({"order_id": [_("Unknown order.")]})
    if not ports.order_shipped(snapshot):
        raise ValidationError({"order_id": [_("Order %(no)s has not shipped: change or cancel the order instead.")
                                            % {"no": snapshot.platform_order_id or snapshot.id}]})
    by_id = {ln.id: ln for ln in snapshot.lines}
    taken = _quantities_in_tickets(list(by_id)) if kind != TicketKind.RESHIP else {}
    built: list[TicketLine] = []
    errors: list[str] = []
    for i, item in enumerate(lines or []):
        try:
            line_id = int(item.get("order_line_id"))
        except (TypeError, ValueError, AttributeError):
            errors.append(_("Line %(n)d: give order_line_id.") % {"n": i + 1})
            continue
        src = by_id.get(line_id)
        if src is None:
            errors.append(_("Line %(n)d: not a line of this order.") % {"n": i + 1})
            continue
        qty = item.get("quantity") or src.quantity
        try:
            qty = int(qty)
        except (TypeError, ValueError):
            qty = 0
        if qty < 1 or qty > src.quantity:
            errors.append(_("Line %(n)d: quantity must be 1 to %(max)d.") % {"n": i + 1, "max": src.quantity})
            continue
        if taken.get(src.id, 0) + qty > src.quantity:
            errors.append(_("Line %(n)d: %(taken)d of %(max)d already in other tickets.")
                          % {"n": i + 1, "taken": taken.get(src.id, 0), "max": src.quantity})
            continue
        taken[src.id] = taken.get(src.id, 0) + qty if kind != TicketKind.RESHIP else 0
        amount = item.get("amount")
        amount = _line_share(src, qty) if amount in (None, "") else _amount(amount, field="lines")
        exchange = item.get("exchange_sku_id") or None
        if exchange is not None and not str(exchange).isdigit():
            errors.append(_("Line %(n)d: exchange_sku_id is a SKU id.") % {"n": i + 1})
            continue
        built.append(TicketLine(order_line_id=src.id, sku_id=src.sku_id, sku_code=src.sku_code or "", title=src.title or "",
                                quantity=qty, amount=amount, warehouse_id=src.warehouse_id or snapshot.warehouse_id,
                                exchange_sku_id=int(exchange) if exchange else None))
    if errors:
        raise ValidationError({"lines": errors})
    if not built and kind != TicketKind.REFUND_ONLY:
        raise ValidationError({"lines": [_("Add at least one line.")]})
    if requested_amount in (None, ""):
        if not built:
            raise ValidationError({"requested_amount": [_("Give the amount to refund.")]})
        requested = sum((ln.amount for ln in built), Decimal("0.00")) if kind in REFUND_KINDS else Decimal("0.00")
    else:
        requested = _amount(requested_amount, field="requested_amount", maximum=Decimal(snapshot.paid_amount or 0) or None)
    ticket = _new_ticket(
        kind=kind, source=TicketSource.MANUAL, order_id=snapshot.id, shop_id=snapshot.shop_id,
        platform=snapshot.platform or "", platform_order_id=snapshot.platform_order_id or "",
        buyer_id=snapshot.buyer_id or "", reason=reason[:300], note=note or "", currency=snapshot.currency or "CNY",
        requested_amount=requested, warehouse_id=warehouse_id or snapshot.warehouse_id,
    )
    for ln in built:
        ln.ticket, ln.tenant_id = ticket, ticket.tenant_id
    TicketLine.objects.bulk_create(built)
    WORKFLOW.log(ticket, EventKind.ACTION, "created", _("opened by an operator: %(reason)s") % {"reason": reason}, actor=actor,
         to_status=S.OPEN)
    _auto_approve(ticket)
    return ticket


def _abusive(ticket: Ticket, settings: AftersalesSettings) -> str:
    """Why the buyer may not be auto-approved ("" when they may)."""
    if not ticket.buyer_id:
        return ""
    since = timezone.now() - timedelta(days=settings.abuse_window_days)
    recent = Ticket.objects.filter(buyer_id=ticket.buyer_id, created_at__gte=since).exclude(pk=ticket.pk)
    if recent.filter(status=S.REJECTED).exists():
        return _("the buyer had a ticket rejected recently")
    n = recent.count()
    if settings.abuse_ticket_limit and n >= settings.abuse_ticket_limit:
        return _("the buyer opened %(n)d other tickets recently") % {"n": n}
    return ""


def _auto_approve(ticket: Ticket) -> bool:
    settings = aftersales_settings()
    limit = settings.auto_approve_refund_below
    if limit is None or ticket.kind != TicketKind.REFUND_ONLY or ticket.status != S.OPEN:
        return False
    if ticket.requested_amount >= limit:
        return False
    abuse = _abusive(ticket, settings)
    if abuse:
        WORKFLOW.log(ticket, EventKind.RULE, "auto_approve.skipped", _("not auto-approved: %(why)s") % {"why": abuse})
        return False
    ticket.approved_amount = ticket.requested_amount
    WORKFLOW.set_status(ticket, S.APPROVED, why=_("auto-approved: refund only under %(limit)s") % {"limit": limit},
                code="approved.auto", kind=EventKind.RULE)
    _push_decision(ticket, AGREE_REFUND, actor=None, why="")
    return True


@transaction.atomic
def ticket_approve(*, ticket_id: int, actor=None, amount=None, why: str = "") -> Ticket:
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "approve")
    if amount not in (None, ""):
        ticket.approved_amount = _amount(amount, field="amount", maximum=ticket.requested_amount)
    elif ticket.approved_amount is None:
        ticket.approved_amount = ticket.requested_amount
    WORKFLOW.set_status(ticket, S.APPROVED, why=why or _("approved"), code="approved", actor=actor,
                data={"amount": str(ticket.approved_amount)})
    _push_decision(ticket, AGREE_RETURN if ticket.kind in RETURN_KINDS else AGREE_REFUND, actor=actor, why=why)
    return ticket


@transaction.atomic
def ticket_reject(*, ticket_id: int, actor=None, why: str = "") -> Ticket:
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "reject")
    why = why_required(why)
    WORKFLOW.set_status(ticket, S.REJECTED, why=why, code="rejected", actor=actor)
    _push_decision(ticket, REFUSE, actor=actor, why=why)
    return ticket


@transaction.atomic
def ticket_await_return(*, ticket_id: int, actor=None, tracking_no: str = "", why: str = "") -> Ticket:
    """The buyer sent the goods back (optionally with the return tracking number)."""
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "await_return")
    ticket.return_tracking_no = (tracking_no or "").strip()[:64]
    WORKFLOW.set_status(ticket, S.AWAITING_RETURN, why=why or _("the buyer sent the goods back"), code="awaiting_return",
                actor=actor, data={"tracking_no": ticket.return_tracking_no} if ticket.return_tracking_no else None)
    return ticket


@transaction.atomic
def ticket_cancel(*, ticket_id: int, actor=None, why: str = "") -> Ticket:
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "cancel")
    WORKFLOW.set_status(ticket, S.CANCELLED, why=why or _("cancelled"), code="cancelled", actor=actor)
    return ticket


def tickets_bulk_approve(*, ticket_ids: list[int], actor=None, why: str = "") -> dict[int, str]:
    """Approve many tickets: each answers "ok" or the reason it was refused."""
    results: dict[int, str] = {}
    for pk in sorted({int(i) for i in ticket_ids}):
        try:
            ticket_approve(ticket_id=pk, actor=actor, why=why)
            results[pk] = "ok"
        except Conflict as exc:
            results[pk] = str(exc.detail)
        except Http404:
            results[pk] = _("No such ticket.")
        except ValidationError as exc:
            results[pk] = "; ".join(exc.messages)
    return results


@transaction.atomic
def tickets_flag_overdue(*, now=None) -> int:
    """Flag open tickets past their SLA (once each, with a timeline entry). Returns how many."""
    now = now or timezone.now()
    due = list(Ticket.objects.select_for_update(skip_locked=True).filter(
        status__in=[s for s in S.values if s not in TERMINAL], sla_due_at__lt=now, overdue_flagged_at__isnull=True,
    ).order_by("pk")[:5000])
    for ticket in due:
        ticket.overdue_flagged_at = now
        ticket.save(update_fields=["overdue_flagged_at", "updated_at"])
        WORKFLOW.log(ticket, EventKind.SYSTEM, "sla.overdue",
             _("past its SLA (due %(due)s)") % {"due": ticket.sla_due_at.astimezone(tenant_zone()).strftime("%Y-%m-%d %H:%M")})
    return len(due)
