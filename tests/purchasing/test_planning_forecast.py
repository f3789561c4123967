"""The nightly suggestion with purchasing.forecast, against the database: stock-out days from the
ledger are imputed (not zero demand), the promotion calendar is uplift (past) and raises the coming
window, the yearly season with a year of history, MOQ / case pack, supplier choice by price and lead
time, per-warehouse planning with on order / in transit, the explanation in page and API, tenants."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from erp.tenancy.dates import day_start, tenant_today
from erp.tenancy.roles import Role
from inventory import selectors as inventory_selectors
from inventory import services as inventory
from inventory.models import Promotion, PromotionSKU
from orders.selectors import DailySales
from purchasing import forecast, services
from purchasing.models import ReorderSuggestion, SupplierItem

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


def flat(days, per_day, end=TODAY):
    return {end - timedelta(days=n): per_day for n in range(1, days + 1)}


@pytest.fixture
def sales(monkeypatch):
    data = {}

    def daily_sales(*, since, until=None, sku_ids=None):
        from erp.tenancy.context import require_tenant

        tenant = require_tenant()
        return [DailySales(day=d, sku_id=s, quantity=q, amount=Decimal("0")) for (t, s), days in data.items()
                for d, q in sorted(days.items()) if t == tenant.pk and since <= d and (until is None or d <= until)]

    monkeypatch.setattr("orders.selectors.daily_sales", daily_sales)
    return data


def at(day, hour=12):
    return day_start(day) + timedelta(hours=hour)


def ledger(warehouse, sku, steps):
    """steps: [(day, on-hand change)], written as receipts / adjustments on that day (the clock moved
    there: the ledger is append-only, its rows cannot be re-dated)."""
    for day, delta in steps:
        with time_machine.travel(at(day), tick=False):
            if delta > 0:
                inventory.stock_receive(warehouse=warehouse, sku=sku, quantity=delta)
            else:
                inventory.stock_adjust(warehouse=warehouse, sku=sku, quantity=delta, reason="count")


def recompute(**kw):
    return {(s.sku_id, s.warehouse_id): s for s in services.suggestions_recompute(today=TODAY, **kw)}


def test_stockout_days_selector_reads_the_ledger(pw):
    ledger(pw.wh, pw.sku, [(TODAY - timedelta(days=30), 20), (TODAY - timedelta(days=10), -20),
                           (TODAY - timedelta(days=5), 5)])
    days = inventory_selectors.stockout_days(sku_ids=[pw.sku.pk, pw.sku2.pk], since=TODAY - timedelta(days=40),
                                             until=TODAY - timedelta(days=1))
    assert days == {(pw.wh.pk, pw.sku.pk): {TODAY - timedelta(days=n) for n in range(6, 11)}}
    # a level already at zero before the window keeps the days out of stock until the next receipt
    assert inventory_selectors.stockout_days(sku_ids=[pw.sku.pk], since=TODAY - timedelta(days=8),
                                             until=TODAY - timedelta(days=1))[(pw.wh.pk, pw.sku.pk)] == {
        TODAY - timedelta(days=n) for n in (6, 7, 8)}


def test_out_of_stock_days_are_not_zero_demand(pw, sales, tenant_a):
    history = flat(70, 10)
    for n in range(1, 15):  # the last two weeks sold nothing: the shelf was empty
        history[TODAY - timedelta(days=n)] = 0
    sales[(tenant_a.tenant.pk, pw.sku.pk)] = history
    blind = recompute().get((pw.sku.pk, pw.wh.pk))  # without the ledger the empty shelf reads as no demand
    assert blind is None or (blind.stockout_days == 0 and blind.daily_demand < Decimal("5"))
    ledger(pw.wh, pw.sku, [(TODAY - timedelta(days=80), 100), (TODAY - timedelta(days=14), -100)])
    s = recompute()[(pw.sku.pk, pw.wh.pk)]
    assert s.stockout_days == 14 and s.history_days == 70
    assert s.daily_demand == Decimal("10.000") and s.base_daily_demand == Decimal("10.000")
    assert (s.available, s.target_stock, s.suggested_quantity) == (0, 170, 170)
    assert "14 out-of-stock days imputed" in s.explanation


def test_promotions_are_uplift_and_a_coming_promotion_raises_its_window(pw, sales, tenant_a):
    history = flat(70, 10)
    past = [TODAY - timedelta(days=n) for n in (30, 29, 28)]
    for day in past:
        history[day] = 30
    sales[(tenant_a.tenant.pk, pw.sku.pk)] = history
    promo = Promotion.objects.create(name="双11", starts_at=day_start(past[0]), ends_at=day_start(past[-1] + timedelta(days=1)))
    PromotionSKU.objects.create(promotion=promo, sku=pw.sku)
    s = recompute()[(pw.sku.pk, pw.wh.pk)]
    # the promotion days were divided by the uplift: an ordinary 10/day, nothing coming
    assert (s.promotion_days, s.promotion_uplift, s.coming_promotion_days) == (3, Decimal("3.000"), 0)
    assert (s.daily_demand, s.safety_stock, s.target_stock) == (Decimal("10.000"), 0, 170)
    coming = Promotion.objects.create(name="双12", starts_at=day_start(TODAY + timedelta(days=3)),
                                      ends_at=day_start(TODAY + timedelta(days=6)))
    PromotionSKU.objects.create(promotion=coming, sku=pw.sku)
    s = recompute()[(pw.sku.pk, pw.wh.pk)]
    assert s.coming_promotion_days == 3
    assert s.forecast_demand == Decimal("230.000") and s.target_stock == 230  # 14 × 10 + 3 × 30
    assert "promotion uplift × 3.00 on 3 coming promotion days" in s.explanation
    # a promotion of another SKU changes nothing for this one
    assert inventory_selectors.promotion_days(sku_ids=[pw.sku2.pk], since=TODAY, until=TODAY + timedelta(days=9)) == {}


def test_same_weeks_last_year_with_a_year_of_history_else_trend(pw, sales, tenant_a):
    history = flat(420, 10)
    last_year = TODAY - timedelta(days=forecast.YEAR_DAYS)
    for n in range(21):  # the horizon planned (longest lead time 14 + review 7) sold 30/day last year
        history[last_year + timedelta(days=n)] = 30
    sales[(tenant_a.tenant.pk, pw.sku.pk)] = history
    sales[(tenant_a.tenant.pk, pw.sku2.pk)] = flat(120, 6)
    made = recompute()
    s = made[(pw.sku.pk, pw.wh.pk)]
    assert s.season_basis == "yearly" and s.seasonal_factor == Decimal("3.000")
    assert s.daily_demand == Decimal("30.000") and s.target_stock == 510
    short = made[(pw.sku2.pk, pw.wh.pk)]
    assert short.season_basis == "trend" and short.seasonal_factor == Decimal("1.000")


def test_moq_then_case_pack_rounding(pw, sales, tenant_a):
    sales[(tenant_a.tenant.pk, pw.sku.pk)] = flat(56, 3)  # 17 days × 3 = 51: MOQ 50, case 10 -> 60
    sales[(tenant_a.tenant.pk, pw.sku2.pk)] = flat(56, 1)  # 14 days × 1 = 14: MOQ 1, case 24 -> 24
    made = recompute()
    a, b = made[(pw.sku.pk, pw.wh.pk)], made[(pw.sku2.pk, pw.wh.pk)]
    assert (a.net_requirement, a.min_order_quantity, a.order_multiple, a.suggested_quantity) == (51, 50, 10, 60)
    assert (b.net_requirement, b.suggested_quantity) == (14, 24)
    assert "51 raised to MOQ 50, then to whole cases of 10 = 60" in a.explanation
    SupplierItem.objects.filter(pk=pw.item.pk).update(min_order_quantity=200)
    assert recompute()[(pw.sku.pk, pw.wh.pk)].suggested_quantity == 200


def test_supplier_by_price_and_lead_time(pw, sales, tenant_a):
    sales[(tenant_a.tenant.pk, pw.sku.pk)] = flat(56, 10)
    cheap = services.supplier_item_save(item=SupplierItem(
        supplier=pw.supplier2, sku=pw.sku, unit_price=Decimal("10.00"), lead_time_days=12))
    inventory.stock_receive(warehouse=pw.wh, sku=pw.sku, quantity=150)  # 15 days of cover
    s = recompute()[(pw.sku.pk, pw.wh.pk)]
    assert (s.supplier_id, s.supplier_reason, s.unit_price, s.lead_time_days) == (pw.supplier2.pk, "cheapest", Decimal("10.00"), 12)
    assert {a["supplier"] for a in s.alternatives} == {"S1", "S2"}
    assert "cheapest of 2 suppliers" in s.explanation
    SupplierItem.objects.filter(pk=cheap.pk).update(lead_time_days=20)  # arrives after the stock is gone
    s = recompute()[(pw.sku.pk, pw.wh.pk)]
    assert (s.supplier_id, s.supplier_reason, s.lead_time_days) == (pw.supplier.pk, "cheapest", 10)
    assert (s.net_requirement, s.suggested_quantity) == (20, 50)
    inventory.stock_adjust(warehouse=pw.wh, sku=pw.sku, quantity=-140, reason="count")  # 1 day of cover
    s = recompute()[(pw.sku.pk, pw.wh.pk)]
    assert (s.supplier_id, s.supplier_reason) == (pw.supplier.pk, "fastest") and "fastest of 2" in s.explanation


def test_per_warehouse_with_on_order_and_in_transit(pw, sales, tenant_a):
    sales[(tenant_a.tenant.pk, pw.sku.pk)] = flat(56, 10)
    # three quarters of the SKU ships from GZ, a quarter from HZ (one unit left in each)
    with time_machine.travel(at(TODAY - timedelta(days=30)), tick=False):
        for wh, n in ((pw.wh, 25), (pw.wh2, 75)):
            inventory.stock_receive(warehouse=wh, sku=pw.sku, quantity=n + 1)
            inventory.stock_reserve(warehouse=wh, sku=pw.sku, quantity=n, ref_type="test", ref_id=f"o-{wh.code}")
            inventory.stock_commit(ref_type="test", ref_id=f"o-{wh.code}")
    po = services.po_create(supplier=pw.supplier, warehouse=pw.wh2, lines=[{"sku": pw.sku, "quantity": 40}],
                            actor=pw.user)
    services.po_approve(po_id=po.pk, actor=pw.user)
    services.po_send(po_id=po.pk, actor=pw.user)
    services.po_confirm(po_id=po.pk, supplier_id=pw.supplier.pk)
    services.asn_create(po_id=po.pk, supplier_id=pw.supplier.pk, expected_arrival=tenant_today() + timedelta(days=2),
                        lines=[{"line": po.lines.get().pk, "quantity": 30}])
    made = recompute()
    hz, gz = made[(pw.sku.pk, pw.wh.pk)], made[(pw.sku.pk, pw.wh2.pk)]
    assert (hz.warehouse_share, gz.warehouse_share) == (Decimal("0.250"), Decimal("0.750"))
    assert hz.forecast_demand == Decimal("42.500") and gz.forecast_demand == Decimal("127.500")
    assert (gz.on_order, gz.in_transit, hz.on_order, hz.in_transit) == (10, 30, 0, 0)
    assert (hz.available, gz.available, hz.suggested_quantity) == (1, 1, 50)
    assert (gz.net_requirement, gz.suggested_quantity) == (128 - 41, 90) and "in transit 30" in gz.explanation
    # one purchase order per supplier and destination: each suggestion's own warehouse
    pos = services.suggestions_create_pos(suggestion_ids=[hz.pk, gz.pk])
    assert sorted(p.warehouse_id for p in pos) == sorted([pw.wh.pk, pw.wh2.pk])


def test_explanation_on_the_page_and_in_the_api(client, pw, sales, tenant_a):
    history = flat(70, 10)
    for n in range(1, 8):
        history[TODAY - timedelta(days=n)] = 0
    sales[(tenant_a.tenant.pk, pw.sku.pk)] = history
    ledger(pw.wh, pw.sku, [(TODAY - timedelta(days=80), 50), (TODAY - timedelta(days=7), -50)])
    services.suggestions_recompute(today=TODAY)
    client.force_login(pw.world.members[Role.OPERATOR].user)
    body = client.get(reverse("purchasing:suggestions")).content.decode()
    for needle in ("History", "7 out-of-stock days imputed", "Safety stock", "In transit", "MOQ 50", "the only supplier",
                   pw.wh.code):
        assert needle in body
    zh = client.get(reverse("purchasing:suggestions"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "7" in zh and pw.sku.code in zh
    r = pw.world.api(Role.OPERATOR).get("/api/v1/purchasing/suggestions/")
    (row,) = r.json()["results"]
    assert row["stockout_days"] == 7 and row["warehouse_code"] == pw.wh.code and row["in_transit"] == 0
    assert [step["label"] for step in row["explanation_steps"]] == [
        "History", "Factor", "Safety stock", "Stock position", "Rounding", "Supplier"]
    assert "7 out-of-stock days imputed" in row["explanation"]
    body = client.get(reverse("purchasing:list")).content.decode()
    assert 'id="chart-suggested"' in body and pw.sku.code in body


def test_tenants_do_not_see_each_others_ledger_promotions_or_suggestions(pw, sales, tenant_a, tenant_b):
    from tests.inventory.factories import SKUFactory, WarehouseFactory

    sales[(tenant_a.tenant.pk, pw.sku.pk)] = flat(56, 10)
    with tenant_b.context():
        wh_b = WarehouseFactory(tenant=tenant_b.tenant, code="B1")
        sku_b = SKUFactory(tenant=tenant_b.tenant, code="B-SKU")
        sales[(tenant_b.tenant.pk, sku_b.pk)] = flat(56, 4)
        ledger(wh_b, sku_b, [(TODAY - timedelta(days=40), 5), (TODAY - timedelta(days=20), -5)])
        promo = Promotion.objects.create(name="B", starts_at=day_start(TODAY - timedelta(days=5)),
                                         ends_at=day_start(TODAY + timedelta(days=5)))
        PromotionSKU.objects.create(promotion=promo, sku=sku_b)
        made_b = recompute()
        assert set(made_b) == {(sku_b.pk, wh_b.pk)} and made_b[(sku_b.pk, wh_b.pk)].stockout_days == 20
    # tenant A's reads see none of it, even when asked for B's SKU ids
    ids = [pw.sku.pk, sku_b.pk]
    assert inventory_selectors.stockout_days(sku_ids=ids, since=TODAY - timedelta(days=60), until=TODAY) == {}
    assert inventory_selectors.promotion_days(sku_ids=ids, since=TODAY - timedelta(days=60), until=TODAY) == {}
    made_a = recompute()
    assert set(made_a) == {(pw.sku.pk, pw.wh.pk)} and made_a[(pw.sku.pk, pw.wh.pk)].stockout_days == 0
    listed = pw.world.api(Role.OPERATOR).get("/api/v1/purchasing/suggestions/").json()["results"]
    assert [r["sku_code"] for r in listed] == [pw.sku.code]
    assert ReorderSuggestion.objects.count() == 1  # tenant A's manager


def test_recompute_reads_in_bulk_whatever_the_number_of_skus(pw, sales, tenant_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.inventory.factories import SKUFactory

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            made = services.suggestions_recompute(today=TODAY)
        return len(ctx.captured_queries), len(made)

    sales[(tenant_a.tenant.pk, pw.sku.pk)] = flat(56, 10)
    queries()  # the settings row is made on first use
    few = queries()
    for n in range(6):
        sku = SKUFactory(tenant=pw.tenant, code=f"MANY-{n}")
        sales[(tenant_a.tenant.pk, sku.pk)] = flat(56, 2 + n)
        ledger(pw.wh, sku, [(TODAY - timedelta(days=20), 10), (TODAY - timedelta(days=3), -10)])
    many = queries()
    assert many[1] == few[1] + 6 and many[0] == few[0], (few, many)
