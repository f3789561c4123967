"""The purchase order status machine, receipts (partial, over-receipt, idempotent), returns, the
stock ledger, the SKU cost and the events finance subscribes to."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from erp.api.exceptions import Conflict
from inventory import services as inventory
from inventory.models import SKU, MoveKind, StockLevel, StockMove
from purchasing import services
from purchasing.models import POLine, POStatus, PurchaseOrder, PurchaseOrderEvent, SupplierItem

pytestmark = pytest.mark.django_db


def on_hand(pw, sku, wh=None):
    level = StockLevel.objects.filter(warehouse=wh or pw.wh, sku=sku).first()
    return level.on_hand if level else 0


def codes(po):
    return list(PurchaseOrderEvent.objects.filter(purchase_order=po).order_by("id").values_list("code", flat=True))


def test_create_takes_prices_from_supplier_items_and_derives_totals(pw):
    po = pw.po([{"sku": pw.sku, "quantity": 100}, {"sku": pw.sku3.pk, "quantity": 3, "unit_price": "7.50"}])
    assert po.status == POStatus.DRAFT and po.number.startswith("PO")
    assert (po.total_quantity, po.total_amount, po.currency) == (103, Decimal("1222.50"), "CNY")
    line = POLine.objects.get(purchase_order=po, sku=pw.sku)
    assert (line.unit_price, line.supplier_sku_code) == (Decimal("12.00"), "FZ-TEE")
    event = PurchaseOrderEvent.objects.get(purchase_order=po)
    assert (event.code, event.to_status, event.actor_label) == ("created", "draft", pw.user.username)
    assert pw.po().number != po.number


@pytest.mark.parametrize("lines, message", [
    ([], "at least one line"),
    ([{"sku": 999999, "quantity": 1}], "Unknown"),
    ([{"quantity": 1}], "required"),
    ([{"sku": "TEE", "quantity": 1}], "Unknown"),
    ([{"sku": "SKU", "quantity": 0}], "at least 1"),
    ([{"sku": "SKU", "quantity": 1.5}], "whole number"),
    ([{"sku": "SKU", "quantity": 1, "unit_price": 1.5}], "float"),
    ([{"sku": "SKU", "quantity": 1, "unit_price": "-1"}], "negative"),
    ([{"sku": "SKU3", "quantity": 1}], "no supplier item"),
    ([{"sku": "SKU", "quantity": 1}, {"sku": "SKU", "quantity": 2}], "twice"),
])
def test_create_refuses_bad_lines_with_field_messages(pw, lines, message):
    names = {"SKU": pw.sku.pk, "SKU3": pw.sku3.pk}
    lines = [{**ln, "sku": names.get(ln.get("sku"), ln.get("sku"))} if "sku" in ln else ln for ln in lines]
    with pytest.raises(ValidationError) as exc:
        pw.po(lines)
    assert "lines" in exc.value.message_dict and message in str(exc.value.message_dict["lines"])
    assert not PurchaseOrder.objects.exists()


def test_bundle_and_inactive_supplier_are_refused(pw):
    bundle = SKU.objects.create(code="SET", name="set")
    inventory.sku_set_components(bundle=bundle, components=[(pw.sku, 1)])
    with pytest.raises(ValidationError, match="bundle"):
        pw.po([{"sku": bundle, "quantity": 1, "unit_price": "1"}])
    pw.supplier.is_active = False
    pw.supplier.save()
    with pytest.raises(ValidationError) as exc:
        pw.po()
    assert "supplier" in exc.value.message_dict


def test_full_lifecycle_and_timeline(pw, published):
    po = pw.po([{"sku": pw.sku, "quantity": 100}, {"sku": pw.sku2, "quantity": 10, "unit_price": "4.00"}],
               supplier=None)
    # sku2 has no item with supplier S1, but a price was given
    services.po_approve(po_id=po.pk, actor=pw.user, why="budget ok")
    po = services.po_send(po_id=po.pk, actor=pw.user)
    assert po.status == POStatus.SENT and po.expected_date is not None and po.sent_at
    lines = {ln.sku_id: ln for ln in POLine.objects.filter(purchase_order=po)}
    r1 = services.po_receive(po_id=po.pk, reference="DN-1", actor=pw.user,
                             lines=[{"line": lines[pw.sku.pk].pk, "quantity": 60}])
    po.refresh_from_db()
    assert po.status == POStatus.PARTIALLY_RECEIVED and po.received_quantity == 60
    assert on_hand(pw, pw.sku) == 60
    services.po_receive(po_id=po.pk, reference="DN-2", actor=pw.user,
                        lines=[{"sku": pw.sku.pk, "quantity": 40}, {"line": lines[pw.sku2.pk].pk, "quantity": 10}])
    po.refresh_from_db()
    assert po.status == POStatus.RECEIVED and po.received_at and po.received_quantity == 110
    services.po_close(po_id=po.pk, actor=pw.user)
    po.refresh_from_db()
    assert po.status == POStatus.CLOSED
    assert codes(po) == ["created", "approved", "sent", "partially_received", "received", "closed"]
    events = PurchaseOrderEvent.objects.filter(purchase_order=po).order_by("id")
    assert events[1].message == "budget ok" and events[1].actor_label == pw.user.username
    assert [e.to_status for e in events] == ["draft", "approved", "sent", "partially_received", "received", "closed"]
    # the ledger: one receipt move per line and receipt, pointing at the receipt document
    moves = StockMove.objects.filter(kind=MoveKind.RECEIPT).order_by("id")
    assert [(m.sku_id, m.on_hand_delta, m.source_doc) for m in moves][0] == (pw.sku.pk, 60, r1.number)
    assert moves.count() == 3 and inventory.stock_verify() == []
    assert [name for name, _ in published] == ["purchase.received", "purchase.received"]


def test_received_event_payload_is_the_contract(pw, published):
    po = pw.sent_po([{"sku": pw.sku, "quantity": 100}])
    receipt = services.po_receive(po_id=po.pk, reference="DN-9", lines=[{"sku": pw.sku.pk, "quantity": 30}])
    ((name, payload),) = published
    assert name == "purchase.received"
    assert set(payload) == {"receipt_id", "purchase_order_id", "supplier_id", "warehouse_id", "received_at", "currency",
                            "amount", "lines"}
    assert payload["receipt_id"] == receipt.pk and payload["purchase_order_id"] == po.pk
    assert (payload["supplier_id"], payload["warehouse_id"], payload["currency"]) == (pw.supplier.pk, pw.wh.pk, "CNY")
    assert payload["amount"] == Decimal("360.00") and isinstance(payload["amount"], Decimal)
    assert payload["lines"] == [{"sku_id": pw.sku.pk, "quantity": 30, "unit_cost": Decimal("12.00")}]
    assert payload["received_at"] == receipt.received_at and payload["received_at"].tzinfo is not None


def test_receipt_retry_with_the_same_reference_receives_nothing_twice(pw, published):
    po = pw.sent_po()
    first = services.po_receive(po_id=po.pk, reference="DN-1", lines=[{"sku": pw.sku.pk, "quantity": 20}])
    again = services.po_receive(po_id=po.pk, reference="DN-1", lines=[{"sku": pw.sku.pk, "quantity": 20}])
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert on_hand(pw, pw.sku) == 20 and len(published) == 1
    assert POLine.objects.get(purchase_order=po).received_quantity == 20
    other = pw.sent_po()
    with pytest.raises(Conflict, match="already used"):
        services.po_receive(po_id=other.pk, reference="DN-1", lines=[{"sku": pw.sku.pk, "quantity": 1}])


def test_over_receipt_is_refused_beyond_the_tolerance(pw):
    po = pw.sent_po([{"sku": pw.sku, "quantity": 100}])
    with pytest.raises(ValidationError) as exc:
        services.po_receive(po_id=po.pk, reference="X1", lines=[{"sku": pw.sku.pk, "quantity": 101}])
    assert "lines" in exc.value.message_dict and "at most 100" in exc.value.message_dict["lines"][0]
    assert on_hand(pw, pw.sku) == 0 and not po.receipts.exists()
    settings = services.purchasing_settings()
    settings.over_receipt_tolerance_percent = Decimal("5")
    settings.save()
    services.po_receive(po_id=po.pk, reference="X2", lines=[{"sku": pw.sku.pk, "quantity": 90}])
    with pytest.raises(ValidationError, match="at most 105"):
        services.po_receive(po_id=po.pk, reference="X3", lines=[{"sku": pw.sku.pk, "quantity": 16}])
    services.po_receive(po_id=po.pk, reference="X4", lines=[{"sku": pw.sku.pk, "quantity": 15}])
    po.refresh_from_db()
    assert po.status == POStatus.RECEIVED and on_hand(pw, pw.sku) == 105


@pytest.mark.parametrize("lines", [[], [{"sku": 0, "quantity": 1}], [{"line": 10**9, "quantity": 1}],
                                   [{"sku": "SKU", "quantity": -1}], [{"sku": "SKU", "quantity": 0}], ["x"]])
def test_receive_refuses_bad_lines(pw, lines):
    po = pw.sent_po()
    lines = [{**ln, "sku": pw.sku.pk} if isinstance(ln, dict) and ln.get("sku") == "SKU" else ln for ln in lines]
    with pytest.raises(ValidationError) as exc:
        services.po_receive(po_id=po.pk, reference="R", lines=lines)
    assert "lines" in exc.value.message_dict
    assert on_hand(pw, pw.sku) == 0


def test_receive_needs_a_reference(pw):
    po = pw.sent_po()
    with pytest.raises(ValidationError) as exc:
        services.po_receive(po_id=po.pk, reference=" ", lines=[{"sku": pw.sku.pk, "quantity": 1}])
    assert "reference" in exc.value.message_dict


@pytest.mark.parametrize("status, action", [
    ("draft", "send"), ("draft", "receive"), ("draft", "close"), ("draft", "return"),
    ("approved", "approve"), ("approved", "receive"), ("approved", "lines"), ("approved", "close"),
    ("sent", "approve"), ("sent", "send"), ("sent", "lines"), ("sent", "close"),
    ("partially_received", "cancel"), ("partially_received", "lines"), ("partially_received", "approve"),
    ("received", "receive"), ("received", "cancel"),
    ("cancelled", "approve"), ("cancelled", "send"), ("cancelled", "receive"), ("cancelled", "cancel"),
    ("cancelled", "close"), ("closed", "receive"), ("closed", "cancel"), ("closed", "close"), ("closed", "lines"),
])
def test_wrong_state_actions_are_409_and_change_nothing(pw, status, action):
    po = reach(pw, status)
    before = PurchaseOrder.objects.filter(pk=po.pk).values().get()
    n_events = PurchaseOrderEvent.objects.count()
    calls = {
        "approve": lambda: services.po_approve(po_id=po.pk),
        "send": lambda: services.po_send(po_id=po.pk),
        "receive": lambda: services.po_receive(po_id=po.pk, reference=f"R-{status}", lines=[{"sku": pw.sku.pk, "quantity": 1}]),
        "return": lambda: services.po_return(po_id=po.pk, reference=f"T-{status}", why="bad",
                                             lines=[{"sku": pw.sku.pk, "quantity": 1}]),
        "cancel": lambda: services.po_cancel(po_id=po.pk, why="no"),
        "close": lambda: services.po_close(po_id=po.pk, why="short"),
        "lines": lambda: services.po_lines_set(po_id=po.pk, lines=[{"sku": pw.sku.pk, "quantity": 5}]),
    }
    with pytest.raises(Conflict) as exc:
        calls[action]()
    assert po.number in str(exc.value.detail)
    assert PurchaseOrder.objects.filter(pk=po.pk).values().get() == before
    assert PurchaseOrderEvent.objects.count() == n_events


def reach(pw, status):
    po = pw.po([{"sku": pw.sku, "quantity": 100}])
    if status == "draft":
        return po
    if status == "cancelled":
        return services.po_cancel(po_id=po.pk, why="not needed")
    services.po_approve(po_id=po.pk)
    if status == "approved":
        return po
    services.po_send(po_id=po.pk)
    if status == "sent":
        return PurchaseOrder.objects.get(pk=po.pk)
    services.po_receive(po_id=po.pk, reference=f"reach-{po.pk}",
                        lines=[{"sku": pw.sku.pk, "quantity": 40 if status == "partially_received" else 100}])
    if status == "closed":
        services.po_close(po_id=po.pk)
    return PurchaseOrder.objects.get(pk=po.pk)


def test_cancel_needs_a_reason_and_is_refused_once_goods_came(pw):
    po = pw.sent_po()
    with pytest.raises(ValidationError) as exc:
        services.po_cancel(po_id=po.pk, why="")
    assert "why" in exc.value.message_dict
    services.po_cancel(po_id=po.pk, why="supplier out of stock", actor=pw.user)
    po.refresh_from_db()
    assert po.status == POStatus.CANCELLED and po.closed_at
    assert PurchaseOrderEvent.objects.filter(purchase_order=po, code="cancelled", message="supplier out of stock").exists()


def test_short_close_of_a_partial_order_needs_why_and_records_what_did_not_come(pw):
    po = reach(pw, "partially_received")
    with pytest.raises(ValidationError):
        services.po_close(po_id=po.pk, why="")
    services.po_close(po_id=po.pk, why="rest discontinued")
    event = PurchaseOrderEvent.objects.filter(purchase_order=po).last()
    assert event.data == {"not_delivered": {str(pw.sku.pk): 60}}


def test_lines_edit_only_in_draft(pw):
    po = pw.po()
    services.po_lines_set(po_id=po.pk, lines=[{"sku": pw.sku, "quantity": 70}, {"sku": pw.sku3, "quantity": 2,
                                                                                  "unit_price": "3.00"}], why="more caps")
    po.refresh_from_db()
    assert (po.total_quantity, po.total_amount) == (72, Decimal("846.00"))
    assert codes(po) == ["created", "lines_set"]
    services.po_update(po_id=po.pk, warehouse=pw.wh2, note="rush", actor=pw.user)
    po.refresh_from_db()
    assert po.warehouse_id == pw.wh2.pk and po.note == "rush"
    services.po_approve(po_id=po.pk)
    with pytest.raises(Conflict):
        services.po_update(po_id=po.pk, note="late edit")
    import datetime

    services.po_update(po_id=po.pk, expected_date=datetime.date(2030, 1, 2))  # the date may still move
    assert PurchaseOrder.objects.get(pk=po.pk).expected_date == datetime.date(2030, 1, 2)


def test_approving_without_lines_or_unknown_po(pw):
    from django.http import Http404

    with pytest.raises(Http404):
        services.po_approve(po_id=987654)
    with pytest.raises(Http404):
        services.po_approve(po_id="x")


def test_receipt_updates_moving_average_cost_through_inventory(pw):
    inventory.stock_receive(warehouse=pw.wh2, sku=pw.sku, quantity=100, reason="opening")  # 100 at 10.00
    po = pw.sent_po([{"sku": pw.sku, "quantity": 50, "unit_price": "16.00"}])
    services.po_receive(po_id=po.pk, reference="C1", lines=[{"sku": pw.sku.pk, "quantity": 50}])
    pw.sku.refresh_from_db()
    assert pw.sku.unit_cost == Decimal("12.00")  # (100×10 + 50×16) / 150


def test_inventory_cost_update_function(pw):
    assert inventory.sku_cost_update_on_receipt(sku=pw.sku2, quantity=5, unit_cost="7.00").unit_cost == Decimal("7.00")
    inventory.stock_receive(warehouse=pw.wh, sku=pw.sku3, quantity=3)
    inventory.stock_receive(warehouse=pw.wh, sku=pw.sku3, quantity=1)
    sku = inventory.sku_cost_update_on_receipt(sku=pw.sku3, quantity=1, unit_cost=Decimal("4.00"))
    assert sku.unit_cost == Decimal("7.00")  # (3×8 + 1×4) / 4
    for bad in ({"quantity": 0, "unit_cost": "1"}, {"quantity": 1, "unit_cost": 1.5}, {"quantity": 1, "unit_cost": "-1"}):
        with pytest.raises((ValidationError, TypeError)):
            inventory.sku_cost_update_on_receipt(sku=pw.sku3, **bad)


def test_no_cost_update_in_another_currency(pw):
    pw.supplier.currency = "USD"
    pw.supplier.save()
    po = pw.sent_po([{"sku": pw.sku, "quantity": 10, "unit_price": "2.00"}])
    assert po.currency == "USD"
    services.po_receive(po_id=po.pk, reference="U1", lines=[{"sku": pw.sku.pk, "quantity": 10}])
    pw.sku.refresh_from_db()
    assert pw.sku.unit_cost == Decimal("10.00")


def test_return_to_supplier_takes_stock_out_and_publishes(pw, published):
    po = reach(pw, "received")
    published.clear()
    ret = services.po_return(po_id=po.pk, reference="RT-1", why="wrong colour", actor=pw.user,
                             lines=[{"sku": pw.sku.pk, "quantity": 30}])
    again = services.po_return(po_id=po.pk, reference="RT-1", why="wrong colour", lines=[{"sku": pw.sku.pk, "quantity": 30}])
    assert again.pk == ret.pk and again.replayed
    assert on_hand(pw, pw.sku) == 70 and POLine.objects.get(purchase_order=po).returned_quantity == 30
    ((name, payload),) = published
    assert name == "purchase.returned" and payload["receipt_id"] == ret.pk and payload["amount"] == Decimal("360.00")
    assert payload["lines"] == [{"sku_id": pw.sku.pk, "quantity": 30, "unit_cost": Decimal("12.00")}]
    with pytest.raises(ValidationError, match="only 70"):
        services.po_return(po_id=po.pk, reference="RT-2", why="x", lines=[{"sku": pw.sku.pk, "quantity": 71}])
    with pytest.raises(ValidationError) as exc:
        services.po_return(po_id=po.pk, reference="RT-3", why="", lines=[{"sku": pw.sku.pk, "quantity": 1}])
    assert "why" in exc.value.message_dict
    assert codes(po)[-1] == "returned"
    assert StockMove.objects.filter(source_doc=ret.number, on_hand_delta=-30).exists()


def test_return_of_stock_already_sold_is_refused(pw):
    po = reach(pw, "received")
    inventory.stock_adjust(warehouse=pw.wh, sku=pw.sku, quantity=-95, reason="sold")
    with pytest.raises(ValidationError):
        services.po_return(po_id=po.pk, reference="RT-9", why="late", lines=[{"sku": pw.sku.pk, "quantity": 10}])
    assert POLine.objects.get(purchase_order=po).returned_quantity == 0


def test_preferred_flag_moves_between_suppliers(pw):
    other = services.supplier_item_save(item=SupplierItem(supplier=pw.supplier2, sku=pw.sku, unit_price="11.00",
                                                          is_preferred=True))
    assert list(SupplierItem.objects.filter(sku=pw.sku, is_preferred=True)) == [other]
