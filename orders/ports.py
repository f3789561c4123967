"""Every call orders makes into inventory and integrations goes through here (docs/INTERFACES.md).

Those apps are built in parallel: each entry point is looked up when called, so orders works (with
"no SKU matched, no warehouse") before they land, and the tests can swap in a fake with
``use_inventory(fake)`` / ``use_integrations(fake)``.
"""

from __future__ import annotations

import importlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field

logger = logging.getLogger("orders")


class InsufficientStock(Exception):
    def __init__(self, sku_id=None, warehouse_id=None, requested=0, available=0):
        super().__init__(f"sku {sku_id} in warehouse {warehouse_id}: requested {requested}, available {available}")
        self.sku_id, self.warehouse_id, self.requested, self.available = sku_id, warehouse_id, requested, available


@dataclass(frozen=True)
class SkuInfo:
    id: int
    code: str = ""
    weight_g: int = 0


@dataclass(frozen=True)
class WarehouseInfo:
    id: int
    code: str = ""
    regions: tuple = ()
    priority: int = 0
    obj: object = field(default=None, compare=False, hash=False, repr=False)

    def serves(self, province: str) -> bool:
        if not self.regions:
            return True
        wanted = province_key(province)
        return any(province_key(region) == wanted for region in self.regions)


_PROVINCE_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "特别行政区", "自治区", "省", "市")


def province_key(name: str) -> str:
    """One spelling per province: platforms write 浙江省 / 上海市 / 广西壮族自治区 where a
    warehouse's regions may say 浙江 / 上海 / 广西."""
    name = (name or "").strip()
    for suffix in _PROVINCE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _optional(module: str, name: str):
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def _sku_info(sku) -> SkuInfo | None:
    if sku is None:
        return None
    if isinstance(sku, SkuInfo):
        return sku
    return SkuInfo(id=sku.pk, code=getattr(sku, "code", ""), weight_g=_weight_g(sku))


def _weight_g(sku) -> int:
    for attr in ("weight_g", "weight_grams"):
        value = getattr(sku, attr, None)
        if value:
            return int(value)
    value = getattr(sku, "weight", None)  # kilograms (Decimal) when the model stores it so
    if value:
        try:
            return int(float(value) * 1000)
        except (TypeError, ValueError):
            return 0
    return 0


class InventoryPort:
    """The real inventory services and selectors."""

    def sku_for_line(self, *, shop, platform_item_id: str, platform_sku_id: str, outer_id: str) -> SkuInfo | None:
        fn = _optional("inventory.selectors", "sku_for_platform_line")
        if fn is None:
            return None
        sku = fn(shop=shop, platform_item_id=platform_item_id, platform_sku_id=platform_sku_id, outer_id=outer_id)
        return _sku_info(sku)

    def skus_for_lines(self, *, shop, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], SkuInfo | None]:
        """{(platform_item_id, platform_sku_id, outer_id): SkuInfo or None} for every key, in one call
        (inventory.selectors.skus_for_platform_lines) or, before that exists, one lookup per key."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        batch = _optional("inventory.selectors", "skus_for_platform_lines")
        if batch is not None:
            found = batch(shop=shop, lines=[{"platform_item_id": i, "platform_sku_id": s, "outer_id": o}
                                            for i, s, o in keys])
            return {k: _sku_info(found.get(k)) for k in keys}
        return {k: self.sku_for_line(shop=shop, platform_item_id=k[0], platform_sku_id=k[1], outer_id=k[2])
                for k in keys}

    def skus_by_id(self, *, sku_ids: list[int]) -> dict[int, SkuInfo]:
        fn = _optional("inventory.selectors", "skus_by_ids")
        return {pk: _sku_info(sku) for pk, sku in fn(sku_ids=sku_ids).items()} if fn is not None else {}

    def warehouses(self) -> list[WarehouseInfo]:
        fn = _optional("inventory.selectors", "warehouses_for_allocation")
        if fn is None:
            return []
        return [WarehouseInfo(id=w.pk, code=getattr(w, "code", ""), regions=tuple(getattr(w, "regions", None) or ()),
                              priority=getattr(w, "priority", 0), obj=w) for w in fn()]

    def available(self, *, sku_ids: list[int]) -> dict[tuple[int, int], int]:
        fn = _optional("inventory.selectors", "available_by_warehouse")
        return dict(fn(sku_ids=list(sku_ids))) if fn is not None and sku_ids else {}

    def reserve_many(self, *, warehouse: WarehouseInfo, items: list[tuple[int, int, str]], shop=None) -> None:
        """items: (sku_id, quantity, ref_id), reserved all-or-nothing (inventory.stock_reserve_many,
        which locks its rows in id order). Raises our InsufficientStock on a shortage."""
        many = _optional("inventory.services", "stock_reserve_many")
        one = _optional("inventory.services", "stock_reserve")
        if many is None and one is None:
            raise InsufficientStock(items[0][0] if items else None, warehouse.id, 0, 0)
        error = _optional("inventory.services", "InsufficientStock") or InsufficientStock
        target = warehouse.obj if warehouse.obj is not None else warehouse.id
        try:
            if many is not None:
                many(lines=[{"warehouse": target, "sku": sku_id, "quantity": quantity, "ref_type": "order_line",
                             "ref_id": ref_id, "shop": shop} for sku_id, quantity, ref_id in items])
            else:
                for sku_id, quantity, ref_id in items:
                    one(warehouse=target, sku=sku_id, quantity=quantity, ref_type="order_line", ref_id=ref_id)
        except error as exc:
            raise InsufficientStock(getattr(exc, "sku_id", None), warehouse.id, getattr(exc, "requested", 0),
                                    getattr(exc, "available", 0)) from exc

    def reserve_batch(self, *, requests: list[ReserveRequest]) -> dict[object, InsufficientStock]:
        """Reserve many requests (each all-or-nothing, earlier requests first) in one call
        (inventory.services.stock_reserve_batch). Returns {request key: shortage} for the requests
        refused for want of stock (nothing of those is held); the others are reserved. Any other
        refusal (bad input, a reference holding a different reservation) raises, as before."""
        batch = _optional("inventory.services", "stock_reserve_batch")
        if batch is None:
            return reserve_batch_one_by_one(self, requests)
        outcomes = batch(requests=[
            {"key": r.key, "lines": [{"warehouse": r.warehouse.obj if r.warehouse.obj is not None else r.warehouse.id,
                                      "sku": sku_id, "quantity": quantity, "ref_type": "order_line", "ref_id": ref_id,
                                      "shop": r.shop} for sku_id, quantity, ref_id in r.items]}
            for r in requests])
        refused = {}
        for outcome in outcomes:
            if outcome.reserved:
                continue
            if outcome.error is not None:
                raise outcome.error
            s = outcome.shortage
            refused[outcome.key] = InsufficientStock(getattr(s, "sku_id", None), getattr(s, "warehouse_id", None),
                                                     getattr(s, "requested", 0), getattr(s, "available", 0))
        return refused

    def release(self, *, ref_id: str) -> int:
        fn = _optional("inventory.services", "stock_release")
        return fn(ref_type="order_line", ref_id=ref_id) if fn is not None else 0

    def commit(self, *, ref_id: str, source_doc: str = "") -> int:
        fn = _optional("inventory.services", "stock_commit")
        return fn(ref_type="order_line", ref_id=ref_id, source_doc=source_doc) if fn is not None else 0


@dataclass
class ReserveRequest:
    """One all-or-nothing reservation of a batch: an order (or split part) in one warehouse."""

    key: object
    warehouse: WarehouseInfo
    items: list[tuple[int, int, str]]  # (sku_id, quantity, ref_id)
    shop: object = None


def reserve_batch_one_by_one(port, requests: list[ReserveRequest]) -> dict[object, InsufficientStock]:
    """reserve_batch for a port that only reserves one request at a time (a failed request
    releases whatever it reserved before the shortage)."""
    failed = {}
    for r in requests:
        try:
            port.reserve_many(warehouse=r.warehouse, shop=r.shop, items=r.items)
        except InsufficientStock as exc:
            for _sku, _qty, ref_id in r.items:
                port.release(ref_id=ref_id)
            failed[r.key] = exc
    return failed


def skus_for_lines(port, *, shop, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], SkuInfo | None]:
    """The port's batch SKU lookup, or one lookup per distinct key for a port without one."""
    fn = getattr(port, "skus_for_lines", None)
    if fn is not None:
        return fn(shop=shop, keys=keys)
    return {k: port.sku_for_line(shop=shop, platform_item_id=k[0], platform_sku_id=k[1], outer_id=k[2])
            for k in dict.fromkeys(keys)}


def reserve_batch(port, requests: list[ReserveRequest]) -> dict[object, InsufficientStock]:
    if not requests:
        return {}
    fn = getattr(port, "reserve_batch", None)
    return fn(requests=requests) if fn is not None else reserve_batch_one_by_one(port, requests)


class IntegrationsPort:
    def normalized_orders(self, *, shop_id: int, platform_order_ids: list[str]) -> list:
        fn = _optional("integrations.selectors", "normalized_orders")
        if fn is None:
            logger.warning("integrations.selectors.normalized_orders is missing: platform orders not ingested")
            return []
        return list(fn(shop_id=shop_id, platform_order_ids=platform_order_ids))

    def normalized_refunds(self, *, shop_id: int, platform_refund_ids: list[str]) -> list:
        fn = _optional("integrations.selectors", "normalized_refunds")
        if fn is None:
            logger.warning("integrations.selectors.normalized_refunds is missing: refunds not intercepted")
            return []
        return list(fn(shop_id=shop_id, platform_refund_ids=platform_refund_ids))

    def shipment_push_enqueue(self, *, shop, platform_order_id: str, carrier_code: str, tracking_no: str,
                              lines: list[str] | None = None) -> bool:
        fn = _optional("integrations.services", "shipment_push_enqueue")
        if fn is None:
            logger.warning("integrations.services.shipment_push_enqueue is missing: shipment not pushed")
            return False
        fn(shop=shop, platform_order_id=platform_order_id, carrier_code=carrier_code, tracking_no=tracking_no, lines=lines)
        return True


_inventory: object = InventoryPort()
_integrations: object = IntegrationsPort()


def inventory():
    return _inventory


def integrations():
    return _integrations


@contextmanager
def use_inventory(port):
    global _inventory
    previous, _inventory = _inventory, port
    try:
        yield port
    finally:
        _inventory = previous


@contextmanager
def use_integrations(port):
    global _integrations
    previous, _integrations = _integrations, port
    try:
        yield port
    finally:
        _integrations = previous


def buyer_levels(*, platform: str, buyer_ids) -> dict[str, int]:
    """Member level rank per buyer id (members.selectors.buyer_levels; 0 when unknown)."""
    fn = _optional("members.selectors", "buyer_levels")
    wanted = sorted({b for b in buyer_ids if b})
    if fn is None or not wanted:
        return {}
    return fn(platform=platform, buyer_ids=wanted)


def warehouse_names(ids) -> dict[int, str]:
    """{warehouse id: "CODE name"} (inventory.selectors.warehouse_names), for pages."""
    fn = _optional("inventory.selectors", "warehouse_names")
    wanted = sorted({i for i in ids if i})
    return fn(ids=wanted) if fn is not None and wanted else {}


def buyer_benefits(*, platform: str, buyer_ids) -> dict:
    """{buyer id: members.selectors.BuyerBenefits} of the buyers known as members (level shipping,
    discount, gifts of the level and pending points gifts); empty when members cannot answer."""
    fn = _optional("members.selectors", "buyer_benefits")
    wanted = sorted({b for b in buyer_ids if b})
    if fn is None or not wanted:
        return {}
    return fn(platform=platform, buyer_ids=wanted)


def gifts_consume(*, order_id: int, entitlement_ids: list[int]) -> list[int]:
    """Consume pending points gifts for the order (members.services.rewards.gifts_consume, once
    each): the ids this order holds."""
    fn = _optional("members.services.rewards", "gifts_consume")
    if fn is None or not entitlement_ids:
        return []
    return list(fn(order_id=order_id, entitlement_ids=list(entitlement_ids)))


def gifts_release(*, order_id: int) -> list[int]:
    """The order was cancelled before shipping: its points gifts wait for the next order again
    (members.services.rewards.gifts_release)."""
    fn = _optional("members.services.rewards", "gifts_release")
    return list(fn(order_id=order_id)) if fn is not None else []



class CarrierPort:
    """The carrier's electronic waybill through the warehouse app."""

    def ship(self, *, order_id: int, actor=None) -> None:
        """Ship the order with the carrier's electronic waybill of its warehouse
        (warehouse.services.order_ship_by_carrier: the waybill, the hand-over, then order_ship with
        the carrier's tracking number). Raises Conflict when it cannot (no carrier service, the
        carrier's refusal); nothing is stored then."""
        fn = _optional("warehouse.services", "order_ship_by_carrier")
        if fn is None:
            from django.utils.translation import gettext as _

            from erp.api.exceptions import Conflict

            raise Conflict(_("No carrier service is installed to print a waybill for this order."))
        fn(order_id=order_id, actor=actor)


_carrier: object = CarrierPort()


def carrier_ship(*, order_id: int, actor=None) -> None:
    """The ship action without a tracking number (CarrierPort.ship, or the fake of ``use_carrier``)."""
    _carrier.ship(order_id=order_id, actor=actor)


@contextmanager
def use_carrier(port):
    global _carrier
    previous, _carrier = _carrier, port
    try:
        yield port
    finally:
        _carrier = previous
