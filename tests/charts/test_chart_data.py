"""The charts of the operator pages draw the pages' and reports' own figures: each chart's data (the
json_script the page embeds for static/erp/charts.js) equals what the page's tables or the report show
for the demo tenant (orders, stock, books, tickets and members of the seed)."""

import json
import os
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from analytics.services import rollups_repair
from erp.tenancy.context import tenant_context
from erp.tenancy.models import Tenant

pytestmark = pytest.mark.django_db
PASSWORD = "Charts-pw-2024"


def chart(response, key: str) -> dict:
    html = response.content.decode()
    assert f'id="chart-{key}"' in html, key
    found = re.search(rf'<script id="chart-{re.escape(key)}-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, key
    return json.loads(found.group(1))


def numbers(values) -> list:
    return [None if v is None else Decimal(str(v)) for v in values]


def test_every_chart_draws_its_pages_figures(settings, client, django_capture_on_commit_callbacks):
    """One seed (it is slow) for every page; each check below is one page's charts."""
    settings.MOCK_PLATFORMS_URL = "http://127.0.0.1:9"
    with django_capture_on_commit_callbacks(execute=True):  # the rollups' dirty days are marked on commit
        call_command("seed_demo", tenant="charts", password=PASSWORD, stdout=open(os.devnull, "w"))  # noqa: SIM115
    client.login(username="charts", password=PASSWORD)
    demo = Tenant.objects.get(slug="charts")
    with tenant_context(demo):
        # the demo seed ingests its orders directly (no platform event marks their days): the
        # minute's repair finds them by updated_at, as it does for any order changed outside the events
        rollups_repair()
    for check in (check_dashboard, check_stock_health, check_profit, check_refunds, check_members, check_languages):
        check(demo, client)


def check_dashboard(demo, client):
    from orders.reports import report_params, sales_report
    from orders.selectors import OPEN_STATUSES, attention_counts, shipped_today, status_counts

    response = client.get(reverse("dashboard"))
    trend, queues = chart(response, "sales-trend"), chart(response, "queues")
    with tenant_context(demo):
        report = sales_report(params=report_params({"range": "last30"}))
        counts, waiting, shipped = status_counts(), attention_counts(), shipped_today()
    assert trend["categories"] == [d.day.isoformat() for d in report.days] and len(trend["categories"]) == 30
    gmv, orders = trend["series"]
    assert numbers(gmv["data"]) == [d.figures.gmv for d in report.days]
    assert orders["data"] == [d.figures.orders for d in report.days]
    assert sum(orders["data"]) == report.total.orders > 0
    assert queues["series"][0]["data"] == [counts[s] for s in OPEN_STATUSES] + [waiting["out_of_stock"], shipped]
    workbench = client.get(reverse("orders:workbench")).context
    assert [n for _v, _l, n in workbench["status_counts"] if n is not None] == [counts[s] for s in OPEN_STATUSES]


def check_stock_health(demo, client):
    from inventory.selectors import COVER_BUCKETS, cover_bucket

    response = client.get(reverse("inventory:health"), {"days": 30})
    cover, slow = chart(response, "cover"), chart(response, "slow")
    lines = list(response.context["page"].paginator.object_list)
    assert cover["buckets"] == list(COVER_BUCKETS)
    assert dict(zip(cover["buckets"], cover["series"][0]["data"], strict=True)) == {
        b: sum(1 for x in lines if cover_bucket(x) == b) for b in COVER_BUCKETS}
    assert sum(cover["series"][0]["data"]) == len(lines) > 0
    assert cover["series"][0]["data"][0] == sum(1 for x in lines if x.status == "out")
    slow_lines = sorted((x for x in lines if x.status == "slow"), key=lambda x: (-x.on_hand, x.code))[:10]
    assert slow["sku_ids"] == [x.sku_id for x in slow_lines] and slow_lines
    assert slow["series"][0]["data"] == [x.on_hand for x in slow_lines]
    # the table's status filter does not change the charts (they show every SKU)
    filtered = client.get(reverse("inventory:health"), {"days": 30, "status": "slow"})
    assert chart(filtered, "cover") == cover
    assert all(x.status == "slow" for x in filtered.context["page"].paginator.object_list)


def check_profit(demo, client):
    for by in ("sku", "shop"):
        response = client.get(reverse("finance:profit"), {"by": by, "from": "2000-01-01"})
        ctx = response.context
        trend, margin = chart(response, "profit-trend"), chart(response, "margin")
        months = ctx["months"]
        assert trend["categories"] == [p.label for p in months]
        net, gross, pct = trend["series"]
        assert numbers(net["data"]) == [p.net_revenue for p in months]
        assert numbers(gross["data"]) == [p.gross_profit for p in months]
        assert numbers(pct["data"]) == [p.margin for p in months]
        assert sum(numbers(gross["data"])) == ctx["year_total"].gross_profit
        rows = [p for p in ctx["rows"] if p.key is not None][:15]
        assert rows, by
        assert margin["by"] == by and margin["categories"] == [p.label for p in rows]
        assert numbers(margin["series"][0]["data"]) == [p.gross_profit for p in rows]
        assert numbers(margin["series"][1]["data"]) == [p.margin for p in rows]


def check_refunds(demo, client):
    response = client.get(reverse("aftersales:report"), {"since": "2000-01-01"})
    report = response.context["report"]
    sku, reasons = chart(response, "refund-sku"), chart(response, "refund-reasons")
    assert report.by_sku and report.reasons
    rows = report.by_sku[:15]
    assert numbers(sku["series"][0]["data"]) == [None if r.refund_rate is None else r.refund_rate * 100 for r in rows]
    assert sku["series"][1]["data"] == [r.units for r in rows]
    assert reasons["categories"] == [r.reason or "—" for r in report.reasons]
    assert reasons["series"][0]["data"] == [r.tickets for r in report.reasons]


def check_members(demo, client):
    listing = client.get(reverse("members:list")).context
    response = client.get(reverse("members:dashboard"))
    segments, levels = chart(response, "segments"), chart(response, "levels")
    expected = [n for _v, _l, n in listing["segment_counts"]] + [listing["no_segment"]]
    assert segments["series"][0]["data"] == expected and sum(expected) > 0
    assert levels["series"][0]["data"] == [n for _lv, n in listing["level_counts"]]
    assert levels["categories"][:-1] == [lv.name for lv, _n in listing["level_counts"] if lv]
    assert 'id="repurchase-chart"' in response.content.decode()


def check_languages(demo, client):
    response = client.get(reverse("inventory:health"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert chart(response, "cover")["categories"][0] == "已售罄"
    english = client.get(reverse("inventory:health"), HTTP_ACCEPT_LANGUAGE="en")
    assert chart(english, "cover")["categories"][0] == "Sold out"


def test_dashboard_charts_only_for_roles_that_read_their_app(tenant_a, client, monkeypatch):
    from erp import dashboard
    from erp.tenancy.roles import Role

    calls = []

    def finance_only(request):
        calls.append(request.membership.role)
        return [dashboard.Chart(key="books", title="Books", spec={"type": "bar", "categories": [], "series": []})]

    monkeypatch.setattr(dashboard, "_chart_providers", [*dashboard._chart_providers, (finance_only, "finance")])
    client.force_login(tenant_a.members[Role.OPERATOR].user)
    page = client.get(reverse("dashboard"))
    assert [c.key for c in page.context["charts"]] == ["sales-trend", "queues"] and calls == []
    assert chart(page, "sales-trend")["series"][1]["data"] == [0] * 30  # a new tenant: nothing sold yet
    client.force_login(tenant_a.members[Role.FINANCE].user)
    page = client.get(reverse("dashboard"))
    assert "books" in [c.key for c in page.context["charts"]] and calls == [Role.FINANCE]
    assert "echarts.min.js" in page.content.decode()
