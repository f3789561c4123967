"""Demand forecast on small constructed arrays (no database): cleaning, season, safety, rounding."""

import math

import numpy as np
import pytest

from purchasing import forecast


def weekly(weeks, pattern=(10, 10, 10, 10, 10, 20, 30)):
    return np.tile(np.asarray(pattern, dtype=float), weeks)


def test_out_of_stock_days_are_imputed_not_zero_demand():
    sales = np.full(28, 10.0)
    sales[10:13] = 0
    oos = np.zeros(28, bool)
    oos[10:13] = True
    cleaned = forecast.clean_history(sales, out_of_stock=oos)
    assert cleaned.imputed_days == 3 and np.allclose(cleaned.demand, 10)
    # the same history read without the mask drags the mean down
    assert forecast.clean_history(sales).demand.mean() < 10


def test_promotion_uplift_is_measured_and_removed():
    sales = np.full(42, 10.0)
    promo = np.zeros(42, bool)
    promo[20:23] = True
    sales[promo] = 30
    assert forecast.promotion_uplift(sales, promotion=promo) == pytest.approx(3.0)
    cleaned = forecast.clean_history(sales, promotion=promo)
    assert cleaned.uplift == pytest.approx(3.0) and np.allclose(cleaned.demand, 10)
    f = forecast.forecast_demand(sales, horizon=7, promotion=promo, future_promotion=[0, 0, 1, 0, 0, 0, 0])
    assert f.daily[2] == pytest.approx(3 * f.daily[1], rel=0.05)


def test_holt_winters_keeps_the_weekly_pattern():
    f = forecast.forecast_demand(weekly(12), horizon=7)
    assert f.basis == "trend"
    assert np.allclose(f.daily, [10, 10, 10, 10, 10, 20, 30], atol=1.0)
    assert f.sigma < 1.0


def test_short_history_uses_the_mean():
    f = forecast.forecast_demand([4, 6, 4, 6], horizon=3)
    assert f.basis == "mean" and np.allclose(f.daily, 5)
    assert f.sigma == pytest.approx(np.std([4, 6, 4, 6], ddof=1))


def test_no_sales_forecast_nothing():
    f = forecast.forecast_demand(np.zeros(60), horizon=5)
    assert f.basis == "none" and not f.daily.any()
    plan = forecast.order_quantity(f, lead_time_days=5, review_period_days=7, service_level_z=1.65, available=0)
    assert plan.suggested_quantity == 0


def test_yearly_season_lifts_the_coming_weeks():
    history = np.full(forecast.YEAR_DAYS + 60, 10.0)
    start = history.size - forecast.YEAR_DAYS
    history[start:start + 14] = 30  # the same two weeks last year sold three times as much
    assert forecast.yearly_factor(history, horizon=14) == pytest.approx(3.0)
    f = forecast.forecast_demand(history, horizon=14)
    assert f.basis == "yearly" and f.season_factor == pytest.approx(3.0)
    assert np.allclose(f.daily, 30, atol=1.5)
    assert forecast.yearly_factor(np.full(300, 10.0), horizon=14) is None


def test_order_quantity_counts_pipeline_safety_moq_and_case_pack():
    f = forecast.Forecast(daily=np.full(7, 10.0), sigma=4.0, basis="trend", season_factor=1.0, uplift=1.0,
                          imputed_days=0)
    plan = forecast.order_quantity(f, lead_time_days=5, review_period_days=7, service_level_z=1.65,
                                   available=30, on_order=20, in_transit=10, min_order_quantity=50, order_multiple=24)
    safety = math.ceil(1.65 * 4 * math.sqrt(12))
    assert plan.demand_over_protection == pytest.approx(120)  # 7 days forecast, extended to 12
    assert plan.safety_stock == safety == 23
    assert (plan.target_stock, plan.position, plan.net_requirement) == (143, 60, 83)
    assert plan.suggested_quantity == 96  # above MOQ 50, rounded up to 4 cases of 24
    enough = forecast.order_quantity(f, lead_time_days=5, review_period_days=7, service_level_z=1.65, available=200)
    assert (enough.net_requirement, enough.suggested_quantity) == (0, 0)


def test_masks_must_match_the_history():
    with pytest.raises(ValueError):
        forecast.clean_history([1, 2, 3], out_of_stock=[True])


def test_coming_promotion_flags_may_be_shorter_than_the_horizon():
    sales = np.full(42, 10.0)
    promo = np.zeros(42, bool)
    promo[20:23] = True
    sales[promo] = 20
    f = forecast.forecast_demand(sales, horizon=5, promotion=promo, future_promotion=[True])
    assert f.daily.size == 5 and f.daily[0] == pytest.approx(2 * f.daily[1], rel=0.05)


def test_protection_error_grows_with_level_smoothing():
    f = forecast.Forecast(daily=np.full(12, 10.0), sigma=2.0, basis="trend", season_factor=1.0, uplift=1.0,
                          imputed_days=0)
    assert forecast.protection_sigma(f, 12) == pytest.approx(2 * math.sqrt(12))
    smoothed = forecast.Forecast(**{**f.__dict__, "alpha": 0.5})
    assert forecast.protection_sigma(smoothed, 3) == pytest.approx(2 * math.sqrt(1 + 1.5 ** 2 + 2 ** 2))
    assert forecast.protection_sigma(f, 0) == 0


def test_protection_sigma_is_measured_from_rolling_origins():
    rng = np.random.default_rng(7)
    sales = rng.poisson(10, 200).astype(float)  # independent days: the 12-day sum errs by about √(12 × 10)
    f = forecast.forecast_demand(sales, horizon=12)
    assert len(f.sum_rmse) == 12 and f.sum_rmse[0] < f.sum_rmse[-1]
    assert 0.6 * math.sqrt(120) < forecast.protection_sigma(f, 12) < 1.6 * math.sqrt(120)
    assert forecast.protection_sigma(f, 24) == pytest.approx(f.sum_rmse[-1] * math.sqrt(2))
    # a coming promotion lifts the window's demand and its error alike
    promo = np.zeros(200, bool)
    promo[100:103] = True
    sales[promo] *= 3
    lifted = forecast.forecast_demand(sales, horizon=12, promotion=promo, future_promotion=[1, 1, 1])
    plain = forecast.forecast_demand(sales, horizon=12, promotion=promo)
    assert forecast.protection_sigma(lifted, 12) > forecast.protection_sigma(plain, 12)
