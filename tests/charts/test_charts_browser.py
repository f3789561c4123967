"""Every chart page in headless Chromium, in English and Chinese: each chart drew (a canvas inside
an element marked data-rendered), no JS errors, headings translated; screenshots go to
$BROWSER_SCREENSHOTS (default: the test's tmp dir)."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command

from analytics.services import rollups_repair
from erp.tenancy.context import tenant_context
from erp.tenancy.models import Tenant
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _playwright

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "Charts-pw-2024"

# (screenshot name, path, chart keys, heading in English, in Chinese)
PAGES = [
    ("dashboard", "/", ["sales-trend", "queues"], "Dashboard", "工作台"),
    ("stock-health", "/inventory/health/", ["cover", "slow"], "Stock health", None),
    ("profit", "/finance/profit/?by=sku&from=2000-01-01", ["margin", "profit-trend"], "Profit and margins", None),
    ("refunds", "/aftersales/report/?since=2000-01-01", ["refund-sku", "refund-reasons"], "Refund report", None),
    ("members", "/members/dashboard/", ["segments", "levels"], "Repurchase dashboard", None),
]


def test_every_chart_page_draws_in_both_languages(live_server, settings, tmp_path, monkeypatch):
    settings.MOCK_PLATFORMS_URL = "http://127.0.0.1:9"
    call_command("seed_demo", tenant="charts", password=PASSWORD, stdout=open(os.devnull, "w"))  # noqa: SIM115
    with tenant_context(Tenant.objects.get(slug="charts")):
        rollups_repair()
    sync_playwright = _playwright()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for locale in ("en-US", "zh-CN"):
                page = browser.new_context(locale=locale, viewport={"width": 1366, "height": 1000}).new_page()
                page.set_default_timeout(15_000)
                errors = []
                page.on("pageerror", lambda e, seen=errors: seen.append(str(e)))
                page.on("console", lambda m, seen=errors: seen.append(m.text) if m.type == "error" else None)
                page.goto(live_server.url + "/accounts/login/")
                page.fill("#id_username", "charts")
                page.fill("#id_password", PASSWORD)
                with page.expect_navigation():
                    page.click("#login-submit")
                for name, path, keys, english, chinese in PAGES:
                    page.goto(live_server.url + path)
                    for key in keys:
                        box = page.locator(f"#chart-{key}")
                        page.wait_for_selector(f"#chart-{key}[data-rendered='1'] canvas")
                        assert box.locator("canvas").count() >= 1, (locale, name, key)
                    heading = page.locator("h1").first.inner_text()
                    if locale == "en-US":
                        assert heading == english, (name, heading)
                    else:
                        assert heading != english and (chinese is None or heading == chinese), (name, heading)
                    page.wait_for_timeout(400)  # the charts' entry animation
                    page.screenshot(path=str(shots / f"charts-{name}-{locale}.png"), full_page=True)
                    assert errors == [], (locale, name, errors)
                page.context.close()
        finally:
            browser.close()
