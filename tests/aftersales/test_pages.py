"""Operator pages: queue with filters and bulk approve, detail with timeline and action forms, a
manual ticket, the refund report, the dashboard cards and nav link; roles."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from aftersales import ports, services
from aftersales.models import Ticket, TicketKind, TicketStatus
from erp.tenancy.roles import Role

from .conftest import level, line

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_a(tenant_a):
    client = Client()
    client.force_login(tenant_a.members[Role.SERVICE].user)
    return client


def make(order, kind=TicketKind.RETURN_REFUND, reason="尺码不合适"):
    lines = [{"order_line_id": ln.id, "quantity": 1} for ln in ports.order_snapshot(order.pk).lines]
    return services.ticket_create(order_id=order.pk, kind=kind, reason=reason, lines=lines)


def test_queue_filters_and_bulk_approve(client_a, ship_order):
    order = ship_order(lines=[line("A", 2)])
    a, b = make(order), make(order, kind=TicketKind.REFUND_ONLY, reason="不想要了")
    Ticket.objects.filter(pk=a.pk).update(sla_due_at=timezone.now() - timedelta(hours=1))
    body = client_a.get("/aftersales/").content.decode()
    assert 'id="as-list"' in body and a.number in body and b.number in body
    body = client_a.get("/aftersales/?overdue=1").content.decode()
    assert a.number in body and b.number not in body
    body = client_a.get("/aftersales/?kind=refund_only&search=不想要").content.decode()
    assert b.number in body and a.number not in body
    response = client_a.post("/aftersales/bulk-approve/", {"ids": [a.pk, b.pk], "next": "/aftersales/"})
    assert response.status_code == 302
    assert set(Ticket.objects.values_list("status", flat=True)) == {TicketStatus.APPROVED}


def test_detail_and_actions(client_a, ship_order, real):
    ticket = make(ship_order(lines=[line("A", 1)]))
    body = client_a.get(f"/aftersales/{ticket.pk}/").content.decode()
    assert 'id="as-timeline"' in body and 'value="approve"' in body and ticket.number in body
    url = f"/aftersales/{ticket.pk}/action/"
    assert client_a.post(url, {"action": "complete"}).status_code == 302  # refused: a message, nothing changes
    assert Ticket.objects.get().status == TicketStatus.OPEN
    client_a.post(url, {"action": "approve", "amount": "25.00"})
    body = client_a.get(f"/aftersales/{ticket.pk}/").content.decode()
    assert 'id="as-receive"' in body
    (tl,) = ticket.lines.all()
    before = level(real["A"], real["wh"])
    client_a.post(url, {"action": "receive_goods", f"quantity_{tl.pk}": "1", f"condition_{tl.pk}": "defective"})
    assert level(real["A"], real["wh"]) == (before[0], before[1] + 1)
    client_a.post(url, {"action": "refund"})
    client_a.post(url, {"action": "complete"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.COMPLETED and str(ticket.approved_amount) == "25.00"
    response = client_a.get(f"/aftersales/{ticket.pk}/")
    assert "Refunding → Completed" in response.content.decode()
    assert client_a.get("/aftersales/999999/").status_code == 404


def test_new_manual_ticket(client_a, ship_order):
    order = ship_order(lines=[line("A", 2)])
    body = client_a.get(f"/aftersales/new/?order={order.pk}").content.decode()
    assert 'id="as-new"' in body
    snap_line = ports.order_snapshot(order.pk).lines[0]
    response = client_a.post("/aftersales/new/", {"order_id": order.pk, "kind": "return_refund", "reason": "",
                                                  f"qty_{snap_line.id}": "1"})
    assert response.status_code == 200 and not Ticket.objects.exists()  # the form again, with the error
    response = client_a.post("/aftersales/new/", {"order_id": order.pk, "kind": "return_refund", "reason": "坏了",
                                                  f"qty_{snap_line.id}": "1"})
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/aftersales/{ticket.pk}/"
    assert client_a.get("/aftersales/new/?order=99999999").status_code == 200


def test_report_page(client_a, ship_order):
    make(ship_order(lines=[line("A", 1)]))
    body = client_a.get("/aftersales/report/").content.decode()
    assert 'id="as-report-sku"' in body and "尺码不合适" in body
    assert client_a.get("/aftersales/report/?since=2026-02-30&shop=x").status_code == 200


def test_dashboard_cards_and_nav(client_a, ship_order):
    make(ship_order(lines=[line("A", 1)]))
    body = client_a.get("/").content.decode()
    assert "Open after-sales tickets" in body and "/aftersales/" in body


def test_roles_on_pages(tenant_a, ship_order):
    ticket = make(ship_order(lines=[line("A", 1)]))
    finance = Client()
    finance.force_login(tenant_a.members[Role.FINANCE].user)
    assert finance.get("/aftersales/").status_code == 200
    assert finance.post(f"/aftersales/{ticket.pk}/action/", {"action": "approve"}).status_code == 403
    assert Ticket.objects.get().status == TicketStatus.OPEN


def test_chinese_page(client_a, ship_order):
    make(ship_order(lines=[line("A", 1)]))
    client_a.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    body = client_a.get("/aftersales/").content.decode()
    assert "售后队列" in body and "待处理" in body and "退货退款" in body  # aftersales/locale, not other apps' words
