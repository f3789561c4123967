"""Third-party warehouse (QiMen style) end to end against the simulated WMS of the mock platforms
server: orders allocated to the 3PL warehouse go out through the WMS outbox, confirmations come
back (short-ship, duplicates), stock stays right (verify_stock clean), the nightly snapshot reports
differences without changing stock, faults are retried."""

from __future__ import annotations

import pytest

from integrations import ports as integration_ports
from integrations.mock_platforms.server import running_mock_platforms
from integrations.models import Outbox
from inventory.models import Reservation, StockLevel, Warehouse
from inventory.services import stock_receive, stock_verify
from orders.models import Order, OrderLine, OrderStatus
from warehouse import services
from warehouse.models import WmsAccount, WmsOrder, WmsOrderStatus, WmsStockSnapshot

from .conftest import address, line, norder

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def mock():
    with running_mock_platforms(seed=3, config={"qimen_short_rate": 0.0, "qimen_ship_hours": [1, 2]}) as url:
        url.mock.qimen.set_customer({"customer_id": "OWNER1", "app_key": "wms-key", "app_secret": "wms-secret",
                                     "warehouse_code": "HZ3PL", "stock": {"A": 20, "B": 20, "C": 20}})
        yield url


class Wms:
    def __init__(self, world, url):
        self.world, self.url = world, url
        self.warehouse = Warehouse.objects.create(code="3PL", name="Hangzhou 3PL", kind="third_party", priority=1)
        for sku in world.skus.values():
            stock_receive(warehouse=self.warehouse, sku=sku, quantity=20, reason="opening")
        self.account = WmsAccount.objects.create(
            code="HZ", name="HZ 3PL", warehouse=self.warehouse, wms_warehouse_code="HZ3PL", owner_code="OWNER1",
            app_key="wms-key", credentials={"app_secret": "wms-secret"}, api_base_url=str(url))
        self.client = integration_ports.wms_client(base_url=str(url), app_key="wms-key", app_secret="wms-secret",
                                                   customer_id="OWNER1", sleep=lambda s: None)

    def order(self, *lines_) -> Order:
        n = norder(lines=list(lines_) or [line("A")], receiver=address())
        from orders import services as order_services

        order_services.orders_ingest_normalized(shop=self.world.shop, normalized=[n])
        order = Order.objects.get(platform_order_id=n.platform_order_id)
        if order.status in (OrderStatus.PENDING_REVIEW, OrderStatus.ON_HOLD):
            order_services.order_approve(order_id=order.pk)
            order.refresh_from_db()
        if order.status == OrderStatus.APPROVED:
            order_services.order_allocate(order_id=order.pk)
            order.refresh_from_db()
        assert order.status == OrderStatus.ALLOCATED and order.warehouse_id == self.warehouse.pk
        return order

    def sync(self):
        return services.wms_sync(account=self.account, client=self.client)

    def level(self, code):
        return StockLevel.objects.get(warehouse=self.warehouse, sku=self.world.skus[code])


@pytest.fixture
def wms(world, mock):
    return Wms(world, mock)


def test_order_ships_through_the_simulated_wms(wms):
    order = wms.order(line("A", qty=2), line("B"))
    first = wms.sync()
    assert first["queued"] == 1 and first["sent"] == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PICKING  # our own floor leaves it alone
    row = WmsOrder.objects.get(order_id=order.pk)
    assert row.status == WmsOrderStatus.SENT and row.wms_order_id.startswith("DO")
    assert row.lines == {"A": 2, "B": 1}
    with pytest.raises(Exception, match="third-party"):
        services.wave_create(warehouse_id=wms.warehouse.pk)
    assert wms.sync()["confirmations"] == {}  # not shipped yet on the mock's clock
    wms.url.mock.advance(hours=3)
    assert wms.sync()["confirmations"] == {"shipped": 1}
    order.refresh_from_db()
    row.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.tracking_no == row.tracking_no != ""
    assert row.status == WmsOrderStatus.SHIPPED and row.actual == {"A": 2, "B": 1}
    assert wms.level("A").on_hand == 18 and wms.level("A").reserved == 0 and wms.level("B").on_hand == 19
    push = Outbox.objects.get(kind=Outbox.Kind.SHIPMENT, payload__platform_order_id=order.platform_order_id)
    assert push.payload["tracking_no"] == order.tracking_no
    assert stock_verify() == []
    assert wms.sync()["confirmations"] == {}  # acknowledged: not sent again


def test_short_ship_releases_the_unshipped_reservation_and_flags_the_order(wms):
    order = wms.order(line("A", qty=3), line("B"))
    wms.sync()
    row = WmsOrder.objects.get(order_id=order.pk)
    wms.url.mock.qimen.force_short("OWNER1", row.code, {"A": 1, "B": 1})
    wms.url.mock.advance(hours=3)
    assert wms.sync()["confirmations"] == {"short": 1}
    order.refresh_from_db()
    row.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and row.status == WmsOrderStatus.SHORT
    assert row.actual == {"A": 1, "B": 1}
    shipped = {ln.sku_code: ln.quantity for ln in OrderLine.objects.filter(order=order)}
    assert shipped == {"A": 1, "B": 1}
    part = Order.objects.get(split_from=order)
    assert part.status == OrderStatus.ON_HOLD
    assert [(ln.sku_code, ln.quantity, ln.is_reserved) for ln in OrderLine.objects.filter(order=part)] == [("A", 2, False)]
    assert order.events.filter(code="ship.short").exists()
    level = wms.level("A")
    assert (level.on_hand, level.reserved) == (19, 0)  # one unit left, two released
    assert not Reservation.objects.filter(status="open").exists()
    assert stock_verify() == []


def test_nothing_shipped_holds_the_order_and_releases_all(wms):
    order = wms.order(line("C", qty=2))
    wms.sync()
    row = WmsOrder.objects.get(order_id=order.pk)
    wms.url.mock.qimen.force_short("OWNER1", row.code, {"C": 0})
    wms.url.mock.advance(hours=3)
    wms.sync()
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD and wms.level("C").reserved == 0 and wms.level("C").on_hand == 20
    assert stock_verify() == []


def test_the_same_confirmation_twice_changes_nothing(wms):
    order = wms.order(line("A"))
    wms.sync()
    wms.url.mock.advance(hours=3)
    confirms, _more = wms.client.deliveryorder_confirm()
    assert len(confirms) == 1
    assert services.wms_confirmation_apply(account_id=wms.account.pk, confirmation=confirms[0]) == "shipped"
    assert services.wms_confirmation_apply(account_id=wms.account.pk, confirmation=confirms[0]) == "duplicate"
    # the WMS sends it again (not acknowledged), and with the mock's duplicate fault in one page
    wms.url.mock.inject_fault("duplicate", platform="qimen", method="deliveryorder.confirm")
    assert wms.sync()["confirmations"] == {"duplicate": 2}
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert wms.level("A").on_hand == 19
    assert Outbox.objects.filter(kind=Outbox.Kind.SHIPMENT).count() == 1
    assert stock_verify() == []


def test_mock_faults_are_retried(wms):
    order = wms.order(line("B"))
    wms.url.mock.inject_fault("server_error", count=2, platform="qimen", method="deliveryorder.create")
    wms.url.mock.inject_fault("rate_limit", count=1, platform="qimen", method="deliveryorder.confirm")
    result = wms.sync()
    assert result["sent"] == 1 and "error" not in result
    assert WmsOrder.objects.get(order_id=order.pk).status == WmsOrderStatus.SENT
    assert wms.client.http.stats["retries"] >= 3


def test_a_refused_send_backs_off_and_gives_up_only_when_not_retryable(wms):
    order = wms.order(line("B"))
    wms.url.mock.inject_fault("bad_signature", count=1, platform="qimen", method="deliveryorder.create")
    assert wms.sync()["failed"] == 1
    row = WmsOrder.objects.get(order_id=order.pk)
    assert row.status == WmsOrderStatus.FAILED and "sign" in row.last_error


def test_cancelled_here_is_cancelled_at_the_wms(wms):
    from orders import services as order_services

    order = wms.order(line("A"))
    wms.sync()
    order_services.order_cancel(order_id=order.pk, why="buyer asked")
    assert wms.sync()["cancelled"] == 1
    row = WmsOrder.objects.get(order_id=order.pk)
    assert row.status == WmsOrderStatus.CANCELLED
    wms.url.mock.advance(hours=3)
    assert wms.sync()["confirmations"] == {}  # the WMS did not ship it
    assert wms.level("A").reserved == 0 and stock_verify() == []


def test_entry_order_books_what_the_wms_received(wms):
    sku = wms.world.skus["C"]
    row = services.wms_entry_create(account_id=wms.account.pk, lines={sku.pk: 5}, reference="PO-1")
    wms.url.mock.configure({"qimen_damage_rate": 0.0})
    wms.sync()
    row.refresh_from_db()
    assert row.status == WmsOrderStatus.SENT
    wms.url.mock.advance(hours=3)
    assert wms.sync()["confirmations"] == {"received": 1}
    row.refresh_from_db()
    assert row.status == WmsOrderStatus.RECEIVED and wms.level("C").on_hand == 25
    assert stock_verify() == []


def test_snapshot_reports_differences_and_changes_no_stock(wms):
    wms.url.mock.qimen.customers["OWNER1"].stock.update({"A": 17, "ZZ": 4})
    before = {lv.sku_id: lv.on_hand for lv in StockLevel.objects.filter(warehouse=wms.warehouse)}
    snapshot = services.wms_stock_compare(account=wms.account, client=wms.client)
    lines = {d.sku_code: (d.ours, d.theirs, d.difference) for d in snapshot.lines.all()}
    assert lines == {"A": (20, 17, -3), "ZZ": (0, 4, 4)}
    assert snapshot.differences == 2 and snapshot.items == 4
    assert {lv.sku_id: lv.on_hand for lv in StockLevel.objects.filter(warehouse=wms.warehouse)} == before
    assert WmsStockSnapshot.objects.count() == 1


# --- page and API ----------------------------------------------------------------------------------
@pytest.fixture
def client_wh(tenant_a):
    from django.test import Client

    from erp.tenancy.roles import Role

    client = Client()
    client.force_login(tenant_a.members[Role.WAREHOUSE].user)
    return client


def test_page_in_both_languages_syncs_and_compares(wms, client_wh):
    order = wms.order(line("A"))
    response = client_wh.post("/warehouse/wms/", {"account": wms.account.pk, "do": "sync"})
    assert response.status_code == 302
    assert WmsOrder.objects.get(order_id=order.pk).status == WmsOrderStatus.SENT
    wms.url.mock.qimen.customers["OWNER1"].stock["B"] = 11
    client_wh.post("/warehouse/wms/", {"account": wms.account.pk, "do": "compare"})
    for lang in ("en", "zh-hans"):
        page = client_wh.get("/warehouse/wms/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        assert f'lang="{lang}"' in page
        assert "HZ 3PL" in page and f"{order.platform_order_id}-{order.pk}" in page
    page = client_wh.get("/warehouse/wms/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Stock differences (WMS against ours)" in page and "Sent, not confirmed" in page
    assert client_wh.post("/warehouse/wms/", {"account": 999999, "do": "sync"}).status_code == 302


def test_api_accounts_orders_snapshots_entry(wms, tenant_a, tenant_b):
    from erp.tenancy.roles import Role

    api = tenant_a.api(Role.WAREHOUSE)
    order = wms.order(line("A"))
    result = api.post(f"/api/v1/warehouse/wms-accounts/{wms.account.pk}/sync/")
    assert result.status_code == 200 and result.json()["result"]["sent"] == 1
    rows = api.get("/api/v1/warehouse/wms-orders/", {"status": "sent"}).json()
    rows = rows.get("results", rows)
    assert [r["order_id"] for r in rows] == [order.pk]
    snap = api.post(f"/api/v1/warehouse/wms-accounts/{wms.account.pk}/compare/")
    assert snap.status_code == 201 and snap.json()["differences"] == 0  # A: 20 at both (one sent, not shipped)
    listed = api.get("/api/v1/warehouse/wms-snapshots/").json()
    assert len(listed.get("results", listed)) == 1
    sku = wms.world.skus["B"]
    bad = api.post(f"/api/v1/warehouse/wms-accounts/{wms.account.pk}/entry/",
                   {"reference": "PO-9", "lines": [{"sku": 99999999, "quantity": 1}]}, format="json")
    assert bad.status_code == 400
    made = api.post(f"/api/v1/warehouse/wms-accounts/{wms.account.pk}/entry/",
                    {"reference": "PO-9", "lines": [{"sku": sku.pk, "quantity": 3}]}, format="json")
    assert made.status_code == 201 and made.json()["lines"] == {"B": 3}
    again = api.post(f"/api/v1/warehouse/wms-accounts/{wms.account.pk}/entry/",
                     {"reference": "PO-9", "lines": [{"sku": sku.pk, "quantity": 3}]}, format="json")
    assert again.status_code == 409
    other = tenant_b.api(Role.WAREHOUSE)
    assert other.post(f"/api/v1/warehouse/wms-accounts/{wms.account.pk}/sync/").status_code == 404
    assert other.get("/api/v1/warehouse/wms-orders/").json().get("results", []) == []


def test_beat_ticks_fan_out_per_tenant_and_the_tasks_sync_and_compare(wms, tenant_a, monkeypatch, settings):
    from warehouse import tasks

    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.0, "backoff_max": 0.0}
    order = wms.order(line("A"))
    sent = []
    monkeypatch.setattr(tasks.wms_sync_task, "apply_async", lambda kwargs, **kw: sent.append(kwargs))
    monkeypatch.setattr(tasks.wms_stock_compare_task, "apply_async", lambda kwargs, **kw: sent.append(kwargs))
    assert tasks.wms_sync_tick() == 1 and tasks.wms_stock_tick() == 1
    assert sent == [{"tenant_id": tenant_a.tenant.pk}] * 2
    assert tasks.wms_sync_task.run(tenant_id=tenant_a.tenant.pk)["HZ"]["sent"] == 1
    wms.url.mock.advance(hours=3)
    assert tasks.wms_stock_compare_task.run(tenant_id=tenant_a.tenant.pk) == {"HZ": 0}
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED  # the nightly job books confirmations before comparing


def test_mock_wms_protocol_errors(wms):
    with pytest.raises(integration_ports.WmsError, match="sign"):
        integration_ports.wms_client(base_url=str(wms.url), app_key="wms-key", app_secret="wrong",
                                     customer_id="OWNER1").inventory_query()
    with pytest.raises(integration_ports.WmsError, match="invalid-customer"):
        integration_ports.wms_client(base_url=str(wms.url), app_key="wms-key", app_secret="wms-secret",
                                     customer_id="NOBODY").inventory_query()
    lines = [integration_ports.WmsLine(item_code="A", quantity=1)]
    first = wms.client.deliveryorder_create(code="X1", warehouse_code="HZ3PL", lines=lines, receiver={})
    assert wms.client.deliveryorder_create(code="X1", warehouse_code="HZ3PL", lines=lines, receiver={}) == first
    with pytest.raises(integration_ports.WmsError) as bad:
        wms.client.deliveryorder_create(code="X2", warehouse_code="HZ3PL", lines=[], receiver={})
    assert not bad.value.retryable
    wms.url.mock.advance(hours=3)
    wms.client.deliveryorder_confirm()
    with pytest.raises(integration_ports.WmsError, match="ORDER_SHIPPED"):
        wms.client.order_cancel(code="X1")
    assert wms.client.inventory_query(item_codes=["A"]) == {"A": 19}


def test_held_at_the_wms_then_released_goes_out_again_under_a_new_code(wms):
    from orders import services as order_services

    order = wms.order(line("A"))
    wms.sync()
    order_services.order_hold(order_id=order.pk, why="check the address")
    assert wms.sync()["cancelled"] == 1
    order_services.order_release(order_id=order.pk)
    order.refresh_from_db()
    if order.status == OrderStatus.APPROVED:
        order_services.order_allocate(order_id=order.pk)
    result = wms.sync()
    assert result["queued"] == 1 and result["sent"] == 1
    codes = list(WmsOrder.objects.filter(order_id=order.pk).order_by("id").values_list("code", "status"))
    assert codes == [(f"{order.platform_order_id}-{order.pk}", "cancelled"),
                     (f"{order.platform_order_id}-{order.pk}-2", "sent")]
    wms.url.mock.advance(hours=3)
    wms.sync()
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and wms.level("A").on_hand == 19 and stock_verify() == []


def test_a_third_party_parcel_is_tracked_onto_the_order_timeline(wms):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import CarrierRule, OrderEvent
    from warehouse.models import CarrierAccount, Parcel, ParcelStatus

    CarrierRule.objects.create(name="YTO", carrier_code="YTO")  # the order's carrier, told to the WMS
    CarrierAccount.objects.create(code="YTO1", name="YTO", carrier_code="YTO")  # ours, used to track
    order = wms.order(line("A"))
    wms.sync()
    wms.url.mock.advance(hours=3)
    wms.sync()
    order.refresh_from_db()
    parcel = Parcel.objects.get(order_id=order.pk)
    assert parcel.status == ParcelStatus.SHIPPED and parcel.tracking_no == order.tracking_no
    assert parcel.account.carrier_code == order.carrier_code == "YTO" and parcel.warehouse_id == wms.warehouse.pk
    assert parcel.expected == {str(wms.world.skus["A"].pk): 1}
    assert services.tracking_pull(now=timezone.now() + timedelta(days=3)) >= 2
    assert OrderEvent.objects.filter(order_id=order.pk, code="tracking.departed").exists()
    wms.sync()  # nothing new: still one parcel
    assert Parcel.objects.filter(order_id=order.pk).count() == 1
    assert stock_verify() == []
