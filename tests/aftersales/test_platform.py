"""Platform refunds -> tickets: opened once from order.after_sale_opened, followed through
platform_refunds.changed, idempotent when the same refund arrives twice, late or out of order."""

from decimal import Decimal

import pytest

from aftersales import services
from aftersales.models import Ticket, TicketEvent, TicketKind, TicketLine, TicketSource, TicketStatus

from .conftest import line, refund

pytestmark = pytest.mark.django_db


def test_refund_after_shipment_opens_one_ticket(ship_order, store_refund, real):
    order = ship_order("P1", [line("A", 2, price="30.00", lid="a"), line("B", 1, lid="b")], buyer="nick1")
    store_refund(refund("P1", rid="R1", lid="a", amount="60.00", goods=True))
    ticket = Ticket.objects.get()
    assert ticket.source == TicketSource.PLATFORM and ticket.kind == TicketKind.RETURN_REFUND
    assert (ticket.order_id, ticket.shop_id, ticket.platform_order_id, ticket.platform_refund_id) == (
        order.pk, real["shop"].pk, "P1", "R1")
    assert ticket.buyer_id == "nick1" and ticket.reason == "质量问题" and ticket.requested_amount == Decimal("60.00")
    assert ticket.status == TicketStatus.OPEN and ticket.sla_due_at is not None and ticket.number.startswith("AS")
    (tl,) = TicketLine.objects.filter(ticket=ticket)
    assert tl.sku_id == real["A"].pk and tl.quantity == 2 and tl.warehouse_id == real["wh"].pk
    assert TicketEvent.objects.filter(ticket=ticket, code="created").exists()


def test_same_refund_twice_changes_nothing(ship_order, real):
    ship_order("P1", [line("A", lid="a")])
    order_id = ship_order("P2", [line("A", lid="x")]).pk
    from unittest import mock

    r = refund("P2", rid="R2")
    with mock.patch("aftersales.ports.normalized_refunds", return_value=[r]):
        services.ticket_sync_platform_refund(order_id=order_id, platform_refund_id="R2")
        n_events = TicketEvent.objects.count()
        snapshot = Ticket.objects.values().get()
        services.ticket_sync_platform_refund(order_id=order_id, platform_refund_id="R2")
        services.on_platform_refunds_changed(shop_id=real["shop"].pk, platform_refund_ids=["R2"])
    assert Ticket.objects.count() == 1 and TicketEvent.objects.count() == n_events
    assert Ticket.objects.values().get() == snapshot


def test_store_the_same_refund_twice(ship_order, store_refund):
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", rid="R1", lid="a"))
    n = TicketEvent.objects.count()
    store_refund(refund("P1", rid="R1", lid="a"))
    assert Ticket.objects.count() == 1 and TicketEvent.objects.count() == n


def test_platform_follows_agreed_wait_return_and_success(ship_order, store_refund, published):
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", lid="a", goods=True))
    store_refund(refund("P1", lid="a", goods=True, status="agreed", version=2))
    assert Ticket.objects.get().status == TicketStatus.APPROVED
    store_refund(refund("P1", lid="a", goods=True, status="wait_return", version=3))
    assert Ticket.objects.get().status == TicketStatus.AWAITING_RETURN
    store_refund(refund("P1", lid="a", goods=True, status="success", version=4, amount="25.00"))
    ticket = Ticket.objects.get()
    assert ticket.status == TicketStatus.COMPLETED and ticket.approved_amount == Decimal("25.00")
    assert [name for name, _ in published] == ["aftersales.refunded"]
    # a late success again (same version) and an older one change nothing
    store_refund(refund("P1", lid="a", goods=True, status="success", version=4, amount="25.00"))
    store_refund(refund("P1", lid="a", goods=True, status="closed", version=2))
    assert Ticket.objects.get().status == TicketStatus.COMPLETED and len(published) == 1


def test_out_of_order_older_versions_are_ignored(ship_order, real):
    from unittest import mock

    order = ship_order("P1", [line("A", lid="a")])
    newest = refund("P1", status="closed", version=5)
    with mock.patch("aftersales.ports.normalized_refunds", return_value=[newest]):
        services.ticket_sync_platform_refund(order_id=order.pk, platform_refund_id="R1")
    ticket = Ticket.objects.get()
    assert ticket.status == TicketStatus.CANCELLED and ticket.platform_version == 5
    n = TicketEvent.objects.count()
    for older in (refund("P1", status="requested", version=1), refund("P1", status="success", version=4)):
        with mock.patch("aftersales.ports.normalized_refunds", return_value=[older]):
            services.on_platform_refunds_changed(shop_id=real["shop"].pk, platform_refund_ids=["R1"])
            services.ticket_sync_platform_refund(order_id=order.pk, platform_refund_id="R1")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.CANCELLED and ticket.platform_version == 5 and TicketEvent.objects.count() == n


def test_platform_close_cancels_and_refusal_rejects(ship_order, store_refund):
    ship_order("P1", [line("A", lid="a")])
    ship_order("P2", [line("A", lid="b")])
    store_refund(refund("P1", rid="R1", lid="a"), refund("P2", rid="R2", lid="b"))
    store_refund(refund("P1", rid="R1", lid="a", status="closed", version=2),
                 refund("P2", rid="R2", lid="b", status="refused", version=2))
    assert Ticket.objects.get(platform_refund_id="R1").status == TicketStatus.CANCELLED
    assert Ticket.objects.get(platform_refund_id="R2").status == TicketStatus.REJECTED


def test_refund_changes_without_ticket_are_ignored(real):
    assert services.tickets_follow_platform_refunds(shop_id=real["shop"].pk, platform_refund_ids=["nope"]) == 0
    assert not Ticket.objects.exists()


def test_no_auto_complete_leaves_the_ticket(ship_order, store_refund, published):
    settings = services.aftersales_settings()
    settings.auto_complete_on_platform_refund = False
    settings.save()
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", lid="a"))
    store_refund(refund("P1", lid="a", status="success", version=2))
    ticket = Ticket.objects.get()
    assert ticket.status == TicketStatus.OPEN and not published
    assert TicketEvent.objects.filter(ticket=ticket, code="platform.refunded").exists()


def test_refund_that_turns_into_a_return(ship_order, store_refund):
    ship_order("P1", [line("A", lid="a")])
    store_refund(refund("P1", lid="a"))
    assert Ticket.objects.get().kind == TicketKind.REFUND_ONLY
    store_refund(refund("P1", lid="a", goods=True, status="wait_return", version=2))
    ticket = Ticket.objects.get()
    assert ticket.kind == TicketKind.RETURN_REFUND and ticket.status == TicketStatus.AWAITING_RETURN


def test_whole_order_refund_takes_every_shipped_line(ship_order, store_refund, real):
    ship_order("P1", [line("A", 1, lid="a"), line("B", 2, lid="b")])
    store_refund(refund("P1", amount="90.00"))
    ticket = Ticket.objects.get()
    assert sorted(ticket.lines.values_list("sku_id", "quantity")) == sorted([(real["A"].pk, 1), (real["B"].pk, 2)])
