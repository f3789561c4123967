"""Writes of the warehouse floor: bins, pick waves, packing scans, waybills, weighing and shipping,
tracking. Orders are changed only through orders.services; SKUs and warehouses are read through
inventory.selectors. Wrong-state actions raise Conflict (409) with the reason; a refused scan is
recorded and answered, never raised."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from erp.tenancy.context import require_tenant
from erp.tenancy.dates import tenant_today, tenant_zone
from inventory import selectors as inventory_selectors
from orders import selectors as order_selectors
from orders import services as order_services
from orders.services import fulfilment as order_fulfilment

from .carriers import CarrierError, WaybillRequest, adapter_for
from .models import (
    BinLocation,
    CarrierAccount,
    Parcel,
    ParcelStatus,
    PickWave,
    ScanRecord,
    ScanResult,
    SkuBin,
    TrackingEvent,
    WaveKind,
    WaveStatus,
)
from .selectors import carrier_account_for
from .wms import (  # noqa: F401 - the third-party warehouse services are public through this module
    account_for_warehouse,
    wms_confirmation_apply,
    wms_confirmations_pull,
    wms_entry_create,
    wms_orders_enqueue,
    wms_relay,
    wms_stock_compare,
    wms_sync,
)

PACKABLE_ORDER_STATES = {"allocated", "picking"}
STOPPING_REFUNDS = {"requested", "refunded"}


# --- bins -----------------------------------------------------------------------------------------
@transaction.atomic
def bin_assign(*, warehouse_id: int, sku_id: int, bin_code: str, sort_key: int | None = None) -> SkuBin:
    bin_code = (bin_code or "").strip().upper()
    if not bin_code:
        raise ValidationError({"bin_code": [_("Give a bin code.")]})
    if inventory_selectors.warehouse_find(warehouse_id=warehouse_id) is None:
        raise ValidationError({"warehouse": [_("No such warehouse.")]})
    if inventory_selectors.sku_find(sku_id=sku_id) is None:
        raise ValidationError({"sku": [_("No such SKU.")]})
    location, _created = BinLocation.objects.get_or_create(
        warehouse_id=warehouse_id, code=bin_code, defaults={"sort_key": sort_key if sort_key is not None else 0})
    if sort_key is not None and location.sort_key != sort_key:
        location.sort_key = sort_key
        location.save(update_fields=["sort_key"])
    row, _created = SkuBin.objects.update_or_create(warehouse_id=warehouse_id, sku_id=sku_id,
                                                    defaults={"bin": location})
    return row


# --- waves ----------------------------------------------------------------------------------------
def _path_key(warehouse_id: int, snapshot) -> tuple:
    bins = dict(SkuBin.objects.filter(warehouse_id=warehouse_id, sku_id__in=[ln.sku_id for ln in snapshot.lines])
                .values_list("sku_id", "bin__sort_key"))
    keys = sorted(bins.get(ln.sku_id, 10**9) for ln in snapshot.lines)
    return (*keys[:3], snapshot.id)


def _wave_number() -> str:
    day = tenant_today().strftime("%Y%m%d")
    count = PickWave.objects.filter(number__startswith=f"W{day}-").count()
    return f"W{day}-{count + 1:03d}"


@transaction.atomic
def wave_create(*, warehouse_id: int, kind: str = "", carrier_code: str = "", limit: int = 50, actor=None) -> PickWave:
    """A pick wave of the warehouse's allocated orders: single-item orders together (``kind``
    "single") or multi-item orders in pick-path order ("multi"); empty kind takes the larger
    group. Each order is marked picking (orders.services.order_pick) and gets a parcel."""
    warehouse = inventory_selectors.warehouse_find(warehouse_id=warehouse_id)
    if warehouse is None:
        raise ValidationError({"warehouse": [_("No such warehouse.")]})
    if kind and kind not in WaveKind.values:
        raise ValidationError({"kind": [_("Single or multi.")]})
    if account_for_warehouse(warehouse_id=warehouse.pk) is not None:
        raise Conflict(_("This is a third-party warehouse: its orders go to the WMS, not into pick waves."))
    if not 1 <= int(limit) <= 500:
        raise ValidationError({"limit": [_("Between 1 and 500 orders.")]})
    busy = Parcel.objects.exclude(status=ParcelStatus.CANCELLED).values_list("order_id", flat=True)
    candidates = order_selectors.orders_ready_to_ship(warehouse_id=warehouse.pk, exclude_ids=list(busy), limit=2000)
    if carrier_code:
        candidates = [c for c in candidates if c.carrier_code in ("", carrier_code)]
    candidates = [c for c in candidates if c.lines and not any(ln.is_stopped for ln in c.lines)
                  and all(ln.sku_id for ln in c.lines)]
    single = [c for c in candidates if sum(ln.quantity for ln in c.lines) == 1]
    multi = [c for c in candidates if sum(ln.quantity for ln in c.lines) > 1]
    if not kind:
        kind = WaveKind.SINGLE if len(single) >= len(multi) else WaveKind.MULTI
    # the most urgent orders of the kind (candidates come in shipping priority), multi-item ones
    # then walked in pick-path order
    chosen = (single if kind == WaveKind.SINGLE else multi)[: int(limit)]
    if kind == WaveKind.MULTI:
        chosen = sorted(chosen, key=lambda s: _path_key(warehouse.pk, s))
    if not chosen:
        raise Conflict(_("No allocated order of this kind waits in this warehouse."))
    account = carrier_account_for(warehouse_id=warehouse.pk, carrier_code=carrier_code)
    accounts: dict[str, CarrierAccount | None] = {}
    wave = PickWave.objects.create(number=_wave_number(), warehouse_id=warehouse.pk, kind=kind,
                                   carrier_code=carrier_code or (account.carrier_code if account else ""),
                                   created_by=actor if getattr(actor, "pk", None) else None)
    parcels = []
    for seq, snap in enumerate(chosen, start=1):
        order_services.order_pick(order_id=snap.id, actor=actor)
        expected = Counter()
        for ln in snap.lines:
            expected[str(ln.sku_id)] += ln.quantity
        if snap.carrier_code not in accounts:
            accounts[snap.carrier_code] = carrier_account_for(warehouse_id=warehouse.pk, carrier_code=snap.carrier_code)
        its = accounts[snap.carrier_code]
        parcels.append(Parcel(tenant_id=require_tenant().pk, order_id=snap.id, order_no=snap.platform_order_id or f"#{snap.id}", wave=wave, seq=seq,
                              warehouse_id=warehouse.pk, account=its,
                              carrier_code=its.carrier_code if its else snap.carrier_code,
                              expected=dict(expected), status=ParcelStatus.PICKING))
    Parcel.objects.bulk_create(parcels)
    return wave


@transaction.atomic
def wave_finish(*, wave_id: int) -> PickWave:
    wave = PickWave.objects.select_for_update().filter(pk=wave_id).first()
    if wave is None:
        raise ValidationError({"wave": [_("No such wave.")]})
    wave.status = WaveStatus.DONE
    wave.save(update_fields=["status", "updated_at"])
    return wave


# --- carrier account ------------------------------------------------------------------------------
def freight_for(*, account: CarrierAccount, province: str, weight_g: int) -> Decimal:
    """The carrier's price for a parcel: the rate-table line naming the province, else the one
    without provinces, else the account's own first/extra weight price."""
    rates = list(account.rates.all())
    rate = next((r for r in rates if province and any(p and (p in province or province in p) for p in r.provinces)),
                None) or next((r for r in rates if not r.provinces), None) or account
    extra_g = max(0, int(weight_g) - rate.first_weight_g)
    extra_kg = -(-extra_g // 1000)  # every started kilogram
    return (rate.first_cost + rate.extra_cost_per_kg * extra_kg).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- packing --------------------------------------------------------------------------------------
@dataclass
class ScanOutcome:
    parcel: Parcel
    ok: bool
    message: str
    counts: dict = field(default_factory=dict)  # {sku id (str): scanned}
    complete: bool = False


def parcel_find(*, code: str) -> Parcel | None:
    """The open parcel of a scanned order number or waybill number."""
    code = (code or "").strip()
    if not code:
        return None
    parcel = Parcel.objects.exclude(status=ParcelStatus.CANCELLED).filter(tracking_no=code).first()
    if parcel is None:
        parcel = Parcel.objects.exclude(status=ParcelStatus.CANCELLED).filter(order_no=code).order_by("-id").first()
    return parcel


def scanned_counts(parcel: Parcel) -> dict[str, int]:
    return {str(sku): n for sku, n in ScanRecord.objects.filter(parcel=parcel, result=ScanResult.OK)
            .values_list("sku_id").annotate(n=Count("id")).order_by()}


def order_block_reason(order_id: int) -> str:
    """Why this order must not leave (intercepted, cancelled, refunded), or "" when it may."""
    snaps = order_selectors.order_snapshots(order_ids=[order_id])
    if not snaps:
        return _("The order no longer exists.")
    snap = snaps[0]
    if snap.status not in PACKABLE_ORDER_STATES:
        return _("INTERCEPTED: the order is %(status)s now; do not ship it.") % {"status": snap.status}
    if any(ln.refund_state in STOPPING_REFUNDS or ln.is_stopped for ln in snap.lines):
        return _("INTERCEPTED: the buyer asked for a refund; do not ship it.")
    return ""


def _resolve_sku(parcel: Parcel, code: str):
    expected_ids = [int(s) for s in parcel.expected]
    skus = inventory_selectors.skus_by_ids(sku_ids=expected_ids)
    for sku in skus.values():
        if code in (sku.code, sku.barcode):
            return sku
    return inventory_selectors.skus_by_codes(codes=[code]).get(code)


@transaction.atomic
def pack_scan(*, parcel_id: int, code: str, user=None) -> ScanOutcome:
    """One item scan at the packing station. Refused (and recorded) when the order was intercepted
    or refunded, the item is not in the order, or it is one unit too many."""
    parcel = Parcel.objects.select_for_update().filter(pk=parcel_id).first()
    if parcel is None:
        raise ValidationError({"parcel": [_("No such parcel.")]})
    code = (code or "").strip()[:128]
    if not code:
        raise ValidationError({"code": [_("Scan a code.")]})
    user = user if getattr(user, "pk", None) else None

    def refuse(reason: str, sku=None) -> ScanOutcome:
        ScanRecord.objects.create(parcel=parcel, code=code, sku_id=getattr(sku, "pk", None), result=ScanResult.REFUSED,
                                  reason=reason[:200], user=user)
        return ScanOutcome(parcel=parcel, ok=False, message=reason, counts=scanned_counts(parcel))

    if parcel.status != ParcelStatus.PICKING:
        return refuse(_("This parcel is already packed."))
    blocked = order_block_reason(parcel.order_id)
    if blocked:
        return refuse(blocked)
    sku = _resolve_sku(parcel, code)
    if sku is None or str(sku.pk) not in parcel.expected:
        return refuse(_("WRONG ITEM: %(code)s is not in this order.") % {"code": code}, sku)
    counts = scanned_counts(parcel)
    key = str(sku.pk)
    if counts.get(key, 0) >= int(parcel.expected[key]):
        return refuse(_("EXTRA UNIT: the order needs only %(n)s of %(code)s.") % {"n": parcel.expected[key],
                                                                               "code": sku.code}, sku)
    ScanRecord.objects.create(parcel=parcel, code=code, sku_id=sku.pk, result=ScanResult.OK, user=user)
    counts[key] = counts.get(key, 0) + 1
    complete = all(counts.get(k, 0) >= int(q) for k, q in parcel.expected.items())
    message = _("%(code)s accepted (%(n)s of %(total)s).") % {"code": sku.code, "n": counts[key],
                                                              "total": parcel.expected[key]}
    if complete:
        parcel.status = ParcelStatus.PACKED
        parcel.packed_at = timezone.now()
        parcel.save(update_fields=["status", "packed_at", "updated_at"])
        parcel_waybill(parcel_id=parcel.pk)
        parcel.refresh_from_db()
        message = _("Packed. Print the waybill %(no)s and weigh the parcel.") % {"no": parcel.tracking_no}
        order_fulfilment.order_timeline_note(order_id=parcel.order_id, code="warehouse.packed",
                                             message=f"packed and checked by scanning ({sum(counts.values())} units)",
                                             actor=user)
    return ScanOutcome(parcel=parcel, ok=True, message=message, counts=counts, complete=complete)


# --- waybill, weighing, shipping ------------------------------------------------------------------
@transaction.atomic
def parcel_waybill(*, parcel_id: int) -> Parcel:
    """The carrier's electronic waybill for the parcel (once: a parcel that has one keeps it)."""
    parcel = Parcel.objects.select_for_update().filter(pk=parcel_id).first()
    if parcel is None:
        raise ValidationError({"parcel": [_("No such parcel.")]})
    if parcel.tracking_no:
        return parcel
    account = parcel.account or carrier_account_for(warehouse_id=parcel.warehouse_id)
    if account is None:
        raise Conflict(_("This warehouse has no carrier account for electronic waybills."))
    account = CarrierAccount.objects.select_for_update().get(pk=account.pk)
    adapter = adapter_for(account)
    if not adapter.owns_numbers and account.next_number > account.range_end:
        raise Conflict(_("The waybill number range of %(account)s is used up.") % {"account": account.code})
    number = max(account.next_number, account.range_start)
    snap = order_selectors.order_snapshots(order_ids=[parcel.order_id])[0]
    warehouse = inventory_selectors.warehouse_find(warehouse_id=parcel.warehouse_id)
    weight = _parcel_weight_g(parcel.expected)
    try:
        bill = adapter.waybill_get(WaybillRequest(
            number=number, order_no=parcel.order_no, receiver_name=snap.receiver_name, receiver_phone=snap.receiver_phone,
            receiver_province=snap.receiver_province, receiver_city=snap.receiver_city,
            sender=str(warehouse) if warehouse else "", weight_g=weight))
    except CarrierError as exc:
        raise Conflict(_("The carrier refused the waybill: %(why)s") % {"why": exc})
    if not adapter.owns_numbers:
        account.next_number = number + 1
        account.save(update_fields=["next_number", "updated_at"])
    parcel.account, parcel.carrier_code, parcel.tracking_no, parcel.label = account, account.carrier_code, \
        bill.tracking_no, bill.label
    parcel.currency = account.currency
    parcel.save(update_fields=["account", "carrier_code", "tracking_no", "label", "currency", "updated_at"])
    return parcel


@transaction.atomic
def parcel_weigh_and_ship(*, parcel_id: int, weight_g, actor=None) -> Parcel:
    """Record the scale's weight, price the freight from the carrier's rate table and ship: the
    order ships with the carrier's tracking number (stock committed, the platform told through the
    outbox). Refused when the order was intercepted since packing."""
    try:
        weight = int(str(weight_g).strip())
    except (TypeError, ValueError):
        raise ValidationError({"weight_g": [_("Weight in grams, a whole number.")]})
    if not 1 <= weight <= 100_000:
        raise ValidationError({"weight_g": [_("Between 1 g and 100 kg.")]})
    parcel = Parcel.objects.select_for_update().filter(pk=parcel_id).first()
    if parcel is None:
        raise ValidationError({"parcel": [_("No such parcel.")]})
    if parcel.status not in (ParcelStatus.PACKED, ParcelStatus.WEIGHED):
        raise Conflict(_("Only a packed parcel can be weighed (it is %(status)s).") % {
            "status": parcel.get_status_display()})
    blocked = order_block_reason(parcel.order_id)
    if blocked:
        raise Conflict(blocked)
    if not parcel.tracking_no:
        parcel_waybill(parcel_id=parcel.pk)
        parcel.refresh_from_db()
    return _parcel_ship(parcel, weight_g=weight, actor=actor)


def _parcel_weight_g(expected: dict) -> int:
    """The parcel's weight from its SKUs' weights (what the waybill states before the scale)."""
    skus = inventory_selectors.skus_by_ids(sku_ids=[int(k) for k in expected])
    return sum(int(q) * (getattr(skus.get(int(k)), "weight_grams", 0) or 0) for k, q in expected.items())


def _parcel_ship(parcel: Parcel, *, weight_g: int, actor=None) -> Parcel:
    """The parcel (with its waybill) leaves: freight from the carrier's rates, the hand-over to the
    carrier, the order shipped with the carrier's tracking number (orders.services.order_ship:
    stock committed, the platform told through the outbox), the parcel tracked from now on."""
    snap = order_selectors.order_snapshots(order_ids=[parcel.order_id])[0]
    parcel.weight_g = weight_g
    parcel.freight = freight_for(account=parcel.account, province=snap.receiver_province, weight_g=weight_g)
    try:
        adapter_for(parcel.account).waybill_ship(parcel.tracking_no)
    except CarrierError as exc:
        raise Conflict(_("The carrier did not take the hand-over: %(why)s") % {"why": exc})
    order_services.order_ship(order_id=parcel.order_id, actor=actor, tracking_no=parcel.tracking_no,
                              carrier_code=parcel.carrier_code)
    order_fulfilment.order_waybill_weighed(order_id=parcel.order_id, tracking_no=parcel.tracking_no,
                                           weight_g=weight_g, cost=parcel.freight)
    now = timezone.now()
    parcel.status, parcel.shipped_at, parcel.last_movement_at = ParcelStatus.SHIPPED, now, now
    parcel.save()
    return parcel


def order_ship_by_carrier(*, order_id: int, actor=None) -> Parcel:
    """Ship an order of our own warehouse from its page (or the orders API) without the packing
    station: its parcel (the open one of a wave, else a new one) gets the carrier's electronic
    waybill the way the packing station gets it (parcel_waybill), is handed over and the order
    ships with the carrier's tracking number. Any refusal (no carrier account, the carrier's
    error, an intercepted order, a third-party warehouse) raises Conflict and nothing is stored;
    a waybill the carrier issued for this attempt is cancelled again."""
    issued = []
    try:
        return _order_ship_by_carrier(order_id, actor, issued)
    except (Conflict, ValidationError):
        for account, tracking_no in issued:
            try:
                adapter_for(account).waybill_cancel(tracking_no)
            except CarrierError:
                pass  # the carrier's number stays unused; ours rolls back with the transaction
        raise


@transaction.atomic
def _order_ship_by_carrier(order_id: int, actor, issued: list) -> Parcel:
    snaps = order_selectors.order_snapshots(order_ids=[order_id])
    if not snaps:
        raise ValidationError({"order": [_("No such order.")]})
    snap = snaps[0]
    blocked = order_block_reason(order_id)
    if blocked:
        raise Conflict(blocked)
    if not snap.warehouse_id:
        raise Conflict(_("The order has no warehouse; allocate it first."))
    if account_for_warehouse(warehouse_id=snap.warehouse_id) is not None:
        raise Conflict(_("This order is in a third-party warehouse: it ships through the WMS."))
    parcel = (Parcel.objects.select_for_update().exclude(status=ParcelStatus.CANCELLED)
              .filter(order_id=order_id).first())
    if parcel is None:
        expected = Counter()
        for ln in snap.lines:
            if not ln.is_stopped and ln.sku_id:
                expected[str(ln.sku_id)] += ln.quantity
        parcel = Parcel.objects.create(order_id=order_id, order_no=snap.platform_order_id or f"#{order_id}",
                                       warehouse_id=snap.warehouse_id, carrier_code=snap.carrier_code,
                                       account=carrier_account_for(warehouse_id=snap.warehouse_id,
                                                                   carrier_code=snap.carrier_code),
                                       expected=dict(expected), status=ParcelStatus.PACKED, packed_at=timezone.now())
    elif parcel.status in (ParcelStatus.SHIPPED, ParcelStatus.DELIVERED):
        raise Conflict(_("The parcel of this order has shipped already."))
    had_waybill = bool(parcel.tracking_no)
    parcel = parcel_waybill(parcel_id=parcel.pk)
    if not had_waybill:
        issued.append((parcel.account, parcel.tracking_no))
    return _parcel_ship(parcel, weight_g=parcel.weight_g or _parcel_weight_g(parcel.expected), actor=actor)


@transaction.atomic
def parcel_cancel(*, parcel_id: int) -> Parcel:
    """Take an unshipped parcel off the floor (e.g. the order was intercepted); its waybill is cancelled."""
    parcel = Parcel.objects.select_for_update().filter(pk=parcel_id).first()
    if parcel is None:
        raise ValidationError({"parcel": [_("No such parcel.")]})
    if parcel.status in (ParcelStatus.SHIPPED, ParcelStatus.DELIVERED):
        raise Conflict(_("A shipped parcel cannot be cancelled."))
    if parcel.tracking_no and parcel.account:
        try:
            adapter_for(parcel.account).waybill_cancel(parcel.tracking_no)
        except CarrierError as exc:
            raise Conflict(_("The carrier did not cancel the waybill: %(why)s") % {"why": exc})
    parcel.status = ParcelStatus.CANCELLED
    parcel.save(update_fields=["status", "updated_at"])
    return parcel


# --- tracking -------------------------------------------------------------------------------------
def tracking_pull(*, now=None, limit: int = 500) -> int:
    """Pull tracking events of the shipped parcels; new events are stored once and written on the
    order timeline. Returns how many new events."""
    now = now or timezone.now()
    added = 0
    for parcel in (Parcel.objects.filter(status=ParcelStatus.SHIPPED, account__isnull=False)
                   .select_related("account").order_by("last_movement_at", "id")[:limit]):
        added += _track_one(parcel, now)
    return added


@transaction.atomic
def _track_one(parcel: Parcel, now) -> int:
    try:
        events = adapter_for(parcel.account).tracking_pull(parcel.tracking_no, shipped_at=parcel.shipped_at, now=now)
    except CarrierError:
        return 0  # the carrier is down: the next pull asks again
    known = set(TrackingEvent.objects.filter(parcel=parcel).values_list("code", "occurred_at"))
    new = [e for e in events if (e.code, e.occurred_at) not in known]
    if not new:
        return 0
    TrackingEvent.objects.bulk_create([TrackingEvent(tenant_id=parcel.tenant_id, parcel=parcel, occurred_at=e.occurred_at, code=e.code,
                                                     description=e.description, location=e.location) for e in new],
                                      ignore_conflicts=True)
    zone = tenant_zone()
    for e in new:
        where = f", {e.location}" if e.location else ""
        order_fulfilment.order_timeline_note(
            order_id=parcel.order_id, code=f"tracking.{e.code}",
            message=f"{parcel.carrier_code} {parcel.tracking_no}: {e.description}{where} "
                    f"({e.occurred_at.astimezone(zone):%Y-%m-%d %H:%M})",
            data={"at": e.occurred_at.isoformat(), "location": e.location})
    parcel.last_movement_at = max(e.occurred_at for e in new)
    if any(e.code == "delivered" for e in new):
        parcel.status = ParcelStatus.DELIVERED
    parcel.save(update_fields=["last_movement_at", "status", "updated_at"])
    return len(new)
