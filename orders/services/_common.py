"""What every order service shares: the status machine (TRANSITIONS, ACTION_STATES), the tenant's
order settings, timeline events, status changes, row locks in id order, line recounts and stock
release. Wrong-state actions raise ``erp.api.exceptions.Conflict`` (409) with the reason."""

from __future__ import annotations

import logging
from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy, pgettext_lazy

from erp import events
from erp.money import to_money
from erp.tenancy.context import get_current_tenant, tenant_context
from erp.workflow import Action, DocumentWorkflow
from integrations.ports import NormalizedOrder

from .. import ports
from ..addressing import address_hash, place_hash
from ..models import EventKind, Order, OrderEvent, OrderLine, OrderSettings, OrderStatus

logger = logging.getLogger("orders")
S = OrderStatus

# The status machine: which status may follow which. Every change goes through WORKFLOW.set_status().
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_REVIEW: frozenset({S.ON_HOLD, S.APPROVED, S.CANCELLED, S.CLOSED, S.SHIPPED}),
    S.ON_HOLD: frozenset({S.PENDING_REVIEW, S.APPROVED, S.CANCELLED, S.CLOSED, S.SHIPPED}),
    S.APPROVED: frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.ALLOCATED, S.CANCELLED, S.CLOSED, S.SHIPPED}),
    S.ALLOCATED: frozenset({S.APPROVED, S.ON_HOLD, S.PICKING, S.SHIPPED, S.CANCELLED}),
    S.PICKING: frozenset({S.ALLOCATED, S.ON_HOLD, S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.COMPLETED, S.CLOSED}),
    S.COMPLETED: frozenset({S.CLOSED}),
    S.CANCELLED: frozenset(),
    # a source order closed by a merge comes back (unmerge) or follows its merged shipment
    S.CLOSED: frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.SHIPPED, S.COMPLETED, S.CANCELLED}),
}

# Which statuses each operator action accepts (anything else: 409 with the reason).
ACTION_STATES: dict[str, frozenset[str]] = {
    "approve": frozenset({S.PENDING_REVIEW, S.ON_HOLD}),
    "hold": frozenset({S.PENDING_REVIEW, S.APPROVED, S.ALLOCATED, S.PICKING, S.ON_HOLD}),
    "release": frozenset({S.ON_HOLD}),
    "merge": frozenset({S.PENDING_REVIEW, S.APPROVED, S.ALLOCATED}),  # an allocated one gives its stock back
    "unmerge": frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED}),
    "split": frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED}),
    "allocate": frozenset({S.APPROVED}),
    "deallocate": frozenset({S.ALLOCATED, S.PICKING}),
    "pick": frozenset({S.ALLOCATED}),
    "ship": frozenset({S.ALLOCATED, S.PICKING}),
    "cancel": frozenset({S.PENDING_REVIEW, S.ON_HOLD, S.APPROVED, S.ALLOCATED, S.PICKING}),
}
# the verb of each action in a refusal ("Cannot <verb> order ..."), translated when shown
ACTION_VERBS = {name: pgettext_lazy("order action", name) for name in (
    "approve", "hold", "release", "merge", "unmerge", "split", "allocate", "deallocate", "pick", "ship", "cancel")}
RESERVED_STATES = frozenset({S.ALLOCATED, S.PICKING})


# --- small helpers --------------------------------------------------------------------------------
def order_settings() -> OrderSettings:
    obj = OrderSettings.objects.first()
    if obj is None:
        try:
            with transaction.atomic():
                obj = OrderSettings.objects.create()
        except IntegrityError:
            obj = OrderSettings.objects.get()
    return obj


def _after_status(order: Order, before: str, to: str) -> None:
    if to == S.CANCELLED:
        _publish_after_commit("order.cancelled", order_id=order.pk)


def _publish_after_commit(event: str, **payload) -> None:
    """Publish once the transaction that made the change commits (under the same tenant)."""
    tenant = get_current_tenant()

    def publish():
        with tenant_context(tenant):
            events.publish(event, **payload)

    transaction.on_commit(publish)


# Checks, status changes, timeline entries and row locks (erp.workflow). The services change an
# order in memory and write it with its events themselves, often in bulk: status changes are made
# with ``save=False`` and return the unsaved event (None when the order already has that status).
WORKFLOW = DocumentWorkflow(
    model=Order, event_model=OrderEvent, event_fk="order", status_kind=EventKind.STATUS, not_found="No such order.",
    number=lambda order: order.display_no or order.pk,
    refusal=gettext_lazy("Cannot %(action)s order %(no)s: it is %(status)s (allowed when %(allowed)s)."),
    actions={name: Action(states, ACTION_VERBS[name]) for name, states in ACTION_STATES.items()},
    transitions=TRANSITIONS, skip_unchanged=True, after_status=_after_status,
)


def _active_lines(order_ids) -> dict[int, list[OrderLine]]:
    out: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=list(order_ids), is_stopped=False).order_by("pk"):
        out[line.order_id].append(line)
    return out


def _recount(order: Order, lines: list[OrderLine], settings: OrderSettings | None = None) -> None:
    active = [ln for ln in lines if not ln.is_stopped]
    default_w = settings.default_weight_g if settings else 500
    order.line_count = len(active)
    order.total_quantity = sum(ln.quantity for ln in active)
    order.weight_g = sum((ln.weight_g or default_w) * ln.quantity for ln in active)


def _release_lines(lines: list[OrderLine]) -> int:
    inv = ports.inventory()
    released = 0
    changed = []
    for line in lines:
        if line.is_reserved:
            released += inv.release(ref_id=str(line.pk)) or 0
            line.is_reserved = False
            line.warehouse_id = None
            changed.append(line)
    if changed:
        OrderLine.objects.bulk_update(changed, ["is_reserved", "warehouse_id"])
    return released


def _release_order(order: Order, why: str) -> OrderEvent | None:
    lines = list(OrderLine.objects.filter(order=order, is_reserved=True))
    units = _release_lines(lines)
    order.warehouse_id = None
    order.allocated_at = None
    if lines:
        return WORKFLOW.event(order, EventKind.SYSTEM, "stock.released", f"released {units} reserved unit(s): {why}")
    return None


def _money(value) -> Decimal:
    return to_money(value if value is not None else "0")


def _fill_from_normalized(order: Order, n: NormalizedOrder) -> None:
    r = n.receiver
    order.platform = n.platform
    order.buyer_id = (n.buyer_id or "")[:128]
    order.buyer_message = n.buyer_message or ""
    order.seller_memo = n.seller_memo or ""
    order.seller_flag = int(n.seller_flag or 0)
    order.receiver_name = (r.name or "")[:128]
    order.receiver_phone = (r.phone or "")[:64]
    order.receiver_province = (r.province or "")[:64]
    order.receiver_city = (r.city or "")[:64]
    order.receiver_district = (r.district or "")[:64]
    order.receiver_address = (r.address or "")[:500]
    order.receiver_merge_key = (r.merge_key or "")[:128]
    order.address_hash = address_hash(platform=n.platform, name=r.name, phone=r.phone, province=r.province, city=r.city,
                                      district=r.district, address=r.address, merge_key=r.merge_key,
                                      unique_fallback=f"{order.shop_id}:{n.platform_order_id}")
    order.place_hash = place_hash(province=r.province, city=r.city, district=r.district, address=r.address)
    order.currency = n.currency or "CNY"
    order.goods_amount = _money(n.goods_amount)
    order.discount_amount = _money(n.discount_amount)
    order.freight_amount = _money(n.freight_amount)
    order.paid_amount = _money(n.paid_amount)
    order.is_presale = bool(n.is_presale)
    order.presale_fully_paid = bool(n.presale_fully_paid)
    order.ship_blocked_reason = (n.ship_blocked_reason or "")[:64]
    order.platform_status = str(n.platform_status or "")[:64]
    order.platform_created_at = n.created_at
    order.platform_modified_at = n.modified_at
    order.paid_at = n.paid_at
    order.ship_by = n.ship_by


class _SkuResolver:
    """Memoised inventory.selectors.sku_for_platform_line over one batch."""

    def __init__(self, shop):
        self.shop = shop
        self.cache: dict[tuple, object] = {}

    def __call__(self, item_id: str, sku_id: str, outer_id: str):
        key = (item_id, sku_id, outer_id)
        if key not in self.cache:
            self.cache[key] = ports.inventory().sku_for_line(shop=self.shop, platform_item_id=item_id,
                                                             platform_sku_id=sku_id, outer_id=outer_id)
        return self.cache[key]
