"""Transfers between warehouses: create, ship (on hand leaves, in transit arrives), receive (a
shortfall is written off and valued through "inventory.adjusted"), cancel.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import stock_sql
from ..models import SKU, MoveKind, StockMove, Transfer, TransferLine, TransferStatus, Warehouse
from ._common import (
    AdjustKind,
    InsufficientStock,
    _level_numbers,
    _lock_level_pairs,
    _next_number,
    _own,
    _publish_adjusted,
    _quantity,
    _stock_sku,
    _write_move,
)


def _lines(lines, field="lines") -> dict[int, int]:
    """[(sku, qty)] or [{"sku": .., "quantity": ..}] -> {sku_id: qty} of the caller's stock SKUs."""
    result: dict[int, int] = {}
    for line in lines or []:
        sku, qty = (line["sku"], line["quantity"]) if isinstance(line, dict) else line
        sku = _stock_sku(_own(SKU, sku, field), field)
        result[sku.pk] = result.get(sku.pk, 0) + _quantity(qty)
    if not result:
        raise ValidationError({field: [_("Add at least one line.")]})
    return result


@transaction.atomic
def transfer_create(*, from_warehouse: Warehouse, to_warehouse: Warehouse, lines, note: str = "") -> Transfer:
    from_warehouse = _own(Warehouse, from_warehouse, "from_warehouse")
    to_warehouse = _own(Warehouse, to_warehouse, "to_warehouse")
    if from_warehouse.pk == to_warehouse.pk:
        raise ValidationError({"to_warehouse": [_("Choose a different destination warehouse.")]})
    quantities = _lines(lines)
    transfer = Transfer.objects.create(number=_next_number(Transfer, "TR"), from_warehouse=from_warehouse,
                                       to_warehouse=to_warehouse, note=note)
    TransferLine.objects.bulk_create([TransferLine(tenant=transfer.tenant, transfer=transfer, sku_id=s, quantity=q)
                                      for s, q in sorted(quantities.items())])
    return transfer


def _locked_transfer(transfer) -> Transfer:
    transfer = _own(Transfer, transfer, "transfer")
    return Transfer.objects.select_for_update().get(pk=transfer.pk)


@transaction.atomic
def transfer_ship(*, transfer: Transfer, user=None) -> Transfer:
    """Dispatch: on_hand leaves the source, in_transit grows at the destination."""
    transfer = _locked_transfer(transfer)
    if transfer.status != TransferStatus.DRAFT:
        raise ValidationError({"status": [_("Only a draft transfer can be shipped.")]})
    lines = list(transfer.lines.order_by("sku_id"))
    pairs = [(transfer.from_warehouse_id, ln.sku_id) for ln in lines] + [(transfer.to_warehouse_id, ln.sku_id) for ln in lines]
    stock_sql.ensure_levels(pairs)
    _lock_level_pairs(pairs)
    for line in lines:
        after = stock_sql.level_update(warehouse_id=transfer.from_warehouse_id, sku_id=line.sku_id, on_hand=-line.quantity)
        if after is None:
            now = _level_numbers(transfer.from_warehouse_id, line.sku_id)
            raise InsufficientStock(sku_id=line.sku_id, warehouse_id=transfer.from_warehouse_id, requested=line.quantity,
                                    available=now["on_hand"] - now["reserved"] - now["locked"])
        _write_move(warehouse_id=transfer.from_warehouse_id, sku_id=line.sku_id, kind=MoveKind.TRANSFER_OUT, after=after,
                    on_hand=-line.quantity, reason=f"transfer to {transfer.to_warehouse.code}", source_doc=transfer.number,
                    user=user)
        after = stock_sql.level_update(warehouse_id=transfer.to_warehouse_id, sku_id=line.sku_id, in_transit=line.quantity)
        _write_move(warehouse_id=transfer.to_warehouse_id, sku_id=line.sku_id, kind=MoveKind.TRANSFER_OUT, after=after,
                    in_transit=line.quantity, reason=f"in transit from {transfer.from_warehouse.code}",
                    source_doc=transfer.number, user=user)
    transfer.status, transfer.shipped_at = TransferStatus.IN_TRANSIT, timezone.now()
    transfer.save(update_fields=["status", "shipped_at", "updated_at"])
    return transfer


@transaction.atomic
def transfer_receive(*, transfer: Transfer, received: dict | None = None, user=None) -> Transfer:
    """Arrival: in_transit -> on_hand at the destination. ``received`` {sku_id: qty} records a
    shortfall (the missing units are written off with the transfer as their source document)."""
    transfer = _locked_transfer(transfer)
    if transfer.status != TransferStatus.IN_TRANSIT:
        raise ValidationError({"status": [_("Only a transfer in transit can be received.")]})
    lines = list(transfer.lines.order_by("sku_id"))
    received = {int(k): v for k, v in (received or {}).items()}
    unknown = set(received) - {ln.sku_id for ln in lines}
    if unknown:
        raise ValidationError({"received": [_("SKU %(ids)s is not on this transfer.") % {"ids": sorted(unknown)}]})
    pairs = [(transfer.to_warehouse_id, ln.sku_id) for ln in lines]
    _lock_level_pairs(pairs)
    missing: list[tuple[StockMove, int]] = []
    for line in lines:
        got = _quantity(received.get(line.sku_id, line.quantity), field="received", allow_zero=True)
        if got > line.quantity:
            raise ValidationError({"received": [_("More received than shipped; receive the extra as a receipt.")]})
        after = stock_sql.level_update(warehouse_id=transfer.to_warehouse_id, sku_id=line.sku_id, on_hand=got,
                                       in_transit=-line.quantity)
        if after is None:
            raise ValidationError(_("Stock level out of step with the transfer; run verify_stock."))
        move = _write_move(warehouse_id=transfer.to_warehouse_id, sku_id=line.sku_id, kind=MoveKind.TRANSFER_IN,
                           after=after, on_hand=got, in_transit=-line.quantity,
                           reason=f"transfer from {transfer.from_warehouse.code}" + (f" ({line.quantity - got} missing)" if got < line.quantity else ""),
                           source_doc=transfer.number, user=user)
        missing.append((move, got - line.quantity))  # 0 when all arrived (a transfer alone changes no value)
        TransferLine.objects.filter(pk=line.pk).update(received_quantity=got)
    _publish_adjusted(kind=AdjustKind.TRANSFER_SHORTAGE, ref=f"transfer:{transfer.pk}", warehouse_id=transfer.to_warehouse_id,
                      reason=f"transfer {transfer.number}: units missing", source_doc=transfer.number, changes=missing)
    transfer.status, transfer.received_at = TransferStatus.RECEIVED, timezone.now()
    transfer.save(update_fields=["status", "received_at", "updated_at"])
    return transfer


@transaction.atomic
def transfer_cancel(*, transfer: Transfer) -> Transfer:
    transfer = _locked_transfer(transfer)
    if transfer.status != TransferStatus.DRAFT:
        raise ValidationError({"status": [_("Only a draft transfer can be cancelled.")]})
    transfer.status = TransferStatus.CANCELLED
    transfer.save(update_fields=["status", "updated_at"])
    return transfer
