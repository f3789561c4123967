import io

import pytest
from django.test import Client
from openpyxl import load_workbook

from erp.tenancy.roles import Role
from orders.models import Order, OrderStatus
from orders.services import orders_ingest_normalized

from .conftest import address, norder

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_a(tenant_a):
    client = Client()
    client.force_login(tenant_a.members[Role.OPERATOR].user)
    return client


@pytest.fixture
def orders(world, inv):
    inv.stock(1, "A", 100)
    orders_ingest_normalized(shop=world, normalized=[norder(f"P{i}", buyer=f"b{i}", receiver=address(address=f"路 {i} 号")) for i in range(60)]
                             + [norder("HELD", buyer_message="call me")])
    return list(Order.objects.order_by("pk"))


def test_workbench_queues_filters_and_keyset_pages(client_a, orders):
    page = client_a.get("/orders/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "order-list" in body and 'id="next-page"' in body and "HELD" in body
    held = client_a.get("/orders/?status=on_hold&hold_reason=buyer_message").content.decode()
    assert "HELD" in held and ">P1<" not in held
    older = client_a.get(f"/orders/?before={orders[20].pk}").content.decode()
    assert orders[19].platform_order_id in older and orders[30].platform_order_id not in older


def test_detail_shows_lines_and_timeline(client_a, orders):
    body = client_a.get(f"/orders/{orders[0].pk}/").content.decode()
    assert "order-timeline" in body and "auto review" in body


def test_bulk_actions_report_each_order(client_a, orders):
    held = Order.objects.get(platform_order_id="HELD")
    response = client_a.post("/orders/bulk/", {"action": "release", "ids": [held.pk, orders[0].pk]}, follow=True)
    assert response.status_code == 200
    held.refresh_from_db()
    assert held.status in (OrderStatus.APPROVED, OrderStatus.ALLOCATED)
    assert "Cannot release" in response.content.decode()


def test_exports(client_a, orders):
    csv_body = b"".join(client_a.get("/orders/export/?format=csv&status=on_hold").streaming_content).decode("utf-8-sig")
    assert csv_body.splitlines()[0].startswith("ID,platform") and "HELD" in csv_body and len(csv_body.splitlines()) == 2
    xlsx = client_a.get("/orders/export/?format=xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.values)
    assert len(rows) == 62


def test_other_tenant_sees_nothing(tenant_b, orders):
    client = Client()
    client.force_login(tenant_b.members[Role.OWNER].user)
    assert client.get(f"/orders/{orders[0].pk}/").status_code == 404
    assert "HELD" not in client.get("/orders/").content.decode()
