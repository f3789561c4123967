"""Pushes to the platforms: stock (changed lines every minute, everything nightly) and the outbox
relay (ARCHITECTURE.md section 7): shipments and sellers' refund decisions."""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from erp import events

from .adapters.base import AdapterError, NotSupported, RefundAction, RefundDecision, StockUpdate
from .models import Job, Outbox, PlatformRefund, SyncRun

logger = logging.getLogger("integrations.pushes")

MAX_CLAIMS_PER_RUN = 20


def inventory_selectors():
    """inventory.selectors when it provides the stock-sync contract (docs/INTERFACES.md), else None."""
    try:
        from inventory import selectors
    except ImportError:
        return None
    if not all(hasattr(selectors, name) for name in ("sellable_stock_for_shop", "dirty_stock_claim", "dirty_stock_ack")):
        return None
    return selectors


def _line_and_version(item):
    if isinstance(item, tuple) and len(item) == 2:
        return item[0], item[1]
    return item, getattr(item, "version", None)


def _update_for(line, version=None) -> StockUpdate:
    return StockUpdate(
        platform_item_id=str(getattr(line, "platform_item_id", "") or ""),
        platform_sku_id=str(getattr(line, "platform_sku_id", "") or ""),
        outer_id=str(getattr(line, "outer_id", "") or ""),
        quantity=max(0, int(line.quantity)),
        ref=(getattr(line, "mapping_id", None), version),
    )


def _finish(run: SyncRun, status: str, error: str = "") -> SyncRun:
    now = timezone.now()
    run.status, run.error, run.finished_at = status, error[:4000], now
    run.duration_ms = int((now - run.started_at).total_seconds() * 1000)
    run.skipped = max(0, run.fetched - run.updated - run.failed)
    run.save()
    from .models import SyncCursor

    cursor, _ = SyncCursor.objects.get_or_create(shop=run.shop, job=run.job)
    if status == SyncRun.Status.SUCCESS:
        cursor.last_success_at, cursor.last_error, cursor.consecutive_failures = now, "", 0
    else:
        cursor.last_error, cursor.consecutive_failures = error[:4000], cursor.consecutive_failures + 1
    cursor.last_started_at = run.started_at
    cursor.save()
    return run


def _push_batches(adapter, run: SyncRun, updates: list[StockUpdate]) -> list[StockUpdate]:
    """Send in the platform's batch size; returns the updates the platform accepted."""
    accepted: list[StockUpdate] = []
    errors: list[str] = []
    size = max(1, adapter.stock_batch_size)
    for index in range(0, len(updates), size):
        batch = updates[index:index + size]
        run.pages += 1
        try:
            results = adapter.push_stock(batch)
        except NotSupported:
            raise
        except AdapterError as exc:
            run.failed += len(batch)
            errors.append(str(exc))
            continue
        for result in results:
            if result.ok:
                accepted.append(result.update)
                run.updated += 1
            else:
                run.failed += 1
                errors.append(f"{result.update.platform_sku_id or result.update.outer_id}: {result.error}")
    if errors:
        run.error = "; ".join(errors[:10])
    return accepted


def run_stock_push(*, shop, adapter, full: bool, trigger: str = "beat", task_id: str = "") -> SyncRun:
    job = Job.PUSH_STOCK_FULL if full else Job.PUSH_STOCK
    run = SyncRun.objects.create(shop=shop, job=job, trigger=trigger, task_id=task_id or "")
    inventory = inventory_selectors()
    if inventory is None:
        return _finish(run, SyncRun.Status.SUCCESS, "inventory stock selectors are not installed: nothing to push")
    try:
        if full:
            updates = [_update_for(line) for line in inventory.sellable_stock_for_shop(shop=shop)]
            run.fetched = len(updates)
            _push_batches(adapter, run, updates)
        else:
            for _ in range(MAX_CLAIMS_PER_RUN):
                claimed = inventory.dirty_stock_claim(shop=shop, limit=500)
                if not claimed:
                    break
                updates = [_update_for(*_line_and_version(item)) for item in claimed]
                run.fetched += len(updates)
                accepted = _push_batches(adapter, run, updates)
                acks = [u.ref for u in accepted if u.ref and u.ref[0] is not None]
                if acks:
                    inventory.dirty_stock_ack(shop=shop, acks=acks)
                if len(accepted) < len(updates):
                    break  # the rest stays dirty and is retried on the next tick
    except NotSupported as exc:
        return _finish(run, SyncRun.Status.SUCCESS, str(exc))
    status = SyncRun.Status.FAILED if run.failed else SyncRun.Status.SUCCESS
    return _finish(run, status, run.error)


def _backoff(attempts: int) -> timedelta:
    base = min(3600, 15 * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(base / 2, base))


def _send_shipment(adapter, row: Outbox):
    payload = row.payload
    result = adapter.push_shipment(
        platform_order_id=payload["platform_order_id"], carrier_code=payload["carrier_code"],
        tracking_no=payload["tracking_no"], lines=payload.get("lines"),
    )
    return result.ok, result.error, result.response, payload.get("platform_order_id")


def refund_decision_for(row: Outbox) -> RefundDecision:
    """The decision of an outbox row, completed with the refund as last pulled (order id, phase and
    version: Taobao/Tmall want them back)."""
    from decimal import Decimal

    payload = row.payload
    stored = PlatformRefund.objects.filter(shop_id=row.shop_id, platform_refund_id=payload["platform_refund_id"]).first()
    normalized = (stored.normalized or {}) if stored else {}
    amount = payload.get("amount")
    if amount in (None, "") and normalized.get("amount") not in (None, ""):
        amount = normalized["amount"]
    return RefundDecision(
        action=payload["action"], platform_refund_id=payload["platform_refund_id"],
        platform_order_id=stored.platform_order_id if stored else str(payload.get("platform_order_id") or ""),
        amount=None if amount in (None, "") else Decimal(str(amount)), reason=payload.get("reason") or "",
        return_address=payload.get("return_address") or {}, phase=normalized.get("phase") or "",
        version=int(stored.refund_version) if stored else 0, operator=payload.get("operator") or "",
    )


def _send_refund_decision(adapter, row: Outbox):
    result = adapter.push_refund_decision(refund_decision_for(row))
    if (not result.ok and row.payload.get("action") == RefundAction.CONFIRM_RECEIPT
            and "STATUS_NOT_ALLOW" in result.error):
        # the goods reached our warehouse before the platform registered the buyer's return shipment:
        # try again later (backoff) instead of giving up
        raise AdapterError(f"the platform does not show the return shipped yet: {result.error}", retryable=True)
    response = dict(result.response or {})
    if result.already:
        response["already_applied"] = True
    return result.ok, result.error, response, row.payload.get("platform_refund_id")


SENDERS = {Outbox.Kind.SHIPMENT: _send_shipment, Outbox.Kind.REFUND: _send_refund_decision}


def _announce(row: Outbox) -> None:
    """"platform_refund_decision.sent" once a refund decision row is done (sent, or given up), so the
    after-sales ticket records it. A subscriber's failure never undoes the send."""
    if row.kind != Outbox.Kind.REFUND:
        return
    payload = row.payload
    try:
        with transaction.atomic():
            events.publish("platform_refund_decision.sent", shop_id=row.shop_id,
                           platform_refund_id=payload.get("platform_refund_id"), action=payload.get("action"),
                           ref=payload.get("ref") or "", outbox_id=row.pk, status=row.status,
                           already=bool((row.response or {}).get("already_applied")), error=row.last_error)
    except Exception:  # noqa: BLE001 - a subscriber must not fail the relay
        logger.exception("platform_refund_decision.sent subscriber failed", extra={"outbox_id": row.pk})


def run_shipment_relay(*, shop, adapter, trigger: str = "beat", task_id: str = "", limit: int = 200) -> SyncRun:
    """Send the shop's due outbox rows (shipments and refund decisions). Each row is locked (SKIP
    LOCKED), sent and marked in one transaction; a crash after the platform accepted but before
    commit resends it, which the adapter treats as success when the platform says it already has it
    (shipped with that number; the refund decision already applied)."""
    run = SyncRun.objects.create(shop=shop, job=Job.PUSH_SHIPMENTS, trigger=trigger, task_id=task_id or "")
    now = timezone.now()
    due = list(
        Outbox.objects.filter(shop=shop, kind__in=list(SENDERS), status=Outbox.Status.PENDING,
                              next_attempt_at__lte=now).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit]
    )
    errors = []
    for pk in due:
        with transaction.atomic():
            row = Outbox.objects.select_for_update(skip_locked=True).filter(pk=pk, status=Outbox.Status.PENDING).first()
            if row is None:
                continue
            run.fetched += 1
            row.attempts += 1
            label = ""
            try:
                ok, error, response, label = SENDERS[row.kind](adapter, row)
                retryable = False
            except NotSupported as exc:
                ok, error, retryable, response = False, str(exc), False, {}
            except AdapterError as exc:
                ok, error, retryable, response = False, str(exc), exc.retryable, {}
            except (KeyError, ValueError, ArithmeticError) as exc:  # a malformed row: give up on it, keep relaying
                ok, error, retryable, response = False, f"bad outbox row: {exc!r}", False, {}
            if ok:
                row.status, row.sent_at, row.last_error, row.response = Outbox.Status.SENT, timezone.now(), "", response
                run.updated += 1
            else:
                row.last_error = error[:4000]
                run.failed += 1
                errors.append(f"{label or row.dedupe_key}: {error}")
                if retryable and row.attempts < Outbox.MAX_ATTEMPTS:
                    row.next_attempt_at = timezone.now() + _backoff(row.attempts)
                else:
                    row.status = Outbox.Status.FAILED
            row.save()
            if row.status != Outbox.Status.PENDING:
                _announce(row)
    status = SyncRun.Status.FAILED if run.failed else SyncRun.Status.SUCCESS
    return _finish(run, status, "; ".join(errors[:10]))
