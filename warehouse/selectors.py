"""Reads of the warehouse floor: pick lists by bin, parcels, stuck parcels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone

from inventory import selectors as inventory_selectors

from .models import CarrierAccount, Parcel, ParcelStatus, PickWave, SkuBin


@dataclass(frozen=True)
class PickRow:
    bin: str
    sort_key: int
    sku_id: int
    sku_code: str
    sku_name: str
    quantity: int
    orders: tuple[str, ...]


def pick_list(*, wave: PickWave) -> list[PickRow]:
    """What to pick for the wave, one row per SKU, in pick-path (bin) order; SKUs without a bin last."""
    totals: dict[int, int] = {}
    orders: dict[int, list[str]] = {}
    for parcel in wave.parcels.exclude(status=ParcelStatus.CANCELLED).order_by("seq"):
        for sku, qty in parcel.expected.items():
            totals[int(sku)] = totals.get(int(sku), 0) + int(qty)
            orders.setdefault(int(sku), []).append(f"{parcel.seq}:{parcel.order_no}")
    bins = {row["sku_id"]: row for row in SkuBin.objects.filter(warehouse_id=wave.warehouse_id, sku_id__in=list(totals))
            .values("sku_id", code=F("bin__code"), sort_key=F("bin__sort_key"))}
    skus = inventory_selectors.skus_by_ids(sku_ids=list(totals))
    rows = [PickRow(bin=bins.get(s, {}).get("code", ""), sort_key=bins.get(s, {}).get("sort_key", 10**9), sku_id=s,
                    sku_code=getattr(skus.get(s), "code", ""), sku_name=getattr(skus.get(s), "name", ""), quantity=q,
                    orders=tuple(orders[s])) for s, q in totals.items()]
    return sorted(rows, key=lambda r: (r.sort_key, r.bin or "~", r.sku_code))


def parcels_stuck(*, now=None):
    """Shipped parcels whose tracking has not moved for their carrier's ``stuck_after_days``."""
    now = now or timezone.now()
    rows = Parcel.objects.filter(status=ParcelStatus.SHIPPED, account__isnull=False).select_related("account")
    return [p for p in rows.order_by("last_movement_at")
            if p.last_movement_at and p.last_movement_at < now - timedelta(days=p.account.stuck_after_days)]


def parcels(*, status: str = "", q: str = ""):
    queryset = Parcel.objects.select_related("wave", "account")
    if status:
        queryset = queryset.filter(status=status)
    if q:
        queryset = queryset.filter(Q(order_no=q) | Q(tracking_no=q))
    return queryset


def carrier_account_for(*, warehouse_id: int, carrier_code: str = "", other_carrier: bool = True
                        ) -> CarrierAccount | None:
    """The carrier account a parcel of this warehouse takes its waybill from: one of the order's
    carrier (``carrier_code``, chosen by the orders' carrier rules), the warehouse's own before a
    shared one; without one the warehouse's, else the shared, first account of any carrier.
    ``other_carrier=False`` (tracking a parcel another warehouse shipped): only that carrier's
    accounts, another warehouse's one last; None when there is none."""
    active = CarrierAccount.objects.filter(is_active=True)
    wanted = [carrier_code.upper()] if carrier_code else []
    if wanted and not other_carrier:
        rows = active.filter(carrier_code__iexact=wanted[0])
        return (rows.filter(warehouse_id=warehouse_id).order_by("id").first()
                or rows.filter(warehouse__isnull=True).order_by("id").first() or rows.order_by("id").first())
    for code in [*wanted, None]:
        rows = active.filter(carrier_code__iexact=code) if code else active
        account = (rows.filter(warehouse_id=warehouse_id).order_by("id").first()
                   or rows.filter(warehouse__isnull=True).order_by("id").first())
        if account is not None:
            return account
    return None
