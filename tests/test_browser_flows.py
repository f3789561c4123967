"""A working day in the browser: the operator releases a held order, allocates and ships it; the
warehouse receives a purchase order line and sees the stock move; customer service approves an
after-sales ticket; finance reads a balanced trial balance; the workbench reads in Chinese.

Headless Chromium (/usr/bin/chromium) through Playwright against pytest-django's live server, on a
tenant seeded by ``manage.py seed_demo``. Skipped when Chromium or Playwright is missing. Screenshots
go to $BROWSER_SCREENSHOTS when set (else the test's tmp dir).
"""

import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from aftersales.models import Ticket, TicketStatus
from erp.tenancy.context import tenant_context
from erp.tenancy.models import Tenant
from finance.models import SourceType, Voucher
from finance.selectors import books_verify
from inventory.models import MoveKind, StockLevel, StockMove
from members.models import MemberOrder
from orders.models import HoldReason, Order, OrderStatus, Waybill
from purchasing.models import POLine, POStatus, PurchaseOrder
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _playwright

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "flow"
PASSWORD = "Flow-pw-2024"


@pytest.fixture
def demo(db, settings):
    settings.MOCK_PLATFORMS_URL = "http://127.0.0.1:9"  # nothing listens: no test talks to the platforms
    call_command("seed_demo", tenant=SLUG, password=PASSWORD, stdout=open(os.devnull, "w"))  # noqa: SIM115
    return Tenant.objects.get(slug=SLUG)


class Day:
    def __init__(self, browser, base_url: str, shots: Path):
        self.browser, self.base_url, self.shots = browser, base_url, shots
        self.n = 0

    def login(self, username: str):
        page = self.browser.new_context(locale="en-US", viewport={"width": 1366, "height": 900}).new_page()
        page.set_default_timeout(15_000)
        page.goto(self.base_url + "/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            page.click("#login-submit")
        assert "/accounts/login/" not in page.url, page.locator("main").inner_text()
        return page

    def go(self, page, path: str):
        response = page.goto(self.base_url + path)
        assert response.status == 200, (path, response.status)
        return page

    def submit(self, page, selector: str):
        with page.expect_navigation():
            page.click(selector)
        errors = page.locator("ul.messages li.error")
        assert errors.count() == 0, errors.all_inner_texts()

    def shot(self, page, name: str):
        self.n += 1
        page.screenshot(path=str(self.shots / f"{self.n:02d}-{name}.png"), full_page=True)


def _badge(page) -> str:
    return page.locator("h1 .badge").first.inner_text().strip()


def test_a_working_day_in_the_browser(live_server, demo, tmp_path, monkeypatch):
    sync_playwright = _playwright()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM is read between page actions
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    with tenant_context(demo):
        held = Order.objects.filter(status=OrderStatus.ON_HOLD, hold_reasons=f",{HoldReason.BUYER_MESSAGE},").first()
        assert held is not None, list(Order.objects.values_list("status", "hold_reasons"))
        po = PurchaseOrder.objects.filter(status=POStatus.PARTIALLY_RECEIVED).first()
        assert po is not None, list(PurchaseOrder.objects.values_list("status", flat=True))
        po_line = next(ln for ln in POLine.objects.filter(purchase_order=po).select_related("sku").order_by("pk")
                       if ln.received_quantity < ln.quantity)
        on_hand_before = sum(StockLevel.objects.filter(sku=po_line.sku, warehouse=po.warehouse)
                             .values_list("on_hand", flat=True))
        ticket = Ticket.objects.filter(status=TicketStatus.OPEN).order_by("pk").first()
        assert ticket is not None, list(Ticket.objects.values_list("kind", "status"))
        shipment_vouchers = Voucher.objects.filter(source_type=SourceType.ORDER_SHIPPED).count()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            day = Day(browser, live_server.url, shots)

            # --- the operator: a held order released, allocated, shipped --------------------------
            page = day.login(f"{SLUG}-ops")
            day.go(page, "/orders/?status=on_hold")
            assert page.locator("h1").inner_text() == "Order workbench"
            # every top menu is in sight at 1366 px, left of the company/language/user tools: the menus wrap
            # onto a second row, never scroll out of the navigation's box under the tools
            tools = page.locator(".topbar-tools").bounding_box()
            for item in page.locator(".mainnav > a, .mainnav > details > summary").all():
                box = item.bounding_box()
                assert box is not None and box["x"] + box["width"] <= tools["x"], (item.inner_text(), box, tools)
            day.shot(page, "workbench-on-hold")
            with page.expect_navigation():
                page.click(f"#order-list a[href='/orders/{held.pk}/']")
            assert _badge(page) == "On hold"
            assert "请发顺丰" in page.locator("#order-header").inner_text()
            day.shot(page, "order-held")
            assert page.locator("#order-actions button[value=release]").inner_text() == "Release"
            day.submit(page, "#order-actions button[value=release]")
            assert _badge(page) == "Approved"
            assert page.locator("h1 .badge.warn").count() == 0  # no hold reason left
            day.submit(page, "#order-actions button[value=allocate]")
            assert _badge(page) == "Allocated"
            assert "reserved" in page.locator("#order-lines").inner_text()
            day.submit(page, "#order-actions button[value=ship]")
            assert _badge(page) == "Shipped"
            day.shot(page, "order-shipped")
            with tenant_context(demo):
                held.refresh_from_db()
                waybill = Waybill.objects.get(order=held)
            assert held.status == OrderStatus.SHIPPED and held.tracking_no == waybill.tracking_no
            assert waybill.tracking_no in page.locator("#order-header").inner_text()
            assert page.locator("#order-lines .badge.good").count() >= 1  # lines shipped (stock committed)
            assert "#order-actions" not in page.content() or page.locator("#order-actions button[value=ship]").count() == 0
            day.go(page, f"/orders/?q={held.platform_order_id}")
            assert "Shipped" in page.locator("#order-list").inner_text()
            with tenant_context(demo):  # the books and the points followed the parcel
                assert Voucher.objects.filter(source_type=SourceType.ORDER_SHIPPED).count() == shipment_vouchers + 1
                assert MemberOrder.objects.filter(order_id=held.pk).exists()
            page.context.close()

            # --- the warehouse: one purchase order line received, the stock moved -----------------
            page = day.login(f"{SLUG}-wh")
            day.go(page, f"/purchasing/{po.pk}/")
            day.shot(page, "po-before")
            open_qty = po_line.quantity - po_line.received_quantity
            take = max(open_qty // 2, 1)
            for field in page.locator("#po-receive input[name^=qty_]").all():
                field.fill("")
            page.fill(f"#po-receive input[name=qty_{po_line.pk}]", str(take))
            day.submit(page, "#po-receive button[type=submit]")
            assert re.search(rf"{take} units", page.locator("ul.messages").inner_text())
            row = page.locator("#po-lines tbody tr", has_text=po_line.sku.code)
            cells = row.locator("td").all_inner_texts()
            assert cells[6].strip() == str(po_line.received_quantity + take), cells  # "Received" column
            assert f"{po_line.sku.code} × {take}" in page.locator("#po-receipts").inner_text()
            day.shot(page, "po-received")
            day.go(page, f"/inventory/sku/{po_line.sku_id}/moves/")
            moves = page.locator("main table.grid").nth(1)
            first = moves.locator("tbody tr").first.locator("td").all_inner_texts()
            assert first[1] == "Receipt" and first[3].strip() == str(take), first
            assert first[4].strip() == str(on_hand_before + take), first
            day.shot(page, "stock-moves")
            with tenant_context(demo):
                assert StockMove.objects.filter(sku=po_line.sku, kind=MoveKind.RECEIPT, on_hand_delta=take).exists()
            page.context.close()

            # --- customer service: an after-sales ticket approved ---------------------------------
            page = day.login(f"{SLUG}-cs")
            day.go(page, f"/aftersales/{ticket.pk}/")
            assert _badge(page) == "Open"
            day.shot(page, "ticket-open")
            page.fill("#a-why", "size exchange accepted")
            day.submit(page, "#as-actions button[value=approve]")
            assert _badge(page) == "Approved"
            assert "size exchange accepted" in page.locator("#as-timeline").inner_text()
            day.shot(page, "ticket-approved")
            with tenant_context(demo):
                ticket.refresh_from_db()
                assert ticket.status == TicketStatus.APPROVED
            page.context.close()

            # --- finance: the trial balance, balanced ---------------------------------------------
            page = day.login(f"{SLUG}-fin")
            day.go(page, "/finance/trial-balance/")
            assert page.title().startswith("Trial balance")
            assert "<" not in page.title(), page.title()
            assert page.locator("h1 .badge.good").inner_text() == "balanced"
            totals = page.locator("#tb-totals th").all_inner_texts()
            assert totals[3] == totals[4] and totals[5] == totals[6], totals  # debit = credit, closing too
            assert page.locator("#trial-balance tbody tr").count() > 3
            day.shot(page, "trial-balance")
            with tenant_context(demo):
                assert books_verify() == []

            # --- in Chinese ------------------------------------------------------------------------
            with page.expect_navigation():
                page.select_option("#language-select", "zh-hans")
            assert page.locator("html").get_attribute("lang") == "zh-hans"
            assert "已平衡" in page.locator("h1").inner_text()
            page.context.close()
            page = day.login(f"{SLUG}-ops")
            with page.expect_navigation():
                page.select_option("#language-select", "zh-hans")
            day.go(page, "/orders/")
            assert page.locator("h1").inner_text() == "订单工作台"
            assert "已发货" in page.locator("#queues").inner_text()
            day.shot(page, "workbench-zh")
            day.go(page, f"/orders/{held.pk}/")
            assert "已发货" in page.locator("#order-lines").inner_text()  # the line badge, not "shipped amount"
            assert "操作人" in page.locator("#order-timeline thead").inner_text()  # "By" the actor, not "dimension"
            day.shot(page, "order-zh")
            page.context.close()
        finally:
            browser.close()
