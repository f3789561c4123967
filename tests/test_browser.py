"""Browser smoke test: a person logs in, reads the dashboard in Chinese, switches company, logs out.

Drives Debian's Chromium (/usr/bin/chromium) headless through Playwright against pytest-django's
live server. Skipped when Chromium or Playwright is missing.
"""

import os
import shutil
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from erp.tenancy.roles import Role
from erp.tenancy.services import membership_add, tenant_create

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "Browser-pw-2024"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _playwright():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"browser test needs Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser test needs the playwright Python package (pip install playwright)")
    return sync_playwright


def _offsets(tz: str) -> set[str]:
    """The UTC offset the dashboard may show for ``tz`` (two values only around a DST change)."""
    now = datetime.now(ZoneInfo(tz))
    return {now.strftime("%z"), datetime.now(ZoneInfo(tz)).strftime("%z")}


@pytest.fixture
def two_companies(db):
    alpha = tenant_create(name="Alpha Trading", slug="alpha-ui", owner_username="ui-owner",
                          owner_password=PASSWORD, timezone_name="Asia/Shanghai")
    beta = tenant_create(name="Beta Commerce", slug="beta-ui", owner_username="ui-other",
                         owner_password=PASSWORD, timezone_name="America/New_York")
    membership_add(tenant=beta, username="ui-owner", role=Role.ADMIN)
    return alpha, beta


def test_login_dashboard_language_tenant_switch_logout(live_server, two_companies, monkeypatch):
    sync_playwright = _playwright()
    # Playwright's sync API runs an event loop in this thread; the ORM is not used inside it, but
    # fixtures' teardown must not trip Django's async-safety check either.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    alpha, beta = two_companies
    alpha_offsets, beta_offsets = _offsets("Asia/Shanghai"), _offsets("America/New_York")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800}).new_page()
            page.set_default_timeout(15_000)

            # Not logged in: the dashboard sends us to the login page.
            page.goto(live_server.url + "/")
            assert "/accounts/login/" in page.url
            page.fill("#id_username", "ui-owner")
            page.fill("#id_password", PASSWORD)
            with page.expect_navigation():
                page.click("#login-submit")

            # The dashboard of the first company, in English, in its time zone.
            assert page.locator("h1").inner_text() == "Dashboard"
            assert page.locator("#tenant-tz").inner_text() == "Asia/Shanghai"
            assert page.locator("#tenant-offset").inner_text() in alpha_offsets
            assert page.locator("#company-panel").inner_text().count("Alpha Trading") == 1
            assert "ui-owner" in page.locator("#user-menu summary").inner_text()

            # Language switcher -> Simplified Chinese.
            with page.expect_navigation():
                page.select_option("#language-select", "zh-hans")
            assert page.locator("h1").inner_text() == "工作台"
            assert page.locator("html").get_attribute("lang") == "zh-hans"
            assert "快捷入口" in page.locator("#quick-links").inner_text()

            # Tenant switcher -> the second company, still in Chinese, in its own time zone.
            assert page.locator("#tenant-select option:checked").inner_text() == "Alpha Trading"
            with page.expect_navigation():
                page.select_option("#tenant-select", str(beta.pk))
            assert page.locator("#tenant-select option:checked").inner_text() == "Beta Commerce"
            assert "Beta Commerce" in page.locator("#company-panel").inner_text()
            assert "管理员" in page.locator("#company-panel").inner_text()  # role in Beta: administrator
            assert page.locator("#tenant-tz").inner_text() == "America/New_York"
            assert page.locator("#tenant-offset").inner_text() in beta_offsets
            assert page.locator("h1").inner_text() == "工作台"

            # Log out through the account menu (a POST form), then the dashboard needs a login again.
            page.click("#user-menu summary")
            with page.expect_navigation():
                page.click("#logout")
            assert "/accounts/login/" in page.url
            assert page.locator("#login-submit").inner_text() == "登录"
            page.goto(live_server.url + "/")
            assert "/accounts/login/" in page.url
        finally:
            browser.close()
