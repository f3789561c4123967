"""The SKU and warehouse selectors other apps use instead of inventory.models: only the current
tenant's rows, malformed ids answer None, bundles left out where asked."""

import pytest

from erp.tenancy.context import tenant_context
from inventory import selectors, services

from .factories import SKUFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


def test_sku_lookups_answer_only_this_tenant(stock, tenant_b):
    with tenant_context(tenant_b.tenant):
        foreign = SKUFactory(tenant=tenant_b.tenant, code="TSHIRT-RED-M")
    assert selectors.sku_find(sku_id=stock.sku.pk) == stock.sku
    assert selectors.sku_find(sku_id=str(stock.sku.pk)) == stock.sku
    assert selectors.sku_find(sku_id=foreign.pk) is None
    for bad in (None, "", "abc", [1]):
        assert selectors.sku_find(sku_id=bad) is None
    found = selectors.skus_by_codes(codes=["TSHIRT-RED-M", " CAP-BLK ", "NOPE", None])
    assert found == {"TSHIRT-RED-M": stock.sku, "CAP-BLK": stock.sku3}
    assert found["TSHIRT-RED-M"].tenant_id == stock.tenant.pk
    assert selectors.skus_by_codes(codes=[]) == {}
    assert selectors.sku_names(ids=[stock.sku.pk, foreign.pk, None]) == {stock.sku.pk: f"TSHIRT-RED-M {stock.sku.name}"}
    assert foreign.pk not in set(selectors.skus().values_list("pk", flat=True))


def test_stock_skus_leave_bundles_out(stock):
    bundle = SKUFactory(tenant=stock.tenant, code="SET-1")
    services.sku_set_components(bundle=bundle, components=[(stock.sku, 1), (stock.sku3, 1)])
    assert [s.code for s in selectors.skus()] == ["CAP-BLK", "SET-1", "TSHIRT-RED-L", "TSHIRT-RED-M"]
    assert [s.code for s in selectors.stock_skus()] == ["CAP-BLK", "TSHIRT-RED-L", "TSHIRT-RED-M"]
    assert [s.code for s in selectors.skus(stock_only=True, code_prefix="TSHIRT")] == ["TSHIRT-RED-L", "TSHIRT-RED-M"]
    assert [o["code"] for o in selectors.sku_options(stock_only=True)] == ["CAP-BLK", "TSHIRT-RED-L", "TSHIRT-RED-M"]


def test_warehouse_lookups(stock, tenant_b):
    closed = WarehouseFactory(tenant=stock.tenant, code="BJ", priority=0, is_active=False)
    with tenant_context(tenant_b.tenant):
        foreign = WarehouseFactory(tenant=tenant_b.tenant, code="HZ")
    assert [w.code for w in selectors.warehouses()] == ["BJ", "HZ", "GZ"]
    assert [w.code for w in selectors.active_warehouses()] == ["HZ", "GZ"]
    assert [o["code"] for o in selectors.warehouse_options(active_only=True)] == ["HZ", "GZ"]
    assert selectors.warehouse_find(warehouse_id=closed.pk) == closed
    assert selectors.warehouse_find(warehouse_id=foreign.pk) is None
    assert selectors.warehouse_find(warehouse_id="x") is None
    assert selectors.warehouses_by_ids(ids=[stock.wh1.pk, foreign.pk, None]) == {stock.wh1.pk: stock.wh1}
    assert selectors.warehouses_by_codes(codes=["HZ", "GZ", "XX"]) == {"HZ": stock.wh1, "GZ": stock.wh2}


def test_stock_figures(stock):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    services.stock_receive(warehouse=stock.wh2, sku=stock.sku, quantity=4)
    services.stock_reserve(warehouse=stock.wh1, sku=stock.sku, quantity=3, ref_type="order_line", ref_id="1")
    services.stock_mark_defective(warehouse=stock.wh2, sku=stock.sku, quantity=1, reason="torn")
    figures = selectors.stock_figures(sku_ids=[stock.sku.pk, stock.sku2.pk])
    assert figures[(stock.wh1.pk, stock.sku.pk)] == {"on_hand": 10, "reserved": 3, "locked": 0, "in_transit": 0,
                                                     "defective": 0, "available": 7}
    assert figures[(stock.wh2.pk, stock.sku.pk)]["defective"] == 1
    assert figures[(stock.wh2.pk, stock.sku.pk)]["available"] == 3
    assert (stock.wh1.pk, stock.sku2.pk) not in figures
    assert list(selectors.stock_figures(sku_ids=[stock.sku.pk], warehouse_ids=[stock.wh2.pk])) == [(stock.wh2.pk, stock.sku.pk)]
