"""With the real orders app: a shipped order earns points for its buyer, and the buyer's level is
what orders reads through members.selectors.buyer_levels."""

import pytest

from members.models import MemberIdentity, MemberOrder, PointsEntry
from orders import services as order_services
from orders.models import Order, OrderKind
from tests.orders.conftest import integ, inv, line, norder, shop, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_shipped_order_earns_once(world, inv, levels):  # noqa: F811
    inv.stock(1, "A", 10)
    order_services.orders_ingest_normalized(shop=world, normalized=[norder("E1", buyer="tb-buyer",
                                                                          lines=[line("A", qty=2, price="12.50")])])
    order = Order.objects.get(platform_order_id="E1", kind=OrderKind.PLATFORM)
    order_services.order_ship(order_id=order.pk)
    ident = MemberIdentity.objects.get(platform="taobao", buyer_id="tb-buyer")
    assert ident.phone_masked == "138****0000"
    assert MemberOrder.objects.get().paid_amount == 25
    assert PointsEntry.objects.get().amount == 25
    assert ident.member.points_balance == 25 and ident.member.level.rank == 1
    from members.selectors import buyer_levels

    assert buyer_levels(platform="taobao", buyer_ids=["tb-buyer"]) == {"tb-buyer": 1}
