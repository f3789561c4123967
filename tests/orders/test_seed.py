import pytest

from orders.models import CarrierRule, Order
from orders.seed import seed_demo

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent(in_tenant_a, shop):
    from integrations.models import Shop
    from inventory.models import SKU, Warehouse
    from inventory.services import stock_receive

    web = Shop.objects.create(code="web", name="Web shop", platform="own")

    w = Warehouse.objects.create(code="W", name="W")
    for code in ("A", "B", "C"):
        stock_receive(warehouse=w, sku=SKU.objects.create(code=code, name=code), quantity=50, reason="seed")
    first = seed_demo(tenant=in_tenant_a.tenant)
    n = Order.objects.count()
    assert n >= 12 and "demo orders" in first
    assert set(Order.objects.values_list("shop_id", flat=True)) == {web.pk}  # never made-up platform orders
    assert len({o.status for o in Order.objects.all()}) >= 4
    seed_demo(tenant=in_tenant_a.tenant)
    assert Order.objects.count() == n and CarrierRule.objects.count() == 3


def test_seed_without_shops_only_sets_up(in_tenant_a):
    assert "run seed_demo again" in seed_demo(tenant=in_tenant_a.tenant)
    assert Order.objects.count() == 0
