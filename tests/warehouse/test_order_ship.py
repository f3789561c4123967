"""The ship action of the order's page and of the orders API takes the carrier's electronic waybill
(the path of the packing station, warehouse.services.parcel_waybill): the order ships with the
carrier's tracking number, which the platform's outbox receives, and its parcel is tracked. A
carrier refusal is a 409 / the page's error and nothing is stored; the number the carrier issued
for the failed attempt is cancelled."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from erp.tenancy.roles import Role
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Outbox
from inventory.models import Warehouse
from inventory.services import stock_receive, stock_verify
from orders.models import Order, OrderEvent, OrderStatus, Waybill
from warehouse import services
from warehouse.carriers import SimulatedCarrier
from warehouse.models import CarrierAccount, Parcel, ParcelStatus, TrackingEvent, WmsAccount

from .conftest import PlatformShop, address, line, norder

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(tenant_a):
    client = Client()
    client.force_login(tenant_a.members[Role.OPERATOR].user)
    return client


def _nothing_stored(world, order):
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and order.tracking_no == ""
    assert not Parcel.objects.exists() and not Waybill.objects.exists()
    assert not Outbox.objects.filter(kind=Outbox.Kind.SHIPMENT).exists()
    world.account.refresh_from_db()
    assert world.account.next_number == 5000


def test_the_order_page_ship_button_prints_the_carriers_waybill(world, page):
    order = world.order(line("A"), line("B", qty=2))
    response = page.post(f"/orders/{order.pk}/action/", {"action": "ship"}, follow=True)
    assert response.status_code == 200
    order.refresh_from_db()
    expected = SimulatedCarrier("SF").tracking_no(5000)
    assert order.status == OrderStatus.SHIPPED and order.tracking_no == expected and order.carrier_code == "SF"
    parcel = Parcel.objects.get(order_id=order.pk)
    assert parcel.status == ParcelStatus.SHIPPED and parcel.tracking_no == expected and parcel.account == world.account
    assert parcel.label["tracking_no"] == expected and parcel.weight_g == 900  # 3 units of 300 g
    assert parcel.freight == world.account.rates.get().first_cost  # 浙江 rate, within the first kilogram
    waybill = Waybill.objects.get(order=order)  # the order's waybill: the carrier's number, weight and freight
    assert (waybill.tracking_no, waybill.weight_g, waybill.cost) == (expected, 900, parcel.freight)
    push = Outbox.objects.get(kind=Outbox.Kind.SHIPMENT)
    assert push.payload["tracking_no"] == expected and push.payload["carrier_code"] == "SF"
    world.account.refresh_from_db()
    assert world.account.next_number == 5001
    assert stock_verify() == []
    # the parcel is tracked like one from the packing station
    assert services.tracking_pull(now=timezone.now() + timedelta(days=3)) > 0
    assert TrackingEvent.objects.filter(parcel=parcel, code="collected").exists()
    assert OrderEvent.objects.filter(order_id=order.pk, code="tracking.collected").exists()


def test_the_api_ships_with_the_carriers_number_or_the_one_given(world, tenant_a):
    api = tenant_a.api(Role.OPERATOR)
    first, second = world.order(line("A")), world.order(line("C"))
    r = api.post(f"/api/v1/orders/{first.pk}/ship/", {}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["tracking_no"] == SimulatedCarrier("SF").tracking_no(5000)
    r = api.post(f"/api/v1/orders/{second.pk}/ship/", {"tracking_no": "YT123456789", "carrier_code": "YTO"},
                 format="json")
    assert r.status_code == 200 and r.json()["tracking_no"] == "YT123456789"  # a waybill written elsewhere
    assert Parcel.objects.count() == 1
    assert api.post(f"/api/v1/orders/{first.pk}/ship/", {}, format="json").status_code == 409  # shipped already


def test_a_carrier_refusal_is_a_409_and_nothing_is_stored(world, tenant_a, page):
    order = world.order(line("A"))
    Order.objects.filter(pk=order.pk).update(receiver_province="")  # the carrier needs the province
    r = tenant_a.api(Role.OPERATOR).post(f"/api/v1/orders/{order.pk}/ship/", {}, format="json")
    assert r.status_code == 409 and "refused the waybill" in r.json()["detail"]
    _nothing_stored(world, order)
    response = page.post(f"/orders/{order.pk}/action/", {"action": "ship"}, follow=True)
    assert "refused the waybill" in response.content.decode()
    _nothing_stored(world, order)


def test_no_carrier_account_or_a_used_up_range_is_refused(world, tenant_a):
    api = tenant_a.api(Role.OPERATOR)
    order = world.order(line("A"))
    CarrierAccount.objects.update(is_active=False)
    r = api.post(f"/api/v1/orders/{order.pk}/ship/", {}, format="json")
    assert r.status_code == 409 and "no carrier account" in r.json()["detail"]
    CarrierAccount.objects.update(is_active=True, next_number=5003)
    r = api.post(f"/api/v1/orders/{order.pk}/ship/", {}, format="json")
    assert r.status_code == 409 and "used up" in r.json()["detail"]
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and not Parcel.objects.exists()


def test_a_third_party_warehouse_order_ships_through_the_wms_not_the_button(world, tenant_a):
    wh = Warehouse.objects.create(code="3PL", name="3PL", kind="third_party", priority=1)
    for sku in world.skus.values():
        stock_receive(warehouse=wh, sku=sku, quantity=5, reason="opening")
    WmsAccount.objects.create(code="HZ", name="HZ", warehouse=wh, wms_warehouse_code="HZ3PL", owner_code="O1",
                              app_key="k", api_base_url="http://127.0.0.1:9")
    from orders import services as order_services

    n = norder(lines=[line("A")], receiver=address())
    order_services.orders_ingest_normalized(shop=world.shop, normalized=[n])
    order = Order.objects.get(platform_order_id=n.platform_order_id)
    if order.status != OrderStatus.ALLOCATED:
        order_services.order_approve(order_id=order.pk)
        order.refresh_from_db()
    assert order.warehouse_id == wh.pk
    r = tenant_a.api(Role.OPERATOR).post(f"/api/v1/orders/{order.pk}/ship/", {}, format="json")
    assert r.status_code == 409 and "WMS" in r.json()["detail"]
    assert not Parcel.objects.exists()


def test_over_http_the_carriers_number_ships_and_a_failed_hand_over_cancels_it(world, tenant_a, carrier, settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.0, "backoff_max": 0.0, "max_attempts": 2}
    http_carrier = carrier
    api = tenant_a.api(Role.OPERATOR)
    sim = http_carrier.mock.carrier.accounts["sf-acct"]
    order = world.order(line("A"))
    http_carrier.mock.inject_fault("server_error", count=2, platform="carrier", method="cainiao.waybill.ii.ship")
    r = api.post(f"/api/v1/orders/{order.pk}/ship/", {}, format="json")
    assert r.status_code == 409 and "hand-over" in r.json()["detail"]
    _nothing_stored(world, order)
    [issued] = sim.waybills.values()
    assert issued["cancelled"] and issued["order_no"] == order.platform_order_id  # the carrier's number is void
    r = api.post(f"/api/v1/orders/{order.pk}/ship/", {}, format="json")
    assert r.status_code == 200, r.content
    order.refresh_from_db()
    assert order.tracking_no in sim.waybills and order.tracking_no != issued["code"]
    assert sim.waybills[order.tracking_no]["shipped_at"] is not None
    assert Outbox.objects.get(kind=Outbox.Kind.SHIPMENT).payload["tracking_no"] == order.tracking_no
    assert stock_verify() == []


def test_the_platform_receives_the_shipment_with_the_carriers_number(world, page, settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.0, "backoff_max": 0.0}
    with running_mock_platforms(seed=11) as url:
        shop = PlatformShop(world, url)
        order = shop.order(("A", 1), ("B", 1))
        page.post(f"/orders/{order.pk}/action/", {"action": "ship"})
        order.refresh_from_db()
        assert order.tracking_no == SimulatedCarrier("SF").tracking_no(5000)
        assert shop.shipped() == {order.platform_order_id: order.tracking_no}
    assert stock_verify() == []


def test_the_orders_carrier_picks_the_carrier_account(world, page):
    from orders.models import CarrierRule

    CarrierRule.objects.create(name="YTO", carrier_code="YTO")
    yto = CarrierAccount.objects.create(code="YTO1", name="YTO", carrier_code="YTO", range_start=1, range_end=9,
                                        next_number=1)
    order, other = world.order(line("A")), world.order(line("B"))
    assert order.carrier_code == "YTO"
    page.post(f"/orders/{order.pk}/action/", {"action": "ship"})
    order.refresh_from_db()
    assert order.tracking_no == SimulatedCarrier("YTO").tracking_no(1) and order.carrier_code == "YTO"
    assert Parcel.objects.get(order_id=order.pk).account == yto
    yto.is_active = False
    yto.save()
    wave = services.wave_create(warehouse_id=world.warehouse.pk)  # no YTO account left: the warehouse's SF one
    assert wave.parcels.get().order_id == other.pk and wave.parcels.get().account == world.account
