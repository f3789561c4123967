"""The sales report (orders.reports): numbers on constructed orders, day boundaries in the tenant's
time zone, the previous period, the API, the page with its SVG chart, exports and tenant isolation."""

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from openpyxl import load_workbook

from erp.tenancy.dates import tenant_today
from erp.tenancy.roles import Role
from integrations.models import Shop
from integrations.normalized import OrderState
from orders import reports, services
from orders.models import Order, OrderKind, OrderLine

from .conftest import address, line, norder

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 10)


def at(d: date, hh: int, mm: int = 0) -> datetime:
    """A Shanghai wall-clock time as an aware UTC datetime."""
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=SH).astimezone(UTC)


def ingest(shop, *orders):
    services.orders_ingest_normalized(shop=shop, normalized=list(orders))


def one(poid: str) -> Order:
    return Order.objects.get(platform_order_id=poid, kind=OrderKind.PLATFORM)


def ship(order: Order, when: datetime) -> Order:
    services.order_ship(order_id=order.pk)
    Order.objects.filter(pk=order.pk).update(shipped_at=when)  # the shipped time the test needs
    return Order.objects.get(pk=order.pk)


def report(d_from=DAY, d_to=DAY, **kw):
    return reports.sales_report(params=reports.ReportParams(date_from=d_from, date_to=d_to, **kw))


def who(i):
    return {"buyer": f"buyer{i}", "receiver": address(name=f"客户{i}", address=f"幸福路 {i} 号")}


@pytest.fixture
def sales(world, inv):
    """Orders around 2026-11-10 (Shanghai):

    P0  11-09 10:00  A×1 51.00                                  (previous day)
    P1  11-10 10:00  A×2 20.00 + B×1 5.00 refunded before shipment, freight 5.00; shipped late
    P2+P3 11-10 12:00/13:00 same buyer and address: merged into one parcel (B×1 30.00, A×1 10.00),
                     shipped on time, then a reshipment (not a sale)
    P4  11-10 15:00  A×3 30.00, split into two parts (counted once)
    P5  11-10 16:00  A×1 50.00 cancelled by an operator
    P6  11-10 23:30  B×1 7.00 (still 11-10 in Shanghai, 11-10 15:30 UTC)
    P7  11-11 00:30  A×1 9.00 (11-11 in Shanghai, 11-10 16:30 UTC)
    P8  11-10 09:00  arrived shipped: A×1 40.00 + B×1 15.00 refunded after shipment
    """
    inv.stock(1, "A", 100)
    inv.stock(1, "B", 100)
    ingest(world, norder("P0", created=at(DAY - timedelta(days=1), 10), lines=[line("A", 1, "51.00")], **who(0)))
    ingest(world, norder("P1", created=at(DAY, 10), ship_by=at(DAY, 12), freight_amount=Decimal("5.00"),
                         paid_amount=Decimal("25.00"),
                         lines=[line("A", 2, "10.00"), line("B", 1, "5.00", refund_status="refunded")], **who(1)))
    ingest(world, norder("P2", created=at(DAY, 12), ship_by=at(DAY + timedelta(days=2), 12),
                         lines=[line("B", 1, "30.00")], **who(2)))
    ingest(world, norder("P3", created=at(DAY, 13), ship_by=at(DAY + timedelta(days=2), 13),
                         lines=[line("A", 1, "10.00")], **who(2)))
    ingest(world, norder("P4", created=at(DAY, 15), buyer_message="split me", lines=[line("A", 3, "10.00")], **who(4)))
    ingest(world, norder("P5", created=at(DAY, 16), lines=[line("A", 1, "50.00")], **who(5)))
    ingest(world, norder("P6", created=at(DAY, 23, 30), lines=[line("B", 1, "7.00")], **who(6)))
    ingest(world, norder("P7", created=at(DAY + timedelta(days=1), 0, 30), lines=[line("A", 1, "9.00")], **who(7)))
    ingest(world, norder("P8", created=at(DAY, 9), state=OrderState.SHIPPED, platform_status="WAIT_BUYER_CONFIRM_GOODS",
                         lines=[line("A", 1, "40.00"), line("B", 1, "15.00", refund_status="refunded")], **who(8)))

    merged = Order.objects.get(kind=OrderKind.MERGED)
    assert set(merged.merged_sources.values_list("platform_order_id", flat=True)) == {"P2", "P3"}
    ship(one("P1"), at(DAY, 14))  # ship-by was 12:00: late
    merged = ship(merged, at(DAY, 18))  # on time
    services.order_create_reship(order_id=merged.pk, lines=[(inv.skus["A"].id, 5)], why="broken",
                                 source_ref="aftersales:1")
    reship = Order.objects.get(kind=OrderKind.RESHIP)
    ship(reship, at(DAY, 20))
    p4 = one("P4")
    services.order_split(order_id=p4.pk, lines={OrderLine.objects.get(order=p4).pk: 1})
    assert Order.objects.filter(kind=OrderKind.SPLIT).count() == 1
    services.order_cancel(order_id=one("P5").pk, why="buyer changed their mind")
    return world


def test_day_figures_count_merged_and_split_once_and_leave_out_cancellations_and_reships(sales):
    r = report()
    t = r.total
    # paid orders P1 P2 P3 P4 P6 P8; P5 cancelled; P0, P7 on other days
    assert t.orders == 6 and t.cancelled_orders == 1 and t.all_orders == 7
    assert t.units == 2 + 1 + 1 + 3 + 1 + 2
    assert t.goods == Decimal("20.00") + Decimal("30.00") + Decimal("10.00") + Decimal("30.00") + Decimal("7.00") + Decimal("55.00")
    assert t.freight == Decimal("5.00") and t.gmv == Decimal("157.00")
    assert t.aov == Decimal("26.17")
    assert t.cancelled_amount == Decimal("55.00")  # P5 50.00 + P1's line refunded before shipment
    assert t.refunded_amount == Decimal("15.00")  # P8's line refunded after shipment
    # parcels: P1 (late) and the merged shipment (on time); the reshipment is not a sale
    assert (t.parcels, t.promised, t.on_time, t.on_time_rate) == (2, 2, 1, Decimal("50.0"))
    assert t.median_hours == Decimal("5.0")  # P1 4 h, merged (paid 12:00, shipped 18:00) 6 h
    assert [(d.day, d.figures.orders) for d in r.days] == [(DAY, 6)]
    assert r.days[0].figures.gmv == t.gmv and r.days[0].figures.median_hours == Decimal("5.0")


def test_top_skus_hours_provinces_and_breakdowns(sales, inv):
    r = report()
    assert [(s.sku_code, s.units) for s in r.top_skus_by_units] == [("A", 7), ("B", 3)]
    assert [(s.sku_code, s.gmv) for s in r.top_skus_by_gmv] == [("A", Decimal("100.00")), ("B", Decimal("52.00"))]
    assert r.top_skus_by_units[0].sku_id == inv.skus["A"].id
    hours = dict(r.hours)
    assert len(r.hours) == 24 and sum(hours.values()) == 6
    assert hours[23] == 1 and hours[10] == 1 and hours[16] == 0  # P6 at 23:30; P5 cancelled
    assert [(p.province, p.orders, p.gmv, p.share) for p in r.provinces] == [("浙江省", 6, Decimal("152.00"), Decimal("100.0"))]
    assert [(g.label, g.figures.orders, g.figures.gmv) for g in r.by_shop] == [("TB shop", 6, Decimal("157.00"))]
    assert [(g.key, g.figures.parcels) for g in r.by_platform] == [("taobao", 2)]


def test_day_boundaries_are_the_tenants_days(sales):
    eleventh = report(DAY + timedelta(days=1), DAY + timedelta(days=1))
    assert eleventh.total.orders == 1 and eleventh.total.gmv == Decimal("9.00")  # P7 paid 00:30 Shanghai
    two = report(DAY, DAY + timedelta(days=1))
    assert [(d.day, d.figures.orders) for d in two.days] == [(DAY, 6), (DAY + timedelta(days=1), 1)]


def test_previous_period_and_change(sales):
    r = report()
    assert r.params.previous == (DAY - timedelta(days=1), DAY - timedelta(days=1))
    assert r.previous.orders == 1 and r.previous.gmv == Decimal("51.00")
    kpis = {k["key"]: k for k in r.kpis}
    assert kpis["gmv"]["change"] == Decimal("207.8")  # (157 - 51) / 51
    assert kpis["paid_orders"]["change"] == Decimal("500.0")
    assert kpis["on_time_ship_rate"]["change"] is None  # nothing shipped the day before
    week = report(DAY - timedelta(days=6), DAY)
    assert week.params.previous == (DAY - timedelta(days=13), DAY - timedelta(days=7))
    assert week.previous.orders == 0 and week.total.orders == 7


def test_filters_by_shop_and_platform(sales):
    other = Shop.objects.create(code="jd1", name="JD shop", platform="jd")
    ingest(other, norder("J1", platform="jd", platform_status="WAIT_SELLER_STOCK_OUT", created=at(DAY, 11),
                         lines=[line("A", 1, "99.00")], **who(11)))
    assert report().total.orders == 7
    assert report(shop_id=other.pk).total.gmv == Decimal("99.00")
    assert report(platform="taobao").total.gmv == Decimal("157.00")
    r = report()
    assert [g.key for g in r.by_platform] == ["taobao", "jd"] and len(r.by_shop) == 2


def test_constant_number_of_queries(world, inv, django_assert_max_num_queries):
    inv.stock(1, "A", 1000)
    ingest(world, *[norder(f"Q{i}", created=at(DAY, i % 24), lines=[line("A", 1, "10.00")], **who(i)) for i in range(3)])
    with django_assert_max_num_queries(11) as few:
        report(DAY - timedelta(days=29), DAY)
    ingest(world, *[norder(f"R{i}", created=at(DAY - timedelta(days=i % 30), i % 24), lines=[line("A", 2, "5.00")],
                           **who(100 + i)) for i in range(60)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        r = report(DAY - timedelta(days=29), DAY)
    assert r.total.orders == 63


def test_other_tenants_orders_never_count(sales, tenant_b, inv):
    with tenant_b.context():
        shop_b = Shop.objects.create(code="tb1", name="B shop", platform="taobao")
        ingest(shop_b, norder("B1", created=at(DAY, 10), lines=[line("A", 5, "1000.00")], **who(1)))
        assert report().total.gmv == Decimal("5000.00")
    assert report().total.gmv == Decimal("157.00")


def test_report_params():
    today = date(2026, 11, 25)
    assert reports.report_params({}, today=today).date_from == date(2026, 11, 19)
    p = reports.report_params({"range": "this_month"}, today=today)
    assert (p.date_from, p.date_to, p.preset) == (date(2026, 11, 1), today, "this_month")
    p = reports.report_params({"range": "yesterday"}, today=today)
    assert (p.date_from, p.date_to) == (date(2026, 11, 24), date(2026, 11, 24))
    p = reports.report_params({"date_from": "2026-01-01", "date_to": "2026-12-31", "shop": "3", "platform": "jd"}, today=today)
    assert (p.days, p.shop_id, p.platform, p.preset) == (365, 3, "jd", "custom")
    for bad, field in [({"date_from": "2026-13-01"}, "date_from"), ({"date_from": "2026-11-20", "date_to": "2026-11-01"}, "date_from"),
                       ({"date_from": "2025-01-01", "date_to": "2026-01-02"}, "date_to"), ({"shop": "x"}, "shop"),
                       ({"platform": "amazon"}, "platform"), ({"range": "forever"}, "range")]:
        with pytest.raises(ValidationError) as exc:
            reports.report_params(bad, today=today)
        assert field in exc.value.message_dict


# --- API ---------------------------------------------------------------------------------------------
URL = "/api/v1/orders/reports/sales/"


def test_api_answers_the_same_numbers(sales, tenant_a):
    body = tenant_a.api(Role.OPERATOR).get(URL, {"date_from": "2026-11-10", "date_to": "2026-11-10"}).json()
    assert body["totals"]["gmv"] == "157.00" and body["totals"]["paid_orders"] == 6
    assert body["previous"]["gmv"] == "51.00" and body["change_pct"]["gmv"] == "207.8"
    assert body["days"][0]["day"] == "2026-11-10" and body["days"][0]["median_hours_to_ship"] == "5.0"
    assert body["top_skus_by_units"][0]["sku_code"] == "A" and len(body["hours"]) == 24
    assert body["by_shop"][0]["name"] == "TB shop" and body["timezone"] == "Asia/Shanghai"
    assert body["totals"]["average_order_value"] == "26.17"


@pytest.mark.parametrize("query, field", [
    ({"date_from": "10/11/2026"}, "date_from"),
    ({"date_from": "2026-11-10", "date_to": "2026-11-01"}, "date_from"),
    ({"date_from": "2025-01-01", "date_to": "2026-01-02"}, "date_to"),
    ({"shop": "one"}, "shop"),
])
def test_api_400_names_the_field(tenant_a, query, field):
    response = tenant_a.api().get(URL, query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_api_is_in_the_schema_and_isolated(sales, tenant_a, tenant_b):
    schema = tenant_a.api().get("/api/schema/?format=json").json()
    assert "/api/v1/orders/reports/sales/" in schema["paths"]
    body = tenant_b.api().get(URL, {"date_from": "2026-11-10", "date_to": "2026-11-10"}).json()
    assert body["totals"]["paid_orders"] == 0 and body["by_shop"] == []


# --- page, exports, dashboard -------------------------------------------------------------------------
@pytest.fixture
def client_a(tenant_a):
    client = Client()
    client.force_login(tenant_a.members[Role.OPERATOR].user)
    return client


def test_page_renders_kpis_chart_and_tables(sales, client_a, tenant_a):
    owner = Client()
    owner.force_login(tenant_a.owner.user)
    response = owner.get("/orders/reports/", {"date_from": "2026-11-09", "date_to": "2026-11-10"})
    assert response.status_code == 200
    body = response.content.decode()
    assert '<svg class="sales-chart"' in body and "<rect" in body
    assert 'id="kpis"' in body and "157.00" in body and "TB shop" in body and "浙江省" in body
    assert 'id="top-units"' in body and 'id="hours"' in body
    assert "/finance/profit/" in body  # margins are finance's
    operator = client_a.get("/orders/reports/").content.decode()
    assert "/finance/profit/" not in operator  # an operator may not open finance


def test_page_shows_a_bad_date_as_an_error_and_falls_back(client_a, in_tenant_a):
    response = client_a.get("/orders/reports/", {"date_from": "2026-11-20", "date_to": "2026-11-01"})
    assert response.status_code == 200
    assert "The start date is after the end date." in response.content.decode()


def test_exports(sales, client_a):
    query = {"date_from": "2026-11-10", "date_to": "2026-11-10"}
    csv_response = client_a.get("/orders/reports/export/", {**query, "format": "csv"})
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    text = csv_response.content.decode("utf-8-sig")
    assert "2026-11-10" in text and "157.00" in text and "TB shop" in text
    xlsx = client_a.get("/orders/reports/export/", {**query, "format": "xlsx"})
    book = load_workbook(io.BytesIO(xlsx.content))
    days = list(book.worksheets[0].values)
    assert days[1][0] == "2026-11-10" and Decimal(str(days[1][3])) == Decimal("157.00")
    assert len(book.worksheets) >= 5


def test_page_and_export_of_another_tenant_count_nothing(sales, tenant_b):
    client = Client()
    client.force_login(tenant_b.members[Role.OWNER].user)
    body = client.get("/orders/reports/", {"date_from": "2026-11-10", "date_to": "2026-11-10"}).content.decode()
    assert "TB shop" not in body and "157.00" not in body


def test_dashboard_card_and_nav(client_a, in_tenant_a):
    body = client_a.get("/").content.decode()
    assert "/orders/reports/" in body


def test_dashboard_card_compares_today_with_yesterday_by_this_time(world, inv, client_a):
    inv.stock(1, "A", 10)
    today = tenant_today()
    ingest(world, norder("T1", created=at(today, 0), lines=[line("A", 1, "30.00")], **who(1)),
           norder("Y1", created=at(today - timedelta(days=1), 0), lines=[line("A", 1, "20.00")], **who(2)))
    assert reports.gmv_today_vs_yesterday() == (Decimal("30.00"), Decimal("50.0"))
    body = client_a.get("/").content.decode()
    assert "GMV today" in body and "¥30.00" in body and "+50.0% vs yesterday by this time" in body
