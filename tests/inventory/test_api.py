import datetime

import pytest
from django.utils import timezone

from erp.tenancy.context import tenant_context
from erp.tenancy.roles import Role
from inventory import services
from inventory.models import SKU, StockLevel, StockMove

from .factories import SKUFactory, WarehouseFactory

pytestmark = pytest.mark.django_db
API = "/api/v1/inventory"


@pytest.fixture
def api(stock):
    return stock.world.api(Role.WAREHOUSE)


def test_catalog_crud_and_bundles(stock, api):
    response = api.post(f"{API}/products/", {"code": "P1", "name": "纯棉T恤"}, format="json")
    assert response.status_code == 201, response.json()
    product = response.json()["id"]
    response = api.post(f"{API}/skus/", {"product": product, "code": "P1-W-S", "name": "白 S", "unit_cost": "12.50",
                                         "attributes": {"颜色": "白", "尺码": "S"}}, format="json")
    assert response.status_code == 201, response.json()
    duplicate = api.post(f"{API}/skus/", {"code": "P1-W-S", "name": "again"}, format="json")
    assert duplicate.status_code == 400 and "code" in duplicate.json()["errors"]
    response = api.post(f"{API}/skus/", {"code": "SET", "name": "两件装",
                                         "components": [{"sku": stock.sku.pk, "quantity": 2}]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["is_bundle"] and response.json()["components"] == [{"sku": stock.sku.pk, "quantity": 2}]
    bad = api.post(f"{API}/skus/", {"code": "X", "name": "x", "unit_cost": "-1"}, format="json")
    assert bad.status_code == 400
    assert api.get(f"{API}/skus/?search=P1-W").json()["count"] == 1


def test_adjustments_and_bad_input_are_clear_400s(stock, api, tenant_b):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=3)
    ok = api.post(f"{API}/adjustments/", {"warehouse": stock.wh1.pk, "sku": stock.sku.pk, "quantity": 2,
                                          "reason": "found"}, format="json")
    assert ok.status_code == 201 and ok.json()["on_hand_after"] == 5
    too_many = api.post(f"{API}/adjustments/", {"warehouse": stock.wh1.pk, "sku": stock.sku.pk, "quantity": -9,
                                                "reason": "lost"}, format="json")
    assert too_many.status_code == 400 and "Not enough stock" in too_many.json()["detail"]
    with tenant_context(tenant_b.tenant):
        foreign = WarehouseFactory()
    for payload, field in [
        ({"warehouse": foreign.pk, "sku": stock.sku.pk, "quantity": 1, "reason": "x"}, "warehouse"),
        ({"warehouse": stock.wh1.pk, "sku": 999999, "quantity": 1, "reason": "x"}, "sku"),
        ({"warehouse": stock.wh1.pk, "sku": stock.sku.pk, "quantity": 0, "reason": "x"}, "quantity"),
        ({"warehouse": stock.wh1.pk, "sku": stock.sku.pk, "quantity": "lots", "reason": "x"}, "quantity"),
    ]:
        response = api.post(f"{API}/adjustments/", payload, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], (payload, response.json())
    negative = api.post(f"{API}/receipts/", {"warehouse": stock.wh1.pk, "sku": stock.sku.pk, "quantity": -1}, format="json")
    assert negative.status_code == 400
    assert StockMove.objects.count() == 2
    assert [m["kind"] for m in api.get(f"{API}/adjustments/").json()["results"]] == ["adjustment"]


def test_stock_levels_and_moves_are_filterable(stock, api):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=3, source_doc="PO-9")
    services.stock_receive(warehouse=stock.wh2, sku=stock.sku2, quantity=30)
    levels = api.get(f"{API}/stock-levels/?warehouse={stock.wh1.pk}").json()
    assert levels["count"] == 1 and levels["results"][0]["available"] == 3
    assert api.get(f"{API}/stock-levels/?low=5").json()["count"] == 1
    assert api.get(f"{API}/stock-levels/?low=x").status_code == 400
    assert api.get(f"{API}/stock-moves/?source_doc=PO-9").json()["count"] == 1
    assert api.get(f"{API}/stock-moves/?kind=shipment").json()["count"] == 0
    avail = api.get(f"{API}/skus/{stock.sku.pk}/availability/").json()
    assert avail[0]["warehouse_code"] == "HZ" and avail[0]["available"] == 3


def test_transfer_and_stocktake_flow(stock, api):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    created = api.post(f"{API}/transfers/", {"from_warehouse": stock.wh1.pk, "to_warehouse": stock.wh2.pk,
                                             "lines": [{"sku": stock.sku.pk, "quantity": 4}]}, format="json")
    assert created.status_code == 201, created.json()
    tid = created.json()["id"]
    assert api.post(f"{API}/transfers/{tid}/receive/", {}, format="json").status_code == 400
    assert api.post(f"{API}/transfers/{tid}/ship/").json()["status"] == "in_transit"
    received = api.post(f"{API}/transfers/{tid}/receive/", {"lines": [{"sku": stock.sku.pk, "quantity": 4}]}, format="json")
    assert received.status_code == 200 and received.json()["status"] == "received"

    take = api.post(f"{API}/stocktakes/", {"warehouse": stock.wh1.pk}, format="json").json()
    counted = api.post(f"{API}/stocktakes/{take['id']}/count/", {"counts": [{"sku": stock.sku.pk, "counted": 5}]}, format="json")
    assert counted.status_code == 200
    posted = api.post(f"{API}/stocktakes/{take['id']}/post/").json()
    assert posted["status"] == "posted" and posted["lines"][0]["variance"] == -1
    assert StockLevel.objects.get(warehouse=stock.wh1, sku=stock.sku).on_hand == 5


def test_locks_sync_rules_mappings_over_api(stock, api):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    ops = stock.world.api(Role.OPERATOR)
    now = timezone.now()
    lock = ops.post(f"{API}/stock-locks/", {"name": "618", "shop": stock.shop.pk, "sku": stock.sku.pk, "quantity": 4,
                                            "starts_at": now.isoformat(), "ends_at": (now + datetime.timedelta(days=1)).isoformat()},
                    format="json")
    assert lock.status_code == 201, lock.json()
    assert lock.json()["status"] == "active" and lock.json()["warehouse"] == stock.wh1.pk
    too_big = ops.post(f"{API}/stock-locks/", {"name": "x", "shop": stock.shop.pk, "sku": stock.sku.pk, "quantity": 40,
                                               "starts_at": now.isoformat(), "ends_at": (now + datetime.timedelta(days=1)).isoformat()},
                       format="json")
    assert too_big.status_code == 400
    assert ops.post(f"{API}/stock-locks/{lock.json()['id']}/cancel/").json()["status"] == "cancelled"

    rule = ops.post(f"{API}/sync-rules/", {"shop": stock.shop.pk, "warehouses": [stock.wh1.pk], "percentage": 50}, format="json")
    assert rule.status_code == 201, rule.json()
    assert rule.json()["warehouses"] == [stock.wh1.pk]
    assert ops.post(f"{API}/sync-rules/", {"shop": stock.shop.pk}, format="json").status_code == 400
    assert ops.patch(f"{API}/sync-rules/{rule.json()['id']}/", {"percentage": 101}, format="json").status_code == 400
    assert ops.patch(f"{API}/sync-rules/{rule.json()['id']}/", {"safety_stock": 2}, format="json").json()["safety_stock"] == 2

    mapping = ops.post(f"{API}/sku-mappings/", {"shop": stock.shop.pk, "platform_item_id": "123", "outer_id": "UNKNOWN"},
                       format="json")
    assert mapping.status_code == 201 and mapping.json()["sku"] is None
    assert ops.get(f"{API}/sku-mappings/?matched=false").json()["count"] == 1
    mapped = ops.patch(f"{API}/sku-mappings/{mapping.json()['id']}/", {"sku": stock.sku.pk}, format="json")
    assert mapped.json()["match_method"] == "manual"
    shown = ops.get(f"{API}/shop-stock/?shop={stock.shop.pk}").json()
    assert shown == [{"mapping_id": mapping.json()["id"], "sku_id": stock.sku.pk, "platform_item_id": "123",
                      "platform_sku_id": "", "outer_id": "UNKNOWN", "quantity": 4, "delist": False}]
    assert ops.get(f"{API}/shop-stock/").status_code == 400


def test_roles_and_health(stock):
    finance = stock.world.api(Role.FINANCE)
    assert finance.get(f"{API}/stock-levels/").status_code == 200
    assert finance.post(f"{API}/receipts/", {"warehouse": stock.wh1.pk, "sku": stock.sku.pk, "quantity": 1},
                        format="json").status_code == 403
    health = finance.get(f"{API}/stock-health/?days=30")
    assert health.status_code == 200
    assert finance.get(f"{API}/stock-health/?days=abc").status_code == 400


def test_schema_documents_inventory(stock, api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/inventory/skus/", "/api/v1/inventory/stock-locks/{id}/cancel/", "/api/v1/inventory/stocktakes/{id}/post/"):
        assert path in text
    assert SKU.objects.count() == 3 and SKUFactory
