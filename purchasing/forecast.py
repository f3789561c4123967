"""Demand forecast for purchase planning (需求预测), pure functions over daily arrays: no database.

One SKU in one warehouse, ``sales[i]`` the units sold on day i (oldest first, the last element is
yesterday), with two masks of the same length:

* ``out_of_stock[i]``: the SKU could not be sold that day (no available stock). Such a day is not
  zero demand: it is *missing* and gets imputed (the mean of the same weekday in the surrounding
  four weeks that were in stock, else the mean of all in-stock days).
* ``promotion[i]``: a promotion ran that day (an inventory promotion stock lock was active). The
  promotion ``uplift`` is the mean of promotion days over the mean of the ordinary in-stock days of
  the same weeks (clamped to [1, 5]); promotion days are divided by it, so the cleaned history is
  the ordinary demand. Coming promotion days are multiplied by it again.

Forecast of the cleaned history (``forecast_demand``):

* at least ``MIN_HW_DAYS`` of history: Holt-Winters exponential smoothing (statsmodels), additive
  damped trend and an additive weekly season (period 7), fitted on the last ``FIT_DAYS`` days; the
  one-step in-sample errors give the forecast error ``sigma``. Shorter histories: the mean of the
  last four weeks and their standard deviation ("mean").
* yearly season, when the history covers a year plus the horizon: the forecast is multiplied by
  the same weeks last year (364 days back, weekdays line up) over the weeks before them last year
  (the recent level already carries the recent season), clamped to [0.25, 4]; basis "yearly",
  otherwise "trend" (Holt-Winters) / "mean".

Order quantity (``order_quantity``): safety stock = z × the error of the summed forecast over the
protection period (lead time + review period; ``protection_sigma``: sigma × √days for independent
days, more when the fitted level smoothing carries one day's error into the next), target = forecast demand over lead time + review +
safety stock; requirement = target − (available + on order + in transit), raised to the MOQ and
rounded up to whole case packs (purchasing.planning.round_order_quantity).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

YEAR_DAYS = 364
MIN_HW_DAYS = 28
FIT_DAYS = 168  # 24 weeks: enough for the weekly season and the trend, cheap to fit
RECENT_DAYS = 28
SEASON_CLAMP = (0.25, 4.0)
UPLIFT_CLAMP = (1.0, 5.0)


@dataclass(frozen=True)
class CleanHistory:
    demand: np.ndarray  # ordinary daily demand: stock-outs imputed, promotions divided by the uplift
    uplift: float  # promotion multiplier (1.0: no promotion in the history)
    imputed_days: int  # out-of-stock days replaced by an estimate
    promotion_days: int


@dataclass(frozen=True)
class Forecast:
    daily: np.ndarray  # forecast demand per coming day (promotions applied)
    sigma: float  # standard deviation of the one-day forecast error
    basis: str  # "yearly" | "trend" | "mean" | "none"
    season_factor: float  # yearly factor applied (1.0 without)
    uplift: float
    imputed_days: int
    alpha: float = 0.0  # level smoothing of the fit: errors of coming days are correlated through it
    # measured error of the summed forecast of the first k coming days (index k - 1), from rolling
    # origins over the fitted history (the whole method: fitted states, yearly factor); empty: none
    sum_rmse: tuple[float, ...] = ()
    ordinary_daily: np.ndarray | None = None  # the forecast before coming promotions were applied


@dataclass(frozen=True)
class OrderPlan:
    demand_over_protection: float  # forecast units over lead time + review period
    safety_stock: int
    target_stock: int
    position: int  # available + on order + in transit
    net_requirement: int
    suggested_quantity: int


def _as_array(values, dtype=float) -> np.ndarray:
    return np.asarray(values, dtype=dtype).reshape(-1)


def _mask(values, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    mask = _as_array(values, bool)
    if mask.size != n:
        raise ValueError("a mask must have one flag per history day")
    return mask


def promotion_uplift(sales, *, promotion, out_of_stock=None) -> float:
    """Mean of the in-stock promotion days over the mean of the ordinary in-stock days of the weeks
    that had a promotion (14 days either side); 1.0 when it cannot be told."""
    sales = _as_array(sales)
    n = sales.size
    promo = _mask(promotion, n)
    oos = _mask(out_of_stock, n)
    ratios_num, ratios_den = [], []
    for i in np.flatnonzero(promo & ~oos):
        lo, hi = max(0, i - 14), min(n, i + 15)
        ordinary = sales[lo:hi][~promo[lo:hi] & ~oos[lo:hi]]
        if ordinary.size:
            ratios_num.append(sales[i])
            ratios_den.append(ordinary.mean())
    if not ratios_num or sum(ratios_den) <= 0:
        return 1.0
    return float(min(max(sum(ratios_num) / sum(ratios_den), UPLIFT_CLAMP[0]), UPLIFT_CLAMP[1]))


def clean_history(sales, *, out_of_stock=None, promotion=None) -> CleanHistory:
    sales = _as_array(sales)
    n = sales.size
    oos = _mask(out_of_stock, n)
    promo = _mask(promotion, n)
    uplift = promotion_uplift(sales, promotion=promo, out_of_stock=oos) if promo.any() else 1.0
    demand = sales.copy()
    demand[promo] = demand[promo] / uplift
    known = ~oos
    fallback = float(demand[known].mean()) if known.any() else 0.0
    for i in np.flatnonzero(oos):
        same_weekday = [j for j in range(i - 28, i + 29, 7) if 0 <= j < n and j != i and known[j]]
        demand[i] = float(np.mean(demand[same_weekday])) if same_weekday else fallback
    return CleanHistory(demand=demand, uplift=uplift, imputed_days=int(oos.sum()), promotion_days=int(promo.sum()))


def _holt_winters(history: np.ndarray, horizon: int):
    """(forecast, one-day sigma, alpha, fitted model or None) of the last ``FIT_DAYS`` days."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    fit_on = history[-FIT_DAYS:]
    if np.allclose(fit_on, fit_on[0]):  # a constant: nothing to fit
        return np.full(horizon, float(fit_on[0])), 0.0, 0.0, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short or flat series
        model = ExponentialSmoothing(fit_on, trend="add", damped_trend=True, seasonal="add", seasonal_periods=7,
                                     initialization_method="estimated").fit()
    predicted = np.asarray(model.forecast(horizon), dtype=float)
    residuals = fit_on - np.asarray(model.fittedvalues, dtype=float)
    sigma = float(np.std(residuals[7:], ddof=1)) if residuals.size > 8 else float(np.std(fit_on, ddof=1))
    alpha = float(model.params.get("smoothing_level") or 0.0)
    return np.clip(predicted, 0.0, None), sigma, min(max(alpha, 0.0), 1.0), model


def _origin_paths(model, horizon: int) -> np.ndarray:
    """The fitted model's forecasts of the ``horizon`` days after each fitted day t (rows: origins
    t = 0 .. n − 1 − horizon), from the smoothed states at t: level + damped trend + the season of the
    target weekday (statsmodels' additive damped Holt-Winters recursion)."""
    level, trend, season = (np.asarray(x, dtype=float) for x in (model.level, model.trend, model.season))
    phi = float(model.params.get("damping_trend") or 1.0)
    n, m = level.size, 7
    origins = np.arange(0, n - horizon)
    h = np.arange(1, horizon + 1)
    damp = np.cumsum(phi ** h)
    season_at = origins[:, None] + h[None, :] - m * ((h[None, :] - 1) // m + 1)
    paths = level[origins, None] + damp[None, :] * trend[origins, None] + season[season_at]
    return np.clip(paths, 0.0, None)


def _measured_sum_rmse(history: np.ndarray, imputed: np.ndarray, model, horizon: int, *, yearly: bool) -> tuple:
    """Root mean square error of the summed forecast of the first k days, k = 1 .. horizon, over the
    rolling origins of the fit (after a four-week burn-in; windows with an imputed day are left out:
    their 'actual' is an estimate). With ``yearly``, each origin's forecast is scaled by the yearly
    factor as it stood at that origin, as the live forecast is. Fewer than 14 origins: ()."""
    if model is None:
        return ()
    fitted = history[-FIT_DAYS:].size
    offset = history.size - fitted  # index of the first fitted day in the whole history
    paths = _origin_paths(model, horizon)
    rows, actual_sums = [], []
    for t in range(RECENT_DAYS, paths.shape[0]):
        absolute = offset + t  # the origin's day in the whole history (its last observed day)
        window = slice(absolute + 1, absolute + 1 + horizon)
        if imputed[window].any():
            continue
        path = paths[t]
        if yearly:
            factor = yearly_factor(history[:absolute + 1], horizon=horizon)
            if factor is None:
                continue
            path = path * factor
        rows.append(np.cumsum(path))
        actual_sums.append(np.cumsum(history[window]))
    if len(rows) < 14:
        return ()
    errors = np.asarray(actual_sums) - np.asarray(rows)
    return tuple(float(v) for v in np.sqrt(np.mean(errors ** 2, axis=0)))


def yearly_factor(history, *, horizon: int, window: int = RECENT_DAYS) -> float | None:
    """Same weeks last year over the weeks before them last year; None without a year plus the horizon."""
    history = _as_array(history)
    n = history.size
    if n < YEAR_DAYS + window:
        return None
    start = n - YEAR_DAYS  # index of "today" one year ago
    coming = history[start:start + horizon]
    recent = history[start - window:start]
    if coming.size < horizon or recent.mean() <= 0:
        return None
    return float(min(max(coming.mean() / recent.mean(), SEASON_CLAMP[0]), SEASON_CLAMP[1]))


def forecast_demand(sales, *, horizon: int, out_of_stock=None, promotion=None, future_promotion=None) -> Forecast:
    """Daily forecast of the next ``horizon`` days from the history before them."""
    horizon = max(int(horizon), 1)
    sales = _as_array(sales)
    cleaned = clean_history(sales, out_of_stock=out_of_stock, promotion=promotion)
    history = cleaned.demand
    if history.size == 0 or not history.any():
        return Forecast(daily=np.zeros(horizon), sigma=0.0, basis="none", season_factor=1.0,
                        uplift=cleaned.uplift, imputed_days=cleaned.imputed_days)
    model = None
    if history.size >= MIN_HW_DAYS:
        daily, sigma, alpha, model = _holt_winters(history, horizon)
        basis = "trend"
    else:
        recent = history[-RECENT_DAYS:]
        daily = np.full(horizon, float(recent.mean()))
        sigma = float(np.std(recent, ddof=1)) if recent.size > 1 else 0.0
        alpha = 0.0
        basis = "mean"
    factor = yearly_factor(history, horizon=horizon)
    if factor is not None:
        daily = daily * factor
        sigma = sigma * factor
        basis = "yearly"
    coming_promo = np.zeros(horizon, bool)
    if future_promotion is not None:  # flags for the coming days (a shorter list: the rest without promotion)
        flags = _as_array(future_promotion, bool)[:horizon]
        coming_promo[:flags.size] = flags
    ordinary = daily
    daily = np.where(coming_promo, daily * cleaned.uplift, daily)
    imputed = _mask(out_of_stock, sales.size)
    sum_rmse = _measured_sum_rmse(history, imputed, model, horizon, yearly=factor is not None)
    if not sum_rmse and factor is not None:  # too few origins with a year behind them: the trend's error, scaled
        sum_rmse = tuple(v * factor for v in _measured_sum_rmse(history, imputed, model, horizon, yearly=False))
    return Forecast(daily=daily, sigma=sigma, basis=basis, season_factor=factor or 1.0,
                    uplift=cleaned.uplift, imputed_days=cleaned.imputed_days, alpha=alpha, sum_rmse=sum_rmse,
                    ordinary_daily=ordinary)


def protection_sigma(forecast: Forecast, days: int) -> float:
    """Standard deviation of the summed forecast error over ``days`` coming days.

    Measured (``sum_rmse``, from rolling origins over the fitted history) where the fit gave one:
    the error of the first ``days`` days' sum, beyond the measured horizon grown by √(days / horizon);
    scaled by forecast / ordinary forecast when coming promotions lift the window (the error grows
    with the demand). Otherwise modelled: with level smoothing alpha a one-day error moves the
    level, so day k's error carries (1 + alpha·(days − k)) of it: sigma × √Σ_{k=0}^{days−1}(1 + alpha·k)²
    (alpha 0: independent days, sigma × √days)."""
    if days <= 0:
        return 0.0
    if forecast.sum_rmse:
        measured = forecast.sum_rmse
        k = min(days, len(measured))
        value = measured[k - 1] * math.sqrt(days / k)
        if forecast.ordinary_daily is not None:
            lifted, ordinary = float(forecast.daily[:days].sum()), float(forecast.ordinary_daily[:days].sum())
            if ordinary > 0:
                value *= max(lifted / ordinary, 1.0)
        return value
    alpha = forecast.alpha
    return forecast.sigma * math.sqrt(sum((1 + alpha * k) ** 2 for k in range(days)))


def order_quantity(forecast: Forecast, *, lead_time_days: int, review_period_days: int, service_level_z: float,
                   available: int, on_order: int = 0, in_transit: int = 0, min_order_quantity: int = 1,
                   order_multiple: int = 1) -> OrderPlan:
    from .planning import round_order_quantity

    protection = max(int(lead_time_days), 0) + max(int(review_period_days), 0)
    daily = forecast.daily
    if daily.size < protection:  # extend with the last forecast day
        daily = np.concatenate([daily, np.full(protection - daily.size, daily[-1] if daily.size else 0.0)])
    demand = float(daily[:protection].sum())
    safety = math.ceil(round(float(service_level_z) * protection_sigma(forecast, protection), 6)) if protection else 0
    target = math.ceil(round(demand, 6)) + safety
    position = int(available) + int(on_order) + int(in_transit)
    requirement = max(target - position, 0) if demand > 0 else 0
    quantity = round_order_quantity(requirement, min_order_quantity=min_order_quantity, order_multiple=order_multiple)
    return OrderPlan(demand_over_protection=demand, safety_stock=safety, target_stock=target, position=position,
                     net_requirement=requirement, suggested_quantity=quantity)
