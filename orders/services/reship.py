"""Reshipments (after-sales): a new free order sending SKUs again to the buyer of a shipped order."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import ports
from ..models import EventKind, Order, OrderEvent, OrderKind, OrderLine
from ._common import WORKFLOW, S, _recount, order_settings
from .allocation import _allocate

# --- reshipment (after-sales) -----------------------------------------------------------------------
_SHIPPED_STATES = frozenset({S.SHIPPED, S.COMPLETED})


@transaction.atomic
def order_create_reship(*, order_id: int, lines: list[tuple[int, int]], why: str, source_ref: str,
                        actor=None) -> Order:
    """A new order (kind reship) that sends ``(sku_id, quantity)`` again, free, to the buyer and
    address of an order that shipped: after-sales reshipments and exchanges. It is approved at once
    (the after-sales case approved it) and allocated like any order; shipping it pushes nothing to
    the platform. Idempotent on ``source_ref``: the same reference returns the order already made."""
    from django.core.exceptions import ValidationError

    source_ref = (source_ref or "").strip()
    if not source_ref or len(source_ref) > 64:
        raise ValidationError({"source_ref": "required, at most 64 characters"})
    existing = Order.objects.filter(source_ref=source_ref).first()
    if existing is not None:
        return existing
    original = Order.objects.select_related("shop").filter(pk=order_id).first()
    if original is None:
        raise ValidationError({"order_id": f"no order {order_id}"})
    shipped = original.status in _SHIPPED_STATES or OrderLine.objects.filter(
        origin_order=original, is_committed=True).exists()
    if not shipped:
        raise ValidationError({"order_id": f"order {original.display_no} has not shipped: nothing to reship"})
    wanted: dict[int, int] = defaultdict(int)
    for index, item in enumerate(lines or []):
        try:
            sku_id, quantity = (int(v) for v in item)
        except (TypeError, ValueError):
            raise ValidationError({"lines": f"line {index + 1}: expected (sku id, quantity)"})
        if quantity < 1:
            raise ValidationError({"lines": f"line {index + 1}: quantity must be at least 1"})
        wanted[sku_id] += quantity
    if not wanted:
        raise ValidationError({"lines": "name at least one SKU and quantity"})
    skus = ports.inventory().skus_by_id(sku_ids=sorted(wanted))
    unknown = sorted(set(wanted) - set(skus))
    if unknown:
        raise ValidationError({"lines": f"unknown SKU ids: {', '.join(map(str, unknown))}"})
    settings = order_settings()
    order = Order(tenant_id=original.tenant_id, shop=original.shop, kind=OrderKind.RESHIP, source_ref=source_ref,
                  status=S.APPROVED, paid_at=timezone.now(), ship_by=timezone.now() + timedelta(days=1))
    for name in ("platform", "platform_order_id", "buyer_id", "buyer_level", "receiver_name", "receiver_phone",
                 "receiver_province", "receiver_city", "receiver_district", "receiver_address", "receiver_merge_key",
                 "address_hash", "place_hash", "currency"):
        setattr(order, name, getattr(original, name))
    order.platform_created_at = order.paid_at
    order.save()
    new_lines = []
    for sku_id, quantity in sorted(wanted.items()):
        sku = skus[sku_id]
        new_lines.append(OrderLine(tenant_id=order.tenant_id, order=order, origin_order=order,
                                   platform_order_id=original.platform_order_id, sku_id=sku_id, sku_code=sku.code,
                                   outer_id=sku.code, title=sku.code, weight_g=sku.weight_g, quantity=quantity))
    OrderLine.objects.bulk_create(new_lines)
    _recount(order, new_lines, settings)
    order.save()
    kind = EventKind.ACTION if actor else EventKind.RULE
    OrderEvent.objects.bulk_create([
        WORKFLOW.event(order, kind, "reship.created", f"reshipment of {original.display_no}: {why}", actor=actor,
                       to_status=S.APPROVED, data={"original": original.pk, "source_ref": source_ref}),
        WORKFLOW.event(original, kind, "reship.opened", f"reshipment {order.display_no}: {why}", actor=actor,
                       data={"reship": order.pk, "source_ref": source_ref}),
    ])
    if settings.auto_allocate:
        _allocate(Order.objects.filter(pk=order.pk), settings=settings, actor=None, strict=False)
        order.refresh_from_db()
    return order
