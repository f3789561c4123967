import pytest
from django.urls import reverse

from erp.tenancy.roles import Role
from inventory import services
from inventory.models import SKU, BundleComponent, PlatformSkuMapping, StockLevel, StockMove, Warehouse
from inventory.seed import seed_demo

pytestmark = pytest.mark.django_db


def login(client, stock, role=Role.OPERATOR):
    client.force_login(stock.world.members[role].user)
    return client


def test_pages_render_and_filter(stock, client):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=3)
    login(client, stock)
    response = client.get(reverse("inventory:stock"), {"q": stock.sku.code, "warehouse": stock.wh1.pk, "only": "low"})
    assert response.status_code == 200 and stock.sku.code in response.content.decode()
    assert client.get(reverse("inventory:sku-moves", args=[stock.sku.pk])).status_code == 200
    assert client.get(reverse("inventory:locks"), {"status": "active"}).status_code == 200
    assert client.get(reverse("inventory:health")).status_code == 200
    dashboard = client.get(reverse("dashboard"))
    assert "Unmatched platform SKUs" in dashboard.content.decode()


def test_unmatched_queue_maps_by_code(stock, client):
    from inventory.selectors import sku_for_platform_line

    assert sku_for_platform_line(shop=stock.shop, platform_item_id="55", platform_sku_id="", outer_id="??") is None
    mapping = PlatformSkuMapping.objects.get()
    login(client, stock)
    page = client.get(reverse("inventory:unmatched"))
    assert "55" in page.content.decode()
    client.post(reverse("inventory:unmatched"), {"mapping": mapping.pk, "code": "NOPE"})
    mapping.refresh_from_db()
    assert mapping.sku is None
    client.post(reverse("inventory:unmatched"), {"mapping": mapping.pk, "code": stock.sku.code})
    mapping.refresh_from_db()
    assert mapping.sku == stock.sku


def test_pages_need_a_role_that_may_write(stock, client):
    login(client, stock, Role.FINANCE)
    assert client.get(reverse("inventory:stock")).status_code == 200
    assert client.post(reverse("inventory:unmatched"), {"mapping": 1, "code": "x"}).status_code == 403


def test_other_tenants_sku_history_is_404(stock, tenant_b, client):
    client.force_login(tenant_b.owner.user)
    assert client.get(reverse("inventory:sku-moves", args=[stock.sku.pk])).status_code == 404


def test_seed_is_idempotent(stock):
    first = seed_demo(tenant=stock.tenant)
    counts = (SKU.objects.count(), StockMove.objects.count(), Warehouse.objects.count(), BundleComponent.objects.count())
    second = seed_demo(tenant=stock.tenant)
    assert counts == (SKU.objects.count(), StockMove.objects.count(), Warehouse.objects.count(), BundleComponent.objects.count())
    assert "SKUs" in first and "0 opening receipts" in second
    assert SKU.objects.filter(is_bundle=True).count() == 2
    assert StockLevel.objects.filter(on_hand__gt=0).count() > 40
    assert services.stock_verify() == []


def test_admin_pages_open(stock, client):
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=3)
    client.force_login(stock.world.owner.user)
    for name in ("sku", "stockmove", "stocklevel", "platformskumapping", "stocklock", "syncrule"):
        assert client.get(reverse(f"admin:inventory_{name}_changelist")).status_code == 200, name
    move = StockMove.objects.get()
    assert client.post(reverse("admin:inventory_stockmove_delete", args=[move.pk]), {"post": "yes"}).status_code == 403
