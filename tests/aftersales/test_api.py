"""The REST API: list filters, detail with lines and timeline, manual create, actions with 400 and
409 in the one error shape, roles, and the schema documents the actions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from aftersales import ports, services
from aftersales.models import Ticket, TicketKind, TicketStatus
from erp.tenancy.roles import Role

from .conftest import T0, line

pytestmark = pytest.mark.django_db
BASE = "/api/v1/aftersales/tickets/"


@pytest.fixture
def api(in_tenant_a):
    return in_tenant_a.api()


def make(order, kind=TicketKind.RETURN_REFUND, reason="尺码不合适"):
    lines = [{"order_line_id": ln.id, "quantity": 1} for ln in ports.order_snapshot(order.pk).lines]
    return services.ticket_create(order_id=order.pk, kind=kind, reason=reason, lines=lines)


def test_create_manual_ticket_and_detail(api, ship_order, real):
    order = ship_order(lines=[line("A", 2, price="30.00")])
    snap_line = ports.order_snapshot(order.pk).lines[0]
    response = api.post(BASE, {"order_id": order.pk, "kind": "return_refund", "reason": "破损",
                               "lines": [{"order_line_id": snap_line.id, "quantity": 1}]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "open" and body["requested_amount"] == "30.00" and body["number"].startswith("AS")
    assert body["lines"][0]["sku_id"] == real["A"].pk and body["events"][0]["code"] == "created"
    assert "approve" in body["allowed_actions"] and "complete" not in body["allowed_actions"]
    detail = api.get(f"{BASE}{body['id']}/").json()
    assert detail["id"] == body["id"] and len(detail["lines"]) == 1


def test_create_bad_input_is_400_with_fields(api, ship_order):
    order = ship_order(lines=[line("A", 1)])
    response = api.post(BASE, {"order_id": order.pk, "kind": "nope", "reason": ""}, format="json")
    assert response.status_code == 400
    assert {"kind", "reason"} <= set(response.json()["errors"])
    response = api.post(BASE, {"order_id": 99999999, "kind": "refund_only", "reason": "x", "requested_amount": "5"},
                        format="json")
    assert response.status_code == 400 and "order_id" in response.json()["errors"]
    response = api.post(BASE, {"order_id": order.pk, "kind": "return_refund", "reason": "x",
                               "lines": [{"order_line_id": 1, "quantity": 0}]}, format="json")
    assert response.status_code == 400 and "lines" in response.json()["errors"]
    assert not Ticket.objects.exists()


def test_actions_walk_and_409(api, ship_order, real, published):
    ticket = make(ship_order(lines=[line("A", 1, price="30.00")]))
    url = f"{BASE}{ticket.pk}/"
    response = api.post(url + "complete/", {}, format="json")
    assert response.status_code == 409 and "Open" in response.json()["detail"] and response.json()["errors"] == {}
    response = api.post(url + "approve/", {"amount": "31.00"}, format="json")
    assert response.status_code == 400 and "amount" in response.json()["errors"]
    response = api.post(url + "approve/", {"amount": "25.00", "why": "partial"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    assert api.post(url + "approve/", {}, format="json").status_code == 409
    response = api.post(url + "await-return/", {"tracking_no": "YT1"}, format="json")
    assert response.json()["status"] == "awaiting_return"
    line_id = response.json()["lines"][0]["id"]
    response = api.post(url + "receive-goods/", {"lines": [{"line": line_id, "condition": "broken"}]}, format="json")
    assert response.status_code == 400 and "lines" in response.json()["errors"]
    response = api.post(url + "receive-goods/", {"lines": [{"line": line_id, "condition": "defective"}]}, format="json")
    assert response.status_code == 200 and response.json()["lines"][0]["condition"] == "defective"
    assert api.post(url + "cancel/", {}, format="json").status_code == 409
    assert api.post(url + "refund/", {}, format="json").json()["status"] == "refunding"
    body = api.post(url + "complete/", {"why": "done"}, format="json").json()
    assert body["status"] == "completed" and body["approved_amount"] == "25.00"
    assert [n for n, _ in published] == ["aftersales.goods_returned", "aftersales.refunded"]
    assert [e["to_status"] for e in body["events"] if e["to_status"]] == [
        "open", "approved", "awaiting_return", "goods_received", "refunding", "completed"]


def test_reject_needs_why(api, ship_order):
    ticket = make(ship_order(lines=[line("A", 1)]))
    response = api.post(f"{BASE}{ticket.pk}/reject/", {}, format="json")
    assert response.status_code == 400 and "why" in response.json()["errors"]
    assert api.post(f"{BASE}{ticket.pk}/reject/", {"why": "fraud"}, format="json").json()["status"] == "rejected"


def test_list_filters(api, ship_order, real):
    order = ship_order(lines=[line("A", 2)], buyer="alice")
    a = make(order)
    b = make(order, kind=TicketKind.REFUND_ONLY, reason="不想要了")
    services.ticket_cancel(ticket_id=b.pk)
    Ticket.objects.filter(pk=a.pk).update(sla_due_at=timezone.now() - timedelta(hours=1))

    def ids(**params):
        response = api.get(BASE, params)
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids() == {a.pk, b.pk}
    assert ids(status="cancelled") == {b.pk}
    assert ids(status="active") == {a.pk}
    assert ids(kind="return_refund") == {a.pk}
    assert ids(shop=real["shop"].pk) == {a.pk, b.pk} and ids(shop=999999) == set()
    assert ids(overdue="1") == {a.pk} and ids(overdue="0") == {b.pk}
    assert ids(search=a.number) == {a.pk} and ids(search="alice") == {a.pk, b.pk} and ids(search="不想要") == {b.pk}
    assert api.get(BASE, {"status": "bogus"}).status_code == 200


def test_bulk_approve_queues_and_report(api, ship_order, real):
    order = ship_order(lines=[line("A", 2)])
    a, b = make(order), make(order)
    services.ticket_cancel(ticket_id=b.pk)  # cancelled tickets stay out of the report
    response = api.post(BASE + "bulk-approve/", {"ticket_ids": [a.pk, b.pk]}, format="json")
    assert response.status_code == 200
    results = response.json()["results"]
    assert results[str(a.pk)] == "ok" and results[str(b.pk)] != "ok"
    assert api.post(BASE + "bulk-approve/", {"ticket_ids": []}, format="json").status_code == 400
    queues = api.get(BASE + "queues/").json()
    assert queues["status"]["approved"] == 1 and queues["status"]["cancelled"] == 1
    # the order was paid on T0 (a fixed day), the tickets are opened now: the window spans both
    report = api.get(BASE + "report/", {"since": T0.date().isoformat()}).json()
    assert report["by_sku"][0]["sku_id"] == real["A"].pk and report["by_sku"][0]["tickets"] == 1
    assert report["by_sku"][0]["units"] == 1 and report["by_sku"][0]["sold_units"] == 2  # orders.selectors.daily_sales
    assert report["by_sku"][0]["refund_rate"] == "0.5000"
    assert report["by_shop"][0]["shop_name"] == "TB shop" and report["reasons"][0]["reason"] == "尺码不合适"
    assert api.get(BASE + "report/", {"since": "2026-02-30"}).status_code == 400
    assert api.get(BASE + "report/", {"shop": "x"}).status_code == 400


def test_roles(in_tenant_a, ship_order):
    ticket = make(ship_order(lines=[line("A", 1)]))
    finance = in_tenant_a.api(Role.FINANCE)
    assert finance.get(BASE).status_code == 200
    assert finance.post(f"{BASE}{ticket.pk}/approve/", {}, format="json").status_code == 403
    assert in_tenant_a.api(Role.SERVICE).post(f"{BASE}{ticket.pk}/approve/", {}, format="json").status_code == 200


def test_other_tenant_sees_404(ship_order, tenant_b):
    ticket = make(ship_order(lines=[line("A", 1)]))
    other = tenant_b.api()
    assert other.get(f"{BASE}{ticket.pk}/").status_code == 404
    assert other.post(f"{BASE}{ticket.pk}/approve/", {}, format="json").status_code == 404
    assert other.get(BASE).json()["count"] == 0
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.OPEN


def test_schema_documents_the_actions(api):
    from django.test import Client  # noqa: F401

    response = api.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/aftersales/tickets/{id}/receive-goods/", "/api/v1/aftersales/tickets/bulk-approve/",
                 "/api/v1/aftersales/tickets/report/"):
        assert path in text


def test_settings_current(in_tenant_a):
    owner, service = in_tenant_a.api(), in_tenant_a.api(Role.SERVICE)
    url = "/api/v1/aftersales/settings/current/"
    assert service.get(url).json()["sla_hours_refund_only"] == 24
    assert service.patch(url, {"sla_hours_refund_only": 12}, format="json").status_code == 403
    response = owner.patch(url, {"sla_hours_refund_only": 12, "auto_approve_refund_below": "30.00"}, format="json")
    assert response.status_code == 200 and response.json()["auto_approve_refund_below"] == "30.00"
    assert owner.patch(url, {"sla_hours_refund_only": -1}, format="json").status_code == 400
    assert services.aftersales_settings().sla_hours_refund_only == 12


def test_the_same_goods_cannot_be_in_two_tickets(api, ship_order):
    order = ship_order(lines=[line("A", 2)])
    snap_line = ports.order_snapshot(order.pk).lines[0]
    body = {"order_id": order.pk, "kind": "return_refund", "reason": "x", "lines": [{"order_line_id": snap_line.id}]}
    assert api.post(BASE, body, format="json").status_code == 201
    response = api.post(BASE, body, format="json")
    assert response.status_code == 400 and "already in other tickets" in response.json()["errors"]["lines"][0]
    reship = api.post(BASE, {**body, "kind": "reship"}, format="json")  # a reship sends goods again: allowed
    assert reship.status_code == 201
    bad = {**body, "lines": [{"order_line_id": snap_line.id, "exchange_sku_id": "x"}]}
    assert api.post(BASE, bad, format="json").status_code == 400
