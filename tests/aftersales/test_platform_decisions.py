"""The seller's decisions on platform refunds go back to the platform: an outbox row through
integrations.services.refund_decision_enqueue in the action's transaction; manual tickets push nothing;
the timeline says queued, sent (the relay's event) and confirmed (the next refund pull)."""

from decimal import Decimal

import pytest

from aftersales import services
from aftersales.models import AftersalesSettings, Ticket, TicketEvent, TicketKind, TicketStatus
from integrations.models import Outbox

from .conftest import line, refund

pytestmark = pytest.mark.django_db


def decisions():
    return [(r.payload["action"], r.payload["platform_refund_id"], r.payload["amount"], r.payload["reason"])
            for r in Outbox.objects.filter(kind=Outbox.Kind.REFUND).order_by("pk")]


def codes(ticket):
    return [e.code for e in TicketEvent.objects.filter(ticket=ticket).order_by("pk") if e.code.startswith("platform.decision")]


def test_approving_a_refund_only_ticket_agrees_on_the_platform(ship_order, store_refund, tenant_a):
    ship_order("P1", [line("A", 2, price="30.00", lid="a")])
    store_refund(refund("P1", rid="R1", lid="a", amount="60.00"))
    ticket = Ticket.objects.get()
    user = tenant_a.members["operator"].user
    services.ticket_approve(ticket_id=ticket.pk, actor=user, amount="50.00", why="ok")
    (row,) = Outbox.objects.filter(kind=Outbox.Kind.REFUND)
    assert decisions() == [("agree_refund", "R1", "50.00", "ok")]
    assert row.shop_id == ticket.shop_id and row.payload["ref"] == f"aftersales:{ticket.pk}"
    assert row.payload["operator"] == user.get_username()
    event = TicketEvent.objects.get(ticket=ticket, code="platform.decision.queued")
    assert event.data == {"action": "agree_refund", "outbox_id": row.pk} and event.actor == user


def test_return_ticket_agrees_the_return_with_the_warehouse_address_then_confirms_receipt(ship_order, store_refund,
                                                                                          real):
    real["wh"].address = "杭州市余杭区仓前街道 1 号"
    real["wh"].save()
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", rid="R1", lid="a", goods=True))
    ticket = Ticket.objects.get()
    assert ticket.kind == TicketKind.RETURN_REFUND
    services.ticket_approve(ticket_id=ticket.pk)
    (row,) = Outbox.objects.filter(kind=Outbox.Kind.REFUND)
    assert row.payload["action"] == "agree_return"
    assert row.payload["return_address"] == {"name": "Main", "address": "杭州市余杭区仓前街道 1 号"}
    services.ticket_receive_goods(ticket_id=ticket.pk)
    assert [d[0] for d in decisions()] == ["agree_return", "confirm_receipt"]
    assert decisions()[1][2] == "30.00"


def test_rejecting_refuses_with_the_reason(ship_order, store_refund):
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", rid="R1", lid="a"))
    ticket = Ticket.objects.get()
    services.ticket_reject(ticket_id=ticket.pk, why="商品已使用")
    assert decisions() == [("refuse", "R1", None, "商品已使用")]


def test_manual_tickets_push_nothing(ship_order):
    order = ship_order("P1", [line("A", lid="a")])
    ticket = services.ticket_create(order_id=order.pk, kind=TicketKind.REFUND_ONLY, reason="协商退款",
                                    requested_amount="5.00")
    services.ticket_approve(ticket_id=ticket.pk)
    services.ticket_refund(ticket_id=ticket.pk)
    services.ticket_complete(ticket_id=ticket.pk)
    assert not Outbox.objects.filter(kind=Outbox.Kind.REFUND).exists()
    assert codes(ticket) == []


def test_the_auto_rule_agrees_too(ship_order, store_refund):
    services.aftersales_settings()
    AftersalesSettings.objects.update(auto_approve_refund_below=Decimal("100.00"))
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", rid="R1", lid="a", amount="30.00"))
    ticket = Ticket.objects.get()
    assert ticket.status == TicketStatus.APPROVED
    assert decisions() == [("agree_refund", "R1", "30.00", "")]


def test_a_refund_the_platform_already_settled_is_not_pushed(ship_order, store_refund):
    services.aftersales_settings()
    AftersalesSettings.objects.update(auto_complete_on_platform_refund=False)
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", rid="R1", lid="a"))
    store_refund(refund("P1", rid="R1", lid="a", status="success", version=2))
    ticket = Ticket.objects.get()
    services.ticket_approve(ticket_id=ticket.pk)
    assert decisions() == []
    assert codes(ticket) == ["platform.decision.skipped"]


def test_timeline_sent_failed_and_confirmed_once(ship_order, store_refund, real, published):
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", rid="R1", lid="a"))
    ticket = Ticket.objects.get()
    services.ticket_approve(ticket_id=ticket.pk)
    row = Outbox.objects.get(kind=Outbox.Kind.REFUND)
    from erp import events

    events.publish("platform_refund_decision.sent", shop_id=real["shop"].pk, platform_refund_id="R1",
                   action="agree_refund", ref="", outbox_id=row.pk, status="sent", already=False, error="")
    events.publish("platform_refund_decision.sent", shop_id=real["shop"].pk, platform_refund_id="nope",
                   action="agree_refund", ref="", outbox_id=row.pk, status="sent", already=False, error="")
    store_refund(refund("P1", rid="R1", lid="a", status="success", version=2))
    store_refund(refund("P1", rid="R1", lid="a", status="success", version=3))
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.COMPLETED
    assert codes(ticket) == ["platform.decision.queued", "platform.decision.sent", "platform.decision.confirmed"]
    assert [name for name, _ in published] == ["aftersales.refunded"]
    other = ship_order("P2", [line("B", lid="b")])
    assert other
    store_refund(refund("P2", rid="R2", lid="b"))
    second = Ticket.objects.get(platform_refund_id="R2")
    services.ticket_reject(ticket_id=second.pk, why="不同意")
    events.publish("platform_refund_decision.sent", shop_id=real["shop"].pk, platform_refund_id="R2", action="refuse",
                   ref="", outbox_id=1, status="failed", already=False, error="15:STATUS_NOT_ALLOW")
    event = TicketEvent.objects.get(ticket=second, code="platform.decision.failed")
    assert "STATUS_NOT_ALLOW" in event.message
