"""erp.events handlers (order.shipped, aftersales.refunded, order.coupons_used, platform_coupon.delivered): they run in the publisher's transaction,
in a savepoint, so a failure here never undoes a shipment or a refund; it is retried by a task after
the publisher commits.
"""

from __future__ import annotations

from django.db import transaction

from erp.tenancy.context import require_tenant

from .common import logger
from .points import points_clawback_for_refund, points_earn_for_order


def _safely(what: str, fn, retry) -> None:
    """Run ``fn`` in a savepoint: a failure here must never undo the publisher's work (a shipment, a
    refund). It is logged and retried by a task after the publisher commits."""
    try:
        with transaction.atomic():
            fn()
    except Exception:  # noqa: BLE001
        logger.exception("members: %s failed; retrying after commit", what)
        tenant_id = require_tenant().pk
        transaction.on_commit(lambda: retry(tenant_id))


def on_order_shipped(*, order_id: int, **_payload) -> None:
    from .. import tasks

    _safely(f"points for order {order_id}", lambda: points_earn_for_order(order_id=order_id),
            lambda tenant_id: tasks.earn_for_order.delay(tenant_id=tenant_id, order_id=order_id))


def on_aftersales_refunded(*, ticket_id: int, amount, order_id: int | None = None, shop_id: int | None = None,
                           platform_order_id: str = "", **_payload) -> None:
    from .. import tasks

    kwargs = {"ticket_id": ticket_id, "amount": str(amount), "order_id": order_id, "shop_id": shop_id,
              "platform_order_id": platform_order_id or ""}
    _safely(f"clawback for ticket {ticket_id}", lambda: points_clawback_for_refund(**kwargs),
            lambda tenant_id: tasks.clawback_for_refund.delay(tenant_id=tenant_id, **kwargs))


def on_platform_coupon_delivered(*, coupon_id: int, status: str, error: str = "", platform_coupon_id: str = "",
                                 **_payload) -> None:
    """integrations delivered a coupon (or gave up): the campaign's recipient records it."""
    from .campaigns import _delivered

    _delivered(coupon_id=coupon_id, status=status, error=error or "", platform_coupon_id=platform_coupon_id or "")


def coupons_redeem_for_order(*, order_id: int, shop_id: int | None, platform: str, buyer_id: str = "",
                             coupons: list, goods_amount, currency: str = "CNY", paid_at=None) -> list[int]:
    """Redeem the coupons an order carries: a platform coupon id maps back to our coupon through
    integrations (the delivery that made it), an own-shop order names our code. Idempotent (the same
    order again changes nothing); a coupon that cannot be redeemed (unknown, another member's, used on
    another order, below the threshold) is logged and left alone. Answers the coupons redeemed."""
    from datetime import datetime

    from django.core.exceptions import ValidationError
    from django.utils.dateparse import parse_datetime

    from erp.api.exceptions import Conflict

    from .. import ports
    from ..models import Coupon, MemberIdentity
    from .coupons import coupon_redeem

    at = paid_at if isinstance(paid_at, datetime) or paid_at is None else parse_datetime(str(paid_at))
    ident = (MemberIdentity.objects.filter(platform=platform, buyer_id=str(buyer_id)).values_list("member_id", flat=True)
             .first() if buyer_id else None)
    done = []
    for item in coupons or []:
        code = str(item.get("code") or "").strip().upper()
        platform_coupon_id = str(item.get("platform_coupon_id") or "")
        if platform_coupon_id and shop_id:
            coupon_id = ports.coupon_id_for_platform_coupon(shop_id=shop_id, platform_coupon_id=platform_coupon_id)
            code = Coupon.objects.filter(pk=coupon_id).values_list("code", flat=True).first() if coupon_id else ""
        if not code:
            logger.info("members: order %s carries a coupon we did not issue (%s)", order_id, item)
            continue
        try:
            with transaction.atomic():
                coupon = coupon_redeem(code=code, order_id=order_id, order_amount=goods_amount, currency=currency,
                                       member_id=ident if platform_coupon_id == "" else None, at=at)
            done.append(coupon.pk)
        except (Conflict, ValidationError) as exc:
            logger.warning("members: coupon %s not redeemed on order %s: %s", code, order_id,
                           getattr(exc, "detail", None) or exc)
    return done


def on_order_coupons_used(*, order_id: int, shop_id=None, platform: str = "", buyer_id: str = "", coupons=(),
                          goods_amount="0", currency: str = "CNY", paid_at=None, **_payload) -> None:
    """orders received an order that redeemed coupons: redeem them (in a savepoint, retried after commit)."""
    from .. import tasks

    kwargs = {"order_id": order_id, "shop_id": shop_id, "platform": platform, "buyer_id": buyer_id or "",
              "coupons": [dict(c) for c in coupons], "goods_amount": str(goods_amount), "currency": currency,
              "paid_at": paid_at.isoformat() if hasattr(paid_at, "isoformat") else paid_at}
    _safely(f"coupons of order {order_id}", lambda: coupons_redeem_for_order(**kwargs),
            lambda tenant_id: tasks.redeem_coupons_for_order.delay(tenant_id=tenant_id, **kwargs))
