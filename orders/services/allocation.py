"""Allocation: approved orders get a warehouse, reserved stock and a carrier, set-based and in
shipping priority; the out-of-stock queue and its retry when stock arrives; deallocate and pick."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from .. import bulk, ports
from ..allocation import choose_carrier, consume, plan_allocation, priority_key
from ..models import CarrierRule, EventKind, HoldReason, Order, OrderEvent, OrderLine, OrderSettings
from ._common import (
    WORKFLOW,
    S,
    _active_lines,
    _release_order,
    order_settings,
)
from .benefits import apply_benefits
from .split import _carve

if TYPE_CHECKING:
    from .ingest import _Pending


# --- allocation -------------------------------------------------------------------------------------
@dataclass
class AllocationOutcome:
    allocated: list[int] = field(default_factory=list)
    out_of_stock: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)


@dataclass
class _Reservation:
    order: Order  # the order (or split part) the parcel ships as
    part: object  # allocation.Part
    lines: list[OrderLine]
    why: str


def _allocate(queryset, *, settings: OrderSettings, actor=None, strict: bool = True,
              preloaded: dict[int, tuple[Order, list[OrderLine]]] | None = None,
              pending: _Pending | None = None) -> AllocationOutcome:
    """Allocate approved orders in shipping priority: region, priority, stock, fewest parcels.

    Set-based: one availability read, every parcel planned in memory (each plan takes its stock
    from ``available`` before the next order is planned), ONE reservation call for the whole batch
    (inventory re-checks atomically; a parcel it refuses waits in the out-of-stock queue), then one
    write each for lines, orders and events. ``preloaded``: {order id: (order, active lines)} for
    orders already in memory and locked (fresh from ingestion); ``queryset`` adds others."""
    out = AllocationOutcome()
    preloaded = preloaded or {}
    orders = [o for o, _ in preloaded.values()]
    if queryset is not None:
        orders += [o for o in queryset.select_for_update().order_by("pk") if o.pk not in preloaded]
    orders.sort(key=priority_key)
    if not orders:
        return out
    if strict:
        for o in orders:
            WORKFLOW.check(o, "allocate")
    inv = ports.inventory()
    lines_by = _active_lines([o.pk for o in orders if o.pk not in preloaded]) if len(preloaded) < len(orders) else {}
    for pk, (_o, lines) in preloaded.items():
        lines_by[pk] = sorted(lines, key=lambda ln: ln.pk)
    # member benefits first (gift lines reserve stock like any line; applied once per order)
    benefited, benefit_evs = apply_benefits([o for o in orders if o.status == S.APPROVED], lines_by, settings=settings,
                                            pending=pending)
    warehouses = inv.warehouses()
    sku_ids = sorted({ln.sku_id for lines in lines_by.values() for ln in lines if ln.sku_id})
    available = inv.available(sku_ids=sku_ids) if warehouses else {}
    rules = list(CarrierRule.objects.filter(is_active=True))
    now = timezone.now()
    evs: list[OrderEvent] = list(benefit_evs)
    changed_orders: list[Order] = list(benefited)
    changed_lines: list[OrderLine] = []
    planned: list[_Reservation] = []
    for order in orders:
        if order.status != S.APPROVED:
            continue
        lines = lines_by.get(order.pk, [])
        if not lines:
            continue
        if any(ln.sku_id is None for ln in lines):
            order.set_hold_reasons(set(order.hold_reason_list) | {HoldReason.UNMATCHED_SKU})
            evs.append(WORKFLOW.set_status(order, S.ON_HOLD, why="a line has no SKU", code="hold.unmatched_sku",
                                           kind=EventKind.RULE, save=False))
            changed_orders.append(order)
            out.held.append(order.pk)
            continue
        plan, why = plan_allocation(lines=lines, warehouses=warehouses, available=available,
                                    province=order.receiver_province, allow_split=settings.split_by_stock)
        if plan is not None and len(plan.parts) > 1:
            if pending is not None:
                pending.flush()  # a split part refers to stored rows
            parts = _split_by_plan(order, plan, why=why, settings=settings)
        elif plan is not None:
            parts = [(order, plan.parts[0])]
        else:
            parts = []
        for part_order, part in parts:
            part_lines = lines if part_order is order and len(parts) == 1 else list(
                OrderLine.objects.filter(order=part_order, is_stopped=False).order_by("pk"))
            consume(available, part)
            planned.append(_Reservation(part_order, part, part_lines, why))
        if not parts:
            if order.out_of_stock_since is None:
                order.out_of_stock_since = now
                evs.append(WORKFLOW.event(order, EventKind.RULE, "out_of_stock", why, actor=actor))
                changed_orders.append(order)
            out.out_of_stock.append(order.pk)
    refused = ports.reserve_batch(inv, [
        ports.ReserveRequest(key=i, warehouse=r.part.warehouse, shop=r.order.shop_id,
                             items=[(ln.sku_id, ln.quantity, str(ln.pk)) for ln in r.lines])
        for i, r in enumerate(planned)])
    for i, r in enumerate(planned):
        exc = refused.get(i)
        if exc is not None:  # someone took it meanwhile: wait in the queue
            r.order.out_of_stock_since = r.order.out_of_stock_since or now
            evs.append(WORKFLOW.event(r.order, EventKind.RULE, "out_of_stock",
                                      f"out of stock while reserving: SKU {exc.sku_id} in warehouse {exc.warehouse_id}"))
            changed_orders.append(r.order)
            out.out_of_stock.append(r.order.pk)
            continue
        for ln in r.lines:
            ln.is_reserved, ln.warehouse_id = True, r.part.warehouse.id
            changed_lines.append(ln)
        _finish_allocation(r.order, r.part, rules, settings, now, evs, r.why, actor)
        changed_orders.append(r.order)
        out.allocated.append(r.order.pk)
    if pending is not None and pending.ids:  # not written yet: inserted as they are now
        changed_lines = [ln for ln in changed_lines if ln.order_id not in pending.ids]
        changed_orders = [o for o in changed_orders if not pending.is_pending(o)]
        pending.events += [e for e in evs if e]
        evs = []
    bulk.update(OrderLine, changed_lines, ["is_reserved", "warehouse_id"])
    bulk.update(Order, changed_orders, ["status", "hold_reasons", "warehouse_id", "carrier_code", "allocated_at",
                                        "out_of_stock_since", "updated_at", "free_shipping", "line_count",
                                        "total_quantity", "weight_g"])
    bulk.insert(OrderEvent, [e for e in evs if e])
    return out


def _finish_allocation(order, part, rules, settings, now, evs, why, actor):
    code, cost, carrier_why = choose_carrier(rules=rules, province=order.receiver_province, warehouse_id=part.warehouse.id,
                                             weight_g=order.weight_g, default_code=settings.default_carrier_code,
                                             priority=getattr(order, "_priority_shipping", False))
    if order.free_shipping:
        carrier_why += f"; free shipping (member level): the seller bears {cost}"
    order.warehouse_id = part.warehouse.id
    order.carrier_code = code
    order.allocated_at = now
    order.out_of_stock_since = None
    order.updated_at = now
    evs.append(WORKFLOW.set_status(order, S.ALLOCATED, why=why, code="allocated", actor=actor,
                                   kind=EventKind.ACTION if actor else EventKind.RULE, data={"warehouse_id": part.warehouse.id}, save=False))
    evs.append(WORKFLOW.event(order, EventKind.RULE, "carrier", carrier_why, data={"carrier": code,
                                                                                   "cost": str(cost)}))


def _split_by_plan(order: Order, plan, *, why: str, settings: OrderSettings):
    """The first part stays in the order; each further warehouse gets a split part."""
    results = [(order, plan.parts[0])]
    for part in plan.parts[1:]:
        fresh = {ln.pk: ln for ln in OrderLine.objects.filter(order=order, is_stopped=False)}
        items = [(fresh[ln.pk], qty) for ln, qty in part.items if ln.pk in fresh]
        child = _carve(order, items, why=f"by warehouse stock: {why}", code="split.stock", settings=settings)
        results.append((child, part))
    return results


@transaction.atomic
def orders_allocate(*, order_ids: list[int], actor=None) -> AllocationOutcome:
    return _allocate(Order.objects.filter(pk__in=order_ids), settings=order_settings(), actor=actor, strict=True)


@transaction.atomic
def order_allocate(*, order_id: int, actor=None) -> Order:
    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "allocate")
    outcome = _allocate(Order.objects.filter(pk=order.pk), settings=order_settings(), actor=actor)
    if order.pk in outcome.out_of_stock:
        order.refresh_from_db()
        return order
    order.refresh_from_db()
    return order


@transaction.atomic
def orders_retry_out_of_stock(*, limit: int = 1000) -> AllocationOutcome:
    """The out-of-stock queue, again, in shipping priority (periodic task; also when stock arrives)."""
    ids = list(Order.objects.filter(status=S.APPROVED, out_of_stock_since__isnull=False)
               .order_by("ship_by", "out_of_stock_since").values_list("pk", flat=True)[:limit])
    if not ids:
        return AllocationOutcome()
    return _allocate(Order.objects.filter(pk__in=ids), settings=order_settings(), strict=False)


@transaction.atomic
def order_deallocate(*, order_id: int, actor=None, why: str = "") -> Order:
    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "deallocate")
    evs = [_release_order(order, why or "deallocated by an operator")]
    evs.append(WORKFLOW.set_status(order, S.APPROVED, why=why or "deallocated by an operator", code="deallocated",
                                   actor=actor, kind=EventKind.ACTION, save=False))
    order.carrier_code = ""
    order.save()
    OrderEvent.objects.bulk_create([e for e in evs if e])
    return order


@transaction.atomic
def order_pick(*, order_id: int, actor=None) -> Order:
    order = WORKFLOW.lock(order_id)
    WORKFLOW.check(order, "pick")
    ev = WORKFLOW.set_status(order, S.PICKING, why="picking started", code="picking", actor=actor,
                             kind=EventKind.ACTION, save=False)
    order.save()
    ev.save()
    return order


def on_stock_received(**_):
    """Stock arrived: retry the out-of-stock queue once the receipt is committed (one retry per
    transaction, however many lines the receipt had)."""
    from erp.tenancy.context import get_current_tenant

    tenant = get_current_tenant()
    if tenant is None:
        return
    connection = transaction.get_connection()
    if any(getattr(hook, "oos_retry_tenant", None) == tenant.pk for _sids, hook, *_ in connection.run_on_commit):
        return

    def retry():
        from ..tasks import orders_retry_out_of_stock_task

        orders_retry_out_of_stock_task.delay(tenant_id=tenant.pk)

    retry.oos_retry_tenant = tenant.pk
    transaction.on_commit(retry)
