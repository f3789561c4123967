"""Writes of the inventory: the only code that changes stock. Import from here (``inventory.services``).

Every stock change writes its StockMove (the ledger) and updates the StockLevel projection in the
same transaction, through a guarded UPDATE that can never break a CHECK constraint and that flags
the level for the channel push (turned into per-(shop, mapping) dirty marks when a push claims).
Lock order everywhere: StockLevel rows by id, then StockLock rows by id, then Reservation rows, then
StockDirty rows by mapping id.

Public entry points other apps call (docs/INTERFACES.md): stock_reserve, stock_reserve_batch,
stock_reserve_many, stock_release, stock_commit, stock_receive, stock_adjust, stock_return,
sku_cost_update_on_receipt, plus transfers, stocktakes, promotion locks, sync rules and SKU mappings.

A change that alters what the stock is worth outside purchasing, shipping, customer returns and
transfers (a stocktake posted, a manual adjustment, defective units scrapped, units lost in a
transfer) publishes "inventory.adjusted" once per operation, in its transaction, for finance.

The modules, by subdomain:
- ``_common``: input checks, InsufficientStock, the guarded ledger write, level locking, the
  "inventory.adjusted" event (helpers, not an entry point);
- ``moves``: receipts, adjustments, returns, defective units, scrap;
- ``reservations``: reserve / release / commit one reference;
- ``batch``: set-based reservation for order ingestion (stock_reserve_batch, stock_reserve_many);
- ``transfers``, ``stocktakes``, ``promotions`` (promotion stock locks);
- ``catalogue``: bundle components, moving-average cost on receipt;
- ``channel``: platform SKU mappings, sync rules, acknowledging pushed stock;
- ``verify``: re-deriving the levels from the ledger.
"""

from ._common import MAX_QUANTITY, AdjustKind, InsufficientStock
from .batch import (
    ReserveLine,
    ReserveOutcome,
    ReserveRequest,
    Shortage,
    stock_reserve_batch,
    stock_reserve_many,
)
from .catalogue import sku_cost_update_on_receipt, sku_set_components
from .channel import (
    dirty_stock_ack,
    sku_mapping_create,
    sku_mapping_set,
    sku_mappings_automatch,
    sync_rule_save,
)
from .moves import stock_adjust, stock_mark_defective, stock_receive, stock_return, stock_scrap_defective
from .promotions import (
    promotion_create,
    promotion_delete,
    promotion_end_locks,
    promotion_lock_stock,
    stock_lock_cancel,
    stock_lock_create,
    stock_locks_tick,
)
from .reservations import stock_commit, stock_release, stock_reserve
from .stocktakes import stocktake_cancel, stocktake_count, stocktake_create, stocktake_post
from .transfers import transfer_cancel, transfer_create, transfer_receive, transfer_ship
from .verify import Drift, stock_verify

__all__ = [
    "MAX_QUANTITY",
    "AdjustKind",
    "Drift",
    "InsufficientStock",
    "ReserveLine",
    "ReserveOutcome",
    "ReserveRequest",
    "Shortage",
    "dirty_stock_ack",
    "promotion_create",
    "promotion_delete",
    "promotion_end_locks",
    "promotion_lock_stock",
    "sku_cost_update_on_receipt",
    "sku_mapping_create",
    "sku_mapping_set",
    "sku_mappings_automatch",
    "sku_set_components",
    "stock_adjust",
    "stock_commit",
    "stock_lock_cancel",
    "stock_lock_create",
    "stock_locks_tick",
    "stock_mark_defective",
    "stock_receive",
    "stock_release",
    "stock_reserve",
    "stock_reserve_batch",
    "stock_reserve_many",
    "stock_return",
    "stock_scrap_defective",
    "stock_verify",
    "stocktake_cancel",
    "stocktake_count",
    "stocktake_create",
    "stocktake_post",
    "sync_rule_save",
    "transfer_cancel",
    "transfer_create",
    "transfer_receive",
    "transfer_ship",
]
