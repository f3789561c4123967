"""JSON form of the normalised dataclasses (integrations.normalized), as stored in the
``normalized`` column and accepted by the inbound channel API.

Decimals travel as strings ("12.30"), datetimes as ISO 8601 with offset; ``raw`` is not repeated
inside ``normalized`` (the row keeps it in ``payload``).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime

from .normalized import (
    NormalizedAddress,
    NormalizedBillLine,
    NormalizedCoupon,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
)

CENT = Decimal("0.01")


class CodecError(ValueError):
    """A field of a normalised form is missing or has the wrong shape (field name in ``field``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _enc(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _flat(obj) -> dict:
    return {f.name: _enc(getattr(obj, f.name)) for f in fields(obj) if f.name != "raw"}


def order_to_dict(order: NormalizedOrder) -> dict:
    data = _flat(order)
    data["receiver"] = _flat(order.receiver)
    data["lines"] = [_flat(line) for line in order.lines]
    data["coupons"] = [_flat(coupon) for coupon in order.coupons]
    return data


def refund_to_dict(refund: NormalizedRefund) -> dict:
    return _flat(refund)


def bill_to_dict(bill: NormalizedBillLine) -> dict:
    return _flat(bill)


# --- decoding (also validates what the channel API receives) ------------------------------------
def _money(data: dict, name: str, default: Decimal | None = None) -> Decimal:
    value = data.get(name)
    if value is None or value == "":
        if default is None:
            raise CodecError(name, "required")
        return default
    if isinstance(value, float):
        value = repr(value)
    try:
        return Decimal(str(value)).quantize(CENT)
    except (InvalidOperation, ValueError):
        raise CodecError(name, "not a decimal amount")


def _dt(data: dict, name: str, required: bool = True) -> datetime | None:
    value = data.get(name)
    if value in (None, ""):
        if required:
            raise CodecError(name, "required")
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = parse_datetime(str(value))
        except ValueError:
            parsed = None
    if parsed is None:
        raise CodecError(name, "not an ISO 8601 datetime")
    if parsed.tzinfo is None:
        raise CodecError(name, "needs a time zone offset")
    return parsed


def _str(data: dict, name: str, required: bool = False, max_length: int = 500) -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise CodecError(name, "required")
        return ""
    value = str(value)
    if required and not value:
        raise CodecError(name, "required")
    if len(value) > max_length:
        raise CodecError(name, f"longer than {max_length} characters")
    return value


def _int(data: dict, name: str, default: int | None = None) -> int:
    value = data.get(name, default)
    if value is None:
        raise CodecError(name, "required")
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise CodecError(name, "not an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CodecError(name, "not an integer")


def _bool(data: dict, name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise CodecError(name, "not a boolean")
    return value


def order_from_dict(data: dict, *, raw: dict | None = None) -> NormalizedOrder:
    from .normalized import OrderState

    if not isinstance(data, dict):
        raise CodecError("non_field_errors", "expected a JSON object")
    state = _str(data, "state", required=True)
    if state not in OrderState.CHOICES:
        raise CodecError("state", f"one of {', '.join(OrderState.CHOICES)}")
    receiver = data.get("receiver") or {}
    if not isinstance(receiver, dict):
        raise CodecError("receiver", "expected an object")
    lines_data = data.get("lines") or []
    if not isinstance(lines_data, list):
        raise CodecError("lines", "expected a list")
    lines = []
    for index, line in enumerate(lines_data):
        if not isinstance(line, dict):
            raise CodecError(f"lines[{index}]", "expected an object")
        try:
            quantity = _int(line, "quantity")
            if quantity <= 0:
                raise CodecError("quantity", "must be positive")
            lines.append(NormalizedLine(
                platform_line_id=_str(line, "platform_line_id", required=True, max_length=64),
                platform_item_id=_str(line, "platform_item_id", max_length=64),
                platform_sku_id=_str(line, "platform_sku_id", max_length=64),
                outer_id=_str(line, "outer_id", max_length=64),
                title=_str(line, "title"),
                quantity=quantity,
                price=_money(line, "price"),
                discount=_money(line, "discount", Decimal("0.00")),
                paid=_money(line, "paid", Decimal("0.00")),
                refund_status=_str(line, "refund_status", max_length=20),
                sku_properties=_str(line, "sku_properties"),
                is_presale=_bool(line, "is_presale", False),
            ))
        except CodecError as exc:
            raise CodecError(f"lines[{index}].{exc.field}", exc.message)
    coupons_data = data.get("coupons") or []
    if not isinstance(coupons_data, list):
        raise CodecError("coupons", "expected a list")
    coupons = []
    for index, item in enumerate(coupons_data):
        if not isinstance(item, dict):
            raise CodecError(f"coupons[{index}]", "expected an object")
        try:
            coupon = NormalizedCoupon(platform_coupon_id=_str(item, "platform_coupon_id", max_length=64),
                                      code=_str(item, "code", max_length=32).strip().upper(),
                                      amount=_money(item, "amount", Decimal("0.00")))
        except CodecError as exc:
            raise CodecError(f"coupons[{index}].{exc.field}", exc.message)
        if not (coupon.platform_coupon_id or coupon.code):
            raise CodecError(f"coupons[{index}].code", "a coupon code or a platform coupon id")
        coupons.append(coupon)
    return NormalizedOrder(
        platform=_str(data, "platform", max_length=10) or "own",
        platform_order_id=_str(data, "platform_order_id", required=True, max_length=64),
        state=state,
        platform_status=_str(data, "platform_status", max_length=100) or state,
        modified_at=_dt(data, "modified_at"),
        created_at=_dt(data, "created_at"),
        paid_at=_dt(data, "paid_at", required=False),
        ship_by=_dt(data, "ship_by", required=False),
        buyer_id=_str(data, "buyer_id", max_length=100),
        buyer_message=_str(data, "buyer_message", max_length=2000),
        seller_memo=_str(data, "seller_memo", max_length=2000),
        seller_flag=_int(data, "seller_flag", 0),
        receiver=NormalizedAddress(**{f.name: _str(receiver, f.name) for f in fields(NormalizedAddress)}),
        currency=_str(data, "currency", max_length=3) or "CNY",
        goods_amount=_money(data, "goods_amount", Decimal("0.00")),
        discount_amount=_money(data, "discount_amount", Decimal("0.00")),
        freight_amount=_money(data, "freight_amount", Decimal("0.00")),
        paid_amount=_money(data, "paid_amount", Decimal("0.00")),
        is_presale=_bool(data, "is_presale", False),
        presale_fully_paid=_bool(data, "presale_fully_paid", True),
        ship_blocked_reason=_str(data, "ship_blocked_reason", max_length=40),
        lines=lines,
        coupons=coupons,
        raw=raw if raw is not None else {},
    )


REFUND_STATUSES = ["requested", "agreed", "wait_return", "refused", "closed", "success"]


def refund_from_dict(data: dict, *, raw: dict | None = None) -> NormalizedRefund:
    if not isinstance(data, dict):
        raise CodecError("non_field_errors", "expected a JSON object")
    status = _str(data, "status", required=True)
    if status not in REFUND_STATUSES:
        raise CodecError("status", f"one of {', '.join(REFUND_STATUSES)}")
    phase = _str(data, "phase") or "before_shipment"
    if phase not in ("before_shipment", "after_shipment"):
        raise CodecError("phase", "before_shipment or after_shipment")
    return NormalizedRefund(
        platform=_str(data, "platform", max_length=10) or "own",
        platform_refund_id=_str(data, "platform_refund_id", required=True, max_length=64),
        platform_order_id=_str(data, "platform_order_id", required=True, max_length=64),
        platform_line_id=_str(data, "platform_line_id", max_length=64),
        status=status,
        platform_status=_str(data, "platform_status", max_length=100) or status,
        amount=_money(data, "amount"),
        reason=_str(data, "reason", max_length=2000),
        has_goods_return=_bool(data, "has_goods_return", False),
        phase=phase,
        modified_at=_dt(data, "modified_at"),
        version=_int(data, "version", 0),
        raw=raw if raw is not None else {},
    )


def bill_from_dict(data: dict, *, raw: dict | None = None) -> NormalizedBillLine:
    return NormalizedBillLine(
        platform=_str(data, "platform"),
        platform_bill_id=_str(data, "platform_bill_id", required=True),
        platform_order_id=_str(data, "platform_order_id"),
        kind=_str(data, "kind", required=True),
        amount=_money(data, "amount"),
        booked_at=_dt(data, "booked_at"),
        description=_str(data, "description", max_length=2000),
        raw=raw if raw is not None else {},
    )
