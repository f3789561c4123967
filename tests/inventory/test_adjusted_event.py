"""The "inventory.adjusted" event (docs/INTERFACES.md): published once per business operation that
changes what the stock is worth outside purchasing, shipping, after-sales returns and transfers, with
a self-contained payload; never for those excluded flows."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from erp import events
from inventory import services
from inventory.models import MoveKind, StockMove

pytestmark = pytest.mark.django_db


@pytest.fixture
def adjusted():
    seen = []

    def handler(**payload):
        seen.append(payload)

    events.subscribe("inventory.adjusted", handler)
    yield seen
    events._handlers["inventory.adjusted"].remove(handler)


@pytest.fixture
def stocked(stock):
    stock.sku.unit_cost, stock.sku2.unit_cost = Decimal("6.50"), Decimal("0.00")
    stock.sku.save()
    stock.sku2.save()
    for sku in (stock.sku, stock.sku2, stock.sku3):
        services.stock_receive(warehouse=stock.wh1, sku=sku, quantity=20, reason="opening")
    return stock


def test_stocktake_publishes_one_event_with_its_gains_and_losses(stocked, adjusted):
    s = stocked
    take = services.stocktake_create(warehouse=s.wh1, sku_ids=[s.sku.pk, s.sku2.pk, s.sku3.pk])
    services.stocktake_count(stocktake=take, counts={s.sku.pk: 15, s.sku2.pk: 23, s.sku3.pk: 20})
    services.stocktake_post(stocktake=take)
    (event,) = adjusted
    moves = {m.sku_id: m for m in StockMove.objects.filter(source_doc=take.number, kind=MoveKind.ADJUSTMENT)}
    assert set(moves) == {s.sku.pk, s.sku2.pk}  # no line for the SKU counted as booked
    assert event["kind"] == "stocktake" and event["ref"] == f"stocktake:{take.pk}"
    assert event["warehouse_id"] == s.wh1.pk and event["source_doc"] == take.number
    assert sorted(event["move_ids"]) == sorted(m.pk for m in moves.values())
    assert event["occurred_at"] is not None
    assert sorted(event["lines"], key=lambda ln: ln["sku_id"]) == sorted([
        {"move_id": moves[s.sku.pk].pk, "sku_id": s.sku.pk, "quantity": -5, "unit_cost": Decimal("6.50"),
         "currency": "CNY", "source_doc": take.number},
        {"move_id": moves[s.sku2.pk].pk, "sku_id": s.sku2.pk, "quantity": 3, "unit_cost": Decimal("0.00"),
         "currency": "CNY", "source_doc": take.number},
    ], key=lambda ln: ln["sku_id"])
    assert all(isinstance(ln["unit_cost"], Decimal) for ln in event["lines"])


def test_stocktake_without_variance_or_refused_publishes_nothing(stocked, adjusted):
    s = stocked
    take = services.stocktake_create(warehouse=s.wh1, sku_ids=[s.sku.pk])
    services.stocktake_count(stocktake=take, counts={s.sku.pk: 20})
    assert services.stocktake_post(stocktake=take) == []
    services.stock_reserve(warehouse=s.wh1, sku=s.sku2, quantity=10, ref_type="order_line", ref_id="1")
    take = services.stocktake_create(warehouse=s.wh1, sku_ids=[s.sku.pk, s.sku2.pk])
    services.stocktake_count(stocktake=take, counts={s.sku.pk: 19, s.sku2.pk: 5})
    with pytest.raises(ValidationError):
        services.stocktake_post(stocktake=take)
    assert adjusted == []


def test_manual_adjustment_publishes_once(stocked, adjusted):
    s = stocked
    move = services.stock_adjust(warehouse=s.wh1, sku=s.sku, quantity=-2, reason="broken on the shelf", source_doc="ADJ-1")
    (event,) = adjusted
    assert {k: event[k] for k in ("ref", "kind", "warehouse_id", "reason", "source_doc", "move_ids")} == {
        "ref": f"move:{move.pk}", "kind": "adjustment", "warehouse_id": s.wh1.pk, "reason": "broken on the shelf",
        "source_doc": "ADJ-1", "move_ids": [move.pk]}
    assert event["lines"] == [{"move_id": move.pk, "sku_id": s.sku.pk, "quantity": -2, "unit_cost": Decimal("6.50"),
                               "currency": "CNY", "source_doc": "ADJ-1"}]
    services.stock_adjust(warehouse=s.wh1, sku=s.sku, quantity=4, reason="found")
    assert [e["lines"][0]["quantity"] for e in adjusted] == [-2, 4]


def test_scrap_of_defective_units_publishes_the_units_written_off(stocked, adjusted):
    s = stocked
    services.stock_mark_defective(warehouse=s.wh1, sku=s.sku, quantity=3, reason="crushed")
    assert adjusted == []  # still in stock (the defective bucket): its value did not change
    move = services.stock_scrap_defective(warehouse=s.wh1, sku=s.sku, quantity=2, reason="binned")
    (event,) = adjusted
    assert event["kind"] == "scrap" and event["ref"] == f"move:{move.pk}"
    assert event["lines"] == [{"move_id": move.pk, "sku_id": s.sku.pk, "quantity": -2, "unit_cost": Decimal("6.50"),
                               "currency": "CNY", "source_doc": ""}]


def test_a_caller_whose_own_event_values_the_change_can_opt_out(stocked, adjusted):
    s = stocked
    services.stock_mark_defective(warehouse=s.wh1, sku=s.sku, quantity=1, reason="crushed")
    services.stock_adjust(warehouse=s.wh1, sku=s.sku, quantity=-1, reason="return to supplier", publish_adjusted=False)
    services.stock_scrap_defective(warehouse=s.wh1, sku=s.sku, quantity=1, reason="return to supplier",
                                   publish_adjusted=False)
    assert adjusted == []


def test_receipts_shipments_returns_and_transfers_publish_nothing(stocked, adjusted):
    s = stocked
    services.stock_receive(warehouse=s.wh1, sku=s.sku, quantity=5, reason="receipt", source_doc="PO-1")
    services.stock_reserve(warehouse=s.wh1, sku=s.sku, quantity=2, ref_type="order_line", ref_id="9")
    services.stock_commit(ref_type="order_line", ref_id="9", source_doc="ORDER-9")
    services.stock_return(warehouse=s.wh1, sku=s.sku, quantity=1, source_doc="aftersales:1")
    services.stock_return(warehouse=s.wh1, sku=s.sku, quantity=1, source_doc="aftersales:2", defective=True)
    transfer = services.transfer_create(from_warehouse=s.wh1, to_warehouse=s.wh2, lines=[(s.sku, 4)])
    services.transfer_ship(transfer=transfer)
    services.transfer_receive(transfer=transfer)
    assert adjusted == []
    assert services.stock_verify() == []


def test_units_missing_from_a_transfer_are_a_loss_at_the_destination(stocked, adjusted):
    s = stocked
    transfer = services.transfer_create(from_warehouse=s.wh1, to_warehouse=s.wh2, lines=[(s.sku, 4), (s.sku3, 2)])
    services.transfer_ship(transfer=transfer)
    assert adjusted == []
    services.transfer_receive(transfer=transfer, received={s.sku.pk: 3})
    (event,) = adjusted
    move = StockMove.objects.get(kind=MoveKind.TRANSFER_IN, sku=s.sku)
    assert (event["kind"], event["ref"], event["warehouse_id"]) == ("transfer_shortage", f"transfer:{transfer.pk}", s.wh2.pk)
    assert event["lines"] == [{"move_id": move.pk, "sku_id": s.sku.pk, "quantity": -1, "unit_cost": Decimal("6.50"),
                               "currency": "CNY", "source_doc": transfer.number}]


def test_adjustments_and_stocktakes_over_the_api_reach_the_books(stock):
    """End to end: what a warehouse user posts through the API is booked by finance (the SKU costs 10.00)."""
    from erp.tenancy.roles import Role
    from finance.models import SourceType, Voucher
    from finance.selectors import account_balances, books_verify

    api = stock.world.api(Role.WAREHOUSE)
    services.stock_receive(warehouse=stock.wh1, sku=stock.sku, quantity=10)
    ok = api.post("/api/v1/inventory/adjustments/", {"warehouse": stock.wh1.pk, "sku": stock.sku.pk, "quantity": -2,
                                                     "reason": "dropped"}, format="json")
    assert ok.status_code == 201, ok.json()
    take = api.post("/api/v1/inventory/stocktakes/", {"warehouse": stock.wh1.pk}, format="json").json()
    api.post(f"/api/v1/inventory/stocktakes/{take['id']}/count/", {"counts": [{"sku": stock.sku.pk, "counted": 9}]},
             format="json")
    assert api.post(f"/api/v1/inventory/stocktakes/{take['id']}/post/").json()["status"] == "posted"
    assert Voucher.objects.filter(source_type=SourceType.STOCK_ADJUSTED).count() == 2
    balances = account_balances()
    assert (balances["1405"], balances["6711"], balances["6301"]) == (Decimal("-10.00"), Decimal("20.00"), Decimal("10.00"))
    assert books_verify() == []
