import pytest

from integrations.models import Shop

from .factories import SKUFactory, WarehouseFactory


class Stock:
    """A small inventory world in tenant A: two warehouses, three SKUs, one shop."""

    def __init__(self, world):
        self.world = world
        self.tenant = world.tenant
        self.wh1 = WarehouseFactory(tenant=self.tenant, code="HZ", name="杭州仓", priority=1)
        self.wh2 = WarehouseFactory(tenant=self.tenant, code="GZ", name="广州仓", priority=2)
        self.sku = SKUFactory(tenant=self.tenant, code="TSHIRT-RED-M")
        self.sku2 = SKUFactory(tenant=self.tenant, code="TSHIRT-RED-L")
        self.sku3 = SKUFactory(tenant=self.tenant, code="CAP-BLK")
        self.shop = make_shop(self.tenant, "tb1")


def make_shop(tenant, code, platform="taobao"):
    from erp.tenancy.context import tenant_context

    with tenant_context(tenant):
        return Shop.objects.create(code=code, name=f"Shop {code}", platform=platform)


@pytest.fixture
def stock(in_tenant_a):
    return Stock(in_tenant_a)
