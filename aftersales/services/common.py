"""After-sales helpers shared by the services: the tenant's after-sales settings and amount input.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from erp.money import to_money

from ..models import AftersalesSettings, TicketKind

logger = logging.getLogger("aftersales")
EVENT_KIND = {TicketKind.REFUND_ONLY: "refund", TicketKind.RETURN_REFUND: "return_refund",
              TicketKind.EXCHANGE: "exchange", TicketKind.RESHIP: "reship"}
_NEVER = datetime.min.replace(tzinfo=UTC)


def aftersales_settings() -> AftersalesSettings:
    found = AftersalesSettings.objects.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return AftersalesSettings.objects.create()
    except IntegrityError:
        return AftersalesSettings.objects.get()


def _amount(value, *, field: str, maximum: Decimal | None = None) -> Decimal:
    if isinstance(value, float):
        raise ValidationError({field: [_("Give the amount as a decimal string, not a float.")]})
    try:
        amount = to_money(value)
    except Exception:  # noqa: BLE001 - anything unparsable is bad input
        raise ValidationError({field: [_("Not a valid amount.")]}) from None
    if amount is None or amount < 0:
        raise ValidationError({field: [_("The amount cannot be negative.")]})
    if maximum is not None and amount > maximum:
        raise ValidationError({field: [_("At most %(max)s.") % {"max": maximum}]})
    return amount
