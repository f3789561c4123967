"""In the browser, against the mock platforms server (a Taobao shop, the simulated WMS):

* our own warehouse: a warehouse user makes a wave, opens its pick list (and PDF), packs an order by
  scanning (a wrong scan is refused loudly), prints its waybill, weighs it; the platform receives the
  shipment with the carrier's tracking number, stock stays right, tracking events appear on the
  order's timeline;
* a third-party warehouse: an order allocated to it goes out through the WMS outbox ("Sync now"),
  the simulated WMS ships it, the confirmation comes back, the order shows shipped with the WMS's
  tracking number, the platform receives it, stock stays right (verify_stock clean) and tracking
  events appear on the order's timeline.

Headless Chromium through Playwright against the live server (skipped without Chromium/Playwright).
Screenshots go to $BROWSER_SCREENSHOTS (else the test's tmp dir)."""

import os
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone

from erp.tenancy.roles import Role
from integrations.mock_platforms.server import running_mock_platforms
from inventory.models import StockLevel
from inventory.services import stock_verify
from orders.models import CarrierRule, Order, OrderStatus
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _playwright
from warehouse import services
from warehouse.models import CarrierAccount, Parcel, WmsOrder, WmsOrderStatus

from .conftest import PlatformShop, World
from .test_wms import Wms

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@contextmanager
def _warehouse_user(live_server, tenant_a):
    """A logged-in page of the tenant's warehouse user."""
    sync_playwright = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(15_000)
            page.goto(live_server.url + "/accounts/login/")
            page.fill("#id_username", tenant_a.members[Role.WAREHOUSE].user.username)
            page.fill("#id_password", "pw-123456")
            with page.expect_navigation():
                page.click("#login-submit")
            yield page
        finally:
            browser.close()


def _timeline_shows_tracking(page, live_server, order, shots, name):
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    assert page.locator("h1 .badge").first.inner_text().strip() == "Shipped"
    assert order.tracking_no in page.locator("#order-header").inner_text()
    timeline = page.locator("#order-timeline").inner_text()
    assert "Collected by the courier" in timeline and "Left the sorting centre" in timeline
    page.screenshot(path=f"{shots}/{name}.png", full_page=True)


def test_wave_pick_pack_weigh_ship_in_the_browser(live_server, tenant_a, tmp_path, monkeypatch, settings):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.0, "backoff_max": 0.0}
    shots = os.environ.get("BROWSER_SCREENSHOTS") or str(tmp_path)
    with running_mock_platforms(seed=13) as url, _warehouse_user(live_server, tenant_a) as page:
        with tenant_a.context():
            world = World()
            shop = PlatformShop(world, url)
            order = shop.order(("A", 1), ("B", 1))
            barcodes = {code: sku.barcode for code, sku in world.skus.items()}
        page.goto(live_server.url + "/warehouse/")
        with page.expect_navigation():
            page.click("#wave-form button[type=submit]")
        assert "A-02" in page.locator("#pick-list").inner_text()  # B sits in A-02, before A in A-03
        rows = page.locator("#pick-list tbody tr").all_inner_texts()
        assert rows[0].startswith("A-02") and rows[1].startswith("A-03")
        page.emulate_media(media="print")
        assert not page.locator("#pick-list-pdf").is_visible()  # the print stylesheet hides the buttons
        page.emulate_media(media="screen")
        page.screenshot(path=f"{shots}/wave.png", full_page=True)
        pdf = page.request.get(live_server.url + page.locator("#pick-list-pdf").get_attribute("href"))
        assert pdf.ok and pdf.body().startswith(b"%PDF")

        page.goto(live_server.url + "/warehouse/pack/")

        def scan(code):  # a keyboard-wedge scanner: the code, then Enter
            page.locator("#scan-code").fill(code)
            with page.expect_navigation():
                page.locator("#scan-code").press("Enter")
            return page.locator("#scan-result")

        assert "scan its items" in scan(order.platform_order_id).inner_text()
        refused = scan(barcodes["C"])
        assert "WRONG ITEM" in refused.inner_text() and "refused" in refused.get_attribute("class")
        page.screenshot(path=f"{shots}/refused.png", full_page=True)
        scan(barcodes["A"])
        assert "Packed" in scan(barcodes["B"]).inner_text()
        tracking = page.locator("#tracking-no").inner_text().split()[-1]
        label = page.request.get(live_server.url + page.locator("#label-pdf").get_attribute("href"))
        assert label.ok and label.body().startswith(b"%PDF")
        page.fill("#weight-g", "720")
        with page.expect_navigation():
            page.click("#weigh-form button[type=submit]")
        assert tracking in page.locator("ul.messages").inner_text()
        page.screenshot(path=f"{shots}/weighed.png", full_page=True)

        with tenant_a.context():
            order.refresh_from_db()
            assert order.status == OrderStatus.SHIPPED and order.tracking_no == tracking
            assert Parcel.objects.get().tracking_no == tracking
            assert shop.shipped() == {order.platform_order_id: tracking}  # the platform has the carrier's number
            assert stock_verify() == []
            assert Order.objects.filter(status=OrderStatus.SHIPPED).count() == 1
            assert services.tracking_pull(now=timezone.now() + timedelta(days=3)) >= 2  # the beat's pull
        _timeline_shows_tracking(page, live_server, order, shots, "own-timeline")


def test_third_party_warehouse_ships_through_the_wms_in_the_browser(live_server, tenant_a, tmp_path, monkeypatch,
                                                                    settings):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.INTEGRATIONS_HTTP = {"backoff_base": 0.0, "backoff_max": 0.0}
    shots = os.environ.get("BROWSER_SCREENSHOTS") or str(tmp_path)
    config = {"qimen_short_rate": 0.0, "qimen_ship_hours": [1, 2]}
    with running_mock_platforms(seed=17, config=config) as url, _warehouse_user(live_server, tenant_a) as page:
        url.mock.qimen.set_customer({"customer_id": "OWNER1", "app_key": "wms-key", "app_secret": "wms-secret",
                                     "warehouse_code": "HZ3PL", "stock": {"A": 20, "B": 20, "C": 20}})
        with tenant_a.context():
            world = World()
            wms = Wms(world, url)
            CarrierRule.objects.create(name="YTO", carrier_code="YTO")  # told to the WMS, which ships with it
            CarrierAccount.objects.create(code="YTO1", name="YTO", carrier_code="YTO")  # ours, to track with
            shop = PlatformShop(world, url)
            order = shop.order(("A", 2), ("B", 1))
            assert order.warehouse_id == wms.warehouse.pk
        page.goto(live_server.url + "/warehouse/wms/")
        with page.expect_navigation():
            page.click("#wms-accounts button[value=sync]")
        assert "1 queued, 1 sent" in page.locator("ul.messages").inner_text()
        row = page.locator("#wms-orders tbody tr").first
        assert "At the WMS" in row.inner_text() and "A×2" in row.inner_text()
        page.screenshot(path=f"{shots}/wms-sent.png", full_page=True)
        with tenant_a.context():
            order.refresh_from_db()
            assert order.status == OrderStatus.PICKING  # at the WMS: our waves leave it alone
            assert wms.level("A").reserved == 2

        url.mock.advance(hours=3)  # the WMS ships it on its clock
        with page.expect_navigation():
            page.click("#wms-accounts button[value=sync]")
        assert "1 confirmations" in page.locator("ul.messages").inner_text()
        row = page.locator("#wms-orders tbody tr").first
        assert "Shipped" in row.inner_text()
        page.screenshot(path=f"{shots}/wms-confirmed.png", full_page=True)

        with tenant_a.context():
            order.refresh_from_db()
            wms_row = WmsOrder.objects.get(order_id=order.pk)
            assert wms_row.status == WmsOrderStatus.SHIPPED and wms_row.actual == {"A": 2, "B": 1}
            assert order.status == OrderStatus.SHIPPED and order.tracking_no == wms_row.tracking_no != ""
            assert order.tracking_no in row.inner_text()
            level = wms.level("A")
            assert (level.on_hand, level.reserved) == (18, 0) and wms.level("B").on_hand == 19
            assert StockLevel.objects.get(warehouse=world.warehouse, sku=world.skus["A"]).on_hand == 50
            assert stock_verify() == []
            assert shop.shipped() == {order.platform_order_id: order.tracking_no}
            assert services.tracking_pull(now=timezone.now() + timedelta(days=3)) >= 2
        _timeline_shows_tracking(page, live_server, order, shots, "wms-timeline")
