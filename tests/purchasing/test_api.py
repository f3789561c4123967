"""/api/v1/purchasing/: CRUD of suppliers and items, purchase orders with actions (201/200, 400
with field messages, 409 with the reason), idempotent receipts, suggestions and create-pos, roles."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from erp.tenancy.roles import Role
from inventory.models import StockLevel
from purchasing import services
from purchasing.models import PurchaseOrder, SupplierItem

pytestmark = pytest.mark.django_db
BASE = "/api/v1/purchasing"


@pytest.fixture
def api(pw):
    return pw.world.api(Role.OPERATOR)


def create_po(api, pw, **kw):
    body = {"supplier": pw.supplier.pk, "warehouse": pw.wh.pk, "lines": [{"sku": pw.sku.pk, "quantity": 100}], **kw}
    return api.post(f"{BASE}/purchase-orders/", body, format="json")


def test_supplier_and_item_crud(api, pw):
    r = api.post(f"{BASE}/suppliers/", {"code": "S9", "name": "新供应商", "payment_terms_days": 60}, format="json")
    assert r.status_code == 201 and r.json()["currency"] == "CNY"
    dup = api.post(f"{BASE}/suppliers/", {"code": "S9", "name": "again"}, format="json")
    assert dup.status_code == 400 and "code" in dup.json()["errors"]
    sid = r.json()["id"]
    r = api.post(f"{BASE}/supplier-items/", {"supplier": sid, "sku": pw.sku.pk, "unit_price": "11.50",
                                             "min_order_quantity": 20, "order_multiple": 5, "lead_time_days": 5,
                                             "is_preferred": True}, format="json")
    assert r.status_code == 201, r.json()
    assert list(SupplierItem.objects.filter(sku=pw.sku, is_preferred=True).values_list("supplier_id", flat=True)) == [sid]
    bad = api.post(f"{BASE}/supplier-items/", {"supplier": sid, "sku": pw.sku2.pk, "unit_price": "-1",
                                               "order_multiple": 0}, format="json")
    assert bad.status_code == 400 and {"unit_price", "order_multiple"} <= set(bad.json()["errors"])
    assert api.get(f"{BASE}/supplier-items/", {"sku": pw.sku.pk}).json()["count"] == 2


def test_supplier_with_orders_cannot_be_deleted(api, pw):
    pw.po()
    r = api.delete(f"{BASE}/suppliers/{pw.supplier.pk}/")
    assert r.status_code == 409


def test_create_and_read_a_purchase_order(api, pw):
    r = create_po(api, pw, expected_date="2026-12-01", note="winter")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"] == "draft" and body["total_amount"] == "1200.00" and body["expected_date"] == "2026-12-01"
    assert body["lines"][0]["sku_code"] == pw.sku.code and body["lines"][0]["unit_price"] == "12.00"
    assert body["timeline"][0]["code"] == "created" and "approve" in body["allowed_actions"]
    listed = api.get(f"{BASE}/purchase-orders/", {"status": "draft", "supplier": pw.supplier.pk}).json()
    assert [row["number"] for row in listed["results"]] == [body["number"]]
    assert api.get(f"{BASE}/purchase-orders/", {"status": "nope"}).status_code == 400
    assert api.get(f"{BASE}/purchase-orders/", {"overdue": "1"}).json()["count"] == 0


@pytest.mark.parametrize("body, field", [
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": 10**9, "quantity": 1}]}, "lines"),
    ({"lines": [{"sku": "SKU", "quantity": 0}]}, "lines"),
    ({"supplier": 10**9}, "supplier"),
    ({"warehouse": "x"}, "warehouse"),
    ({"expected_date": "tomorrow"}, "expected_date"),
    ({"lines": [{"sku": "SKU3", "quantity": 1}]}, "lines"),
])
def test_create_bad_input_is_400_naming_the_field(api, pw, body, field):
    if "lines" in body:
        ids = {"SKU": pw.sku.pk, "SKU3": pw.sku3.pk}
        body = {"lines": [{**ln, "sku": ids.get(ln["sku"], ln["sku"])} for ln in body["lines"]]}
    r = create_po(api, pw, **body)
    assert r.status_code == 400 and field in r.json()["errors"], r.json()
    assert not PurchaseOrder.objects.exists()


def test_actions_through_the_api_with_409s(api, pw, published):
    po_id = create_po(api, pw).json()["id"]
    url = f"{BASE}/purchase-orders/{po_id}"
    r = api.post(f"{url}/send/", {}, format="json")
    assert r.status_code == 409 and "cannot send" in r.json()["detail"]
    r = api.post(f"{url}/lines/", {"lines": [{"sku": pw.sku.pk, "quantity": 60}]}, format="json")
    assert r.status_code == 200 and r.json()["total_quantity"] == 60
    assert api.patch(f"{url}/", {"note": "x", "warehouse": pw.wh2.pk}, format="json").json()["note"] == "x"
    assert api.post(f"{url}/approve/", {"why": "ok"}, format="json").json()["status"] == "approved"
    assert api.post(f"{url}/lines/", {"lines": [{"sku": pw.sku.pk, "quantity": 1}]}, format="json").status_code == 409
    assert api.patch(f"{url}/", {"note": "late"}, format="json").status_code == 409
    r = api.post(f"{url}/send/", {"expected_date": "2026-12-24"}, format="json")
    assert r.json()["status"] == "sent" and r.json()["expected_date"] == "2026-12-24"
    line_id = r.json()["lines"][0]["id"]
    assert api.post(f"{url}/receive/", {"reference": "DN1", "lines": [{"line": line_id, "quantity": 61}]},
                    format="json").status_code == 400
    r = api.post(f"{url}/receive/", {"reference": "DN1", "lines": [{"line": line_id, "quantity": 20}]}, format="json")
    assert r.status_code == 201 and r.json()["total_quantity"] == 20 and r.json()["replayed"] is False
    retry = api.post(f"{url}/receive/", {"reference": "DN1", "lines": [{"line": line_id, "quantity": 20}]}, format="json")
    assert retry.status_code == 200 and retry.json()["id"] == r.json()["id"] and retry.json()["replayed"] is True
    assert StockLevel.objects.get(warehouse=pw.wh2, sku=pw.sku).on_hand == 20 and len(published) == 1
    assert api.post(f"{url}/cancel/", {"why": "no"}, format="json").status_code == 409
    assert api.post(f"{url}/close/", {}, format="json").status_code == 400  # a short close needs a reason
    r = api.post(f"{BASE}/purchase-orders/{po_id}/return/", {"reference": "RT1", "why": "damaged",
                                                              "lines": [{"sku": pw.sku.pk, "quantity": 5}]}, format="json")
    assert r.status_code == 201 and r.json()["kind"] == "return"
    r = api.post(f"{url}/close/", {"why": "rest cancelled by supplier"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    receipts = api.get(f"{BASE}/receipts/", {"purchase_order": po_id}).json()
    assert sorted(x["kind"] for x in receipts["results"]) == ["receipt", "return"]
    timeline = api.get(f"{url}/").json()["timeline"]
    assert [e["code"] for e in timeline] == ["created", "lines_set", "edited", "approved", "sent", "partially_received",
                                             "returned", "closed"]


def test_receive_input_errors(api, pw):
    po = pw.sent_po()
    url = f"{BASE}/purchase-orders/{po.pk}/receive/"
    assert "reference" in api.post(url, {"lines": [{"sku": pw.sku.pk, "quantity": 1}]}, format="json").json()["errors"]
    assert api.post(url, {"reference": "a", "lines": [{"quantity": 1}]}, format="json").status_code == 400
    assert api.post(url, {"reference": "a", "lines": [{"sku": pw.sku.pk, "quantity": -1}]}, format="json").status_code == 400
    assert api.post(url, {"reference": "a", "lines": [{"sku": pw.sku3.pk, "quantity": 1}]}, format="json").status_code == 400


def test_roles(pw):
    assert pw.world.api(Role.FINANCE).get(f"{BASE}/purchase-orders/").status_code == 200
    assert create_po(pw.world.api(Role.FINANCE), pw).status_code == 403
    assert pw.world.api(Role.SERVICE).get(f"{BASE}/purchase-orders/").status_code == 403


def test_suggestions_recompute_and_create_pos(api, pw, monkeypatch):
    from orders.selectors import DailySales

    today = date.today()
    rows = [DailySales(day=today - timedelta(days=n), sku_id=pw.sku.pk, quantity=10, amount=Decimal("0"))
            for n in range(1, 57)]
    monkeypatch.setattr("orders.selectors.daily_sales", lambda **kw: rows)
    services.purchasing_settings()
    r = api.post(f"{BASE}/suggestions/recompute/", {}, format="json")
    assert r.status_code == 200 and r.json()["count"] == 1
    listed = api.get(f"{BASE}/suggestions/").json()["results"]
    (s,) = listed
    assert s["sku_code"] == pw.sku.code and s["suggested_quantity"] > 0 and s["explanation"]
    for key in ("daily_demand", "days_of_cover", "lead_time_days", "safety_stock", "seasonal_factor"):
        assert key in s
    r = api.post(f"{BASE}/suggestions/create-pos/", {"suggestions": [s["id"]], "warehouse": pw.wh2.pk}, format="json")
    assert r.status_code == 201 and r.json()[0]["warehouse"] == pw.wh2.pk and r.json()[0]["status"] == "draft"
    again = api.post(f"{BASE}/suggestions/create-pos/", {"suggestions": [s["id"]]}, format="json")
    assert again.status_code == 409
    assert api.post(f"{BASE}/suggestions/create-pos/", {"suggestions": []}, format="json").status_code == 400
    assert api.get(f"{BASE}/suggestions/").json()["count"] == 0
    assert api.get(f"{BASE}/suggestions/", {"status": "ordered"}).json()["count"] == 1


def test_schema_documents_the_actions(pw):
    schema = pw.world.api(Role.OWNER).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for action in ("approve", "send", "receive", "cancel", "close", "return", "lines"):
        assert f"/api/v1/purchasing/purchase-orders/{{id}}/{action}/" in paths
    assert "/api/v1/purchasing/suggestions/create-pos/" in paths


def test_warehouse_staff_receive_but_do_not_edit(pw):
    po = pw.sent_po([{"sku": pw.sku, "quantity": 10}])
    warehouse = pw.world.api(Role.WAREHOUSE)
    url = f"{BASE}/purchase-orders/{po.pk}"
    assert warehouse.post(f"{url}/cancel/", {"why": "x"}, format="json").status_code == 403
    r = warehouse.post(f"{url}/receive/", {"reference": "W1", "lines": [{"sku": pw.sku.pk, "quantity": 10}]}, format="json")
    assert r.status_code == 201
    r = warehouse.post(f"{url}/return/", {"reference": "W2", "why": "broken", "defective": False,
                                          "lines": [{"sku": pw.sku.pk, "quantity": 1}]}, format="json")
    assert r.status_code == 201
    assert pw.world.api(Role.FINANCE).post(f"{url}/receive/", {"reference": "F1", "lines": [
        {"sku": pw.sku.pk, "quantity": 1}]}, format="json").status_code == 403


def test_other_tenant_sees_and_touches_nothing(pw, tenant_b):
    po = pw.sent_po()
    other = tenant_b.api(Role.OWNER)
    url = f"{BASE}/purchase-orders/{po.pk}"
    assert other.get(f"{url}/").status_code == 404
    for action in ("approve", "send", "receive", "cancel", "close", "return", "lines"):
        assert other.post(f"{url}/{action}/", {"reference": "X", "why": "x", "lines": [{"sku": pw.sku.pk, "quantity": 1}]},
                          format="json").status_code == 404, action
    assert other.get(f"{BASE}/purchase-orders/").json()["count"] == 0
    assert other.get(f"{BASE}/suppliers/").json()["count"] == 0
    # a supplier or SKU of tenant A is unknown to tenant B
    r = other.post(f"{BASE}/purchase-orders/", {"supplier": pw.supplier.pk, "warehouse": pw.wh.pk,
                                                "lines": [{"sku": pw.sku.pk, "quantity": 1}]}, format="json")
    assert r.status_code == 400 and {"supplier", "warehouse"} <= set(r.json()["errors"])
    assert PurchaseOrder.objects.get(pk=po.pk).status == "sent"


def test_receipt_references_are_per_tenant(pw, tenant_b):
    from erp.tenancy.context import tenant_context
    from tests.purchasing.conftest import World

    po = pw.sent_po()
    services.po_receive(po_id=po.pk, reference="DN-SAME", lines=[{"sku": pw.sku.pk, "quantity": 1}])
    with tenant_context(tenant_b.tenant):
        world_b = World(tenant_b)
        po_b = world_b.sent_po()
        receipt = services.po_receive(po_id=po_b.pk, reference="DN-SAME", lines=[{"sku": world_b.sku.pk, "quantity": 2}])
        assert not receipt.replayed and receipt.total_quantity == 2
        from django.http import Http404

        with pytest.raises(Http404):
            services.po_approve(po_id=po.pk)
