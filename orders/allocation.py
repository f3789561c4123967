"""Warehouse allocation and carrier choice, as pure planning over data loaded once per batch.

Warehouse: the warehouses serving the receiver's province first, in priority order, then the others
(so an order never waits for stock another warehouse holds); one warehouse that holds everything
wins (fewest parcels); otherwise, when splitting is allowed, a greedy cover that
takes the warehouse able to ship the most units first, until all is covered. The caller reserves
the plan through inventory (which re-checks atomically) and subtracts it from ``available``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from .ports import WarehouseInfo, province_key


@dataclass
class Part:
    warehouse: WarehouseInfo
    items: list[tuple[object, int]]  # (order line, quantity)


@dataclass
class Plan:
    parts: list[Part]
    explanation: str


def _need(lines) -> dict[int, int]:
    need: dict[int, int] = defaultdict(int)
    for line in lines:
        need[line.sku_id] += line.quantity
    return need


def plan_allocation(*, lines, warehouses: list[WarehouseInfo], available: dict, province: str,
                    allow_split: bool) -> tuple[Plan | None, str]:
    regional = [w for w in warehouses if w.serves(province)]
    # The warehouses serving the receiver's region come first; the others stand behind them, so an
    # order never waits for stock that another warehouse holds.
    candidates = regional + [w for w in warehouses if w not in regional]
    if not candidates:
        return None, "no active warehouse"
    need = _need(lines)
    for w in candidates:
        if all(available.get((w.id, sku), 0) >= qty for sku, qty in need.items()):
            where = (f"serves {province or 'all regions'}" if w in regional
                     else f"does not serve {province}, but no warehouse that does holds the items")
            why = f"warehouse {w.code or w.id}: {where}, priority {w.priority}, holds every item (one parcel)"
            return Plan([Part(w, [(ln, ln.quantity) for ln in lines])], why), why
    short = ", ".join(
        f"SKU {sku} needs {qty}, best has {max(available.get((w.id, sku), 0) for w in candidates)}"
        for sku, qty in need.items() if max(available.get((w.id, sku), 0) for w in candidates) < qty
    )
    if allow_split and len(candidates) > 1:
        plan = _greedy_cover(lines, candidates, available)
        if plan is not None:
            why = (f"no single warehouse holds everything; split into {len(plan.parts)} parcels: "
                   + ", ".join(f"{p.warehouse.code or p.warehouse.id} ({sum(q for _, q in p.items)} units)" for p in plan.parts))
            plan.explanation = why
            return plan, why
    return None, f"out of stock: {short or 'no single warehouse holds every item'}"


def _greedy_cover(lines, candidates, available) -> Plan | None:
    left = {id(ln): ln.quantity for ln in lines}
    stock = {(w.id, ln.sku_id): available.get((w.id, ln.sku_id), 0) for w in candidates for ln in lines}
    parts: list[Part] = []
    used: set[int] = set()
    while any(left.values()):
        best, best_units = None, 0
        for w in candidates:
            if w.id in used:
                continue
            pool = dict(stock)
            units = 0
            for ln in lines:
                take = min(left[id(ln)], pool[(w.id, ln.sku_id)])
                pool[(w.id, ln.sku_id)] -= take
                units += take
            if units > best_units:
                best, best_units = w, units
        if best is None:
            return None
        items = []
        for ln in lines:
            take = min(left[id(ln)], stock[(best.id, ln.sku_id)])
            if take:
                items.append((ln, take))
                left[id(ln)] -= take
                stock[(best.id, ln.sku_id)] -= take
        used.add(best.id)
        parts.append(Part(best, items))
    return Plan(parts, "")


def consume(available: dict, part: Part) -> None:
    for line, qty in part.items:
        available[(part.warehouse.id, line.sku_id)] = available.get((part.warehouse.id, line.sku_id), 0) - qty


def shipping_cost(rule, weight_g: int) -> Decimal:
    extra_kg = math.ceil(max(0, weight_g - rule.first_weight_g) / 1000)
    return rule.first_cost + rule.extra_cost_per_kg * extra_kg


def choose_carrier(*, rules, province: str, warehouse_id: int | None, weight_g: int,
                   default_code: str, priority: bool = False) -> tuple[str, Decimal, str]:
    """(carrier code, estimated cost, why): the cheapest active rule matching region, warehouse and
    weight; ties go to the lower priority number. ``priority`` (a member level's priority shipping):
    the lowest priority number wins, cost breaks ties. No rule matches: the tenant's default carrier."""
    matching = [
        r for r in rules
        if r.is_active
        and (not r.provinces or province_key(province) in {province_key(p) for p in r.provinces})
        and (r.warehouse_id is None or r.warehouse_id == warehouse_id)
        and weight_g >= r.min_weight_g
        and (r.max_weight_g is None or weight_g <= r.max_weight_g)
    ]
    if not matching:
        return default_code, Decimal("0.00"), f"no carrier rule matches {province or '-'}, {weight_g} g: default {default_code}"
    if priority:
        best = min(matching, key=lambda r: (r.priority, shipping_cost(r, weight_g), r.pk or 0))
        cost = shipping_cost(best, weight_g)
        return best.carrier_code, cost, (f"carrier {best.carrier_code} ({best.name}): first by priority of "
                                         f"{len(matching)} matching rule(s) for {province or '-'}, {weight_g} g, "
                                         f"{cost} CNY (member priority shipping)")
    best = min(matching, key=lambda r: (shipping_cost(r, weight_g), r.priority, r.pk or 0))
    cost = shipping_cost(best, weight_g)
    return best.carrier_code, cost, (f"carrier {best.carrier_code} ({best.name}): cheapest of {len(matching)} matching "
                                     f"rule(s) for {province or '-'}, {weight_g} g, {cost} CNY")


def priority_key(order):
    """Shipping priority: ship-by deadline first, then the member's level, then age."""
    far = 1 << 62
    deadline = order.ship_by.timestamp() if order.ship_by else far
    age = (order.paid_at or order.platform_created_at or order.created_at)
    return (deadline, -order.buyer_level, age.timestamp() if age else far, order.pk or 0)
