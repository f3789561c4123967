"""Writes of the integrations app: shops, the outbox (shipments, refund decisions), inbound channel
messages, runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import store
from .codec import CodecError, order_from_dict, refund_from_dict
from .models import InboundMessage, Job, Outbox, Platform, Shop, SyncRun

logger = logging.getLogger("integrations")

SHOP_EDITABLE = {
    "name", "platform_shop_id", "api_base_url", "credentials", "is_active",
    "pull_orders_enabled", "pull_orders_interval", "pull_refunds_enabled", "pull_refunds_interval",
    "push_stock_enabled", "push_stock_interval", "push_shipments_enabled", "pull_bills_enabled",
    "pull_bills_interval", "sync_overlap_seconds", "sync_lag_seconds", "initial_lookback_hours",
}


# --- shops --------------------------------------------------------------------------------------
@transaction.atomic
def shop_create(*, code: str, name: str, platform: str, **fields) -> tuple[Shop, str]:
    """Create a shop; returns it and its channel secret (shown to the user this once)."""
    unknown = set(fields) - SHOP_EDITABLE
    if unknown:
        raise ValidationError({name_: ["not a shop field"] for name_ in unknown})
    if platform not in Platform.values:
        raise ValidationError({"platform": [f"one of {', '.join(Platform.values)}"]})
    if Shop.objects.filter(code=code).exists():
        raise ValidationError({"code": ["a shop with this code exists"]})
    secret = Shop.new_channel_secret()
    shop = Shop(code=code, name=name, platform=platform, channel_secret={"secret": secret}, **fields)
    if platform == Platform.OWN:  # an own web shop pushes to us: nothing to pull
        shop.pull_orders_enabled = shop.pull_refunds_enabled = shop.pull_bills_enabled = False
    shop.full_clean(exclude=["tenant", "channel_secret"])
    shop.save()
    return shop, secret


@transaction.atomic
def shop_update(*, shop: Shop, **fields) -> Shop:
    unknown = set(fields) - SHOP_EDITABLE
    if unknown:
        raise ValidationError({name_: ["not an editable shop field"] for name_ in unknown})
    for key, value in fields.items():
        setattr(shop, key, value)
    shop.full_clean(exclude=["tenant", "channel_secret"])
    shop.save()
    return shop


@transaction.atomic
def shop_rotate_channel_secret(*, shop: Shop) -> str:
    secret = Shop.new_channel_secret()
    shop.channel_secret = {"secret": secret}
    shop.save(update_fields=["channel_secret", "updated_at"])
    return secret


def channel_signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the raw request body under the shop's channel secret (X-ERP-Signature)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def channel_signature_valid(shop: Shop, body: bytes, signature: str) -> bool:
    secret = (shop.channel_secret or {}).get("secret")
    if not secret or not signature:
        return False
    return hmac.compare_digest(channel_signature(secret, body), signature.strip().lower())


# --- running jobs ---------------------------------------------------------------------------------
def sync_run_now(*, shop: Shop, job: str, trigger: str = "manual", budget_seconds: float | None = None) -> SyncRun | None:
    """Run one job for one shop in the foreground (manage.py sync, the shop page's "run now")."""
    from .sync import run_job

    if job not in Job.values:
        raise ValidationError({"job": [f"one of {', '.join(Job.values)}"]})
    return run_job(shop=shop, job=job, trigger=trigger, budget_seconds=budget_seconds)


# --- shipment outbox ------------------------------------------------------------------------------
def shipment_push_enqueue(*, shop: Shop, platform_order_id: str, carrier_code: str, tracking_no: str,
                          lines: list | None = None) -> Outbox:
    """Write a shipment push in the caller's transaction; the relay sends it after commit.

    Idempotent: the same (shop, order, carrier, tracking number) is one outbox row."""
    if not (platform_order_id and carrier_code and tracking_no):
        raise ValidationError("platform_order_id, carrier_code and tracking_no are required")
    key = f"shipment:{shop.pk}:{platform_order_id}:{carrier_code}:{tracking_no}"
    payload = {"platform_order_id": str(platform_order_id), "carrier_code": carrier_code,
               "tracking_no": tracking_no, "lines": lines}
    return _outbox_put(shop=shop, kind=Outbox.Kind.SHIPMENT, key=key, payload=payload,
                       relay=shop.push_shipments_enabled)


def _outbox_put(*, shop: Shop, kind: str, key: str, payload: dict, relay: bool) -> Outbox:
    """The outbox row of ``key`` (made once, in the caller's transaction; a concurrent writer of the
    same key wins and its row is returned), and the relay queued after commit when it is pending."""
    with transaction.atomic():
        row = Outbox.objects.filter(dedupe_key=key).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = Outbox.objects.create(shop=shop, kind=kind, dedupe_key=key, payload=payload)
            except IntegrityError:
                row = Outbox.objects.get(dedupe_key=key)
        if relay and row.status == Outbox.Status.PENDING:
            _queue_relay_on_commit(shop)
    return row


# --- refund decision outbox -----------------------------------------------------------------------
def refund_decision_enqueue(*, shop: Shop, platform_refund_id: str, action: str, amount=None, reason: str = "",
                            return_address: dict | None = None, operator: str = "", ref: str = "") -> Outbox | None:
    """Write a seller's decision on a platform refund in the caller's transaction; the relay sends it
    after commit (same attempts and backoff as shipments) in the platform's own API shape.

    ``action``: ``agree_refund`` (refund only), ``agree_return`` (the buyer sends the goods back to
    ``return_address``: dict name, phone, address, zip), ``confirm_receipt`` (the returned goods arrived:
    the platform pays the buyer), ``refuse`` (``reason`` is shown to the buyer). ``amount`` (Decimal
    yuan) defaults to the refund's amount. Idempotent: one row per (shop, refund, action); a resend the
    platform answers "already applied" counts as sent. Returns None for a shop whose platform takes no
    decisions (an own web shop)."""
    from erp.money import to_money

    from .adapters.base import RefundAction

    if action not in RefundAction.ALL:
        raise ValidationError({"action": [f"one of {', '.join(RefundAction.ALL)}"]})
    platform_refund_id = str(platform_refund_id or "").strip()
    if not platform_refund_id:
        raise ValidationError({"platform_refund_id": ["required"]})
    if shop.platform == Platform.OWN:
        return None
    if isinstance(amount, float):
        raise ValidationError({"amount": ["a decimal string, not a float"]})
    amount = None if amount in (None, "") else to_money(amount)
    if amount is not None and amount < 0:
        raise ValidationError({"amount": ["cannot be negative"]})
    key = f"refund:{shop.pk}:{platform_refund_id}:{action}"
    payload = {"platform_refund_id": platform_refund_id, "action": action,
               "amount": None if amount is None else str(amount), "reason": (reason or "")[:500],
               "return_address": {k: str(v) for k, v in (return_address or {}).items() if v not in (None, "")},
               "operator": (operator or "")[:50], "ref": ref}
    return _outbox_put(shop=shop, kind=Outbox.Kind.REFUND, key=key, payload=payload, relay=shop.is_active)


def _queue_relay_on_commit(shop: Shop) -> None:
    from .tasks import push_shipments

    tenant_id, shop_id = shop.tenant_id, shop.pk
    transaction.on_commit(lambda: push_shipments.delay(tenant_id=tenant_id, shop_id=shop_id, trigger="outbox"))


@transaction.atomic
def outbox_retry(*, row: Outbox) -> Outbox:
    """Operator action: send a failed row again."""
    row.status, row.next_attempt_at, row.attempts = Outbox.Status.PENDING, timezone.now(), 0
    row.save(update_fields=["status", "next_attempt_at", "attempts"])
    _queue_relay_on_commit(row.shop)
    return row


# --- inbound channel (own web shop, push-style platform messages) ---------------------------------
class InboundConflict(Exception):
    """The same version of an external id was received before with a different body."""


def _canonical_hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def _decode(shop: Shop, kind: str, data):
    """The normalised record of an inbound body (own shop: our normalised JSON; a platform shop:
    that platform's own payload, mapped by its adapter). Raises ValidationError."""
    try:
        if shop.platform == Platform.OWN:
            record = order_from_dict(data, raw=data) if kind == InboundMessage.Kind.ORDER else refund_from_dict(data, raw=data)
            record.platform = Platform.OWN
            return record
        from .adapters import adapter_class

        adapter = adapter_class(shop.platform)(shop)
        return adapter.map_order(data) if kind == InboundMessage.Kind.ORDER else adapter.map_refund(data)
    except CodecError as exc:
        raise ValidationError({exc.field: [exc.message]})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValidationError({"non_field_errors": [f"cannot read this {kind}: {exc}"]})


def _version(kind: str, record) -> str:
    """What tells one state of a record from the next: the modified time (and a refund's version)."""
    if kind == InboundMessage.Kind.ORDER:
        return record.modified_at.isoformat()
    return f"{record.version}@{record.modified_at.isoformat()}"


def inbound_receive(*, shop: Shop, kind: str, data) -> tuple[InboundMessage, bool]:
    """Store an inbound message before answering. Returns (message, created).

    Each (external id, version) is stored once: the same body again is a duplicate (nothing new);
    a newer modified time is an update, stored and processed (the storing path ignores a version
    older than the one it has, so late or out-of-order updates change nothing). Raises
    ValidationError for a body that does not parse, InboundConflict when the same version of the
    external id was stored before with a different body. Processing runs after commit (a task)."""
    record = _decode(shop, kind, data)
    external_id = record.platform_order_id if kind == InboundMessage.Kind.ORDER else record.platform_refund_id
    version = _version(kind, record)
    body_hash = _canonical_hash(data)
    with transaction.atomic():
        key = {"shop": shop, "kind": kind, "external_id": external_id, "version": version}
        existing = InboundMessage.objects.filter(**key).first()
        if existing is None:
            try:
                with transaction.atomic():
                    message = InboundMessage.objects.create(**key, body_hash=body_hash, body=data)
            except IntegrityError:  # a concurrent identical post won the race
                existing = InboundMessage.objects.get(**key)
            else:
                from .tasks import process_inbound

                tenant_id, pk = shop.tenant_id, message.pk
                transaction.on_commit(lambda: process_inbound.delay(tenant_id=tenant_id, message_id=pk))
                return message, True
        if existing.body_hash != body_hash:
            raise InboundConflict(f"{kind} {external_id} version {version} was received before with a different body; "
                                  "send a changed record with a newer modified_at")
        return existing, False


@transaction.atomic
def inbound_process(*, message_id: int) -> InboundMessage | None:
    """Store an inbound message's record through the storing path (idempotent)."""
    message = InboundMessage.objects.select_for_update().select_related("shop").filter(pk=message_id).first()
    if message is None:
        return None
    try:
        record = _decode(message.shop, message.kind, message.body)
    except ValidationError as exc:
        message.error = str(exc)[:4000]
        message.save(update_fields=["error"])
        return message
    if message.kind == InboundMessage.Kind.ORDER:
        store.store_orders(shop=message.shop, orders=[record])
    else:
        store.store_refunds(shop=message.shop, refunds=[record])
    message.processed_at, message.error = timezone.now(), ""
    message.save(update_fields=["processed_at", "error"])
    return message


# --- seller coupons (integrations/coupons.py): members queue its coupons here, the relay sends them --
def coupon_deliveries_enqueue(*, deliveries: list[dict]) -> dict[int, str]:
    """Queue members' coupons for delivery to their buyers (idempotent per coupon id); see integrations.coupons."""
    from .coupons import coupon_deliveries_enqueue as enqueue

    return enqueue(deliveries=deliveries)


def coupon_deliveries_send(*, limit: int = 200) -> dict:
    """Send the due coupon deliveries now (the relay task does this after commit and on the beat tick)."""
    from .coupons import coupon_deliveries_send as send

    return send(limit=limit)


def coupon_delivery_retry(*, coupon_ids: list[int]) -> int:
    """Send given-up coupon deliveries again, under their request ids (never a second coupon)."""
    from .coupons import coupon_delivery_retry as retry

    return retry(coupon_ids=coupon_ids)
