"""In the browser: a warehouse user makes a wave, opens its pick list (and PDF), packs an order by
scanning (a wrong scan is refused loudly), prints its waybill, weighs it, and the order ships with
the carrier's tracking number pushed to the platform's outbox; stock stays right. Headless
Chromium through Playwright against the live server (skipped without Chromium/Playwright)."""

import os

import pytest

from erp.tenancy.roles import Role
from integrations.models import Outbox
from inventory.services import stock_verify
from orders.models import Order, OrderStatus
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _playwright
from warehouse.models import Parcel

from .conftest import World, line

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_wave_pick_pack_weigh_ship_in_the_browser(live_server, tenant_a, tmp_path, monkeypatch):
    sync_playwright = _playwright()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with tenant_a.context():
        world = World()
        order = world.order(line("A"), line("B"))
        barcodes = {code: sku.barcode for code, sku in world.skus.items()}
    shots = os.environ.get("BROWSER_SCREENSHOTS") or str(tmp_path)
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
        finally:
            browser.close()
    with tenant_a.context():
        order.refresh_from_db()
        assert order.status == OrderStatus.SHIPPED and order.tracking_no == tracking
        assert Parcel.objects.get().tracking_no == tracking
        assert Outbox.objects.get(kind=Outbox.Kind.SHIPMENT).payload["tracking_no"] == tracking
        assert stock_verify() == []
        assert Order.objects.filter(status=OrderStatus.SHIPPED).count() == 1
