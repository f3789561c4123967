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


def historical_buyer_totals(*, keys) -> dict:
    """{(platform, buyer id): (paid, orders, first, last)} of the buyers' imported historical orders."""
    try:
        fn = getattr(importlib.import_module("orders.selectors"), "historical_buyer_totals", None)
    except ImportError:
        fn = None
    return fn(keys=list(keys)) if fn is not None else {}


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


# --- integrations: coupon delivery to the platforms and platform coupons on orders ----------------
def _integrations(module: str, name: str):
    fn = getattr(importlib.import_module(f"integrations.{module}"), name, None)
    if fn is None:
        raise RuntimeError(f"integrations.{module}.{name} is not available (docs/INTERFACES.md)")
    return fn


def coupon_deliver(*, deliveries: list[dict]) -> dict[int, str]:
    """Queue coupons for delivery to their platform buyers (integrations.services.coupon_deliveries_enqueue)."""
    if not deliveries:
        return {}
    return _integrations("services", "coupon_deliveries_enqueue")(deliveries=deliveries)


def coupon_delivery_retry(*, coupon_ids: list[int]) -> int:
    return _integrations("services", "coupon_delivery_retry")(coupon_ids=coupon_ids)


def coupon_deliveries(*, coupon_ids) -> dict:
    """{coupon id: delivery info} (integrations.selectors.coupon_deliveries)."""
    return _integrations("selectors", "coupon_deliveries")(coupon_ids=coupon_ids)


def coupon_delivery_counts(*, coupon_ids) -> dict:
    return _integrations("selectors", "coupon_delivery_counts")(coupon_ids=coupon_ids)


def coupon_id_for_platform_coupon(*, shop_id: int, platform_coupon_id: str) -> int | None:
    return _integrations("selectors", "coupon_id_for_platform_coupon")(shop_id=shop_id,
                                                                       platform_coupon_id=platform_coupon_id)
