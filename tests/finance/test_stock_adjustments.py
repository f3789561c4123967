"""The posting rule of "inventory.adjusted": stocktake gains and losses, manual adjustments, scrapped
defective units and units lost in a transfer move 库存商品 (1405) against 营业外收入 (6301) /
营业外支出 (6711) at the unit cost the event carries; once per event reference."""

import pytest

from erp import events
from finance import chart, services
from finance.models import Account, PostingIssue, SourceType, Voucher
from finance.selectors import account_balances, books_verify, profit_by
from inventory import services as inv
from inventory.models import SKU

from .conftest import T0, D

pytestmark = pytest.mark.django_db


def lines_of(voucher):
    return sorted((ln.account.code, ln.debit, ln.credit, ln.tag, ln.sku_id) for ln in voucher.lines.all())


@pytest.fixture
def captured():
    seen = []

    def handler(**payload):
        seen.append(payload)

    events.subscribe("inventory.adjusted", handler)
    yield seen
    events._handlers["inventory.adjusted"].remove(handler)


def test_stocktake_books_losses_and_gains_against_stock(world, captured):
    a, b, wh = world["A"], world["B"], world["wh"]
    take = inv.stocktake_create(warehouse=wh, sku_ids=[a.pk, b.pk])
    inv.stocktake_count(stocktake=take, counts={a.pk: 45, b.pk: 52})
    inv.stocktake_post(stocktake=take)
    voucher = Voucher.objects.get(source_type=SourceType.STOCK_ADJUSTED)
    assert voucher.source_ref == f"stocktake:{take.pk}" and voucher.is_posted and take.number in voucher.memo
    assert lines_of(voucher) == sorted([
        (chart.NON_OPERATING_EXPENSE, D("30.00"), D("0"), "", a.pk),  # 5 missing × 6.00
        (chart.INVENTORY, D("0"), D("30.00"), "stock", a.pk),
        (chart.INVENTORY, D("20.00"), D("0"), "stock", b.pk),  # 2 found × 10.00
        (chart.NON_OPERATING_INCOME, D("0"), D("20.00"), "", b.pk),
    ])
    balances = account_balances()
    assert balances[chart.INVENTORY] == D("-10.00")
    assert (balances[chart.NON_OPERATING_EXPENSE], balances[chart.NON_OPERATING_INCOME]) == (D("30.00"), D("20.00"))
    _rows, total = profit_by(by="sku")
    assert (total.other_expense, total.other_income, total.net_profit) == (D("30.00"), D("20.00"), D("-10.00"))
    assert books_verify() == []
    # the same event delivered again (a retry, a replay) posts nothing more
    (event,) = captured
    events.publish("inventory.adjusted", **event)
    services.on_stock_adjusted(**event)
    assert Voucher.objects.filter(source_type=SourceType.STOCK_ADJUSTED).count() == 1
    assert not PostingIssue.objects.exists()


def test_manual_adjustments_post_a_voucher_each(world):
    a = world["A"]
    down = inv.stock_adjust(warehouse=world["wh"], sku=a, quantity=-3, reason="water damage")
    up = inv.stock_adjust(warehouse=world["wh"], sku=a, quantity=1, reason="found behind the shelf")
    loss = Voucher.objects.get(source_type=SourceType.STOCK_ADJUSTED, source_ref=f"move:{down.pk}")
    gain = Voucher.objects.get(source_type=SourceType.STOCK_ADJUSTED, source_ref=f"move:{up.pk}")
    assert lines_of(loss) == sorted([(chart.NON_OPERATING_EXPENSE, D("18.00"), D("0"), "", a.pk),
                                     (chart.INVENTORY, D("0"), D("18.00"), "stock", a.pk)])
    assert lines_of(gain) == sorted([(chart.INVENTORY, D("6.00"), D("0"), "stock", a.pk),
                                     (chart.NON_OPERATING_INCOME, D("0"), D("6.00"), "", a.pk)])
    assert "water damage" in loss.memo
    assert books_verify() == []


def test_scrapped_defective_units_are_a_loss(world):
    b = world["B"]
    inv.stock_mark_defective(warehouse=world["wh"], sku=b, quantity=4, reason="crushed")
    assert not Voucher.objects.exists()  # still in stock, in the defective bucket
    move = inv.stock_scrap_defective(warehouse=world["wh"], sku=b, quantity=4, reason="binned")
    voucher = Voucher.objects.get(source_type=SourceType.STOCK_ADJUSTED, source_ref=f"move:{move.pk}")
    assert lines_of(voucher) == sorted([(chart.NON_OPERATING_EXPENSE, D("40.00"), D("0"), "", b.pk),
                                        (chart.INVENTORY, D("0"), D("40.00"), "stock", b.pk)])


def test_units_lost_in_a_transfer_are_a_loss(world):
    from inventory.models import Warehouse

    other = Warehouse.objects.create(code="W2", name="Second", priority=2)
    transfer = inv.transfer_create(from_warehouse=world["wh"], to_warehouse=other, lines=[(world["A"], 5)])
    inv.transfer_ship(transfer=transfer)
    assert not Voucher.objects.exists()
    inv.transfer_receive(transfer=transfer, received={world["A"].pk: 3})
    voucher = Voucher.objects.get(source_type=SourceType.STOCK_ADJUSTED, source_ref=f"transfer:{transfer.pk}")
    assert lines_of(voucher) == sorted([(chart.NON_OPERATING_EXPENSE, D("12.00"), D("0"), "", world["A"].pk),
                                        (chart.INVENTORY, D("0"), D("12.00"), "stock", world["A"].pk)])


def test_zero_cost_lines_post_nothing(world):
    free = SKU.objects.create(code="FREE", name="Free gift", unit_cost=D("0.00"))
    inv.stock_receive(warehouse=world["wh"], sku=free, quantity=10, reason="test")
    inv.stock_adjust(warehouse=world["wh"], sku=free, quantity=-4, reason="given away")
    assert not Voucher.objects.exists() and not PostingIssue.objects.exists()
    take = inv.stocktake_create(warehouse=world["wh"], sku_ids=[free.pk, world["A"].pk])
    inv.stocktake_count(stocktake=take, counts={free.pk: 2, world["A"].pk: 49})
    inv.stocktake_post(stocktake=take)
    voucher = Voucher.objects.get(source_type=SourceType.STOCK_ADJUSTED)
    assert {ln.sku_id for ln in voucher.lines.all()} == {world["A"].pk}  # the free SKU's line is left out


def test_the_posting_uses_the_cost_in_the_event_and_its_date(books):
    payload = dict(ref="stocktake:77", kind="stocktake", warehouse_id=1, reason="stocktake ST-77", source_doc="ST-77",
                   occurred_at=T0, move_ids=[5, 6],
                   lines=[{"move_id": 5, "sku_id": 9, "quantity": -3, "unit_cost": D("1.25"), "currency": "CNY",
                           "source_doc": "ST-77"},
                          {"move_id": 6, "sku_id": 10, "quantity": 0, "unit_cost": D("2.00"), "currency": "CNY",
                           "source_doc": "ST-77"}])
    voucher = services.on_stock_adjusted(**payload)
    assert voucher.date.isoformat() == "2026-11-10" and voucher.source_ref == "stocktake:77"
    assert lines_of(voucher) == sorted([(chart.NON_OPERATING_EXPENSE, D("3.75"), D("0"), "", 9),
                                        (chart.INVENTORY, D("0"), D("3.75"), "stock", 9)])
    assert services.on_stock_adjusted(**payload) is None
    assert Voucher.objects.count() == 1


def test_a_failing_posting_is_kept_and_retried_without_stopping_the_stock_change(world):
    Account.objects.filter(code=chart.NON_OPERATING_EXPENSE).update(is_active=False)
    move = inv.stock_adjust(warehouse=world["wh"], sku=world["A"], quantity=-2, reason="lost")
    assert move.pk and not Voucher.objects.exists()
    issue = PostingIssue.objects.get()
    assert (issue.source_type, issue.source_ref, issue.resolved_at) == ("inventory.adjusted", f"move:{move.pk}", None)
    assert "inactive" in issue.error
    Account.objects.filter(code=chart.NON_OPERATING_EXPENSE).update(is_active=True)
    assert services.posting_issue_retry(issue=issue) is True  # the stored (JSON) payload posts the same voucher
    voucher = Voucher.objects.get(source_type=SourceType.STOCK_ADJUSTED, source_ref=f"move:{move.pk}")
    assert lines_of(voucher) == sorted([(chart.NON_OPERATING_EXPENSE, D("12.00"), D("0"), "", world["A"].pk),
                                        (chart.INVENTORY, D("0"), D("12.00"), "stock", world["A"].pk)])
    assert books_verify() == []


@pytest.mark.parametrize("defective", [False, True])
def test_a_return_to_the_supplier_is_booked_once_by_purchase_returned(in_tenant_a, defective):
    from decimal import Decimal

    from inventory.models import Warehouse
    from purchasing import services as purchasing
    from purchasing.models import Supplier

    chart.chart_ensure()
    sku = SKU.objects.create(code="TEE", name="Tee", unit_cost=D("10.00"))
    wh = Warehouse.objects.create(code="W1", name="Main")
    supplier = Supplier.objects.create(code="S1", name="Supplier")
    po = purchasing.po_create(supplier=supplier, warehouse=wh, lines=[{"sku": sku, "quantity": 100, "unit_price": "12.00"}])
    purchasing.po_approve(po_id=po.pk)
    purchasing.po_send(po_id=po.pk)
    purchasing.po_receive(po_id=po.pk, reference="R1", lines=[{"sku": sku.pk, "quantity": 100}])
    if defective:
        inv.stock_mark_defective(warehouse=wh, sku=sku, quantity=30, reason="torn")
    purchasing.po_return(po_id=po.pk, reference="RT1", why="torn", defective=defective,
                         lines=[{"sku": sku.pk, "quantity": 30}])
    assert not Voucher.objects.filter(source_type=SourceType.STOCK_ADJUSTED).exists()
    assert account_balances()[chart.INVENTORY] == Decimal("840.00")  # 70 units at 12.00
