"""Region matching and the fallback behind the regional warehouses (pure planning, no database)."""

from dataclasses import dataclass

import pytest

from orders.allocation import plan_allocation
from orders.ports import WarehouseInfo, province_key


@dataclass
class Line:
    sku_id: int
    quantity: int


@pytest.mark.parametrize(("spelling", "key"), [
    ("浙江省", "浙江"), ("浙江", "浙江"), ("上海市", "上海"), ("广西壮族自治区", "广西"),
    ("新疆维吾尔自治区", "新疆"), ("宁夏回族自治区", "宁夏"), ("香港特别行政区", "香港"), ("内蒙古自治区", "内蒙古"), ("", ""),
])
def test_province_spellings_meet(spelling, key):
    assert province_key(spelling) == key


EAST = WarehouseInfo(id=1, code="HZ", regions=("浙江", "上海"), priority=1)
SOUTH = WarehouseInfo(id=2, code="GZ", regions=("广东", "湖北"), priority=2)


def test_the_regional_warehouse_wins_whatever_the_spelling():
    plan, why = plan_allocation(lines=[Line(7, 2)], warehouses=[EAST, SOUTH], available={(1, 7): 5, (2, 7): 5},
                                province="湖北省", allow_split=False)
    assert plan.parts[0].warehouse == SOUTH and "serves 湖北省" in why


def test_another_warehouse_ships_when_the_regional_one_lacks_stock():
    plan, why = plan_allocation(lines=[Line(7, 2)], warehouses=[EAST, SOUTH], available={(1, 7): 5, (2, 7): 1},
                                province="湖北省", allow_split=False)
    assert plan.parts[0].warehouse == EAST and "does not serve 湖北省" in why


def test_out_of_stock_only_when_no_warehouse_has_it():
    plan, why = plan_allocation(lines=[Line(7, 9)], warehouses=[EAST, SOUTH], available={(1, 7): 5, (2, 7): 1},
                                province="湖北省", allow_split=False)
    assert plan is None and why.startswith("out of stock")


def test_carrier_rules_match_any_province_spelling():
    from decimal import Decimal

    from orders.allocation import choose_carrier

    @dataclass
    class Rule:
        name = "east"
        carrier_code: str
        provinces: list
        pk: int = 1
        is_active: bool = True
        warehouse_id: int | None = None
        min_weight_g: int = 0
        max_weight_g: int | None = None
        first_weight_g: int = 1000
        first_cost: Decimal = Decimal("5")
        extra_cost_per_kg: Decimal = Decimal("1")
        priority: int = 1

    code, _, why = choose_carrier(rules=[Rule("ZTO", ["浙江"])], province="浙江省", warehouse_id=1, weight_g=500,
                                  default_code="YTO")
    assert code == "ZTO", why
