import pytest

from aftersales.models import Ticket, TicketStatus
from aftersales.seed import seed_demo

pytestmark = pytest.mark.django_db


def test_seed_makes_demo_tickets_once(in_tenant_a):
    from integrations.models import Shop
    from inventory.models import SKU, Warehouse
    from inventory.services import stock_receive
    from orders.seed import seed_demo as orders_seed

    Shop.objects.create(code="web", name="Web shop", platform="own")
    w = Warehouse.objects.create(code="W", name="W")
    for code in ("A", "B", "C"):
        stock_receive(warehouse=w, sku=SKU.objects.create(code=code, name=code), quantity=50, reason="seed")
    orders_seed(tenant=in_tenant_a.tenant)
    first = seed_demo(tenant=in_tenant_a.tenant)
    assert "demo after-sales tickets" in first
    n = Ticket.objects.count()
    assert n >= 3 and len(set(Ticket.objects.values_list("status", flat=True))) >= 3
    assert Ticket.objects.filter(status=TicketStatus.COMPLETED, refund_published_at__isnull=False).exists()
    assert "already" in seed_demo(tenant=in_tenant_a.tenant)
    assert Ticket.objects.count() == n


def test_seed_without_orders_only_sets_up(in_tenant_a):
    assert "run seed_demo again" in seed_demo(tenant=in_tenant_a.tenant)
    assert not Ticket.objects.exists()
