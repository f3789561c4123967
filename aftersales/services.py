"""After-sales writes: tickets from platform refunds and from operators, the status machine, and its
effects (stock back through inventory, a reship order through orders, events for finance).

Status machine (every change is a TicketEvent with who and why)::

    open -> approved -> awaiting_return -> goods_received -> refunding -> completed
      \\-> rejected / cancelled (before any goods came back)

    refund_only:    open -> approved -> refunding -> completed
    return_refund:  open -> approved [-> awaiting_return] -> goods_received -> refunding -> completed
    exchange:       open -> approved [-> awaiting_return] -> goods_received -> completed (a reship order goes out)
    reship:         open -> approved -> completed (a reship order goes out)

A wrong-state action raises erp.api.exceptions.Conflict (409, with the reason); bad input raises
Django ValidationError (400, field messages). The platform's refund (integrations) moves a ticket
too: agreed -> approved, wait_return -> awaiting_return, refused -> rejected, closed -> cancelled,
success -> completed. An older (or the same) refund version changes nothing.

The seller's decisions go back to the platform (integrations.services.refund_decision_enqueue, an
outbox row in the same transaction) when the ticket came from a platform refund: approve -> agree to
refund (refund only) or agree to the return (with the return warehouse's address), receive goods ->
confirm receipt (the platform pays the buyer), reject -> refuse with the reason; an automatic
approval too. Manual tickets push nothing. The timeline records the decision queued, sent (or given
up) by the relay, and confirmed when the next refunds pull shows the platform applied it.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp import events
from erp.api.exceptions import Conflict
from erp.money import to_money
from erp.workflow import ALLOW, Action, DocumentWorkflow, Stamp, actor_label, why_required

from . import ports
from .models import (
    OUTGOING_KINDS,
    REFUND_KINDS,
    RETURN_KINDS,
    TERMINAL,
    AftersalesSettings,
    EventKind,
    LineCondition,
    Ticket,
    TicketEvent,
    TicketKind,
    TicketLine,
    TicketSource,
)
from .models import TicketStatus as S

logger = logging.getLogger("aftersales")

EVENT_KIND = {TicketKind.REFUND_ONLY: "refund", TicketKind.RETURN_REFUND: "return_refund",
              TicketKind.EXCHANGE: "exchange", TicketKind.RESHIP: "reship"}
_NEVER = datetime.min.replace(tzinfo=UTC)


# --- settings ------------------------------------------------------------------------------------
def aftersales_settings() -> AftersalesSettings:
    found = AftersalesSettings.objects.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return AftersalesSettings.objects.create()
    except IntegrityError:
        return AftersalesSettings.objects.get()


# --- the workflow --------------------------------------------------------------------------------
def _late_return(ticket: Ticket) -> bool:
    """Goods that arrive after the platform completed the refund are still taken back into stock."""
    return ticket.status == S.COMPLETED and ticket.kind in RETURN_KINDS and ticket.goods_received_at is None


def _goods_come_back(ticket: Ticket) -> str:
    if ticket.kind not in RETURN_KINDS:
        return _("A %(kind)s ticket has no goods coming back.") % {"kind": ticket.get_kind_display()}
    return ""


def _late_return_allowed(ticket: Ticket):
    return ALLOW if _late_return(ticket) else ""


def _refund_allowed(ticket: Ticket):
    if ticket.kind not in REFUND_KINDS:
        return _("A %(kind)s ticket sends goods, not money.") % {"kind": ticket.get_kind_display()}
    needed = S.APPROVED if ticket.kind == TicketKind.REFUND_ONLY else S.GOODS_RECEIVED
    if ticket.status != needed:
        return _("Ticket %(no)s is %(status)s; a refund needs it %(needed)s.") % {
            "no": ticket.number, "status": ticket.get_status_display(), "needed": S(needed).label}
    return ALLOW


def _complete_allowed(ticket: Ticket):
    needed = {TicketKind.REFUND_ONLY: S.REFUNDING, TicketKind.RETURN_REFUND: S.REFUNDING,
              TicketKind.EXCHANGE: S.GOODS_RECEIVED, TicketKind.RESHIP: S.APPROVED}[ticket.kind]
    if ticket.status != needed:
        return _("Ticket %(no)s is %(status)s; it can be completed when %(needed)s.") % {
            "no": ticket.number, "status": ticket.get_status_display(), "needed": S(needed).label}
    return ALLOW


WORKFLOW = DocumentWorkflow(
    model=Ticket, event_model=TicketEvent, event_fk="ticket", status_kind=EventKind.ACTION, not_found="No such ticket.",
    refusal=gettext_lazy("Ticket %(no)s is %(status)s: cannot %(action)s it."),
    actions={
        "approve": Action({S.OPEN}, gettext_lazy("approve")),
        "reject": Action({S.OPEN, S.APPROVED, S.AWAITING_RETURN}, gettext_lazy("reject")),
        "await_return": Action({S.APPROVED}, gettext_lazy("mark return shipped"), guards=(_goods_come_back,)),
        "receive_goods": Action({S.APPROVED, S.AWAITING_RETURN}, gettext_lazy("receive goods"),
                                guards=(_goods_come_back, _late_return_allowed)),
        "refund": Action(None, gettext_lazy("refund"), guards=(_refund_allowed,)),
        "complete": Action(None, gettext_lazy("complete"), guards=(_complete_allowed,)),
        "cancel": Action({S.OPEN, S.APPROVED, S.AWAITING_RETURN}, gettext_lazy("cancel")),
    },
    stamps=[Stamp("approved_at", {S.APPROVED, S.AWAITING_RETURN, S.REFUNDING, S.COMPLETED}, keep_first=True),
            Stamp("goods_received_at", {S.GOODS_RECEIVED}, keep_first=True), Stamp("closed_at", TERMINAL)],
)
allowed_actions = WORKFLOW.allowed_actions
action_refusal = WORKFLOW.refusal


def _amount(value, *, field: str, maximum: Decimal | None = None) -> Decimal:
    if isinstance(value, float):
        raise ValidationError({field: [_("Give the amount as a decimal string, not a float.")]})
    try:
        amount = to_money(value)
    except Exception:  # noqa: BLE001 - anything unparsable is bad input
        raise ValidationError({field: [_("Not a valid amount.")]}) from None
    if amount is None or amount < 0:
        raise ValidationError({field: [_("The amount cannot be negative.")]})
    if maximum is not None and amount > maximum:
        raise ValidationError({field: [_("At most %(max)s.") % {"max": maximum}]})
    return amount


# --- creation ------------------------------------------------------------------------------------
def _sla_due(kind: str, settings: AftersalesSettings, start=None):
    return (start or timezone.now()) + timedelta(hours=settings.sla_hours(kind))


def _new_ticket(**fields) -> Ticket:
    settings = aftersales_settings()
    ticket = Ticket(number=f"tmp-{uuid.uuid4().hex[:27]}", **fields)
    ticket.sla_due_at = _sla_due(ticket.kind, settings)
    ticket.save()
    ticket.number = f"AS{timezone.localdate():%Y%m%d}-{ticket.pk}"
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


# --- operator actions ----------------------------------------------------------------------------
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


def _inspection(ticket: Ticket, lines: list[dict] | None) -> dict[int, tuple[int, str]]:
    """{ticket line id: (quantity received, condition)} from the operator's input."""
    own = {ln.pk: ln for ln in ticket.lines.all()}
    if not lines:
        return {pk: (ln.quantity, LineCondition.RESELLABLE) for pk, ln in own.items()}
    result: dict[int, tuple[int, str]] = {}
    errors: list[str] = []
    for i, item in enumerate(lines):
        try:
            pk = int(item.get("line") or item.get("line_id"))
        except (TypeError, ValueError, AttributeError):
            errors.append(_("Line %(n)d: give the ticket line id.") % {"n": i + 1})
            continue
        line = own.get(pk)
        if line is None:
            errors.append(_("Line %(n)d: not a line of this ticket.") % {"n": i + 1})
            continue
        condition = item.get("condition") or (LineCondition.DEFECTIVE if item.get("defective") else LineCondition.RESELLABLE)
        if condition not in (LineCondition.RESELLABLE, LineCondition.DEFECTIVE):
            errors.append(_("Line %(n)d: condition is resellable or defective.") % {"n": i + 1})
            continue
        qty = item.get("quantity")
        try:
            qty = line.quantity if qty in (None, "") else int(qty)
        except (TypeError, ValueError):
            qty = -1
        if qty < 0 or qty > line.quantity:
            errors.append(_("Line %(n)d: quantity must be 0 to %(max)d.") % {"n": i + 1, "max": line.quantity})
            continue
        if pk in result:
            errors.append(_("Line %(n)d: the same ticket line twice.") % {"n": i + 1})
            continue
        result[pk] = (qty, condition)
    if errors:
        raise ValidationError({"lines": errors})
    return result


@transaction.atomic
def ticket_receive_goods(*, ticket_id: int, actor=None, lines: list[dict] | None = None,
                         warehouse_id: int | None = None, why: str = "") -> Ticket:
    """The goods came back and were inspected: each line is resellable (back to sellable stock) or
    defective (inventory's defective bucket). Stock is returned once per line, whatever happens next."""
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "receive_goods")
    inspection = _inspection(ticket, lines)
    settings = aftersales_settings()
    fallback = warehouse_id or ticket.warehouse_id or settings.default_warehouse_id
    now = timezone.now()
    returned: dict[int, list[dict]] = defaultdict(list)
    skipped: list[str] = []
    for line in TicketLine.objects.select_for_update().filter(ticket=ticket).order_by("pk"):
        qty, condition = inspection.get(line.pk, (0, ""))
        line.received_quantity, line.condition = qty, condition
        if qty and line.stock_returned_at is None:
            wh = warehouse_id or line.warehouse_id or fallback
            if line.sku_id is None:
                skipped.append(line.title or str(line.pk))
            elif wh is None:
                raise ValidationError({"warehouse_id": [_("Say which warehouse received the goods.")]})
            else:
                ports.stock_return(warehouse_id=wh, sku_id=line.sku_id, quantity=qty, source_doc=f"aftersales:{ticket.number}",
                                   defective=condition == LineCondition.DEFECTIVE, user=actor,
                                   reason=f"after-sales {ticket.number} ({condition})")
                line.stock_returned_at = now
                line.warehouse_id = wh
                returned[wh].append({"sku_id": line.sku_id, "quantity": qty,
                                     "defective": condition == LineCondition.DEFECTIVE})
        line.save(update_fields=["received_quantity", "condition", "stock_returned_at", "warehouse_id"])
    if ticket.warehouse_id is None and returned:
        ticket.warehouse_id = next(iter(returned))
    summary = {str(pk): {"quantity": q, "condition": c} for pk, (q, c) in inspection.items()}
    if _late_return(ticket):  # the ticket stays completed; the goods are recorded
        ticket.goods_received_at = now
        ticket.save()
        WORKFLOW.log(ticket, EventKind.ACTION, "goods_received.late", why or _("goods received after the refund completed"),
             actor=actor, data={"lines": summary})
    else:
        WORKFLOW.set_status(ticket, S.GOODS_RECEIVED, why=why or _("goods received and inspected"), code="goods_received",
                    actor=actor, data={"lines": summary})
        if ticket.kind in REFUND_KINDS:
            _push_decision(ticket, CONFIRM_RECEIPT, actor=actor, why=why)
    if skipped:
        WORKFLOW.log(ticket, EventKind.SYSTEM, "stock.skipped",
             _("no SKU for %(lines)s: no stock returned") % {"lines": ", ".join(skipped)})
    for wh, items in returned.items():
        WORKFLOW.log(ticket, EventKind.SYSTEM, "stock.returned",
             _("returned to warehouse %(wh)s: %(n)d units") % {"wh": wh, "n": sum(i["quantity"] for i in items)},
             data={"warehouse_id": wh, "lines": items})
        events.publish("aftersales.goods_returned", ticket_id=ticket.pk, warehouse_id=wh, lines=items)
    return ticket


@transaction.atomic
def ticket_refund(*, ticket_id: int, actor=None, amount=None, why: str = "") -> Ticket:
    """The refund is issued (on the platform or by transfer); complete it once it has gone through."""
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "refund")
    if amount not in (None, ""):
        ticket.approved_amount = _amount(amount, field="amount", maximum=ticket.requested_amount)
    elif ticket.approved_amount is None:
        ticket.approved_amount = ticket.requested_amount
    WORKFLOW.set_status(ticket, S.REFUNDING, why=why or _("refund issued"), code="refunding", actor=actor,
                data={"amount": str(ticket.approved_amount)})
    return ticket


def _publish_refunded(ticket: Ticket) -> bool:
    """aftersales.refunded, once per ticket (docs/INTERFACES.md), when money went back."""
    if ticket.refund_published_at is not None:
        return False
    amount = ticket.refund_amount
    if not amount or amount <= 0:
        return False
    ticket.refunded_at = ticket.refunded_at or timezone.now()
    ticket.refund_published_at = timezone.now()
    ticket.save(update_fields=["refunded_at", "refund_published_at", "updated_at"])
    events.publish("aftersales.refunded", ticket_id=ticket.pk, order_id=ticket.order_id, shop_id=ticket.shop_id,
                   platform_order_id=ticket.platform_order_id, amount=amount, currency=ticket.currency,
                   refunded_at=ticket.refunded_at, kind=EVENT_KIND[ticket.kind])
    return True


def _reship(ticket: Ticket, *, actor, why: str) -> int:
    """The outgoing order of an exchange or reship, made once (orders is idempotent on source_ref)."""
    if ticket.reship_order_id:
        return ticket.reship_order_id
    lines: list[tuple[int, int]] = []
    for line in ticket.lines.order_by("pk"):
        sku = line.exchange_sku_id or line.sku_id if ticket.kind == TicketKind.EXCHANGE else line.sku_id
        qty = line.quantity
        if sku is None:
            raise ValidationError({"lines": [_("%(line)s has no SKU to send.") % {"line": line.title or line.pk}]})
        lines.append((int(sku), int(qty)))
    if not lines:
        raise ValidationError({"lines": [_("Nothing to send: the ticket has no lines.")]})
    if ticket.order_id is None:
        raise ValidationError({"order_id": [_("The ticket has no order to send a replacement for.")]})
    order = ports.order_create_reship(order_id=ticket.order_id, lines=lines, actor=actor, source_ref=f"aftersales:{ticket.pk}",
                                      why=why or _("after-sales %(no)s: %(kind)s") % {"no": ticket.number,
                                                                                       "kind": ticket.get_kind_display()})
    ticket.reship_order_id = order.pk
    ticket.save(update_fields=["reship_order_id", "updated_at"])
    WORKFLOW.log(ticket, EventKind.SYSTEM, "reship.created", _("replacement order #%(id)s created") % {"id": order.pk},
         actor=actor, data={"order_id": order.pk})
    return order.pk


@transaction.atomic
def ticket_complete(*, ticket_id: int, actor=None, why: str = "") -> Ticket:
    """Refund kinds: the refund went through (aftersales.refunded is published). Exchange and
    reship: the replacement order is created."""
    ticket = WORKFLOW.lock(ticket_id)
    WORKFLOW.check(ticket, "complete")
    if ticket.kind in OUTGOING_KINDS:
        _reship(ticket, actor=actor, why=why)
    WORKFLOW.set_status(ticket, S.COMPLETED, why=why or _("completed"), code="completed", actor=actor)
    _publish_refunded(ticket)
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


# --- platform refunds ----------------------------------------------------------------------------
def _newer(refund, ticket: Ticket) -> bool:
    stored = (ticket.platform_version, ticket.platform_modified_at or _NEVER)
    incoming = (int(refund.version or 0), refund.modified_at or _NEVER)
    return incoming > stored


def _apply_refund(ticket: Ticket, refund, settings: AftersalesSettings) -> bool:
    """Follow the platform's refund on a locked ticket; an older or equal version changes nothing."""
    if not _newer(refund, ticket):
        return False
    ticket.platform_version = int(refund.version or 0)
    ticket.platform_modified_at = refund.modified_at
    ticket.platform_status = (refund.platform_status or "")[:64]
    ticket.platform_refund_state = (refund.status or "")[:20]
    if not ticket.is_terminal and refund.amount is not None:
        ticket.requested_amount = Decimal(refund.amount)
    if refund.reason and not ticket.reason:
        ticket.reason = refund.reason[:300]
    if refund.has_goods_return and ticket.kind == TicketKind.REFUND_ONLY and ticket.status in (S.OPEN, S.APPROVED):
        ticket.kind = TicketKind.RETURN_REFUND  # the buyer now sends the goods back
    ticket.save()
    WORKFLOW.log(ticket, EventKind.PLATFORM, f"platform.{refund.status}",
         _("platform refund %(id)s: %(status)s (version %(v)s)") % {"id": refund.platform_refund_id,
                                                                      "status": refund.platform_status or refund.status,
                                                                      "v": refund.version},
         data={"version": ticket.platform_version, "status": refund.status, "amount": str(refund.amount)})
    _confirm_decisions(ticket, refund)
    status = refund.status
    why = _("the platform reports %(status)s") % {"status": refund.platform_status or status}
    if status == "agreed" and ticket.status == S.OPEN:
        ticket.approved_amount = ticket.approved_amount if ticket.approved_amount is not None else ticket.requested_amount
        WORKFLOW.set_status(ticket, S.APPROVED, why=why, code="approved.platform", kind=EventKind.PLATFORM)
    elif status == "wait_return" and ticket.kind in RETURN_KINDS and ticket.status in (S.OPEN, S.APPROVED):
        if ticket.approved_amount is None:
            ticket.approved_amount = ticket.requested_amount
        WORKFLOW.set_status(ticket, S.AWAITING_RETURN, why=why, code="awaiting_return.platform", kind=EventKind.PLATFORM)
    elif status == "refused" and not ticket.is_terminal:
        WORKFLOW.set_status(ticket, S.REJECTED, why=why, code="rejected.platform", kind=EventKind.PLATFORM)
    elif status == "closed" and not ticket.is_terminal:
        WORKFLOW.set_status(ticket, S.CANCELLED, why=why, code="cancelled.platform", kind=EventKind.PLATFORM)
    elif status == "success" and ticket.status != S.COMPLETED:
        if settings.auto_complete_on_platform_refund:
            ticket.approved_amount = Decimal(refund.amount) if refund.amount is not None else ticket.refund_amount
            ticket.refunded_at = refund.modified_at or timezone.now()
            WORKFLOW.set_status(ticket, S.COMPLETED, why=why, code="completed.platform", kind=EventKind.PLATFORM)
            _publish_refunded(ticket)
        else:
            WORKFLOW.log(ticket, EventKind.RULE, "platform.refunded",
                 _("the platform refunded the buyer; complete the ticket by hand"))
    return True


def _lines_from_snapshot(snapshot, refund) -> list[TicketLine]:
    wanted = getattr(refund, "platform_line_id", "") if refund is not None else ""
    lines = [ln for ln in snapshot.lines
             if (ln.platform_line_id == wanted if wanted else not ln.is_stopped)
             and (not ln.platform_order_id or not snapshot.platform_order_id or ln.platform_order_id == snapshot.platform_order_id)]
    return [TicketLine(order_line_id=ln.id, sku_id=ln.sku_id, sku_code=ln.sku_code or "", title=(ln.title or "")[:300],
                       quantity=ln.quantity, amount=Decimal(ln.paid or 0), warehouse_id=ln.warehouse_id or snapshot.warehouse_id)
            for ln in lines if ln.quantity]


@transaction.atomic
def ticket_sync_platform_refund(*, order_id: int, platform_refund_id: str) -> Ticket | None:
    """Open (or update) the ticket of a platform refund on a shipped order. Safe to repeat."""
    snapshot = ports.order_snapshot(int(order_id))
    if snapshot is None:
        logger.warning("after-sale for unknown order %s (refund %s)", order_id, platform_refund_id)
        return None
    refunds = ports.normalized_refunds(shop_id=snapshot.shop_id, platform_refund_ids=[platform_refund_id])
    refund = refunds[0] if refunds else None
    settings = aftersales_settings()
    ticket = Ticket.objects.select_for_update().filter(shop_id=snapshot.shop_id, platform_refund_id=platform_refund_id).first()
    if ticket is not None:
        if refund is not None:
            _apply_refund(ticket, refund, settings)
        return ticket
    kind = TicketKind.RETURN_REFUND if refund is not None and refund.has_goods_return else TicketKind.REFUND_ONLY
    lines = _lines_from_snapshot(snapshot, refund)
    try:
        with transaction.atomic():
            ticket = _new_ticket(
                kind=kind, source=TicketSource.PLATFORM, order_id=snapshot.id, shop_id=snapshot.shop_id,
                platform=snapshot.platform or "", platform_order_id=snapshot.platform_order_id or "",
                platform_refund_id=platform_refund_id[:64], buyer_id=snapshot.buyer_id or "",
                reason=((refund.reason if refund else "") or "")[:300], currency=snapshot.currency or "CNY",
                requested_amount=Decimal(refund.amount) if refund is not None and refund.amount is not None
                else sum((ln.amount for ln in lines), Decimal("0.00")),
                warehouse_id=snapshot.warehouse_id,
            )
    except IntegrityError:  # opened concurrently: follow the one that won
        ticket = Ticket.objects.select_for_update().get(shop_id=snapshot.shop_id, platform_refund_id=platform_refund_id)
        if refund is not None:
            _apply_refund(ticket, refund, settings)
        return ticket
    for ln in lines:
        ln.ticket, ln.tenant_id = ticket, ticket.tenant_id
    TicketLine.objects.bulk_create(lines)
    WORKFLOW.log(ticket, EventKind.PLATFORM, "created",
         _("opened from platform refund %(id)s") % {"id": platform_refund_id}, to_status=S.OPEN)
    if refund is not None:
        _apply_refund(ticket, refund, settings)
    _auto_approve(ticket)
    return ticket


@transaction.atomic
def tickets_follow_platform_refunds(*, shop_id: int, platform_refund_ids: list[str]) -> int:
    """Later platform changes of refunds that already have a ticket. Returns tickets changed."""
    ids = [str(i) for i in platform_refund_ids if i]
    tickets = {t.platform_refund_id: t for t in Ticket.objects.select_for_update()
               .filter(shop_id=shop_id, platform_refund_id__in=ids).order_by("pk")}
    if not tickets:
        return 0
    settings = aftersales_settings()
    changed = 0
    refunds = ports.normalized_refunds(shop_id=shop_id, platform_refund_ids=list(tickets))
    for refund in sorted(refunds, key=lambda r: (r.version, r.modified_at)):
        ticket = tickets.get(refund.platform_refund_id)
        if ticket is not None and _apply_refund(ticket, refund, settings):
            changed += 1
    return changed


def on_order_after_sale_opened(*, order_id, platform_refund_id, **_):
    """erp.events handler: orders saw a platform refund on a shipped order."""
    ticket_sync_platform_refund(order_id=order_id, platform_refund_id=platform_refund_id)


def on_platform_refunds_changed(*, shop_id, platform_refund_ids, **_):
    """erp.events handler: integrations stored new versions of these refunds."""
    tickets_follow_platform_refunds(shop_id=shop_id, platform_refund_ids=list(platform_refund_ids))


# --- decisions pushed to the platform --------------------------------------------------------------
AGREE_REFUND, AGREE_RETURN, CONFIRM_RECEIPT, REFUSE = "agree_refund", "agree_return", "confirm_receipt", "refuse"
DECISION_LABELS = {AGREE_REFUND: gettext_lazy("agree to refund"), AGREE_RETURN: gettext_lazy("agree to the return"),
                   CONFIRM_RECEIPT: gettext_lazy("confirm the returned goods arrived"),
                   REFUSE: gettext_lazy("refuse the refund")}
# the platform refund states that show a decision was applied
CONFIRMED_BY = {AGREE_REFUND: frozenset({"agreed", "success"}), AGREE_RETURN: frozenset({"wait_return", "success"}),
                CONFIRM_RECEIPT: frozenset({"success"}), REFUSE: frozenset({"refused"})}
SETTLED_ON_PLATFORM = frozenset({"success", "refused", "closed"})


def _return_address(ticket: Ticket) -> dict:
    """Where the buyer sends the goods: the ticket's return warehouse (else a line's, else the default)."""
    wh_id = ticket.warehouse_id or next((ln.warehouse_id for ln in ticket.lines.all() if ln.warehouse_id), None) \
        or aftersales_settings().default_warehouse_id
    if wh_id is None:
        return {}
    wh = ports.active_warehouse(wh_id)
    if wh is None:
        return {}
    return {"name": wh.name, "address": getattr(wh, "address", "") or ""}


def _push_decision(ticket: Ticket, action: str, *, actor=None, why: str = ""):
    """Send the seller's decision on a platform refund back to the platform (an outbox row in this
    transaction). Manual tickets, and refunds the platform already settled, send nothing."""
    if ticket.source != TicketSource.PLATFORM or not ticket.platform_refund_id or ticket.shop_id is None:
        return None
    label = DECISION_LABELS[action]
    if ticket.platform_refund_state in SETTLED_ON_PLATFORM:
        WORKFLOW.log(ticket, EventKind.SYSTEM, "platform.decision.skipped",
             _("not sent to the platform (%(decision)s): the refund is already %(state)s there")
             % {"decision": label, "state": ticket.platform_refund_state}, actor=actor, data={"action": action})
        return None
    row = ports.refund_decision_enqueue(shop=ticket.shop, platform_refund_id=ticket.platform_refund_id, action=action,
                  amount=ticket.approved_amount if action in (AGREE_REFUND, CONFIRM_RECEIPT) else None,
                  reason=why or "", return_address=_return_address(ticket) if action == AGREE_RETURN else None,
                  operator=actor_label(actor), ref=f"aftersales:{ticket.pk}")
    if row is None:
        return None
    WORKFLOW.log(ticket, EventKind.SYSTEM, "platform.decision.queued",
         _("queued for the platform: %(decision)s") % {"decision": label}, actor=actor,
         data={"action": action, "outbox_id": row.pk})
    return row


def _confirm_decisions(ticket: Ticket, refund) -> None:
    """The pulled refund shows a decision we sent was applied: say so on the timeline (once each)."""
    if ticket.source != TicketSource.PLATFORM:
        return
    sent = [e for e in TicketEvent.objects.filter(ticket=ticket, code__in=["platform.decision.queued",
                                                                            "platform.decision.confirmed"])
            .values_list("code", "data")]
    confirmed = {data.get("action") for code, data in sent if code == "platform.decision.confirmed"}
    for code, data in sent:
        action = (data or {}).get("action")
        if code != "platform.decision.queued" or action in confirmed or refund.status not in CONFIRMED_BY.get(action, ()):
            continue
        confirmed.add(action)
        WORKFLOW.log(ticket, EventKind.PLATFORM, "platform.decision.confirmed",
             _("the platform applied our decision (%(decision)s): refund %(status)s")
             % {"decision": DECISION_LABELS[action], "status": refund.platform_status or refund.status},
             data={"action": action, "status": refund.status, "version": int(refund.version or 0)})


@transaction.atomic
def on_refund_decision_sent(*, shop_id, platform_refund_id, action, status, already=False, error="", outbox_id=None,
                            **_extra):
    """erp.events handler ("platform_refund_decision.sent", integrations' outbox relay): the decision
    left for the platform, or was given up."""
    ticket = Ticket.objects.filter(shop_id=shop_id, platform_refund_id=str(platform_refund_id or "")).first()
    if ticket is None or action not in DECISION_LABELS:
        return None
    label = DECISION_LABELS[action]
    if status == "sent":
        message = (_("sent to the platform (it had already applied it): %(decision)s") if already
                   else _("sent to the platform: %(decision)s")) % {"decision": label}
        return WORKFLOW.log(ticket, EventKind.SYSTEM, "platform.decision.sent", message,
                    data={"action": action, "outbox_id": outbox_id, "already": bool(already)})
    return WORKFLOW.log(ticket, EventKind.SYSTEM, "platform.decision.failed",
                _("the platform did not take our decision (%(decision)s): %(error)s") % {"decision": label,
                                                                                          "error": error or status},
                data={"action": action, "outbox_id": outbox_id, "error": (error or "")[:500]})



# --- SLA -------------------------------------------------------------------------------------------
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
             _("past its SLA (due %(due)s)") % {"due": timezone.localtime(ticket.sla_due_at).strftime("%Y-%m-%d %H:%M")})
    return len(due)
