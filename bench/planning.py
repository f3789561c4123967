"""Purchase planning forecast against baselines, on two years of simulated daily sales (no database).

    make bench BENCH_ARGS="planning"         # or: python -m bench planning [--quick]

Each simulated SKU (seeded RNG, numpy) has a base level, a weekly pattern (weekend peak), a yearly
season (a sine with its peak at a random week), promotions (3-day blocks, 2-3.5x, known in advance as
the inventory promotion locks are) and Poisson noise: that is the *true demand*. The *recorded sales*
are the demand with stock-out blocks (the old replenishment ran dry: sales 0, flagged out of stock).

Every week of the second year, each method forecasts the next 7 days from the recorded
sales before them:
* project: purchasing.forecast (stock-outs imputed, promotions as uplift, Holt-Winters, yearly factor)
* naive: the mean of the last 28 days of recorded sales
* seasonal naive: the recorded sales of the same 7 days 364 days back (the last week before a year exists)
WAPE = Σ|forecast − demand| / Σ demand over every SKU-week, bias = Σ(forecast − demand) / Σ demand.

Inventory replay (second year only, the weeks a yearly season exists): a weekly review, lead time 5
days, order-up-to = forecast demand over lead + review + safety stock (z = 1.65); the project's
safety stock is z × its measured error of the 12-day sum (forecast.protection_sigma: rolling origins over the
fitted history, so the correlated errors of level, season and yearly factor count, not only the one-day
noise), the naive baseline's z × the standard deviation of the last 28 days' sales × √12. The demand served is the true demand (a stock-out day: demand > stock on hand).
Targets: WAPE <= 0.8x naive; fewer stock-out days than naive at no more average stock.
"""

from __future__ import annotations

import math

import numpy as np

from purchasing import forecast

DAYS = 728
LEAD = 5
REVIEW = 7
Z = 1.65


def simulate(rng: np.random.Generator, days: int = DAYS):
    base = rng.uniform(3, 40)
    weekday = np.array([1.0, 0.95, 0.95, 1.0, 1.1, 1.35, 1.45])
    weekday = weekday / weekday.mean()
    t = np.arange(days)
    peak = rng.uniform(0, 364)
    amplitude = rng.uniform(0.2, 0.6)
    season = 1 + amplitude * np.cos(2 * math.pi * (t - peak) / 364)
    trend = 1 + rng.uniform(-0.15, 0.3) * t / days
    promo = np.zeros(days, bool)
    for start in rng.choice(np.arange(30, days - 4), size=int(rng.integers(6, 12)), replace=False):
        promo[start:start + 3] = True
    lift = np.where(promo, rng.uniform(2.0, 3.5), 1.0)
    mean = base * weekday[t % 7] * season * trend * lift
    demand = rng.poisson(mean).astype(float)
    oos = np.zeros(days, bool)
    for start in rng.choice(np.arange(days - 10), size=int(rng.integers(4, 9)), replace=False):
        oos[start:start + int(rng.integers(2, 8))] = True
    sales = np.where(oos, 0.0, demand)
    return demand, sales, oos, promo


def naive(sales, day, horizon):
    recent = sales[day - 28:day]
    return np.full(horizon, recent.mean()), float(recent.std(ddof=1))


def seasonal_naive(sales, day, horizon):
    if day >= forecast.YEAR_DAYS:
        return sales[day - forecast.YEAR_DAYS:day - forecast.YEAR_DAYS + horizon].astype(float)
    return sales[day - 7:day].astype(float)[:horizon]


def project(sales, oos, promo, day, horizon):
    f = forecast.forecast_demand(sales[:day], horizon=horizon, out_of_stock=oos[:day], promotion=promo[:day],
                                 future_promotion=promo[day:day + horizon])
    return f


def replay_stock(demand, first_day, plans):
    """plans(day) -> (forecast of the next LEAD+REVIEW days, sigma) at each weekly review."""
    on_hand = float(math.ceil(demand[first_day - 28:first_day].mean() * (LEAD + REVIEW)))
    arriving: dict[int, float] = {}
    stockout_days = 0
    stock_sum = 0.0
    days = 0
    for day in range(first_day, demand.size):
        on_hand += arriving.pop(day, 0.0)
        if (day - first_day) % REVIEW == 0:
            daily, sigma = plans(day)
            target = math.ceil(daily.sum()) + math.ceil(Z * sigma * math.sqrt(LEAD + REVIEW))
            position = on_hand + sum(arriving.values())
            if target > position:
                arriving[day + LEAD] = arriving.get(day + LEAD, 0.0) + (target - position)
        if demand[day] > on_hand:
            stockout_days += 1
        on_hand = max(on_hand - demand[day], 0.0)
        stock_sum += on_hand
        days += 1
    return stockout_days, stock_sum / days


def run(args):
    rng = np.random.default_rng(20261207)
    n_skus = 3 if getattr(args, "quick", False) else 8
    err = {"project": [0.0, 0.0], "naive": [0.0, 0.0], "seasonal naive": [0.0, 0.0]}
    total = 0.0
    stock = {"project": [0, 0.0], "naive": [0, 0.0]}
    horizon = LEAD + REVIEW
    first = forecast.YEAR_DAYS
    for _sku in range(n_skus):
        demand, sales, oos, promo = simulate(rng)
        plans = {"project": {}, "naive": {}}
        for day in range(first, DAYS, REVIEW):
            f = project(sales, oos, promo, day, horizon)
            plans["project"][day] = (f.daily, forecast.protection_sigma(f, horizon) / math.sqrt(horizon))
            plans["naive"][day] = naive(sales, day, horizon)
            if day + 7 > DAYS:
                continue
            actual = demand[day:day + 7]
            total += actual.sum()
            for name, predicted in (("project", f.daily[:7]), ("naive", plans["naive"][day][0][:7]),
                                    ("seasonal naive", seasonal_naive(sales, day, 7))):
                err[name][0] += np.abs(predicted - actual).sum()
                err[name][1] += (predicted - actual).sum()
        for name in ("project", "naive"):
            outs, avg = replay_stock(demand, first, plans[name].__getitem__)
            stock[name][0] += outs
            stock[name][1] += avg / n_skus
    wape = {k: v[0] / total for k, v in err.items()}
    print(f"{n_skus} SKUs x {DAYS} days; weekly 7-day forecasts over the second year (from the data before each week)",
          flush=True)
    for name, (abs_err, signed) in err.items():
        print(f"  {name:<16} WAPE {abs_err / total:6.3f}   bias {signed / total:+6.3f}", flush=True)
    ratio = wape["project"] / wape["naive"]
    verdict = "meets" if ratio <= 0.8 else "BELOW"
    print(f"  project WAPE / naive WAPE = {ratio:.2f}x  [{verdict} target <= 0.80x]", flush=True)
    print(f"  project WAPE / seasonal naive WAPE = {wape['project'] / wape['seasonal naive']:.2f}x", flush=True)
    print(f"second-year stock replay (weekly review, lead {LEAD} days, z {Z}):", flush=True)
    for name, (outs, avg) in stock.items():
        print(f"  {name:<16} stock-out days {outs:5d}   average stock per SKU {avg:8.1f} units", flush=True)
    fewer = stock["project"][0] < stock["naive"][0]
    leaner = stock["project"][1] <= stock["naive"][1]
    print(f"  fewer stock-out days: {'yes' if fewer else 'NO'}; no more average stock: {'yes' if leaner else 'NO'} "
          f"({stock['project'][1] / stock['naive'][1]:.2f}x)", flush=True)
