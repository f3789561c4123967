"""Promotions and their stock locks. A promotion (campaign) names shops, SKUs and a time window; the
orders attributed to it are analysed in inventory/promotion_analysis.py. A stock lock sets units
aside for one shop for a time window (a promotion's locks are made for its window); the beat job
starts and ends them (``stock_locks_tick``), an operator may cancel one early.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.tenancy.dates import day_start, tenant_zone

from .. import stock_sql
from ..models import (
    SKU,
    LockEventKind,
    LockStatus,
    Promotion,
    PromotionShop,
    PromotionSKU,
    StockLevel,
    StockLock,
    StockLockEvent,
    Warehouse,
)
from ._common import InsufficientStock, _lock_levels, _own, _own_shop, _quantity


@transaction.atomic
def stock_lock_create(*, shop, sku: SKU, quantity: int, starts_at, ends_at, name: str, warehouse: Warehouse | None = None,
                      user=None, promotion: Promotion | None = None) -> StockLock:
    """Set ``quantity`` units aside for one shop from starts_at to ends_at. Starting now (or in the
    past) locks immediately and is refused when not enough is available; a later start is locked by
    the beat job at its start (as much as is available then, with a 'short' event if less)."""
    shop = _own_shop(shop)
    if shop is None:
        raise ValidationError({"shop": [_("Choose a shop.")]})
    sku = _own(SKU, sku, "sku")
    if sku.is_bundle:
        raise ValidationError({"sku": [_("Lock the bundle's components, not the bundle.")]})
    quantity = _quantity(quantity)
    starts_at, ends_at = _window_bound(starts_at, "starts_at"), _window_bound(ends_at, "ends_at", end=True)
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": [_("The end must be after the start.")]})
    now = timezone.now()
    if ends_at <= now:
        raise ValidationError({"ends_at": [_("The end is already past.")]})
    if warehouse is None:
        warehouse = _warehouse_for_lock(shop, sku, quantity)
    warehouse = _own(Warehouse, warehouse, "warehouse")
    lock = StockLock.objects.create(name=(name or "promotion")[:200], shop=shop, sku=sku, warehouse=warehouse,
                                    quantity=quantity, starts_at=starts_at, ends_at=ends_at, created_by=user,
                                    promotion=promotion)
    if starts_at <= now:
        _activate(lock, partial=False)
    return lock


def _window_bound(value, field: str, *, end: bool = False) -> datetime.datetime:
    """A lock's start or end as an aware datetime in the tenant's calendar: a naive datetime is the
    tenant's wall clock, a date is a whole tenant day (its midnight as a start, the next midnight as
    an end)."""
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=tenant_zone()) if timezone.is_naive(value) else value
    if isinstance(value, datetime.date):
        return day_start(value + datetime.timedelta(days=1) if end else value)
    raise ValidationError({field: [_("Enter a date and time.")]})


def _warehouse_for_lock(shop, sku, quantity) -> Warehouse:
    from ..selectors import shop_warehouses

    for warehouse in shop_warehouses(shop=shop):
        level = StockLevel.objects.filter(warehouse=warehouse, sku=sku).first()
        if level and level.available >= quantity:
            return warehouse
    raise InsufficientStock(sku_id=sku.pk, warehouse_id=0, requested=quantity, available=0)


def _activate(lock: StockLock, *, partial: bool) -> None:
    stock_sql.ensure_levels([(lock.warehouse_id, lock.sku_id)])
    level = _lock_levels(lock.warehouse_id, [lock.sku_id])[lock.sku_id]
    lock = StockLock.objects.select_for_update().get(pk=lock.pk)
    if lock.status != LockStatus.SCHEDULED:
        return
    take = min(lock.quantity, max(level.available, 0)) if partial else lock.quantity
    if take and stock_sql.level_update(warehouse_id=lock.warehouse_id, sku_id=lock.sku_id, locked=take) is None:
        raise InsufficientStock(sku_id=lock.sku_id, warehouse_id=lock.warehouse_id, requested=lock.quantity,
                                available=level.available)
    StockLock.objects.filter(pk=lock.pk).update(status=LockStatus.ACTIVE, locked_quantity=take, remaining=take,
                                                updated_at=timezone.now())
    StockLockEvent.objects.create(lock=lock, kind=LockEventKind.LOCK, quantity=take)
    if take < lock.quantity:
        StockLockEvent.objects.create(lock=lock, kind=LockEventKind.SHORT, quantity=lock.quantity - take,
                                      note=f"only {take} of {lock.quantity} available at the start")


def _end(lock: StockLock, *, status: str, kind: str) -> int:
    _lock_levels(lock.warehouse_id, [lock.sku_id])
    lock = StockLock.objects.select_for_update().get(pk=lock.pk)
    if lock.status not in (LockStatus.SCHEDULED, LockStatus.ACTIVE):
        return 0
    back = lock.remaining if lock.status == LockStatus.ACTIVE else 0
    if back and stock_sql.level_update(warehouse_id=lock.warehouse_id, sku_id=lock.sku_id, locked=-back) is None:
        raise ValidationError(_("Stock level out of step with its locks; run verify_stock."))
    StockLock.objects.filter(pk=lock.pk).update(status=status, remaining=0, released=F("released") + back,
                                                updated_at=timezone.now())
    StockLockEvent.objects.create(lock=lock, kind=kind, quantity=back)
    return back


@transaction.atomic
def stock_lock_cancel(*, lock: StockLock) -> StockLock:
    """End a lock early; its remaining units return to general stock."""
    lock = _own(StockLock, lock, "lock")
    if lock.status not in (LockStatus.SCHEDULED, LockStatus.ACTIVE):
        raise ValidationError({"status": [_("This lock is already over.")]})
    _end(lock, status=LockStatus.CANCELLED, kind=LockEventKind.CANCEL)
    return StockLock.objects.get(pk=lock.pk)


def stock_locks_tick(*, now=None) -> dict:
    """Start the locks whose start has come and end the ones whose end has passed (the beat job).
    Each lock in its own transaction, so one problem does not hold back the others."""
    now = now or timezone.now()
    started = ended = 0
    for lock in StockLock.objects.filter(status=LockStatus.ACTIVE, ends_at__lte=now).order_by("id"):
        with transaction.atomic():
            _end(lock, status=LockStatus.ENDED, kind=LockEventKind.RELEASE)
            ended += 1
    for lock in StockLock.objects.filter(status=LockStatus.SCHEDULED, starts_at__lte=now).order_by("id"):
        with transaction.atomic():
            if lock.ends_at <= now:
                _end(lock, status=LockStatus.ENDED, kind=LockEventKind.RELEASE)
                ended += 1
            else:
                _activate(lock, partial=True)
                started += 1
    return {"started": started, "ended": ended}


# --- promotions --------------------------------------------------------------------------------------
def _promotion_members(shops, skus) -> tuple[list, list[SKU]]:
    own_shops, seen = [], set()
    for shop in shops or ():
        found = _own_shop(shop)
        if found.pk not in seen:
            seen.add(found.pk)
            own_shops.append(found)
    own_skus, seen = [], set()
    for sku in skus or ():
        found = _own(SKU, sku, "skus")
        if found.pk not in seen:
            seen.add(found.pk)
            own_skus.append(found)
    errors = {}
    if not own_shops:
        errors["shops"] = [_("Choose at least one shop.")]
    if not own_skus:
        errors["skus"] = [_("Choose at least one SKU.")]
    if errors:
        raise ValidationError(errors)
    return own_shops, own_skus


@transaction.atomic
def promotion_create(*, name: str, shops, skus, starts_at, ends_at, spend=0, note: str = "", user=None) -> Promotion:
    """A promotion of ``skus`` in ``shops`` from starts_at to ends_at (dates are whole tenant days)."""
    from erp.money import to_money

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the promotion a name.")]})
    starts_at, ends_at = _window_bound(starts_at, "starts_at"), _window_bound(ends_at, "ends_at", end=True)
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": [_("The end must be after the start.")]})
    spend = to_money(spend if spend not in (None, "") else "0")
    if spend < 0:
        raise ValidationError({"spend": [_("The spend cannot be negative.")]})
    own_shops, own_skus = _promotion_members(shops, skus)
    promotion = Promotion.objects.create(name=name[:200], starts_at=starts_at, ends_at=ends_at, spend=spend,
                                         note=(note or "")[:300], created_by=user)
    PromotionShop.objects.bulk_create([PromotionShop(tenant=promotion.tenant, promotion=promotion, shop=shop)
                                       for shop in own_shops])
    PromotionSKU.objects.bulk_create([PromotionSKU(tenant=promotion.tenant, promotion=promotion, sku=sku)
                                      for sku in own_skus])
    return promotion


@transaction.atomic
def promotion_lock_stock(*, promotion: Promotion, shop, sku, quantity: int, warehouse: Warehouse | None = None,
                         user=None) -> StockLock:
    """A stock lock owned by the promotion: ``quantity`` units of one of its SKUs for one of its
    shops over its window (from now when the promotion has started already)."""
    promotion = _own(Promotion, promotion, "promotion")
    shop, sku = _own_shop(shop), _own(SKU, sku, "sku")
    if shop is None or not PromotionShop.objects.filter(promotion=promotion, shop_id=shop.pk).exists():
        raise ValidationError({"shop": [_("The shop is not in this promotion.")]})
    if not PromotionSKU.objects.filter(promotion=promotion, sku_id=sku.pk).exists():
        raise ValidationError({"sku": [_("The SKU is not in this promotion.")]})
    return stock_lock_create(shop=shop, sku=sku, quantity=quantity, starts_at=promotion.starts_at,
                             ends_at=promotion.ends_at, name=promotion.name, warehouse=warehouse, user=user,
                             promotion=promotion)


@transaction.atomic
def promotion_end_locks(*, promotion: Promotion) -> int:
    """Cancel the promotion's scheduled and active locks (their units return to stock). Returns how many."""
    promotion = _own(Promotion, promotion, "promotion")
    ended = 0
    for lock in StockLock.objects.filter(promotion=promotion, status__in=[LockStatus.SCHEDULED, LockStatus.ACTIVE]):
        _end(lock, status=LockStatus.CANCELLED, kind=LockEventKind.CANCEL)
        ended += 1
    return ended


@transaction.atomic
def promotion_delete(*, promotion: Promotion) -> None:
    """Delete a promotion that never locked stock (one with locks keeps its history: 409)."""
    from erp.api.exceptions import Conflict

    promotion = _own(Promotion, promotion, "promotion")
    if StockLock.objects.filter(promotion=promotion).exists():
        raise Conflict(_("The promotion has stock locks: it stays for their history."))
    promotion.delete()
