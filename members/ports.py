"""Every call members makes into orders (docs/INTERFACES.md), looked up when called: orders changes
in parallel, and a missing entry point must not break the import of this app. Tests may swap the
snapshot source with ``use_order_snapshots``."""

from __future__ import annotations

import importlib
from contextlib import contextmanager

_override = None


def order_snapshots(*, order_ids: list[int]) -> list:
    if _override is not None:
        return list(_override(order_ids=list(order_ids)))
    try:
        fn = getattr(importlib.import_module("orders.selectors"), "order_snapshots", None)
    except ImportError:
        fn = None
    if fn is None:
        raise RuntimeError("orders.selectors.order_snapshots is not available (docs/INTERFACES.md)")
    return list(fn(order_ids=list(order_ids)))


def order_snapshots_or_empty(*, order_ids: list[int]) -> dict:
    """{order id: snapshot} for display; empty when orders cannot answer."""
    if not order_ids:
        return {}
    try:
        return {s.id: s for s in order_snapshots(order_ids=order_ids)}
    except RuntimeError:
        return {}


@contextmanager
def use_order_snapshots(fn):
    global _override
    previous, _override = _override, fn
    try:
        yield
    finally:
        _override = previous


_sku_override = None


def order_ids_with_sku(*, sku_code: str) -> list[int]:
    """Orders holding a line of the SKU (orders.selectors.order_ids_with_sku); tests may swap it."""
    if _sku_override is not None:
        return list(_sku_override(sku_code=sku_code))
    fn = getattr(importlib.import_module("orders.selectors"), "order_ids_with_sku", None)
    if fn is None:
        raise RuntimeError("orders.selectors.order_ids_with_sku is not available (docs/INTERFACES.md)")
    return list(fn(sku_code=sku_code))


@contextmanager
def use_order_ids_with_sku(fn):
    global _sku_override
    previous, _sku_override = _sku_override, fn
    try:
        yield
    finally:
        _sku_override = previous
