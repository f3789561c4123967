import factory

from inventory.models import SKU, Product, Warehouse
from tests.factories import TenantScopedFactory


class ProductFactory(TenantScopedFactory):
    class Meta:
        model = Product

    code = factory.Sequence(lambda n: f"P{n:04d}")
    name = factory.Sequence(lambda n: f"商品{n}")


class SKUFactory(TenantScopedFactory):
    class Meta:
        model = SKU

    code = factory.Sequence(lambda n: f"SKU{n:05d}")
    name = factory.Sequence(lambda n: f"规格{n}")
    unit_cost = "10.00"


class WarehouseFactory(TenantScopedFactory):
    class Meta:
        model = Warehouse

    code = factory.Sequence(lambda n: f"WH{n}")
    name = factory.Sequence(lambda n: f"仓库{n}")
