"""Reorder maths on constructed histories, suggestions from real orders, and purchase orders made
from a selection of suggestions."""

import math
from datetime import date, timedelta
from decimal import Decimal

import pytest

from erp.api.exceptions import Conflict
from orders.selectors import DailySales
from purchasing import planning, services
from purchasing.models import POLine, POSource, POStatus, PurchaseOrder, ReorderSuggestion, SuggestionStatus

TODAY = date(2026, 11, 20)


def flat(days, per_day, end=TODAY):
    return {end - timedelta(days=n): per_day for n in range(1, days + 1)}


def plan(history, **kw):
    args = dict(today=TODAY, history=history, available=0, on_order=0, lead_time_days=10, review_period_days=7,
                service_level_z=1.65, history_days=56)
    args.update(kw)
    return planning.plan(planning.PlanInput(**args))


@pytest.mark.parametrize("requirement, moq, multiple, expected", [
    (0, 50, 10, 0), (-5, 1, 1, 0), (1, 50, 10, 50), (51, 50, 10, 60), (40, 1, 24, 48), (45, 50, 24, 72), (7, 1, 1, 7),
])
def test_rounding_to_moq_then_case_pack(requirement, moq, multiple, expected):
    assert planning.round_order_quantity(requirement, min_order_quantity=moq, order_multiple=multiple) == expected


def test_steady_demand_without_a_year_of_history():
    p = plan(flat(56, 10), available=30)
    assert (p.base_daily_demand, p.daily_demand, p.seasonal_factor, p.season_basis) == (10, 10, 1, "trend")
    assert (p.demand_std_dev, p.safety_stock) == (0, 0)
    assert (p.reorder_point, p.target_stock, p.net_requirement, p.suggested_quantity) == (100, 170, 140, 140)
    assert p.days_of_cover == 3.0 and p.urgent


def test_on_order_stock_counts_and_rounds_up_to_moq_and_case():
    assert plan(flat(56, 10), available=30, on_order=100, min_order_quantity=50, order_multiple=10).suggested_quantity == 50
    assert plan(flat(56, 10), available=30, on_order=100, order_multiple=24).suggested_quantity == 48
    p = plan(flat(56, 10), available=100, on_order=80)
    assert (p.net_requirement, p.suggested_quantity, p.urgent) == (0, 0, False)


def test_safety_stock_from_demand_variability():
    history = {TODAY - timedelta(days=n): (5 if n % 2 else 15) for n in range(1, 57)}
    p = plan(history)
    std = 5 * math.sqrt(56 / 55)
    assert p.demand_std_dev == pytest.approx(std)
    assert p.safety_stock == math.ceil(1.65 * std * math.sqrt(10)) == 27
    assert p.target_stock == 170 + 27 and p.reorder_point == 100 + 27


def test_recent_trend_without_a_year_of_history():
    history = {**flat(56, 5), **flat(28, 15)}  # last four weeks at 15/day, the four before at 5/day
    p = plan(history)
    assert p.season_basis == "trend" and p.base_daily_demand == 10
    assert p.seasonal_factor == pytest.approx(1.5) and p.daily_demand == pytest.approx(15)
    falling = plan({**flat(56, 30), **flat(28, 1)})
    assert falling.seasonal_factor == 0.5  # clamped


def test_same_weeks_last_year_lift_the_coming_demand():
    history = flat(420, 10)
    peak_start = TODAY - timedelta(days=planning.YEAR_DAYS)
    for n in range(17):  # lead time 10 + review 7: last year's same weeks sold 30/day
        history[peak_start + timedelta(days=n)] = 30
    p = plan(history, available=50)
    assert p.season_basis == "yearly"
    assert p.base_daily_demand == 10 and p.seasonal_factor == pytest.approx(3.0) and p.daily_demand == pytest.approx(30)
    assert p.target_stock == 510 and p.suggested_quantity == 460


def test_a_year_without_season_changes_nothing_and_a_quiet_season_lowers():
    p = plan(flat(420, 10))
    assert (p.season_basis, p.seasonal_factor, p.daily_demand) == ("yearly", 1.0, 10)
    history = flat(420, 10)
    for n in range(17):
        history[TODAY - timedelta(days=planning.YEAR_DAYS) + timedelta(days=n)] = 5
    assert plan(history).seasonal_factor == pytest.approx(0.5)


def test_no_sales_means_no_suggestion():
    p = plan({}, available=0)
    assert (p.daily_demand, p.suggested_quantity, p.days_of_cover, p.season_basis) == (0, 0, None, "none")


# --- with the database ---------------------------------------------------------------------------
@pytest.fixture
def sales(monkeypatch):
    """Replace orders' daily_sales with a constructed history {sku_id: {day: units}}."""
    data = {}

    def daily_sales(*, since, until=None, sku_ids=None):
        return [DailySales(day=d, sku_id=s, quantity=q, amount=Decimal("0")) for s, days in data.items()
                for d, q in sorted(days.items()) if since <= d and (until is None or d <= until)
                and (sku_ids is None or s in sku_ids)]

    monkeypatch.setattr("orders.selectors.daily_sales", daily_sales)
    return data


@pytest.mark.django_db
def test_recompute_explains_each_suggestion_and_counts_on_order(pw, sales):
    from inventory import services as inventory

    sales[pw.sku.pk] = flat(56, 10)
    sales[pw.sku2.pk] = flat(56, 3)
    inventory.stock_receive(warehouse=pw.wh, sku=pw.sku, quantity=30)
    made = services.suggestions_recompute(today=TODAY)
    by_sku = {s.sku_id: s for s in made}
    s = by_sku[pw.sku.pk]
    assert (s.supplier_id, s.lead_time_days, s.review_period_days, s.available, s.on_order) == (pw.supplier.pk, 10, 7, 30, 0)
    assert (s.daily_demand, s.seasonal_factor, s.season_basis, s.safety_stock) == (Decimal("10.000"), Decimal("1.000"), "trend", 0)
    assert (s.target_stock, s.net_requirement, s.suggested_quantity) == (170, 140, 140)
    assert s.days_of_cover == Decimal("3.0") and s.amount == Decimal("1680.00") and s.urgent
    assert "10.00/day" in s.explanation and "MOQ 50" in s.explanation
    # sku2: 3/day over 7 + 7 days = 42, rounded to case pack 24 -> 48
    assert by_sku[pw.sku2.pk].suggested_quantity == 48
    assert pw.sku3.pk not in by_sku  # nothing sold, nothing suggested
    # stock on order (a draft counts) lowers the next suggestion
    pw.po([{"sku": pw.sku, "quantity": 100}])
    again = {s.sku_id: s for s in services.suggestions_recompute(today=TODAY)}
    assert again[pw.sku.pk].on_order == 100 and again[pw.sku.pk].suggested_quantity == 50
    assert ReorderSuggestion.objects.filter(status=SuggestionStatus.OPEN).count() == 2  # replaced, not added


@pytest.mark.django_db
def test_bundle_sales_count_for_components(pw, sales):
    from inventory import services as inventory
    from inventory.models import SKU

    bundle = SKU.objects.create(code="SET-2", name="two tees")
    inventory.sku_set_components(bundle=bundle, components=[(pw.sku, 2)])
    sales[bundle.pk] = flat(56, 5)
    (s,) = services.suggestions_recompute(today=TODAY)
    assert s.sku_id == pw.sku.pk and s.daily_demand == Decimal("10.000")


@pytest.mark.django_db
def test_create_pos_from_a_selection_one_per_supplier(pw, sales):
    sales[pw.sku.pk] = flat(56, 10)
    sales[pw.sku2.pk] = flat(56, 3)
    sales[pw.sku3.pk] = flat(56, 1)  # no supplier item: planned with the default lead time
    made = {s.sku_id: s for s in services.suggestions_recompute(today=TODAY)}
    assert made[pw.sku3.pk].supplier_id is None and made[pw.sku3.pk].lead_time_days == 14
    chosen = [made[pw.sku.pk].pk, made[pw.sku2.pk].pk]
    pos = services.suggestions_create_pos(suggestion_ids=chosen, actor=pw.user, quantities={made[pw.sku2.pk].pk: 72})
    assert [po.supplier_id for po in pos] == [pw.supplier.pk, pw.supplier2.pk]
    assert all(po.status == POStatus.DRAFT and po.source == POSource.SUGGESTION and po.warehouse_id == pw.wh.pk for po in pos)
    assert [(ln.sku_id, ln.quantity, ln.unit_price) for ln in POLine.objects.filter(purchase_order=pos[0])] == [
        (pw.sku.pk, 170, Decimal("12.00"))]
    assert POLine.objects.get(purchase_order=pos[1]).quantity == 72
    assert set(ReorderSuggestion.objects.filter(pk__in=chosen).values_list("status", "purchase_order")) == {
        (SuggestionStatus.ORDERED, pos[0].pk), (SuggestionStatus.ORDERED, pos[1].pk)}
    with pytest.raises(Conflict, match="already ordered"):
        services.suggestions_create_pos(suggestion_ids=chosen, actor=pw.user)
    assert PurchaseOrder.objects.count() == 2
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="No supplier"):
        services.suggestions_create_pos(suggestion_ids=[made[pw.sku3.pk].pk])
    with pytest.raises(ValidationError):
        services.suggestions_create_pos(suggestion_ids=[])
    with pytest.raises(ValidationError, match="Unknown"):
        services.suggestions_create_pos(suggestion_ids=[10**9])
    # the drafts are on order: recomputing suggests nothing more for those SKUs
    left = {s.sku_id for s in services.suggestions_recompute(today=TODAY)}
    assert left == {pw.sku3.pk}


@pytest.mark.django_db
def test_partial_recompute_keeps_other_suggestions_and_cancelled_orders_are_forgotten(pw, sales):
    sales[pw.sku.pk] = flat(56, 10)
    sales[pw.sku2.pk] = flat(56, 3)
    made = {s.sku_id: s for s in services.suggestions_recompute(today=TODAY)}
    (po,) = services.suggestions_create_pos(suggestion_ids=[made[pw.sku.pk].pk])
    services.po_cancel(po_id=po.pk, why="wrong supplier")
    again = services.suggestions_recompute(today=TODAY, sku_ids=[pw.sku.pk])
    assert [s.sku_id for s in again] == [pw.sku.pk]
    assert set(ReorderSuggestion.objects.values_list("sku_id", "status")) == {
        (pw.sku.pk, SuggestionStatus.OPEN), (pw.sku2.pk, SuggestionStatus.OPEN)}

