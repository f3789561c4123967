"""Platform refunds followed: a refund on a shipped order opens (or updates) its ticket, later
versions move it (agreed -> approved, wait_return -> awaiting_return, refused -> rejected, closed ->
cancelled, success -> completed); an older (or the same) version changes nothing. erp.events handlers.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import ports
from ..models import RETURN_KINDS, AftersalesSettings, EventKind, Ticket, TicketKind, TicketLine, TicketSource
from ..models import TicketStatus as S
from .common import _NEVER, aftersales_settings, logger
from .decisions import _confirm_decisions
from .refunds import _publish_refunded
from .tickets import _auto_approve, _new_ticket
from .workflow import WORKFLOW


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
