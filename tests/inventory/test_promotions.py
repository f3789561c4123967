"""Promotions: the record with its shops, SKUs and stock locks, and the analysis against a
hand-computed fixture (attribution, GMV, discounts, fees from the settlements, cost of goods, gross
profit, margin, baseline, ROI and the low-margin flag), the API and the page."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from erp.tenancy.roles import Role
from integrations.models import Shop
from integrations.normalized import OrderState
from inventory import services
from inventory.models import SKU, LockStatus, StockLock
from inventory.promotion_analysis import promotion_analyse, promotions_report
from orders import services as order_services
from orders.models import Order
from tests.finance.conftest import D, bill, books, settle, world  # noqa: F401  (fixtures reused)
from tests.orders.conftest import integ, line, norder, shop  # noqa: F401

pytestmark = pytest.mark.django_db
START = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)
END = datetime(2026, 11, 12, 0, 0, tzinfo=UTC)


def _line(code, qty, price, discount="0.00"):
    base = line(code, qty, price=price)
    return dataclasses.replace(base, discount=D(discount), paid=D(price) * qty - D(discount))


def _order(the_shop, poid, when, *lines, state=OrderState.PAID, ship=False):
    order_services.orders_ingest_normalized(shop=the_shop, normalized=[
        norder(poid, lines=list(lines), created=when, platform=the_shop.platform, state=state)])
    order = Order.objects.get(platform_order_id=poid, kind="platform")
    if ship:
        order_services.order_ship(order_id=order.pk)
    return order


@pytest.fixture
def campaign(world):  # noqa: F811
    tb = world["shop"]
    jd = Shop.objects.create(code="jd1", name="JD shop", platform="jd")
    c = SKU.objects.create(code="C", name="Item C", unit_cost=D("1.00"))
    _order(tb, "P0", START - timedelta(hours=14), _line("A", 2, "25.00"), ship=True)  # baseline
    _order(tb, "P1", START + timedelta(hours=8), _line("A", 3, "25.00", "15.00"), _line("B", 1, "30.00"), ship=True)
    _order(tb, "P2", START + timedelta(hours=33), _line("A", 2, "25.00", "10.00"), _line("C", 1, "9.00"))
    _order(jd, "J1", START + timedelta(hours=10), _line("A", 5, "25.00"))  # another shop
    _order(tb, "P4", END + timedelta(hours=1), _line("A", 1, "25.00"))  # after the window
    _order(tb, "P5", START + timedelta(hours=20), _line("A", 4, "25.00"), state=OrderState.CANCELLED)
    settle(tb, bill("P1", "commission", "-2.70"))  # spread by paid: A 1.80, B 0.90
    settle(tb, bill("P0", "commission", "-1.00"))
    promotion = services.promotion_create(name="Double 11", shops=[tb], skus=[world["A"], world["B"]],
                                          starts_at=START, ends_at=END, spend="20.00")
    return {**world, "jd": jd, "C": c, "promotion": promotion}


def _sku(result, code):
    return next(s for s in result.skus if s.code == code)


def test_promotion_figures_by_hand(campaign):
    r = promotion_analyse(promotion=campaign["promotion"], now=END + timedelta(days=3))
    assert r.window == (START, END) and r.baseline_window == (START - timedelta(days=2), START)
    a, b = _sku(r, "A"), _sku(r, "B")
    # A: P1 3 × 25 less 15, P2 2 × 25 less 10 (J1 is another shop, P4 after the window, P5 cancelled)
    assert (a.promo.units, a.promo.orders, a.promo.gmv, a.promo.discount, a.promo.paid) == (
        5, 2, D("125.00"), D("25.00"), D("100.00"))
    assert (a.promo.fees, a.promo.cogs, a.promo.gross_profit, a.promo.margin) == (
        D("1.80"), D("30.00"), D("68.20"), D("68.2"))
    assert (b.promo.units, b.promo.paid, b.promo.fees, b.promo.cogs, b.promo.gross_profit, b.promo.margin) == (
        1, D("30.00"), D("0.90"), D("10.00"), D("19.10"), D("63.7"))
    assert (a.baseline.units, a.baseline.paid, a.baseline.fees, a.baseline.cogs, a.baseline.gross_profit) == (
        2, D("50.00"), D("1.00"), D("12.00"), D("37.00"))
    assert b.baseline.units == 0 and a.uplift == D("2.50")
    t = r.promo
    assert (t.units, t.orders, t.gmv, t.discount, t.paid, t.fees, t.cogs, t.gross_profit, t.margin) == (
        6, 2, D("155.00"), D("25.00"), D("130.00"), D("2.70"), D("40.00"), D("87.30"), D("67.2"))
    assert r.baseline.gross_profit == D("37.00") and r.baseline.orders == 1
    assert r.investment == D("45.00")  # discounts 25 + spend 20
    assert r.incremental_profit == D("50.30") and r.roi == D("1.12")  # 50.30 / 45
    assert r.flagged_skus == []  # default threshold 10 %


def test_report_names_promotions_selling_well_at_a_low_margin(campaign):
    later = END + timedelta(days=3)
    [r] = promotions_report(margin_below=D("70"), min_units=2, now=later)
    assert [s.code for s in r.flagged_skus] == ["A"]  # B sold 1 unit (< 2), A 5 ≥ 1.5 × 2 at 68.2 %
    [r] = promotions_report(margin_below=D("68"), min_units=2, now=later)
    assert r.flagged_skus == []  # 68.2 % is not below 68 %
    [r] = promotions_report(margin_below=D("70"), uplift=D("3"), now=later)
    assert [s.code for s in r.flagged_skus] == ["B"]  # A's 5 < 3 × 2; B 1 ≥ max(1, 3 × 0)


def test_a_running_promotion_is_compared_with_as_long_before(campaign):
    r = promotion_analyse(promotion=campaign["promotion"], now=START + timedelta(hours=12))
    assert r.window[1] - r.window[0] == timedelta(hours=12) == r.baseline_window[1] - r.baseline_window[0]
    assert _sku(r, "A").promo.units == 3  # P1 only; P2 is paid later
    assert r.baseline.units == r.baseline.orders == 0  # P0 was paid 14 h before the start: outside 12 h


def test_promotion_owns_its_stock_locks(world):  # noqa: F811
    soon = timezone.now() + timedelta(days=1)
    p = services.promotion_create(name="Next week", shops=[world["shop"]], skus=[world["A"]], starts_at=soon,
                                  ends_at=soon + timedelta(days=2))
    lock = services.promotion_lock_stock(promotion=p, shop=world["shop"], sku=world["A"], quantity=5)
    assert lock.promotion_id == p.pk and lock.starts_at == p.starts_at and lock.status == LockStatus.SCHEDULED
    with pytest.raises(Exception, match="not in this promotion"):
        services.promotion_lock_stock(promotion=p, shop=world["shop"], sku=world["B"], quantity=1)
    assert services.promotion_end_locks(promotion=p) == 1
    assert StockLock.objects.get(pk=lock.pk).status == LockStatus.CANCELLED
    from erp.api.exceptions import Conflict

    with pytest.raises(Conflict):
        services.promotion_delete(promotion=p)


def test_api_and_page(campaign, client, tenant_a):
    api = tenant_a.api(Role.OPERATOR)
    pid = campaign["promotion"].pk
    data = api.get(f"/api/v1/inventory/promotions/{pid}/analysis/", {"margin_below": "70", "min_units": 2}).json()
    assert data["promotion"]["gross_profit"] == "87.30" and data["roi"] == "1.12" and data["flagged_skus"] == ["A"]
    report = api.get("/api/v1/inventory/promotions/report/", {"margin_below": "70", "min_units": 2}).json()
    assert report["flagged"] == ["Double 11"]
    bad = api.get("/api/v1/inventory/promotions/report/", {"margin_below": "lots"})
    assert bad.status_code == 400 and "margin_below" in bad.json()["errors"]
    made = api.post("/api/v1/inventory/promotions/", {
        "name": "New", "shops": [campaign["shop"].pk], "skus": [campaign["A"].pk],
        "starts_at": (timezone.now() + timedelta(days=1)).isoformat(),
        "ends_at": (timezone.now() + timedelta(days=2)).isoformat()}, format="json")
    assert made.status_code == 201, made.content
    locked = api.post(f"/api/v1/inventory/promotions/{made.json()['id']}/lock/",
                      {"shop": campaign["shop"].pk, "sku": campaign["A"].pk, "quantity": 3}, format="json")
    assert locked.status_code == 201 and api.get(f"/api/v1/inventory/promotions/{made.json()['id']}/").json()["locks"] == [locked.json()["id"]]
    assert api.delete(f"/api/v1/inventory/promotions/{made.json()['id']}/").status_code == 409
    empty = api.post("/api/v1/inventory/promotions/", {"name": "x", "shops": [], "skus": [campaign["A"].pk],
                                                       "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2025-01-01T00:00:00Z"},
                     format="json")
    assert empty.status_code == 400 and "shops" in empty.json()["errors"]

    client.force_login(tenant_a.members[Role.OPERATOR].user)
    body = client.get(reverse("inventory:promotions"), {"margin_below": "70"}).content.decode()
    assert "Double 11" in body and "87.30" in body and "promo-chart" in body and "echarts.min.js" in body
    assert "Low margin" in body
    zh = client.get(reverse("inventory:promotions"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'lang="zh-hans"' in zh
    bad_form = client.post(reverse("inventory:promotions"), {"name": "y", "starts_on": "junk"})
    assert bad_form.status_code == 200 and "YYYY-MM-DD" in bad_form.content.decode()
    ok = client.post(reverse("inventory:promotions"), {"name": "Page promo", "starts_on": "2026-12-20",
                                                       "ends_on": "2026-12-21", "shops": [campaign["shop"].pk],
                                                       "skus": [campaign["B"].pk], "spend": "5"})
    assert ok.status_code == 302
