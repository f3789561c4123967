"""Single stock moves: receipts, manual adjustments, customer returns, defective units and scrap.

Each writes one ledger row per stock SKU through the guarded update in ``_common._change``; an
adjustment and a scrap publish "inventory.adjusted" for finance.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import SKU, MoveKind, StockMove, Warehouse
from ._common import AdjustKind, _change, _components, _own, _publish_adjusted, _quantity, _stock_sku


@transaction.atomic
def stock_receive(*, warehouse: Warehouse, sku: SKU, quantity: int, reason: str = "receipt", source_doc: str = "",
                  user=None) -> StockMove:
    """Goods in (a purchase receipt, an opening balance): on_hand += quantity."""
    quantity = _quantity(quantity)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _stock_sku(_own(SKU, sku, "sku"))
    return _change(warehouse=warehouse, sku=sku, kind=MoveKind.RECEIPT, reason=reason, source_doc=source_doc,
                   on_hand=quantity, user=user)


@transaction.atomic
def stock_adjust(*, warehouse: Warehouse, sku: SKU, quantity: int, reason: str, source_doc: str = "",
                 user=None, publish_adjusted: bool = True) -> StockMove:
    """A correction of on_hand by ``quantity`` (signed, not zero). A decrease may not take on_hand
    below what is reserved or promotion-locked. Publishes "inventory.adjusted" (kind adjustment) so
    finance books the gain or loss, unless ``publish_adjusted=False``: the caller's own event values
    the change (purchasing's return to the supplier publishes purchase.returned)."""
    quantity = _quantity(quantity, allow_negative=True)
    if not (reason or "").strip():
        raise ValidationError({"reason": [_("Say why the stock changes.")]})
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _stock_sku(_own(SKU, sku, "sku"))
    move = _change(warehouse=warehouse, sku=sku, kind=MoveKind.ADJUSTMENT, reason=reason, source_doc=source_doc,
                   on_hand=quantity, user=user)
    if publish_adjusted:
        _publish_adjusted(kind=AdjustKind.ADJUSTMENT, ref=f"move:{move.pk}", warehouse_id=warehouse.pk,
                          reason=move.reason, source_doc=move.source_doc, changes=[(move, quantity)])
    return move


@transaction.atomic
def stock_return(*, warehouse: Warehouse, sku: SKU, quantity: int, source_doc: str = "", defective: bool = False,
                 reason: str = "", user=None) -> list[StockMove]:
    """A customer return: back to sellable stock, or to the defective bucket. A bundle returns its
    components."""
    quantity = _quantity(quantity)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _own(SKU, sku, "sku")
    moves = []
    for component_id, per in _components(sku):
        component = SKU.objects.get(pk=component_id)
        n = quantity * per
        moves.append(_change(
            warehouse=warehouse, sku=component, kind=MoveKind.RETURN, source_doc=source_doc, user=user,
            reason=reason or ("return (defective)" if defective else "return"),
            on_hand=0 if defective else n, defective=n if defective else 0,
        ))
    return moves


@transaction.atomic
def stock_mark_defective(*, warehouse: Warehouse, sku: SKU, quantity: int, reason: str, source_doc: str = "",
                         user=None) -> StockMove:
    """Sellable units found damaged: on_hand -= q, defective += q."""
    quantity = _quantity(quantity)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _stock_sku(_own(SKU, sku, "sku"))
    return _change(warehouse=warehouse, sku=sku, kind=MoveKind.DEFECTIVE, reason=reason or "defective",
                   source_doc=source_doc, on_hand=-quantity, defective=quantity, user=user)


@transaction.atomic
def stock_scrap_defective(*, warehouse: Warehouse, sku: SKU, quantity: int, reason: str, source_doc: str = "",
                          user=None, publish_adjusted: bool = True) -> StockMove:
    """Defective units written off (or sent back to the supplier): defective -= q. Publishes
    "inventory.adjusted" (kind scrap) unless ``publish_adjusted=False`` (sent back to the supplier:
    purchase.returned values it)."""
    quantity = _quantity(quantity)
    warehouse, sku = _own(Warehouse, warehouse, "warehouse"), _stock_sku(_own(SKU, sku, "sku"))
    move = _change(warehouse=warehouse, sku=sku, kind=MoveKind.DEFECTIVE, reason=reason or "scrap defective",
                   source_doc=source_doc, defective=-quantity, user=user)
    if publish_adjusted:
        _publish_adjusted(kind=AdjustKind.SCRAP, ref=f"move:{move.pk}", warehouse_id=warehouse.pk, reason=move.reason,
                          source_doc=move.source_doc, changes=[(move, -quantity)])
    return move
