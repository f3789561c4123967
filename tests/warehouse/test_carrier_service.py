"""The warehouse floor with a carrier account on the simulated Cainiao / SF carrier service of the
mock platforms server: waybill numbers from the carrier's range, print data on the label, the
hand-over on shipping, tracking over days on the mock's clock, faults retried, the range used up."""

from datetime import timedelta

import pytest
from django.utils import timezone

from erp.api.exceptions import Conflict
from inventory.services import stock_verify
from orders.models import Order, OrderEvent
from warehouse import services
from warehouse.models import Parcel, ParcelStatus, TrackingEvent

from .conftest import line

pytestmark = pytest.mark.django_db


def _pack(world, parcel):
    for sku_id, qty in parcel.expected.items():
        sku = next(s for s in world.skus.values() if str(s.pk) == sku_id)
        for _ in range(int(qty)):
            outcome = services.pack_scan(parcel_id=parcel.pk, code=sku.barcode)
            assert outcome.ok, outcome.message
    parcel.refresh_from_db()
    return parcel


def test_waybill_label_ship_and_tracking_from_the_carrier_service(world, carrier):
    order = world.order(line("A"), line("B"))
    parcel = _pack(world, services.wave_create(warehouse_id=world.warehouse.pk).parcels.get())
    assert parcel.status == ParcelStatus.PACKED and parcel.tracking_no.startswith("SF00008800")
    assert parcel.label["route_code"] and parcel.label["receiver_phone"].count("*") == 4
    world.account.refresh_from_db()
    assert world.account.next_number == 5000  # the carrier's range, not ours
    sim = carrier.mock.carrier.accounts["sf-acct"]
    assert sim.waybills[parcel.tracking_no]["order_no"] == parcel.order_no
    carrier.mock.inject_fault("server_error", count=2, platform="carrier", method="cainiao.waybill.ii.ship")
    services.parcel_weigh_and_ship(parcel_id=parcel.pk, weight_g=900)
    order.refresh_from_db()
    assert order.tracking_no == parcel.tracking_no and order.status == "shipped"
    assert sim.waybills[parcel.tracking_no]["shipped_at"] is not None
    assert services.tracking_pull() == 1  # collected, at the mock's now
    carrier.mock.advance(hours=60)
    added = services.tracking_pull(now=timezone.now() + timedelta(days=3))
    codes = list(TrackingEvent.objects.filter(parcel=parcel).values_list("code", flat=True))
    assert codes[:2] == ["collected", "departed"] and added == len(codes) - 1
    assert OrderEvent.objects.filter(order_id=order.pk, code="tracking.departed").exists()
    assert services.tracking_pull(now=timezone.now() + timedelta(days=3)) == 0
    assert stock_verify() == []


def test_carrier_range_runs_out_and_cancel(world, carrier):
    for _ in range(4):
        world.order(line("A"))
    parcels = list(services.wave_create(warehouse_id=world.warehouse.pk).parcels.order_by("seq"))
    for p in parcels[:3]:
        _pack(world, p)
    with pytest.raises(Conflict, match="WAYBILL_RANGE_EXHAUSTED"):
        _pack(world, parcels[3])
    first = Parcel.objects.get(pk=parcels[0].pk)
    services.parcel_cancel(parcel_id=first.pk)
    assert carrier.mock.carrier.accounts["sf-acct"].waybills[first.tracking_no]["cancelled"]
    assert Order.objects.filter(status="picking").count() == 4


def test_carrier_down_is_a_conflict_not_a_crash(world, carrier, settings):
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.0, "backoff_max": 0.0, "max_attempts": 2}
    world.order(line("C"))
    parcel = services.wave_create(warehouse_id=world.warehouse.pk).parcels.get()
    carrier.mock.inject_fault("server_error", count=5, platform="carrier", method="cainiao.waybill.ii.get")
    with pytest.raises(Conflict, match="refused the waybill"):
        _pack(world, parcel)
    parcel.refresh_from_db()
    assert parcel.status == ParcelStatus.PICKING and parcel.tracking_no == ""
