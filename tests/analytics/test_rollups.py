"""The sales rollups: maintained from the order events (dirty days), refreshed incrementally, and
answering exactly what the orders sales report answers, live days included."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import selectors, services
from analytics.models import DirtyDay, SalesHour, SalesSkuDay
from orders import reports
from tests.orders.conftest import line, norder
from tests.orders.test_reports import DAY, at, ingest, who

pytestmark = pytest.mark.django_db(transaction=False)


def orders_report(d_from, d_to, **kw):
    return reports.sales_report(params=reports.ReportParams(date_from=d_from, date_to=d_to, **kw)).as_dict()


def summary(d_from, d_to, **kw):
    return selectors.sales_summary(params=selectors.Params(date_from=d_from, date_to=d_to, **kw))


def _figures(f: dict) -> dict:
    return {k: v for k, v in f.items() if k != "median_hours_to_ship"}


def assert_same(ours: dict, theirs: dict):
    assert _figures(ours["totals"]) == _figures(theirs["totals"])
    assert _figures(ours["previous"]) == _figures(theirs["previous"])
    assert [_figures(d) for d in ours["days"]] == [_figures(d) for d in theirs["days"]]
    assert [_figures(g) for g in ours["by_shop"]] == [_figures(g) for g in theirs["by_shop"]]
    assert [_figures(g) for g in ours["by_platform"]] == [_figures(g) for g in theirs["by_platform"]]
    for key in ("top_skus_by_units", "top_skus_by_gmv", "hours"):
        assert ours[key] == theirs[key], key
    assert [{k: p[k] for k in ("province", "orders", "units", "gmv", "share")} for p in ours["provinces"]] == \
        theirs["provinces"]
    for k, v in theirs["change_pct"].items():
        if k != "median_hours_to_ship":
            assert ours["change_pct"][k] == v, k


def refresh_all():
    services.rollups_refresh_days(first=DAY - timedelta(days=40), last=DAY + timedelta(days=2))
    DirtyDay.objects.all().delete()


def test_the_events_mark_the_days_they_touch(sales):
    marked = set(DirtyDay.objects.values_list("day", flat=True))
    # ingest, ship, split and cancel published on commit: in a test transaction on_commit runs
    # only with captureOnCommitCallbacks, so mark explicitly as the handlers would
    assert marked <= {DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)} | {selectors.tenant_today()}


def test_handlers_mark_paid_and_shipped_days_after_commit(sales, django_capture_on_commit_callbacks):
    DirtyDay.objects.all().delete()
    p1 = reports.Order.objects.get(platform_order_id="P1", kind="platform")
    with django_capture_on_commit_callbacks(execute=True):
        services.on_order_changed(order_id=p1.pk)
    assert set(DirtyDay.objects.values_list("day", flat=True)) == {DAY, selectors.tenant_today()}
    with django_capture_on_commit_callbacks(execute=True):
        services.on_platform_orders_changed(shop_id=p1.shop_id, platform_order_ids=["P7", "P0"])
    assert {DAY - timedelta(days=1), DAY + timedelta(days=1)} <= set(DirtyDay.objects.values_list("day", flat=True))


@pytest.mark.parametrize("state", ["refreshed", "all live", "half live"])
def test_summary_equals_the_orders_report(sales, state):
    refresh_all()
    if state == "all live":
        SalesHour.objects.all().delete()
        SalesSkuDay.objects.all().delete()
        services.days_mark_dirty(days=[DAY + timedelta(days=i) for i in range(-40, 3)])
    elif state == "half live":
        services.days_mark_dirty(days=[DAY])
    for first, last in [(DAY, DAY), (DAY - timedelta(days=6), DAY + timedelta(days=1)), (DAY + timedelta(days=1),) * 2]:
        assert_same(summary(first, last), orders_report(first, last))
    assert summary(DAY, DAY)["totals"]["gmv"] == Decimal("157.00")


def test_filters_and_a_second_shop(sales):
    from integrations.models import Shop

    other = Shop.objects.create(code="jd1", name="JD shop", platform="jd")
    ingest(other, norder("J1", platform="jd", platform_status="WAIT_SELLER_STOCK_OUT", created=at(DAY, 11),
                         lines=[line("A", 1, "99.00")], **who(11)))
    refresh_all()
    assert_same(summary(DAY, DAY), orders_report(DAY, DAY))
    assert_same(summary(DAY, DAY, shop_id=other.pk), orders_report(DAY, DAY, shop_id=other.pk))
    assert_same(summary(DAY, DAY, platform="taobao"), orders_report(DAY, DAY, platform="taobao"))


def test_a_change_after_the_refresh_shows_at_once_and_is_folded_in(sales, django_capture_on_commit_callbacks):
    refresh_all()
    with django_capture_on_commit_callbacks(execute=True):
        ingest(sales, norder("N1", created=at(DAY, 8), lines=[line("B", 2, "12.50")], **who(21)))
        services.on_platform_orders_changed(shop_id=sales.pk, platform_order_ids=["N1"])
    assert DAY in selectors.dirty_days(DAY, DAY)
    live = summary(DAY, DAY)
    assert live["live_days"] == [DAY] and live["totals"]["gmv"] == Decimal("182.00")
    assert services.rollups_refresh_dirty() >= 1
    assert selectors.dirty_days(DAY, DAY) == []
    assert_same(summary(DAY, DAY), orders_report(DAY, DAY))


def test_a_day_marked_again_during_its_refresh_stays_dirty(sales, monkeypatch):
    refresh_all()
    services.days_mark_dirty(days=[DAY])
    real = services.rollups.rollups_refresh_days

    def refresh_and_mark(**kw):
        out = real(**kw)
        services.days_mark_dirty(days=[DAY])  # an order of that day changed meanwhile
        return out

    monkeypatch.setattr(services.rollups, "rollups_refresh_days", refresh_and_mark)
    services.rollups_refresh_dirty()
    assert selectors.dirty_days(DAY, DAY) == [DAY]


def test_repair_marks_the_days_of_orders_changed_since_its_watermark(sales):
    DirtyDay.objects.all().delete()
    services.rollups_repair()  # first run: every order's days
    assert {DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)} <= set(DirtyDay.objects.values_list("day", flat=True))
    services.rollups_refresh_dirty()
    assert not DirtyDay.objects.filter(day=DAY).exists()


def test_summary_reads_a_constant_number_of_queries(sales):
    refresh_all()
    with CaptureQueriesContext(connection) as week:
        summary(DAY - timedelta(days=6), DAY)
    with CaptureQueriesContext(connection) as year:
        summary(DAY - timedelta(days=365), DAY)
    assert len(year.captured_queries) == len(week.captured_queries) <= 8


def test_other_tenants_rollups_never_count(sales, tenant_b):
    refresh_all()
    with tenant_b.context():
        assert summary(DAY, DAY)["totals"]["paid_orders"] == 0
        services.rollups_refresh_days(first=DAY, last=DAY)
        assert SalesHour.objects.count() == 0


def test_summary_params_name_the_bad_field(in_tenant_a):
    from django.core.exceptions import ValidationError

    for query, field in [({"date_from": "x"}, "date_from"), ({"date_from": "2026-01-02", "date_to": "2026-01-01"}, "date_from"),
                         ({"date_from": "2024-01-01", "date_to": "2026-01-01"}, "date_to"), ({"shop": "a"}, "shop"),
                         ({"platform": "ebay"}, "platform")]:
        with pytest.raises(ValidationError) as e:
            selectors.summary_params(query)
        assert field in e.value.message_dict
