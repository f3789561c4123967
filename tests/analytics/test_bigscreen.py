"""The big screen's figures equal the reports' (the sales summary and the orders report), its API
and page answer the roles that may read analytics, and nothing leaks across tenants."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from analytics import selectors, services
from erp.tenancy.roles import Role
from orders import reports
from tests.orders.test_reports import DAY, at

pytestmark = pytest.mark.django_db


@pytest.fixture
def evening(sales):
    """The sales day at 20:30 Shanghai, rollups written for the days before, today live."""
    services.rollups_refresh_days(first=DAY - timedelta(days=3), last=DAY)
    services.days_mark_dirty(days=[DAY])
    with time_machine.travel(at(DAY, 20, 30), tick=False):
        yield sales


def test_figures_equal_the_reports(evening):
    screen = selectors.bigscreen()
    report = reports.sales_report(params=reports.ReportParams(date_from=DAY, date_to=DAY)).as_dict()
    summary = selectors.sales_summary(params=selectors.Params(date_from=DAY, date_to=DAY))
    for key in ("paid_orders", "units", "gmv", "shipped_parcels", "cancelled_amount"):
        assert screen["today"][key] == report["totals"][key] == summary["totals"][key], key
    assert screen["today"]["gmv"] == Decimal("157.00")
    assert [h["today"] for h in screen["hours"]] == [h["paid_orders"] for h in report["hours"]]
    assert [(s["sku_code"], s["gmv"]) for s in screen["top_skus"]] == \
        [(s["sku_code"], s["gmv"]) for s in report["top_skus_by_gmv"]]
    assert [(p["key"], p["gmv"]) for p in screen["provinces"]] == [("浙江", Decimal("152.00"))]
    assert [(g["name"], g["gmv"]) for g in screen["by_shop"]] == [(g["name"], g["gmv"]) for g in report["by_shop"]]


def test_yesterday_at_the_same_time(evening):
    screen = selectors.bigscreen()
    # P0 was paid 11-09 10:00: before 20:30 of the day before
    assert screen["yesterday_same_time"]["gmv"] == Decimal("51.00")
    assert screen["change_pct"]["gmv"] == Decimal("207.8")
    with time_machine.travel(at(DAY, 9, 30), tick=False):
        early = selectors.bigscreen()
    assert early["yesterday_same_time"]["paid_orders"] == 0  # P0 at 10:00 is after 09:30
    with time_machine.travel(at(DAY, 10, 30), tick=False):
        later = selectors.bigscreen()
    assert later["yesterday_same_time"]["paid_orders"] == 1  # inside the hour, read live


def test_queues_and_sections(evening):
    screen = selectors.bigscreen()
    assert set(screen["queues"]) == {"review", "on_hold", "out_of_stock", "to_ship", "shipped_today"}
    assert {"out", "risk", "slow", "lines"} <= set(screen["stock"])
    assert [s["name"] for s in screen["sync"]] == ["TB shop"]


def test_api_roles_and_isolation(evening, tenant_a, tenant_b):
    data = tenant_a.api(Role.OPERATOR).get("/api/v1/analytics/bigscreen/").json()
    assert data["today"]["gmv"] == "157.00"
    assert tenant_a.api(Role.WAREHOUSE).get("/api/v1/analytics/bigscreen/").status_code == 403
    other = tenant_b.api(Role.OWNER).get("/api/v1/analytics/bigscreen/").json()
    assert other["today"]["paid_orders"] == 0 and other["sync"] == []
    sales = tenant_a.api(Role.FINANCE).get("/api/v1/analytics/sales/", {"date_from": DAY.isoformat(),
                                                                         "date_to": DAY.isoformat()}).json()
    assert sales["totals"]["gmv"] == "157.00"
    bad = tenant_a.api(Role.OWNER).get("/api/v1/analytics/sales/", {"date_from": "nope"})
    assert bad.status_code == 400 and "date_from" in bad.json()["errors"]


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_page_renders_in_both_languages(evening, tenant_a, lang):
    client = Client()
    client.force_login(tenant_a.members[Role.OWNER].user)
    response = client.get("/analytics/bigscreen/", HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200
    body = response.content.decode()
    assert "vendor/echarts/echarts.min.js" in body and 'id="chart-map"' in body
    assert f'<html lang="{lang}"' in body  # the Chinese text comes with locale/zh_Hans/parts/analytics.po
