"""Every call after-sales makes into orders, integrations and inventory (docs/INTERFACES.md).

Each entry point is looked up when called (those apps change in parallel): a missing one raises a
clear error instead of breaking the import of this app.
"""

from __future__ import annotations

import importlib


def _entry(module: str, name: str):
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        found = None
    if found is None:
        raise RuntimeError(f"{module}.{name} is not available (docs/INTERFACES.md)")
    return found


def order_snapshots(*, order_ids: list[int]) -> list:
    return list(_entry("orders.selectors", "order_snapshots")(order_ids=list(order_ids)))


def order_snapshots_by_platform_ids(*, shop_id: int, platform_order_ids: list[str]) -> dict:
    return dict(_entry("orders.selectors", "order_snapshots_by_platform_ids")(
        shop_id=shop_id, platform_order_ids=list(platform_order_ids)))


def order_snapshot(order_id: int):
    """The order for after-sales: a platform order comes with the lines that came from it, wherever
    they are now (a merged shipment, a split part); any other order with the lines it holds."""
    found = order_snapshots(order_ids=[order_id])
    if not found:
        return None
    snap = found[0]
    if snap.kind == "platform" and snap.platform_order_id:
        origin = order_snapshots_by_platform_ids(shop_id=snap.shop_id, platform_order_ids=[snap.platform_order_id])
        return origin.get(snap.platform_order_id) or snap
    return snap


SHIPPED_ORDER_STATES = frozenset({"shipped", "completed"})


def order_shipped(snapshot) -> bool:
    """The order (or, for a platform order, a shipment holding its lines) left the warehouse."""
    if snapshot.shipped_at or snapshot.status in SHIPPED_ORDER_STATES:
        return True
    holders = sorted({ln.order_id for ln in snapshot.lines if ln.order_id != snapshot.id})
    return any(s.shipped_at or s.status in SHIPPED_ORDER_STATES for s in order_snapshots(order_ids=holders)) if holders else False


def order_create_reship(*, order_id: int, lines: list[tuple[int, int]], why: str, actor, source_ref: str):
    return _entry("orders.services", "order_create_reship")(order_id=order_id, lines=lines, why=why, actor=actor,
                                                            source_ref=source_ref)


def normalized_refunds(*, shop_id: int, platform_refund_ids: list[str]) -> list:
    return list(_entry("integrations.selectors", "normalized_refunds")(
        shop_id=shop_id, platform_refund_ids=list(platform_refund_ids)))


def stock_return(*, warehouse_id: int, sku_id: int, quantity: int, source_doc: str, defective: bool, reason: str,
                 user=None):
    return _entry("inventory.services", "stock_return")(warehouse=warehouse_id, sku=sku_id, quantity=quantity,
                                                        source_doc=source_doc, defective=defective, reason=reason,
                                                        user=user)


def daily_sales(*, since, until=None, sku_ids=None):
    """Units sold per SKU (orders.selectors.daily_sales), or None while orders does not offer it."""
    try:
        fn = _entry("orders.selectors", "daily_sales")
    except RuntimeError:
        return None
    return fn(since=since, until=until, sku_ids=sku_ids)


def refund_decision_enqueue(**decision):
    """integrations.services.refund_decision_enqueue: the seller's decision on a platform refund,
    written to the outbox in the caller's transaction."""
    return _entry("integrations.services", "refund_decision_enqueue")(**decision)


def active_warehouse(warehouse_id):
    """The active warehouse with this id (where returns go), or None."""
    if warehouse_id is None:
        return None
    return next((w for w in _entry("inventory.selectors", "warehouses_for_allocation")() if w.pk == warehouse_id), None)
