"""The status machine through the services: every transition, every refusal (409 with a reason,
nothing changed), and the effects (stock back once, events with the documented payload, one
reship order)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from aftersales import services
from aftersales.models import Ticket, TicketEvent, TicketKind, TicketLine, TicketStatus
from erp.api.exceptions import Conflict
from orders.models import Order

from .conftest import level, line, norder

pytestmark = pytest.mark.django_db
S = TicketStatus


def manual(order, kind=TicketKind.RETURN_REFUND, qty=None, **kw):
    lines = [{"order_line_id": ln.id, **({"quantity": qty} if qty else {})} for ln in _snap(order).lines]
    return services.ticket_create(order_id=order.pk, kind=kind, reason=kw.pop("reason", "尺码不合适"), lines=lines, **kw)


def _snap(order):
    from aftersales import ports

    return ports.order_snapshot(order.pk)


def state(ticket):
    ticket.refresh_from_db()
    return ticket.status


def refused(fn, **kw):
    """The action is refused with 409 and changes nothing."""
    ticket = Ticket.objects.get(pk=kw["ticket_id"])
    before = Ticket.objects.filter(pk=ticket.pk).values().get()
    n = TicketEvent.objects.count()
    with pytest.raises(Conflict) as exc:
        fn(**kw)
    assert str(exc.value.detail)
    assert Ticket.objects.filter(pk=ticket.pk).values().get() == before and TicketEvent.objects.count() == n
    return str(exc.value.detail)


def test_manual_ticket_for_a_shipped_order(ship_order, real):
    order = ship_order(lines=[line("A", 2, price="30.00")], buyer="nick")
    ticket = manual(order, qty=1)
    assert ticket.status == S.OPEN and ticket.source == "manual" and ticket.buyer_id == "nick"
    assert ticket.requested_amount == Decimal("30.00")  # one of two units of a 60.00 line
    (tl,) = ticket.lines.all()
    assert (tl.sku_id, tl.quantity, tl.amount, tl.warehouse_id) == (real["A"].pk, 1, Decimal("30.00"), real["wh"].pk)


def test_manual_ticket_input_is_checked(ship_order, real):
    from orders import services as order_services

    order = ship_order(lines=[line("A", 2)])
    with pytest.raises(ValidationError) as exc:
        services.ticket_create(order_id=order.pk, kind="nonsense", reason="x")
    assert "kind" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.ticket_create(order_id=order.pk, kind="return_refund", reason="")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.ticket_create(order_id=999999, kind="return_refund", reason="x")
    assert "order_id" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.ticket_create(order_id=order.pk, kind="return_refund", reason="x",
                               lines=[{"order_line_id": _snap(order).lines[0].id, "quantity": 3}])
    assert "lines" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.ticket_create(order_id=order.pk, kind="refund_only", reason="x", requested_amount="-1")
    assert "requested_amount" in exc.value.message_dict
    # an order that never shipped
    order_services.orders_ingest_normalized(shop=real["shop"], normalized=[norder("UNSHIPPED", lines=[line("B")])])
    pending = Order.objects.get(platform_order_id="UNSHIPPED")
    with pytest.raises(ValidationError) as exc:
        services.ticket_create(order_id=pending.pk, kind="refund_only", reason="x", requested_amount="5")
    assert "order_id" in exc.value.message_dict
    assert not Ticket.objects.exists()


def test_return_refund_full_path(ship_order, real, published):
    order = ship_order(lines=[line("A", 2, price="30.00"), line("B", 1, price="20.00")])
    ticket = manual(order)
    assert ticket.requested_amount == Decimal("80.00")
    services.ticket_approve(ticket_id=ticket.pk, amount="70.00", why="ok")
    assert state(ticket) == S.APPROVED and ticket.approved_amount == Decimal("70.00")
    services.ticket_await_return(ticket_id=ticket.pk, tracking_no="SF123")
    assert state(ticket) == S.AWAITING_RETURN and ticket.return_tracking_no == "SF123"
    lines = list(ticket.lines.order_by("pk"))
    a_before, b_before = level(real["A"], real["wh"]), level(real["B"], real["wh"])
    services.ticket_receive_goods(ticket_id=ticket.pk, lines=[{"line": lines[0].pk, "condition": "resellable"},
                                                              {"line": lines[1].pk, "condition": "defective"}])
    assert state(ticket) == S.GOODS_RECEIVED
    assert level(real["A"], real["wh"]) == (a_before[0] + 2, a_before[1])
    assert level(real["B"], real["wh"]) == (b_before[0], b_before[1] + 1)
    assert published == [("aftersales.goods_returned", {
        "ticket_id": ticket.pk, "warehouse_id": real["wh"].pk,
        "lines": [{"sku_id": real["A"].pk, "quantity": 2, "defective": False},
                  {"sku_id": real["B"].pk, "quantity": 1, "defective": True}]})]
    published.clear()
    services.ticket_refund(ticket_id=ticket.pk)
    assert state(ticket) == S.REFUNDING
    services.ticket_complete(ticket_id=ticket.pk, why="paid back")
    assert state(ticket) == S.COMPLETED and ticket.closed_at and ticket.refunded_at
    assert published == [("aftersales.refunded", {
        "ticket_id": ticket.pk, "order_id": order.pk, "shop_id": real["shop"].pk, "platform_order_id": order.platform_order_id,
        "amount": Decimal("70.00"), "currency": "CNY", "refunded_at": ticket.refunded_at, "kind": "return_refund"})]
    codes = list(TicketEvent.objects.filter(ticket=ticket).exclude(to_status="").values_list("to_status", flat=True))
    assert codes == [S.OPEN, S.APPROVED, S.AWAITING_RETURN, S.GOODS_RECEIVED, S.REFUNDING, S.COMPLETED]
    # nothing more is possible, and stock was returned once
    for fn in (services.ticket_receive_goods, services.ticket_complete, services.ticket_cancel, services.ticket_refund,
               services.ticket_approve, services.ticket_reject):
        refused(fn, ticket_id=ticket.pk, **({"why": "x"} if fn is services.ticket_reject else {}))
    assert level(real["A"], real["wh"]) == (a_before[0] + 2, a_before[1]) and len(published) == 1


def test_refund_only_path_and_refusals(ship_order, published):
    ticket = manual(ship_order(lines=[line("A", 1, price="15.00")]), kind=TicketKind.REFUND_ONLY)
    refused(services.ticket_refund, ticket_id=ticket.pk)  # not approved yet
    refused(services.ticket_complete, ticket_id=ticket.pk)
    refused(services.ticket_receive_goods, ticket_id=ticket.pk)  # no goods come back
    refused(services.ticket_await_return, ticket_id=ticket.pk)
    services.ticket_approve(ticket_id=ticket.pk)
    refused(services.ticket_approve, ticket_id=ticket.pk)
    refused(services.ticket_complete, ticket_id=ticket.pk)  # refund first
    services.ticket_refund(ticket_id=ticket.pk, amount="12.50")
    services.ticket_complete(ticket_id=ticket.pk)
    assert state(ticket) == S.COMPLETED
    assert [(n, p["amount"], p["kind"]) for n, p in published] == [("aftersales.refunded", Decimal("12.50"), "refund")]


def test_cancel_is_refused_after_open_only_when_goods_came_back(ship_order):
    order = ship_order(lines=[line("A", 1)])
    t1 = manual(order)
    services.ticket_cancel(ticket_id=t1.pk, why="buyer withdrew")
    assert state(t1) == S.CANCELLED
    t2 = manual(order)
    services.ticket_approve(ticket_id=t2.pk)
    services.ticket_receive_goods(ticket_id=t2.pk)
    detail = refused(services.ticket_cancel, ticket_id=t2.pk)
    assert "Goods received" in detail


def test_reject_needs_a_reason(ship_order):
    ticket = manual(ship_order(lines=[line("A", 1)]))
    with pytest.raises(ValidationError) as exc:
        services.ticket_reject(ticket_id=ticket.pk, why=" ")
    assert "why" in exc.value.message_dict and state(ticket) == S.OPEN
    services.ticket_reject(ticket_id=ticket.pk, why="used and damaged by the buyer")
    assert state(ticket) == S.REJECTED
    assert TicketEvent.objects.filter(ticket=ticket, to_status=S.REJECTED, message="used and damaged by the buyer").exists()


def test_approve_amount_is_checked(ship_order):
    ticket = manual(ship_order(lines=[line("A", 1, price="10.00")]))
    for bad in ("10.01", "-1", "abc", 1.5):
        with pytest.raises(ValidationError):
            services.ticket_approve(ticket_id=ticket.pk, amount=bad)
    assert state(ticket) == S.OPEN


def test_stock_is_returned_once_per_line(ship_order, real):
    ticket = manual(ship_order(lines=[line("C", 3)]))
    services.ticket_approve(ticket_id=ticket.pk)
    before = level(real["C"], real["wh"])
    (tl,) = ticket.lines.all()
    services.ticket_receive_goods(ticket_id=ticket.pk, lines=[{"line": tl.pk, "quantity": 2, "condition": "resellable"}])
    assert level(real["C"], real["wh"]) == (before[0] + 2, before[1])
    refused(services.ticket_receive_goods, ticket_id=ticket.pk)
    # even if the ticket were put back in a receiving state, the line is not returned again
    Ticket.objects.filter(pk=ticket.pk).update(status=S.AWAITING_RETURN)
    services.ticket_receive_goods(ticket_id=ticket.pk)
    assert level(real["C"], real["wh"]) == (before[0] + 2, before[1])
    tl.refresh_from_db()
    assert tl.stock_returned_at is not None and tl.received_quantity == 3


def test_receive_goods_input_is_checked(ship_order):
    ticket = manual(ship_order(lines=[line("A", 1)]))
    services.ticket_approve(ticket_id=ticket.pk)
    (tl,) = ticket.lines.all()
    for bad in ([{"line": 999999}], [{"line": tl.pk, "condition": "broken"}], [{"line": tl.pk, "quantity": 5}]):
        with pytest.raises(ValidationError) as exc:
            services.ticket_receive_goods(ticket_id=ticket.pk, lines=bad)
        assert "lines" in exc.value.message_dict
    assert state(ticket) == S.APPROVED and not TicketLine.objects.filter(stock_returned_at__isnull=False).exists()


def test_exchange_creates_one_reship_order(ship_order, real, published):
    order = ship_order(lines=[line("A", 1, price="30.00")])
    snap_line = _snap(order).lines[0]
    ticket = services.ticket_create(order_id=order.pk, kind=TicketKind.EXCHANGE, reason="换大一码",
                                    lines=[{"order_line_id": snap_line.id, "exchange_sku_id": real["B"].pk}])
    assert ticket.requested_amount == 0
    services.ticket_approve(ticket_id=ticket.pk)
    refused(services.ticket_complete, ticket_id=ticket.pk)  # the goods come back first
    refused(services.ticket_refund, ticket_id=ticket.pk)  # an exchange sends goods, not money
    services.ticket_receive_goods(ticket_id=ticket.pk)
    services.ticket_complete(ticket_id=ticket.pk)
    ticket.refresh_from_db()
    reship = Order.objects.get(pk=ticket.reship_order_id)
    assert reship.kind == "reship" and reship.source_ref == f"aftersales:{ticket.pk}"
    assert list(reship.lines.values_list("sku_id", "quantity")) == [(real["B"].pk, 1)]
    assert [n for n, _ in published] == ["aftersales.goods_returned"]  # no money went back
    # retried: still one order
    refused(services.ticket_complete, ticket_id=ticket.pk)
    assert services._reship(ticket, actor=None, why="again") == reship.pk
    Ticket.objects.filter(pk=ticket.pk).update(reship_order_id=None)
    ticket.refresh_from_db()
    assert services._reship(ticket, actor=None, why="again") == reship.pk
    assert Order.objects.filter(kind="reship").count() == 1


def test_reship_path(ship_order, real):
    order = ship_order(lines=[line("A", 2)])
    ticket = manual(order, kind=TicketKind.RESHIP, qty=1, reason="少发一件")
    refused(services.ticket_receive_goods, ticket_id=ticket.pk)
    services.ticket_approve(ticket_id=ticket.pk)
    services.ticket_complete(ticket_id=ticket.pk)
    ticket.refresh_from_db()
    assert ticket.status == S.COMPLETED
    assert list(Order.objects.get(pk=ticket.reship_order_id).lines.values_list("sku_id", "quantity")) == [(real["A"].pk, 1)]


def test_auto_approve_refund_only_below_limit(ship_order):
    settings = services.aftersales_settings()
    settings.auto_approve_refund_below = Decimal("20.00")
    settings.abuse_ticket_limit = 2
    settings.save()
    order = ship_order(lines=[line("A", 1, price="15.00")], buyer="good")
    small = manual(order, kind=TicketKind.REFUND_ONLY)
    assert small.status == S.APPROVED and small.approved_amount == Decimal("15.00")
    assert TicketEvent.objects.filter(ticket=small, code="approved.auto", kind="rule").exists()
    big = services.ticket_create(order_id=ship_order(lines=[line("A", 1, price="50.00")], buyer="good2").pk,
                                 kind=TicketKind.REFUND_ONLY, reason="x", requested_amount="50.00")
    assert big.status == S.OPEN
    ret = manual(ship_order(lines=[line("A", 1, price="5.00")], buyer="good3"))
    assert ret.status == S.OPEN  # returns are never auto-approved
    # a buyer with a recent rejected ticket, or too many tickets, is not auto-approved
    o2 = ship_order(lines=[line("A", 1, price="5.00")], buyer="abuser")
    first = manual(o2, kind=TicketKind.RETURN_REFUND)
    services.ticket_reject(ticket_id=first.pk, why="fake")
    again = manual(o2, kind=TicketKind.REFUND_ONLY)
    assert again.status == S.OPEN and TicketEvent.objects.filter(ticket=again, code="auto_approve.skipped").exists()
    o3 = ship_order(lines=[line("A", 3, price="5.00")], buyer="serial")
    manual(o3, kind=TicketKind.RETURN_REFUND, qty=1)
    manual(o3, kind=TicketKind.RETURN_REFUND, qty=1)
    assert manual(o3, kind=TicketKind.REFUND_ONLY, qty=1).status == S.OPEN


def test_sla_due_per_kind_and_overdue_flagged_once(ship_order):
    settings = services.aftersales_settings()
    settings.sla_hours_reship = 5
    settings.save()
    order = ship_order(lines=[line("A", 1)])
    ticket = manual(order, kind=TicketKind.RESHIP)
    assert timedelta(hours=4) < ticket.sla_due_at - timezone.now() <= timedelta(hours=5)
    done = manual(order)
    services.ticket_cancel(ticket_id=done.pk)
    Ticket.objects.update(sla_due_at=timezone.now() - timedelta(hours=1))
    assert services.tickets_flag_overdue() == 1
    assert services.tickets_flag_overdue() == 0
    ticket.refresh_from_db()
    assert ticket.overdue_flagged_at and ticket.is_overdue
    assert TicketEvent.objects.filter(ticket=ticket, code="sla.overdue").count() == 1
    from aftersales.selectors import attention_counts

    assert attention_counts()["overdue"] == 1


def test_overdue_beat_tick_fans_out_per_tenant(ship_order, tenant_b):
    from aftersales.tasks import overdue_tick

    ticket = manual(ship_order(lines=[line("A", 1)]))
    Ticket.objects.filter(pk=ticket.pk).update(sla_due_at=timezone.now() - timedelta(minutes=5))
    assert overdue_tick.delay().get() == 1
    ticket.refresh_from_db()
    assert ticket.overdue_flagged_at is not None


def test_bulk_approve_reports_each(ship_order):
    order = ship_order(lines=[line("A", 2)])
    a, b = manual(order, qty=1), manual(order, qty=1)
    services.ticket_cancel(ticket_id=b.pk)
    results = services.tickets_bulk_approve(ticket_ids=[a.pk, b.pk, 999999])
    assert results[a.pk] == "ok" and "Cancelled" in results[b.pk] and results[999999]
    assert state(a) == S.APPROVED


def test_goods_arriving_after_the_platform_refunded_are_taken_back(ship_order, store_refund, real, published):
    from .conftest import refund

    ship_order("PL", [line("A", 1, lid="la")])
    store_refund(refund("PL", rid="RL", lid="la", goods=True))
    store_refund(refund("PL", rid="RL", lid="la", goods=True, status="success", version=2))
    ticket = Ticket.objects.get()
    assert ticket.status == S.COMPLETED and "receive_goods" in services.allowed_actions(ticket)
    before = level(real["A"], real["wh"])
    services.ticket_receive_goods(ticket_id=ticket.pk)
    assert state(ticket) == S.COMPLETED and ticket.goods_received_at
    assert level(real["A"], real["wh"]) == (before[0] + 1, before[1])
    refused(services.ticket_receive_goods, ticket_id=ticket.pk)
    assert [n for n, _ in published] == ["aftersales.refunded", "aftersales.goods_returned"]
