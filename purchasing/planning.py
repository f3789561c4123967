"""Reorder maths (采购建议), pure functions on a daily sales history: no database here, so every rule
can be tested on constructed histories.

For one SKU, with ``today`` the planning day and the history the units sold per day before it:

* recent daily sales ``base`` = mean of the last ``history_days`` days (days without sales count 0),
  ``std`` = their standard deviation.
* season, when a year of history exists (the first sale is at least 364 days old): with
  ``ly_avg`` the average daily sales of the last 364 days, the ``coming index`` is the mean of the
  same weeks last year as the coming lead time + review period (364 days back, so weekdays line up)
  / ``ly_avg``, and the ``recent index`` the same for the weeks of the recent window. The seasonal
  factor is coming / recent (the recent sales already carry the recent season), so
  ``daily demand = base × factor``. Without a year of history the factor is the recent trend: mean
  of the last half of the window / mean of the whole window.
  Factors are clamped to [0.25, 4] (season) and [0.5, 2] (trend).
* safety stock = z × std × √lead time; reorder point = demand × lead time + safety stock;
  order-up-to level = demand × (lead time + review period) + safety stock.
* net requirement = order-up-to level − (available + on order); nothing is suggested when it is
  not positive. The suggestion is the requirement raised to the minimum order quantity, then
  rounded up to a whole number of case packs (order multiple).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

YEAR_DAYS = 364  # 52 weeks: the same weekday last year
SEASON_CLAMP = (0.25, 4.0)
TREND_CLAMP = (0.5, 2.0)


@dataclass(frozen=True)
class PlanInput:
    today: date
    history: Mapping[date, int]  # units sold per day (missing days: 0)
    available: int
    on_order: int
    lead_time_days: int
    review_period_days: int
    service_level_z: float
    history_days: int = 56
    min_order_quantity: int = 1
    order_multiple: int = 1


@dataclass(frozen=True)
class Plan:
    base_daily_demand: float
    daily_demand: float
    demand_std_dev: float
    seasonal_factor: float
    season_basis: str  # "yearly" | "trend" | "none"
    safety_stock: int
    reorder_point: int
    target_stock: int
    net_requirement: int
    suggested_quantity: int
    days_of_cover: float | None
    urgent: bool


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = _mean(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _window(history: Mapping[date, int], end: date, days: int) -> list[float]:
    """Daily figures of the ``days`` days before ``end`` (end excluded), oldest first."""
    return [float(history.get(end - timedelta(days=n), 0)) for n in range(days, 0, -1)]


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def round_order_quantity(requirement: int, *, min_order_quantity: int = 1, order_multiple: int = 1) -> int:
    """The requirement raised to the MOQ, then up to a whole number of case packs; 0 stays 0."""
    if requirement <= 0:
        return 0
    quantity = max(requirement, min_order_quantity, 1)
    multiple = max(order_multiple, 1)
    return math.ceil(quantity / multiple) * multiple


def seasonal_factor(history: Mapping[date, int], *, today: date, window_days: int, horizon_days: int) -> tuple[float, str]:
    """(factor, basis): "yearly" when a year of history exists, else the recent "trend"."""
    sold_days = [d for d, q in history.items() if q and d < today]
    first = min(sold_days) if sold_days else None
    if first is not None and first <= today - timedelta(days=YEAR_DAYS):
        last_year_end = today - timedelta(days=YEAR_DAYS)
        ly_avg = _mean(_window(history, today, YEAR_DAYS))
        if ly_avg > 0:
            recent_ly = _mean(_window(history, last_year_end, window_days)) / ly_avg
            coming_ly = _mean(_window(history, last_year_end + timedelta(days=horizon_days), horizon_days)) / ly_avg
            if recent_ly > 0:
                return _clamp(coming_ly / recent_ly, SEASON_CLAMP), "yearly"
            if coming_ly > 0:  # nothing sold in the same weeks last year: the coming index alone
                return _clamp(coming_ly, SEASON_CLAMP), "yearly"
    recent = _window(history, today, window_days)
    whole = _mean(recent)
    if whole <= 0:
        return 1.0, "none"
    half = _mean(recent[len(recent) // 2:])
    return _clamp(half / whole, TREND_CLAMP), "trend"


def plan(data: PlanInput) -> Plan:
    lead = max(int(data.lead_time_days), 0)
    review = max(int(data.review_period_days), 0)
    window = _window(data.history, data.today, max(int(data.history_days), 1))
    base = _mean(window)
    std = _std(window)
    factor, basis = seasonal_factor(data.history, today=data.today, window_days=len(window), horizon_days=max(lead + review, 1))
    demand = base * factor
    safety = math.ceil(round(float(data.service_level_z) * std * math.sqrt(lead), 6)) if lead else 0
    reorder_point = math.ceil(round(demand * lead, 6)) + safety
    target = math.ceil(round(demand * (lead + review), 6)) + safety
    position = data.available + data.on_order
    requirement = max(target - position, 0) if demand > 0 else 0
    quantity = round_order_quantity(requirement, min_order_quantity=data.min_order_quantity,
                                    order_multiple=data.order_multiple)
    cover = round(max(data.available, 0) / demand, 1) if demand > 0 else None
    return Plan(base_daily_demand=base, daily_demand=demand, demand_std_dev=std, seasonal_factor=factor,
                season_basis=basis, safety_stock=safety, reorder_point=reorder_point, target_stock=target,
                net_requirement=requirement, suggested_quantity=quantity, days_of_cover=cover,
                urgent=demand > 0 and position <= reorder_point)
