"""The big screen in headless Chromium: loads, refreshes itself several times without a reload,
no JS errors, figures present; screenshots in English and Chinese ($BROWSER_SCREENSHOTS)."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _playwright

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "Screen-pw-2024"


def test_the_big_screen_refreshes_itself(live_server, settings, tmp_path, monkeypatch):
    settings.MOCK_PLATFORMS_URL = "http://127.0.0.1:9"
    call_command("seed_demo", tenant="screen", password=PASSWORD, stdout=open(os.devnull, "w"))  # noqa: SIM115
    sync_playwright = _playwright()
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    shots = Path(os.environ.get("BROWSER_SCREENSHOTS") or tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for locale in ("en-US", "zh-CN"):
            page = browser.new_context(locale=locale, viewport={"width": 1920, "height": 1080}).new_page()
            errors = []
            page.on("pageerror", lambda e, seen=errors: seen.append(str(e)))
            page.on("console", lambda m, seen=errors: seen.append(m.text) if m.type == "error" else None)
            page.goto(live_server.url + "/accounts/login/")
            page.fill("#id_username", "screen")
            page.fill("#id_password", PASSWORD)
            with page.expect_navigation():
                page.click("#login-submit")
            page.goto(live_server.url + "/analytics/bigscreen/?every=2")
            page.wait_for_function("Number(document.getElementById('bigscreen').dataset.loaded || 0) >= 3",
                                   timeout=30_000)
            assert page.locator("#kpi-gmv").inner_text().strip() not in ("", "—")
            assert page.locator("#chart-map canvas").count() == 1
            page.screenshot(path=str(shots / f"bigscreen-{locale}.png"))
            assert errors == [], errors
        browser.close()
