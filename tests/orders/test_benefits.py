"""Member benefits applied by the order review, with the real members app: the level's free
shipping (recorded, in the carrier choice) and priority shipping (the carrier choice), its discount
(recorded) and gift, the gifts bought with points (consumed once, by the member's next order, given
back when that order is cancelled); every benefit recorded on the order once (a second review or
allocation adds nothing), in the API and on the page; another tenant's members give nothing."""

from decimal import Decimal

import pytest
from django.urls import reverse

from erp.tenancy.roles import Role
from inventory.models import SKU
from members import services as member_services
from members.models import Member, MemberLevel, PointsRedemption
from members.services import rewards
from orders import services
from orders.models import CarrierRule, Order, OrderBenefit, OrderKind, OrderLine, OrderStatus
from orders.services.review import _rereview
from tests.orders.conftest import address, line, norder

pytestmark = pytest.mark.django_db


def ingest(shop, *orders):
    return services.orders_ingest_normalized(shop=shop, normalized=list(orders))


@pytest.fixture
def member(world, inv):
    """Buyer tb-gold: a gold member (free shipping, 5% off, a level gift) with 1,000 points and a
    gift bought with them; SKU GIFT-1 in stock in warehouse 1."""
    sku = SKU.objects.create(code="GIFT-1", name="Tote bag", weight_grams=100)
    inv.add_sku("GIFT-1", sku.pk, weight_g=100)
    inv.stock(1, "A", 100)
    inv.stock(1, "GIFT-1", 100)
    level = MemberLevel.objects.create(rank=3, name="Gold", free_shipping=True, discount_percent=Decimal("5"))
    rewards.level_set_gift(level_id=level.pk, gift_sku_code="GIFT-1", gift_quantity=1)
    ident = member_services.identity_match(platform="taobao", buyer_id="tb-gold", name="金", phone="13900000001")
    Member.objects.filter(pk=ident.member_id).update(level=level)
    member_services.points_adjust(member_id=ident.member_id, amount=1000, reason="welcome")
    reward = rewards.reward_create(name="Mug", kind="gift", points_price=300, gift_sku_code="GIFT-1", gift_quantity=2)
    red = rewards.points_redeem_reward(member_id=ident.member_id, reward_id=reward.pk, reference="mug-1")
    return Member.objects.get(pk=ident.member_id), red, sku


def _order(poid):
    return Order.objects.get(platform_order_id=poid, kind=OrderKind.PLATFORM)


def test_review_adds_gifts_once_and_records_benefits(world, inv, integ, member):
    m, red, sku = member
    ingest(world, norder("G1", buyer="tb-gold", lines=[line("A", 2, "50.00")]))
    order = _order("G1")
    assert order.status == OrderStatus.ALLOCATED and order.free_shipping
    gifts = list(OrderLine.objects.filter(order=order, is_gift=True).order_by("pk"))
    assert [(g.sku_id, g.quantity, g.price, g.paid) for g in gifts] == [(sku.pk, 1, Decimal("0.00"), Decimal("0.00")),
                                                                      (sku.pk, 2, Decimal("0.00"), Decimal("0.00"))]
    assert all(g.is_reserved and str(g.pk) in inv.reservations for g in gifts)  # reserved like any line
    assert order.line_count == 3 and order.total_quantity == 5
    kinds = dict(OrderBenefit.objects.filter(order=order).values_list("key", "kind"))
    assert kinds == {"free_shipping": "free_shipping", "level_discount": "level_discount", "level_gift": "level_gift",
                     f"points_gift:{red.pk}": "points_gift"}
    discount = OrderBenefit.objects.get(order=order, kind="level_discount")
    assert discount.amount == Decimal("5.00") and discount.member_id == m.pk and discount.level_rank == 3
    assert OrderBenefit.objects.get(order=order, kind="points_gift").entitlement_id == red.pk
    red.refresh_from_db()
    assert red.status == "consumed" and red.order_id == order.pk
    assert "free shipping" in order.events.get(code="carrier").message
    # re-review and allocate again: nothing added twice
    services.order_deallocate(order_id=order.pk)
    order.refresh_from_db()
    _rereview(order, services.order_settings(), platform_holds=set(), why="test")
    services.order_allocate(order_id=order.pk)
    assert OrderLine.objects.filter(order=order, is_gift=True).count() == 2
    assert OrderBenefit.objects.filter(order=order).count() == 4
    order.refresh_from_db()
    assert order.line_count == 3 and order.status == OrderStatus.ALLOCATED
    services.order_ship(order_id=order.pk)  # gift stock leaves with the parcel; one push, no gift line named
    assert [(p[1], p[4]) for p in integ.pushes] == [("G1", None)] and all(str(g.pk) in inv.committed for g in gifts)


def test_points_gift_goes_to_the_next_order_only(world, inv, member):
    _m, red, _sku = member
    ingest(world, norder("N1", buyer="tb-gold", receiver=address(address="一号")))
    ingest(world, norder("N2", buyer="tb-gold", receiver=address(address="二号")))
    first, second = _order("N1"), _order("N2")
    assert OrderBenefit.objects.filter(order=first, kind="points_gift").count() == 1
    assert OrderBenefit.objects.filter(order=second, kind="points_gift").count() == 0
    assert OrderBenefit.objects.filter(order=second, kind="level_gift").count() == 1  # the level's: every order
    assert OrderLine.objects.filter(order=second, is_gift=True).count() == 1


def test_one_page_gives_the_points_gift_once(world, inv, member):
    _m, red, _sku = member
    ingest(world, norder("B1", buyer="tb-gold", receiver=address(address="一号")),
           norder("B2", buyer="tb-gold", receiver=address(address="二号")))
    assert OrderBenefit.objects.filter(kind="points_gift").count() == 1
    assert PointsRedemption.objects.get(pk=red.pk).status == "consumed"


def test_cancelled_order_gives_the_gift_back(world, inv, member):
    m, red, _sku = member
    ingest(world, norder("C1", buyer="tb-gold", receiver=address(address="一号")))
    services.order_cancel(order_id=_order("C1").pk)
    red.refresh_from_db()
    assert red.status == "pending" and red.order_id is None
    ingest(world, norder("C2", buyer="tb-gold", receiver=address(address="二号")))
    red.refresh_from_db()
    assert red.status == "consumed" and red.order_id == _order("C2").pk
    # a gift cancelled before any order: points back, no gift line later
    reward = red.reward
    again = rewards.points_redeem_reward(member_id=m.pk, reward_id=reward.pk, reference="mug-2")
    balance = member_services.points_balance(member_id=m.pk)
    rewards.gift_cancel(redemption_id=again.pk)
    assert member_services.points_balance(member_id=m.pk) == balance + 300
    ingest(world, norder("C3", buyer="tb-gold", receiver=address(address="三号")))
    assert not OrderBenefit.objects.filter(order=_order("C3"), kind="points_gift").exists()


def test_no_member_no_benefit(world, inv, member):
    inv.stock(1, "B", 10)
    ingest(world, norder("X1", buyer="someone-else", lines=[line("B")]))
    order = _order("X1")
    assert not order.free_shipping and not OrderBenefit.objects.filter(order=order).exists()
    assert not OrderLine.objects.filter(order=order, is_gift=True).exists()


def test_priority_shipping_picks_the_fast_carrier(world, inv, member):
    CarrierRule.objects.create(name="cheap", carrier_code="CHEAP", first_cost=Decimal("3.00"), priority=100)
    CarrierRule.objects.create(name="fast", carrier_code="FAST", first_cost=Decimal("12.00"), priority=1)
    ingest(world, norder("S1", buyer="tb-gold", receiver=address(address="一号")))
    assert _order("S1").carrier_code == "CHEAP"  # free shipping: the seller pays, cheapest
    MemberLevel.objects.filter(rank=3).update(priority_shipping=True)
    ingest(world, norder("S2", buyer="tb-gold", receiver=address(address="二号")))
    s2 = _order("S2")
    assert s2.carrier_code == "FAST" and OrderBenefit.objects.filter(order=s2, kind="priority_shipping").exists()


def test_api_and_page_show_benefits(world, inv, member, tenant_a, client):
    ingest(world, norder("P1", buyer="tb-gold"))
    order = _order("P1")
    detail = tenant_a.api(Role.OPERATOR).get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["free_shipping"] is True
    assert {b["kind"] for b in detail["benefits"]} == {"free_shipping", "level_discount", "level_gift", "points_gift"}
    assert [ln["is_gift"] for ln in detail["lines"]].count(True) == 2
    client.force_login(tenant_a.members[Role.OPERATOR].user)
    page = client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert 'id="order-benefits"' in page and "Member benefits" in page


def test_other_tenant_members_give_nothing(world, inv, member, tenant_b):
    from integrations.models import Shop

    with tenant_b.context():
        shop_b = Shop.objects.create(code="tb1", name="TB shop", platform="taobao")
        inv.stock(1, "A", 10)
        ingest(shop_b, norder("T1", buyer="tb-gold"))
        order = Order.objects.get(platform_order_id="T1")
        assert not order.free_shipping and not OrderBenefit.objects.filter(order=order).exists()
        assert not OrderLine.objects.filter(order=order, is_gift=True).exists()
    assert PointsRedemption.objects.get(pk=member[1].pk).status == "pending"
