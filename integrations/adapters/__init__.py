"""Platform adapters behind one interface (integrations.adapters.base.PlatformAdapter).

``get_adapter(shop)`` returns the adapter of the shop's platform, built with the shop's base URL
and credentials. Tests may swap the factory with ``override_adapters(factory)``.
"""

from __future__ import annotations

from contextlib import contextmanager
from importlib import import_module

from .base import (
    AdapterError,
    CouponSend,
    CouponSendResult,
    NotSupported,
    Page,
    PlatformAdapter,
    RefundAction,
    RefundDecision,
    RefundDecisionResult,
    ShipmentResult,
    StockResult,
    StockUpdate,
)

__all__ = ["AdapterError", "CouponSend", "CouponSendResult", "NotSupported", "Page", "PlatformAdapter", "RefundAction", "RefundDecision",
           "RefundDecisionResult", "ShipmentResult", "StockResult", "StockUpdate", "get_adapter", "adapter_class",
           "override_adapters"]

_MODULES = {"taobao": "taobao", "jd": "jd", "pdd": "pdd", "own": "own"}
_override = None


def adapter_class(platform: str) -> type[PlatformAdapter]:
    module = import_module(f"{__name__}.{_MODULES[platform]}")
    return module.Adapter


def get_adapter(shop) -> PlatformAdapter:
    if _override is not None:
        return _override(shop)
    return adapter_class(shop.platform).for_shop(shop)


@contextmanager
def override_adapters(factory):
    global _override
    previous, _override = _override, factory
    try:
        yield
    finally:
        _override = previous
