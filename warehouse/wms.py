"""Third-party warehouses (WMS, QiMen style): the outbox of delivery / entry orders, the
confirmations coming back, cancellations and the nightly stock comparison.

A warehouse with an active WmsAccount is a third-party one. Its allocated orders are marked picking
(orders.services.order_pick, so our own waves leave them alone) and written as a WmsOrder row in
the same transaction (the outbox); the relay sends due rows (deliveryorder.create) with backoff on
transient failures. Confirmations are pulled per account on the beat tick and applied once each
(the WmsOrder row is locked; one already confirmed changes nothing): the order ships with the
WMS's carrier and tracking number through orders.services (stock committed; a short-shipped line's
unshipped units are carved off, their reservation released and that part held). Entry orders book
what the WMS actually received through inventory.services.stock_receive. Stock levels are never
overwritten from the WMS: differences are stored as a snapshot for an operator."""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict
from integrations import ports as integration_ports
from inventory import selectors as inventory_selectors
from inventory import services as inventory_services
from orders import selectors as order_selectors
from orders import services as order_services
from orders.services import fulfilment as order_fulfilment

from .models import (
    Parcel,
    ParcelStatus,
    WmsAccount,
    WmsOrder,
    WmsOrderKind,
    WmsOrderStatus,
    WmsStockDifference,
    WmsStockSnapshot,
)
from .selectors import carrier_account_for

logger = logging.getLogger("warehouse.wms")
OPEN = (WmsOrderStatus.PENDING, WmsOrderStatus.SENT)
LIVE_ORDER_STATES = {"allocated", "picking"}


def client_for(account: WmsAccount):
    return integration_ports.wms_client(base_url=account.api_base_url, app_key=account.app_key,
                                        app_secret=str((account.credentials or {}).get("app_secret") or ""),
                                        customer_id=account.owner_code)


def account_for_warehouse(*, warehouse_id: int) -> WmsAccount | None:
    return WmsAccount.objects.filter(warehouse_id=warehouse_id, is_active=True).first()


def _backoff(attempts: int) -> timedelta:
    base = min(3600, 15 * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(base / 2, base))


# --- outbound: orders into the outbox ------------------------------------------------------------
@transaction.atomic
def wms_orders_enqueue(*, account: WmsAccount, limit: int = 500) -> int:
    """Every order allocated to the account's warehouse becomes a pending delivery order (once) and
    is marked picking. Returns how many were queued."""
    busy = WmsOrder.objects.filter(account=account, kind=WmsOrderKind.DELIVERY).exclude(
        status=WmsOrderStatus.CANCELLED).values_list("order_id", flat=True)
    snaps = order_selectors.orders_ready_to_ship(warehouse_id=account.warehouse_id, exclude_ids=list(busy), limit=limit)
    queued = 0
    for snap in snaps:
        lines = [ln for ln in snap.lines if not ln.is_stopped]
        if not lines or not all(ln.sku_id and ln.sku_code for ln in lines):
            continue
        planned: dict[str, int] = defaultdict(int)
        for ln in lines:
            planned[ln.sku_code] += ln.quantity
        earlier = WmsOrder.objects.filter(account=account, kind=WmsOrderKind.DELIVERY, order_id=snap.id).count()
        code = f"{snap.platform_order_id or 'O'}-{snap.id}" + (f"-{earlier + 1}" if earlier else "")
        try:
            with transaction.atomic():
                order_services.order_pick(order_id=snap.id)
        except Conflict:  # it changed meanwhile (held, cancelled): the next tick looks again
            continue
        WmsOrder.objects.create(
            account=account, kind=WmsOrderKind.DELIVERY, code=code, order_id=snap.id, lines=dict(planned),
            carrier_code=snap.carrier_code,
            payload={"receiver": {"name": snap.receiver_name, "mobile": snap.receiver_phone,
                                  "province": snap.receiver_province, "city": snap.receiver_city}})
        order_fulfilment.order_timeline_note(order_id=snap.id, code="wms.queued",
                                             message=f"sent to the third-party warehouse {account.code} as {code}")
        queued += 1
    return queued


@transaction.atomic
def wms_entry_create(*, account_id: int, lines: dict[int, int], reference: str) -> WmsOrder:
    """An inbound (entry) order of {SKU id: units} announced to the WMS; booked when it confirms."""
    account = WmsAccount.objects.filter(pk=account_id).first()
    if account is None:
        raise ValidationError({"account": [_("No such WMS account.")]})
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [_("Give a reference (e.g. the purchase order number).")]})
    if not lines:
        raise ValidationError({"lines": [_("Name at least one SKU and quantity.")]})
    skus = inventory_selectors.skus_by_ids(sku_ids=[int(s) for s in lines])
    planned = {}
    for sku_id, qty in lines.items():
        sku = skus.get(int(sku_id))
        if sku is None:
            raise ValidationError({"lines": [_("No such SKU: %(id)s.") % {"id": sku_id}]})
        if int(qty) <= 0:
            raise ValidationError({"lines": [_("Quantities must be positive.")]})
        planned[sku.code] = int(qty)
    if WmsOrder.objects.filter(account=account, kind=WmsOrderKind.ENTRY, code=reference).exists():
        raise Conflict(_("An entry order %(ref)s already exists.") % {"ref": reference})
    return WmsOrder.objects.create(account=account, kind=WmsOrderKind.ENTRY, code=reference, lines=planned)


# --- the relay ------------------------------------------------------------------------------------
def wms_relay(*, account: WmsAccount, client=None, limit: int = 200) -> dict:
    """Send the account's due pending rows; ask the WMS to cancel orders that stopped here
    (cancelled, intercepted, held) while at the WMS. Returns counts."""
    client = client or client_for(account)
    counts = {"sent": 0, "failed": 0, "cancelled": 0}
    due = list(WmsOrder.objects.filter(account=account, status=WmsOrderStatus.PENDING,
                                       next_attempt_at__lte=timezone.now())
               .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    for pk in due:
        outcome = _send_one(pk, client)
        counts[outcome] = counts.get(outcome, 0) + 1
    counts["cancelled"] += _cancel_stopped(account, client)
    return counts


@transaction.atomic
def _send_one(pk: int, client) -> str:
    row = WmsOrder.objects.select_for_update(skip_locked=True).filter(pk=pk, status=WmsOrderStatus.PENDING).first()
    if row is None:
        return "skipped"
    account = row.account
    if row.kind == WmsOrderKind.DELIVERY and _order_status(row.order_id) not in LIVE_ORDER_STATES:
        row.status, row.last_error = WmsOrderStatus.CANCELLED, "the order stopped before it was sent"
        row.save()
        return "cancelled"
    row.attempts += 1
    lines = [integration_ports.WmsLine(item_code=code, quantity=int(q)) for code, q in sorted(row.lines.items())]
    try:
        if row.kind == WmsOrderKind.DELIVERY:
            row.wms_order_id = client.deliveryorder_create(
                code=row.code, warehouse_code=account.wms_warehouse_code, lines=lines,
                receiver=row.payload.get("receiver") or {}, logistics_code=row.carrier_code)
        else:
            row.wms_order_id = client.entryorder_create(code=row.code, warehouse_code=account.wms_warehouse_code,
                                                        lines=lines)
    except integration_ports.WmsError as exc:
        row.last_error = str(exc)[:4000]
        if exc.retryable and row.attempts < WmsOrder.MAX_ATTEMPTS:
            row.next_attempt_at = timezone.now() + _backoff(row.attempts)
        else:
            row.status = WmsOrderStatus.FAILED
            if row.order_id:
                order_fulfilment.order_timeline_note(order_id=row.order_id, code="wms.failed",
                                                     message=f"the WMS refused {row.code}: {exc}")
        row.save()
        return "failed"
    row.status, row.sent_at, row.last_error = WmsOrderStatus.SENT, timezone.now(), ""
    row.save()
    return "sent"


def _order_status(order_id) -> str:
    snaps = order_selectors.order_snapshots(order_ids=[order_id]) if order_id else []
    return snaps[0].status if snaps else ""


def _cancel_stopped(account: WmsAccount, client) -> int:
    cancelled = 0
    rows = list(WmsOrder.objects.filter(account=account, kind=WmsOrderKind.DELIVERY, status=WmsOrderStatus.SENT))
    if not rows:
        return 0
    states = {s.id: s.status for s in order_selectors.order_snapshots(order_ids=[r.order_id for r in rows])}
    for row in rows:
        if states.get(row.order_id, "") in LIVE_ORDER_STATES:
            continue
        try:
            client.order_cancel(code=row.code)
        except integration_ports.WmsError as exc:
            with transaction.atomic():
                WmsOrder.objects.filter(pk=row.pk).update(last_error=f"cancel refused: {exc}"[:4000])
            continue  # ORDER_SHIPPED: the confirmation comes and is flagged; transient: next tick
        with transaction.atomic():
            if WmsOrder.objects.filter(pk=row.pk, status=WmsOrderStatus.SENT).update(
                    status=WmsOrderStatus.CANCELLED, last_error=""):
                order_fulfilment.order_timeline_note(order_id=row.order_id, code="wms.cancelled",
                                                     message=f"cancelled at the third-party warehouse ({row.code})")
                cancelled += 1
    return cancelled


# --- confirmations --------------------------------------------------------------------------------
def wms_confirmations_pull(*, account: WmsAccount, client=None, max_pages: int = 20) -> dict:
    """Pull the delivery and entry confirmations and apply each once. Returns counts by outcome."""
    client = client or client_for(account)
    counts: dict[str, int] = defaultdict(int)
    for fetch in (client.deliveryorder_confirm, client.entryorder_confirm):
        ack: list[int] = []
        for _page in range(max_pages):
            confirms, more = fetch(since_id=0, ack=ack)
            ack = []
            for confirmation in confirms:
                outcome = wms_confirmation_apply(account_id=account.pk, confirmation=confirmation)
                counts[outcome] += 1
                if outcome != "error":
                    ack.append(confirmation.confirm_id)
            if not more:
                break
        if ack:
            fetch(since_id=0, ack=ack, page_size=1)
    WmsAccount.objects.filter(pk=account.pk).update(last_pull_at=timezone.now(), last_error="")
    return dict(counts)


def _shipped_by_line(snap, actual: dict[str, int]) -> dict[int, int]:
    """The WMS reports units per SKU code; our lines of the same SKU get them in line order."""
    left = dict(actual)
    shipped = {}
    for ln in snap.lines:
        if ln.is_stopped:
            continue
        take = min(ln.quantity, max(0, left.get(ln.sku_code, 0)))
        shipped[ln.id] = take
        left[ln.sku_code] = left.get(ln.sku_code, 0) - take
    return shipped


@transaction.atomic
def wms_confirmation_apply(*, account_id: int, confirmation) -> str:
    """Apply one confirmation. Outcomes: "shipped", "short", "received", "duplicate" (already
    applied: nothing changes), "unknown" (not our document), "error" (left for the next pull)."""
    kind = WmsOrderKind.ENTRY if confirmation.raw.get("type") == "entry" else WmsOrderKind.DELIVERY
    row = (WmsOrder.objects.select_for_update().select_related("account")
           .filter(account_id=account_id, kind=kind, code=confirmation.order_code).first())
    if row is None:
        logger.warning("WMS confirmation for an unknown document", extra={"code": confirmation.order_code})
        return "unknown"
    if row.confirm_id is not None or row.status not in (*OPEN, WmsOrderStatus.CANCELLED):
        return "duplicate"
    actual = {ln.item_code: ln.quantity for ln in confirmation.lines}
    now = timezone.now()
    if kind == WmsOrderKind.ENTRY:
        warehouse = inventory_selectors.warehouse_find(warehouse_id=row.account.warehouse_id)
        skus = inventory_selectors.skus_by_codes(codes=list(actual))
        for code, qty in sorted(actual.items()):
            if qty > 0 and code in skus:
                inventory_services.stock_receive(warehouse=warehouse, sku=skus[code], quantity=qty,
                                                 reason="received by the third-party warehouse",
                                                 source_doc=f"wms-entry:{row.code}")
        row.status = WmsOrderStatus.RECEIVED
    else:
        snaps = order_selectors.order_snapshots(order_ids=[row.order_id])
        if not snaps:
            return "unknown"
        shipped = _shipped_by_line(snaps[0], actual)
        short = any(shipped.get(ln.id, 0) < ln.quantity for ln in snaps[0].lines if not ln.is_stopped)
        try:
            with transaction.atomic():
                if short:
                    order_fulfilment.order_ship_partial(
                        order_id=row.order_id, shipped=shipped, tracking_no=confirmation.express_code,
                        carrier_code=confirmation.logistics_code,
                        why=f"the third-party warehouse {row.account.code} short-shipped {row.code}")
                else:
                    order_services.order_ship(order_id=row.order_id, tracking_no=confirmation.express_code,
                                              carrier_code=confirmation.logistics_code)
        except (Conflict, ValidationError) as exc:
            # e.g. the order was cancelled here while the WMS shipped it: an operator must recall it
            row.status, row.last_error = WmsOrderStatus.FAILED, f"shipped by the WMS but not here: {exc}"[:4000]
            row.confirm_id, row.actual, row.confirmed_at = confirmation.confirm_id, actual, now
            row.tracking_no, row.carrier_code = confirmation.express_code, confirmation.logistics_code
            row.save()
            order_fulfilment.order_timeline_note(order_id=row.order_id, code="wms.conflict", message=row.last_error)
            return "conflict"
        row.status = WmsOrderStatus.SHORT if short else WmsOrderStatus.SHIPPED
        row.tracking_no, row.carrier_code = confirmation.express_code, confirmation.logistics_code
        _wms_parcel(row, actual, now, order_no=snaps[0].platform_order_id)
    row.confirm_id, row.actual, row.confirmed_at, row.last_error = confirmation.confirm_id, actual, now, ""
    row.save()
    return {WmsOrderStatus.SHORT: "short", WmsOrderStatus.SHIPPED: "shipped"}.get(row.status, "received")


def _wms_parcel(row: WmsOrder, actual: dict[str, int], now, *, order_no: str) -> None:
    """The parcel the third-party warehouse shipped, so its tracking is pulled like our own
    parcels' (warehouse.services.tracking_pull, events on the order's timeline): from the carrier
    account of the WMS's carrier (this warehouse's, else any active one of that carrier); without
    one the parcel is listed but not tracked."""
    if not row.tracking_no or not any(q > 0 for q in actual.values()):
        return  # nothing left the warehouse
    carrier = (row.carrier_code or "").upper()
    account = carrier_account_for(warehouse_id=row.account.warehouse_id, carrier_code=carrier,
                                  other_carrier=False) if carrier else None
    skus = inventory_selectors.skus_by_codes(codes=[c for c, q in actual.items() if q > 0])
    parcel = Parcel(order_id=row.order_id, order_no=order_no or row.code, warehouse_id=row.account.warehouse_id,
                    account=account, carrier_code=carrier, tracking_no=row.tracking_no,
                    expected={str(skus[c].pk): q for c, q in actual.items() if q > 0 and c in skus},
                    status=ParcelStatus.SHIPPED, shipped_at=now, last_movement_at=now)
    if account is not None:
        parcel.currency = account.currency
    parcel.save()


def wms_sync(*, account: WmsAccount, client=None) -> dict:
    """One beat tick of an account: queue new orders, relay, pull confirmations."""
    result = {"queued": wms_orders_enqueue(account=account)}
    try:
        client = client or client_for(account)
        result.update(wms_relay(account=account, client=client))
        result["confirmations"] = wms_confirmations_pull(account=account, client=client)
    except integration_ports.WmsError as exc:
        WmsAccount.objects.filter(pk=account.pk).update(last_error=str(exc)[:4000])
        result["error"] = str(exc)
    return result


# --- nightly stock comparison ---------------------------------------------------------------------
@transaction.atomic
def wms_stock_compare(*, account: WmsAccount, client=None) -> WmsStockSnapshot:
    """inventory.query of the WMS against our on-hand stock of its warehouse; the differences are
    stored (and nothing else changes). Units of delivery orders sent but not confirmed are shown
    next to each line (the WMS may have shipped them already)."""
    client = client or client_for(account)
    theirs = client.inventory_query()
    skus = {s.code: s for s in inventory_selectors.skus(stock_only=True)}
    ours_by_id = {sku_id: fig["on_hand"] for (_w, sku_id), fig in inventory_selectors.stock_figures(
        sku_ids=[s.pk for s in skus.values()], warehouse_ids=[account.warehouse_id]).items()}
    by_id = {s.pk: code for code, s in skus.items()}
    ours = {by_id[i]: q for i, q in ours_by_id.items() if i in by_id}
    in_flight: dict[str, int] = defaultdict(int)
    for lines in WmsOrder.objects.filter(account=account, kind=WmsOrderKind.DELIVERY,
                                         status=WmsOrderStatus.SENT).values_list("lines", flat=True):
        for code, q in (lines or {}).items():
            in_flight[code] += int(q)
    codes = sorted(set(theirs) | {c for c, q in ours.items() if q})
    snapshot = WmsStockSnapshot.objects.create(account=account, items=len(codes))
    diffs = [WmsStockDifference(tenant_id=account.tenant_id, snapshot=snapshot,
                                sku_id=getattr(skus.get(code), "pk", None), sku_code=code, ours=ours.get(code, 0),
                                theirs=theirs.get(code, 0), in_flight=in_flight.get(code, 0))
             for code in codes if ours.get(code, 0) != theirs.get(code, 0)]
    WmsStockDifference.objects.bulk_create(diffs)
    snapshot.differences = len(diffs)
    snapshot.save(update_fields=["differences"])
    return snapshot
