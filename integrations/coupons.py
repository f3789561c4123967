"""Delivering members' coupons to platform buyers, and mapping platform coupons back.

- ``coupon_deliveries_enqueue`` (called by members, through integrations.services, in the campaign's
  own transaction) writes one CouponDelivery row per coupon: the coupon id is unique, so enqueueing
  again changes nothing and a coupon is never sent twice. The own web shop needs no call: the shop
  reads the buyer's open coupons through the channel API, so its rows are delivered at once.
- ``coupon_deliveries_send`` (the relay: a task after commit, and the beat tick for retries) sends due
  rows through the shop's adapter with the row's request id, the platform's idempotency key: a resend
  after a lost answer gets the coupon already made. Transient failures (rate limit, 5xx, timeouts)
  back off and retry up to CouponDelivery.MAX_ATTEMPTS; a refusal gives up at once. A row that is done
  (delivered or given up) is announced as ``platform_coupon.delivered`` so the campaign records it.
- ``coupon_id_for_platform_coupon`` maps the platform's coupon id on an order back to our coupon.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from erp import events
from erp.tenancy.context import get_current_tenant, require_tenant

from .adapters import get_adapter
from .adapters.base import AdapterError, CouponSend, NotSupported
from .models import CouponDelivery, Platform, PlatformOrder, Shop

logger = logging.getLogger("integrations.coupons")

DEFAULT_VALID_DAYS = 365  # a coupon without an end still needs one on the platforms
FIELDS = ("coupon_id", "code", "platform", "buyer_id")


def _enc(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _shops_for(platform: str, buyer_ids: list[str]) -> dict[str, int]:
    """{buyer id: shop id}: the shop of the platform where the buyer ordered last, else the first active
    shop of the platform (empty when there is none yet: the relay looks again when it sends)."""
    shops = list(Shop.objects.filter(platform=platform, is_active=True).order_by("pk").values_list("pk", flat=True))
    if not shops:
        return {}
    found: dict[str, int] = {}
    if len(shops) > 1 and buyer_ids:
        rows = (PlatformOrder.objects.filter(shop_id__in=shops, normalized__buyer_id__in=buyer_ids)
                .order_by("-platform_modified_at").values_list("normalized__buyer_id", "shop_id"))
        for buyer, shop_id in rows:
            found.setdefault(str(buyer), shop_id)
    return {b: found.get(b, shops[0]) for b in buyer_ids}


def coupon_deliveries_enqueue(*, deliveries: list[dict]) -> dict[int, str]:
    """Queue coupons for delivery; each item: coupon_id, code, platform, buyer_id, title, kind
    ("amount"/"percent"), amount_off, percent_off, threshold, currency, valid_from, valid_until.
    Idempotent per coupon id. Answers {coupon id: delivery status}."""
    now = timezone.now()
    tenant_id = require_tenant().pk
    rows = []
    by_platform: dict[str, list[str]] = {}
    for item in deliveries:
        if item["platform"] not in Platform.values:
            raise ValueError(f"unknown platform {item['platform']!r}")
        by_platform.setdefault(item["platform"], []).append(str(item["buyer_id"]))
    shops = {p: _shops_for(p, buyers) for p, buyers in by_platform.items()}
    for item in deliveries:
        platform, buyer = item["platform"], str(item["buyer_id"])[:128]
        until = item.get("valid_until") or now + timedelta(days=DEFAULT_VALID_DAYS)
        terms = {k: _enc(item.get(k)) for k in ("title", "kind", "amount_off", "percent_off", "threshold", "currency",
                                                  "valid_from")}
        terms["valid_until"] = _enc(until)
        own = platform == Platform.OWN
        rows.append(CouponDelivery(
            tenant_id=tenant_id, coupon_id=int(item["coupon_id"]), code=str(item["code"])[:32], platform=platform,
            shop_id=shops.get(platform, {}).get(buyer), buyer_id=buyer, request_id=f"erp-coupon-{int(item['coupon_id'])}",
            terms=terms, status=CouponDelivery.Status.SENT if own else CouponDelivery.Status.PENDING,
            sent_at=now if own else None, next_attempt_at=now,
            response={"note": "own web shop: read through the channel API"} if own else {}))
    CouponDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    ids = [int(item["coupon_id"]) for item in deliveries]
    status = dict(CouponDelivery.objects.filter(coupon_id__in=ids).values_list("coupon_id", "status"))
    if any(s == CouponDelivery.Status.PENDING for s in status.values()):
        _relay_on_commit()
    return status


def _relay_on_commit() -> None:
    from . import tasks

    tenant = get_current_tenant()
    if tenant is None:
        return
    tenant_id = tenant.pk
    transaction.on_commit(lambda: tasks.send_coupons.delay(tenant_id=tenant_id))


def _backoff(attempts: int) -> timedelta:
    base = min(3600, 30 * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=random.uniform(base / 2, base))


def _dt(value):
    if not value:
        return None
    return value if isinstance(value, datetime) else parse_datetime(str(value))


def coupon_send_of(row: CouponDelivery) -> CouponSend:
    terms = row.terms or {}
    return CouponSend(
        request_id=row.request_id, buyer_id=row.buyer_id, code=row.code, title=str(terms.get("title") or ""),
        amount_off=Decimal(str(terms.get("amount_off") or "0")), threshold=Decimal(str(terms.get("threshold") or "0")),
        valid_until=_dt(terms.get("valid_until")), valid_from=_dt(terms.get("valid_from")),
        currency=str(terms.get("currency") or "CNY"), kind=str(terms.get("kind") or "amount"))


def _announce(row: CouponDelivery) -> None:
    """``platform_coupon.delivered`` for a row that is done; a subscriber's failure never undoes the send."""
    try:
        with transaction.atomic():
            events.publish("platform_coupon.delivered", coupon_id=row.coupon_id, platform=row.platform,
                           shop_id=row.shop_id, status=row.status, platform_coupon_id=row.platform_coupon_id,
                           error=row.last_error)
    except Exception:  # noqa: BLE001
        logger.exception("platform_coupon.delivered subscriber failed", extra={"coupon_id": row.coupon_id})


def _send_one(row: CouponDelivery, adapters: dict) -> None:
    if row.shop_id is None:
        row.shop_id = _shops_for(row.platform, [row.buyer_id]).get(row.buyer_id)
    if row.shop_id is None:
        ok, retryable, error, result = False, True, f"no active {row.platform} shop to send through", None
    else:
        try:
            adapter = adapters.get(row.shop_id)
            if adapter is None:
                adapter = adapters[row.shop_id] = get_adapter(Shop.objects.get(pk=row.shop_id))
            result = adapter.send_coupon(coupon_send_of(row))
            ok, retryable, error = result.ok, False, result.error
        except NotSupported as exc:
            ok, retryable, error, result = False, False, str(exc), None
        except AdapterError as exc:
            ok, retryable, error, result = False, exc.retryable, str(exc), None
        except (KeyError, ValueError, TypeError, ArithmeticError) as exc:  # a malformed row: give up on it
            ok, retryable, error, result = False, False, f"bad coupon delivery: {exc!r}", None
    if ok:
        row.status, row.sent_at, row.last_error = CouponDelivery.Status.SENT, timezone.now(), ""
        row.platform_coupon_id = (result.platform_coupon_id or "")[:64]
        row.response = {**(result.response or {}), **({"already": True} if result.already else {})}
        return
    row.last_error = (error or "refused")[:4000]
    if retryable and row.attempts < CouponDelivery.MAX_ATTEMPTS:
        row.next_attempt_at = timezone.now() + _backoff(row.attempts)
    else:
        row.status = CouponDelivery.Status.FAILED
        if result is not None:
            row.response = result.response or {}


def coupon_deliveries_send(*, limit: int = 200, now=None) -> dict:
    """Send the tenant's due deliveries, each locked (SKIP LOCKED), sent and marked in its own
    transaction. Answers {"sent": n, "retrying": n, "failed": n}."""
    now = now or timezone.now()
    due = list(CouponDelivery.objects.filter(status=CouponDelivery.Status.PENDING, next_attempt_at__lte=now)
               .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    adapters: dict = {}
    try:
        for pk in due:
            with transaction.atomic():
                row = (CouponDelivery.objects.select_for_update(skip_locked=True)
                       .filter(pk=pk, status=CouponDelivery.Status.PENDING).first())
                if row is None:
                    continue
                row.attempts += 1
                _send_one(row, adapters)
                row.save()
                if row.status == CouponDelivery.Status.PENDING:
                    counts["retrying"] += 1
                else:
                    counts["sent" if row.status == CouponDelivery.Status.SENT else "failed"] += 1
                    _announce(row)
    finally:
        for adapter in adapters.values():
            adapter.close()
    return counts


@transaction.atomic
def coupon_delivery_retry(*, coupon_ids: list[int]) -> int:
    """Send given-up deliveries again (an operator's retry, e.g. after a shop's credentials were fixed):
    they become pending with a fresh attempt count, under the same request id (never a second coupon)."""
    n = CouponDelivery.objects.filter(coupon_id__in=list(coupon_ids), status=CouponDelivery.Status.FAILED).update(
        status=CouponDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="")
    if n:
        _relay_on_commit()
    return n
