"""Event handlers (subscribed in FinanceConfig.ready) and posting issues. A handler runs its posting
rule in the publisher's transaction inside a savepoint: a finance failure never stops a shipment; it
is logged and kept as a PostingIssue, retried by hand or by the daily job."""

from __future__ import annotations

import logging

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from erp.api.exceptions import Conflict

from ..models import PostingIssue, SourceType
from .rules import (
    post_goods_returned,
    post_order_shipped,
    post_purchase,
    post_refund,
    post_stock_adjusted,
    stock_adjusted_ref,
)
from .settlement import settle_bill_lines

logger = logging.getLogger("finance")


def _handle(source_type: str, source_ref, fn, payload: dict):
    """Run a posting rule in a savepoint; a failure is logged and kept as a PostingIssue, never
    raised into the publisher's transaction."""
    try:
        with transaction.atomic():
            result = fn(**payload)
        PostingIssue.objects.filter(source_type=source_type, source_ref=str(source_ref), resolved_at__isnull=True) \
            .update(resolved_at=timezone.now())
        return result
    except Exception as exc:  # noqa: BLE001 - any failure of a posting rule
        logger.exception("finance: posting %s %s failed", source_type, source_ref)
        _record_issue(source_type, str(source_ref), payload, exc)
        return None


def _record_issue(source_type: str, source_ref: str, payload: dict, exc: Exception) -> None:
    import json

    try:
        with transaction.atomic():
            data = json.loads(json.dumps(payload, cls=DjangoJSONEncoder, default=str))
            PostingIssue.objects.update_or_create(
                source_type=source_type, source_ref=source_ref,
                defaults={"payload": data, "error": f"{type(exc).__name__}: {exc}"[:1000], "resolved_at": None,
                          "last_tried_at": timezone.now()})
    except Exception:  # noqa: BLE001 - never let the bookkeeping of a failure fail the publisher
        logger.exception("finance: could not record the posting issue %s %s", source_type, source_ref)


def on_order_shipped(*, order_id, **_extra):
    return _handle(SourceType.ORDER_SHIPPED, order_id, post_order_shipped, {"order_id": order_id})


def on_purchase_received(**payload):
    return _handle(SourceType.PURCHASE_RECEIVED, payload.get("receipt_id"), post_purchase, dict(payload))


def on_purchase_returned(**payload):
    return _handle(SourceType.PURCHASE_RETURNED, payload.get("receipt_id"), post_purchase,
                   {**payload, "returned": True})


def on_aftersales_refunded(**payload):
    return _handle(SourceType.AFTERSALES_REFUNDED, payload.get("ticket_id"), post_refund, dict(payload))


def goods_returned_ref(payload: dict) -> str:
    """A ticket may return goods to several warehouses, or in several receipts: the reference names
    the ticket, the warehouse and the lines, so a repeated event posts once and a new receipt posts."""
    import hashlib

    lines = sorted((int(r.get("sku_id") or 0), int(r.get("quantity") or 0), bool(r.get("defective")))
                   for r in payload.get("lines") or ())
    digest = hashlib.sha1(repr(lines).encode()).hexdigest()[:12]
    return f"{payload.get('ticket_id')}:{payload.get('warehouse_id') or ''}:{digest}"


def on_goods_returned(**payload):
    ref = goods_returned_ref(payload)
    return _handle(SourceType.GOODS_RETURNED, ref, post_goods_returned, {**payload, "source_ref": ref})


def on_stock_adjusted(**payload):
    ref = stock_adjusted_ref(payload)
    return _handle(SourceType.STOCK_ADJUSTED, ref, post_stock_adjusted, {**payload, "source_ref": ref})


def on_platform_bills_changed(*, shop_id, platform_bill_ids, **_extra):
    from integrations.selectors import normalized_bill_lines

    def run(*, shop_id, platform_bill_ids):
        bills = normalized_bill_lines(shop_id=shop_id, platform_bill_ids=list(platform_bill_ids))
        return settle_bill_lines(shop_id=shop_id, bills=bills)

    ref = f"{shop_id}:{platform_bill_ids[0] if platform_bill_ids else ''}+{len(platform_bill_ids)}"
    return _handle("platform_bills.changed", ref, run, {"shop_id": shop_id, "platform_bill_ids": list(platform_bill_ids)})


HANDLERS = {
    SourceType.ORDER_SHIPPED: lambda p: post_order_shipped(**p),
    SourceType.PURCHASE_RECEIVED: lambda p: post_purchase(**p),
    SourceType.PURCHASE_RETURNED: lambda p: post_purchase(**p),
    SourceType.AFTERSALES_REFUNDED: lambda p: post_refund(**p),
    SourceType.GOODS_RETURNED: lambda p: post_goods_returned(**p),
    SourceType.STOCK_ADJUSTED: lambda p: post_stock_adjusted(**p),
}


@transaction.atomic
def posting_issue_retry(*, issue: PostingIssue) -> bool:
    """Run a failed posting again with its stored payload. True when it went through now."""
    issue = PostingIssue.objects.select_for_update().get(pk=issue.pk)
    if issue.resolved_at is not None:
        raise Conflict(_("This issue is resolved already."))
    payload = dict(issue.payload)
    try:
        with transaction.atomic():
            if issue.source_type == "platform_bills.changed":
                from integrations.selectors import normalized_bill_lines

                bills = normalized_bill_lines(shop_id=payload["shop_id"], platform_bill_ids=payload["platform_bill_ids"])
                settle_bill_lines(shop_id=payload["shop_id"], bills=bills)
            else:
                HANDLERS[issue.source_type](payload)
    except Exception as exc:  # noqa: BLE001
        issue.error, issue.last_tried_at, issue.attempts = f"{type(exc).__name__}: {exc}"[:1000], timezone.now(), issue.attempts + 1
        issue.save(update_fields=["error", "last_tried_at", "attempts"])
        return False
    issue.resolved_at, issue.attempts = timezone.now(), issue.attempts + 1
    issue.save(update_fields=["resolved_at", "attempts"])
    return True


def posting_issues_retry_all(*, limit: int = 500) -> int:
    """Retry every open posting issue (the daily job does; a fixed cause lets them through). Each
    runs in its own transaction. Returns how many went through."""
    done = 0
    for issue in PostingIssue.objects.filter(resolved_at__isnull=True).order_by("id")[:limit]:
        try:
            done += posting_issue_retry(issue=issue)
        except Conflict:
            continue
    return done
