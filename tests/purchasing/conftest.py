"""A small purchasing world in tenant A: two warehouses, three SKUs, two suppliers with items."""

from decimal import Decimal

import pytest

from erp import events
from purchasing import services
from purchasing.models import Supplier, SupplierItem
from tests.inventory.factories import SKUFactory, WarehouseFactory


class World:
    def __init__(self, tenant_world):
        self.world = tenant_world
        self.tenant = tenant_world.tenant
        self.user = tenant_world.members["operator"].user
        self.wh = WarehouseFactory(tenant=self.tenant, code="HZ", name="杭州仓", priority=1)
        self.wh2 = WarehouseFactory(tenant=self.tenant, code="GZ", name="广州仓", priority=2)
        self.sku = SKUFactory(tenant=self.tenant, code="TEE-M", unit_cost="10.00")
        self.sku2 = SKUFactory(tenant=self.tenant, code="MUG-R", unit_cost="5.00")
        self.sku3 = SKUFactory(tenant=self.tenant, code="CAP-B", unit_cost="8.00")
        self.supplier = Supplier.objects.create(code="S1", name="纺织厂", payment_terms_days=30)
        self.supplier2 = Supplier.objects.create(code="S2", name="日用品厂")
        self.item = services.supplier_item_save(item=SupplierItem(
            supplier=self.supplier, sku=self.sku, unit_price=Decimal("12.00"), min_order_quantity=50, order_multiple=10,
            lead_time_days=10, is_preferred=True, supplier_sku_code="FZ-TEE"))
        self.item2 = services.supplier_item_save(item=SupplierItem(
            supplier=self.supplier2, sku=self.sku2, unit_price=Decimal("4.50"), min_order_quantity=1, order_multiple=24,
            lead_time_days=7, is_preferred=True))

    def po(self, lines=None, supplier=None, **kw):
        lines = lines if lines is not None else [{"sku": self.sku, "quantity": 100}]
        return services.po_create(supplier=supplier or self.supplier, warehouse=self.wh, lines=lines,
                                  actor=self.user, **kw)

    def sent_po(self, lines=None, **kw):
        po = self.po(lines, **kw)
        services.po_approve(po_id=po.pk, actor=self.user)
        return services.po_send(po_id=po.pk, actor=self.user)


@pytest.fixture
def pw(in_tenant_a):
    return World(in_tenant_a)


@pytest.fixture
def published():
    seen = []

    def received(**kw):
        seen.append(("purchase.received", kw))

    def returned(**kw):
        seen.append(("purchase.returned", kw))

    events.subscribe("purchase.received", received)
    events.subscribe("purchase.returned", returned)
    yield seen
    events._handlers["purchase.received"].remove(received)
    events._handlers["purchase.returned"].remove(returned)
