"""The own-warehouse flow: wave, pick list, packing by scanning with refusals, waybill, weighing,
shipping through orders (stock committed, platform outbox), tracking and stuck parcels."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from erp.api.exceptions import Conflict
from integrations.models import Outbox
from inventory.services import stock_verify
from orders import services as order_services
from orders.models import Order, OrderEvent, OrderStatus
from warehouse import selectors, services
from warehouse.models import Parcel, ParcelStatus, ScanRecord, ScanResult, TrackingEvent

from .conftest import line

pytestmark = pytest.mark.django_db


def test_single_item_wave_pack_weigh_ship(world):
    o1, o2 = world.order(line("A")), world.order(line("C"))
    multi = world.order(line("A", qty=2), line("B"))
    wave = services.wave_create(warehouse_id=world.warehouse.pk, kind="single")
    parcels = list(wave.parcels.order_by("seq"))
    assert [p.order_id for p in parcels] == [o1.pk, o2.pk]  # the multi-item order waits for its own wave
    assert Order.objects.get(pk=o1.pk).status == OrderStatus.PICKING
    rows = selectors.pick_list(wave=wave)
    assert [(r.bin, r.sku_code, r.quantity) for r in rows] == [("A-01", "C", 1), ("A-03", "A", 1)]  # bin order

    parcel = parcels[0]
    wrong = services.pack_scan(parcel_id=parcel.pk, code=world.skus["B"].barcode)
    assert not wrong.ok and "WRONG ITEM" in wrong.message
    ok = services.pack_scan(parcel_id=parcel.pk, code=world.skus["A"].barcode)
    assert ok.ok and ok.complete
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.PACKED and parcel.tracking_no.startswith("SF") and parcel.label["route_code"]
    extra = services.pack_scan(parcel_id=parcel.pk, code=world.skus["A"].code)
    assert not extra.ok
    assert list(ScanRecord.objects.filter(parcel=parcel).values_list("result", flat=True)) == [
        ScanResult.REFUSED, ScanResult.OK, ScanResult.REFUSED]

    shipped = services.parcel_weigh_and_ship(parcel_id=parcel.pk, weight_g="2300")
    assert shipped.status == ParcelStatus.SHIPPED
    assert shipped.freight == Decimal("10.00")  # Zhejiang rate: 8.00 first kg + 2 started kg at 1.00
    order = Order.objects.get(pk=o1.pk)
    assert order.status == OrderStatus.SHIPPED and order.tracking_no == parcel.tracking_no
    waybill = order.waybills.get()  # the scale's weight and the carrier's freight, not the estimate
    assert (waybill.tracking_no, waybill.weight_g, waybill.cost) == (parcel.tracking_no, 2300, Decimal("10.00"))
    push = Outbox.objects.get(kind=Outbox.Kind.SHIPMENT)
    assert push.payload["tracking_no"] == parcel.tracking_no and push.payload["carrier_code"] == "SF"
    assert stock_verify() == []

    # the multi-item wave: the extra unit of A is refused, not counted
    wave2 = services.wave_create(warehouse_id=world.warehouse.pk)
    p = wave2.parcels.get()
    assert p.order_id == multi.pk
    for code in ("A", "A", "A", "B"):
        result = services.pack_scan(parcel_id=p.pk, code=code)
    assert result.complete and services.scanned_counts(p) == {str(world.skus["A"].pk): 2, str(world.skus["B"].pk): 1}


def test_an_intercepted_order_is_refused_at_packing_and_weighing(world):
    order = world.order(line("A", qty=2))
    wave = services.wave_create(warehouse_id=world.warehouse.pk)
    parcel = wave.parcels.get()
    assert services.pack_scan(parcel_id=parcel.pk, code="A").ok
    order_services.order_hold(order_id=order.pk, why="buyer called")
    refused = services.pack_scan(parcel_id=parcel.pk, code="A")
    assert not refused.ok and "INTERCEPTED" in refused.message
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.PICKING


def test_refund_after_packing_blocks_shipping(world):
    order = world.order(line("B"))
    parcel = services.wave_create(warehouse_id=world.warehouse.pk).parcels.get()
    assert services.pack_scan(parcel_id=parcel.pk, code="B").complete
    order_services.order_cancel(order_id=order.pk, why="refunded")
    with pytest.raises(Conflict):
        services.parcel_weigh_and_ship(parcel_id=parcel.pk, weight_g=500)
    assert not Outbox.objects.exists()
    assert stock_verify() == []


def test_waybill_range_runs_out(world):
    orders = [world.order(line("A")) for _ in range(4)]
    parcels = list(services.wave_create(warehouse_id=world.warehouse.pk).parcels.order_by("seq"))
    assert len(parcels) == len(orders)
    for p in parcels[:3]:
        assert services.pack_scan(parcel_id=p.pk, code="A").complete
    with pytest.raises(Conflict):  # numbers 5000..5002 only
        services.pack_scan(parcel_id=parcels[3].pk, code="A")
    assert len({p.tracking_no for p in Parcel.objects.exclude(tracking_no="")}) == 3


def test_no_wave_without_orders_and_bad_weight(world):
    with pytest.raises(Conflict):
        services.wave_create(warehouse_id=world.warehouse.pk)
    world.order(line("A"))
    parcel = services.wave_create(warehouse_id=world.warehouse.pk).parcels.get()
    from django.core.exceptions import ValidationError
    for bad in ("", "abc", "0", "-5"):
        with pytest.raises(ValidationError):
            services.parcel_weigh_and_ship(parcel_id=parcel.pk, weight_g=bad)


def test_tracking_events_on_the_timeline_and_stuck_parcels(world):
    orders = [world.order(line("A")) for _ in range(2)]
    wave = services.wave_create(warehouse_id=world.warehouse.pk)
    for p in wave.parcels.all():
        services.pack_scan(parcel_id=p.pk, code="A")
        services.parcel_weigh_and_ship(parcel_id=p.pk, weight_g=400)
    later = timezone.now() + timedelta(days=5)
    added = services.tracking_pull(now=later)
    assert added > 0
    assert services.tracking_pull(now=later) == 0  # the same events twice change nothing
    for p in Parcel.objects.all():
        codes = list(TrackingEvent.objects.filter(parcel=p).values_list("code", flat=True))
        assert codes[0] == "collected"
        assert OrderEvent.objects.filter(order_id=p.order_id, code="tracking.collected").exists()
    from warehouse.carriers import SimulatedCarrier
    sim = SimulatedCarrier("SF")
    expected_stuck = {p.pk for p in Parcel.objects.all() if sim.stuck(p.tracking_no)}
    assert {p.pk for p in selectors.parcels_stuck(now=later)} == expected_stuck
    delivered = Parcel.objects.filter(status=ParcelStatus.DELIVERED).count()
    assert delivered == len(orders) - len(expected_stuck)


def test_seed_is_idempotent(world):
    from warehouse.models import CarrierAccount, SkuBin
    from warehouse.seed import seed_demo

    first = seed_demo(tenant=None)
    bins = SkuBin.objects.count()
    assert "SF-DEMO" in first and CarrierAccount.objects.filter(code="SF-DEMO").count() == 1
    seed_demo(tenant=None)
    assert SkuBin.objects.count() == bins and CarrierAccount.objects.filter(code="SF-DEMO").count() == 1
    assert CarrierAccount.objects.get(code="SF-DEMO").rates.count() == 2


def test_a_wave_takes_the_most_urgent_orders_first(world):
    late, urgent, member, plain = (world.order(line("A")) for _ in range(4))
    Order.objects.filter(pk=urgent.pk).update(ship_by=timezone.now() + timedelta(hours=2))
    Order.objects.filter(pk=late.pk).update(ship_by=timezone.now() + timedelta(days=2))
    Order.objects.filter(pk=member.pk).update(buyer_level=3)
    wave = services.wave_create(warehouse_id=world.warehouse.pk, kind="single", limit=3)
    assert list(wave.parcels.order_by("seq").values_list("order_id", flat=True)) == [urgent.pk, late.pk, member.pk]
    assert Order.objects.get(pk=plain.pk).status == OrderStatus.ALLOCATED  # waits for the next wave
