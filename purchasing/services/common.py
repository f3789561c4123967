"""Purchasing helpers shared by the services: the tenant's purchasing settings, input cleaning
(quantities, prices, own rows, SKUs and warehouses), purchase order totals and document numbers.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp.money import CENT, to_money
from erp.tenancy.dates import tenant_today

from ..models import POLine, PurchaseOrder, PurchasingSettings, Supplier

MAX_QUANTITY = 1_000_000


def purchasing_settings() -> PurchasingSettings:
    found = PurchasingSettings.objects.first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return PurchasingSettings.objects.create()
    except IntegrityError:
        return PurchasingSettings.objects.get()


def _quantity(value, *, field: str, allow_zero: bool = False) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: [_("Must be a whole number.")]})
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValidationError({field: [_("Must be a whole number.")]})
    if value < 0 or (value == 0 and not allow_zero):
        raise ValidationError({field: [_("Must be at least 1.") if not allow_zero else _("Must not be negative.")]})
    if value > MAX_QUANTITY:
        raise ValidationError({field: [_("Too large.")]})
    return value


def _price(value, *, field: str) -> Decimal:
    if isinstance(value, float):
        raise ValidationError({field: [_("Give the amount as a decimal string, not a float.")]})
    try:
        amount = to_money(value)
    except (TypeError, ValueError):
        raise ValidationError({field: [_("Not a valid amount.")]}) from None
    if amount < 0:
        raise ValidationError({field: [_("The amount cannot be negative.")]})
    if amount >= Decimal("1000000000000"):
        raise ValidationError({field: [_("Too large.")]})
    return amount


def _own(obj, field: str, *, what, find):
    """The current tenant's row named by ``obj`` (a row or its id); ``find(pk)`` returns it or None (a
    selector of the app that owns it). Missing is "required", a bad or unknown id "Unknown <what>"."""
    if obj is None or obj == "":
        raise ValidationError({field: [_("This field is required.")]})
    pk = getattr(obj, "pk", obj)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise ValidationError({field: [_("Unknown %(what)s.") % {"what": what}]}) from None
    found = find(pk)
    if found is None:
        raise ValidationError({field: [_("Unknown %(what)s.") % {"what": what}]})
    return found


def _supplier(obj, field: str = "supplier") -> Supplier:
    return _own(obj, field, what=Supplier._meta.verbose_name, find=lambda pk: Supplier.objects.filter(pk=pk).first())


def _sku(obj, field: str = "sku"):
    from inventory import selectors as inventory

    sku = _own(obj, field, what=gettext_lazy("SKU"), find=lambda pk: inventory.sku_find(sku_id=pk))
    if sku.is_bundle:
        raise ValidationError({field: [_("A bundle is not purchased; purchase its components.")]})
    return sku


def _warehouse(obj, field: str = "warehouse"):
    from inventory import selectors as inventory

    warehouse = _own(obj, field, what=gettext_lazy("warehouse"),
                     find=lambda pk: inventory.warehouse_find(warehouse_id=pk))
    if not warehouse.is_active:
        raise ValidationError({field: [_("This warehouse is not active.")]})
    return warehouse


def _totals(po: PurchaseOrder) -> None:
    row = POLine.objects.filter(purchase_order=po).aggregate(q=Sum("quantity"), r=Sum("received_quantity"),
                                                             a=Sum(F("quantity") * F("unit_price")))
    po.total_quantity = row["q"] or 0
    po.received_quantity = row["r"] or 0
    po.total_amount = Decimal(row["a"] or 0).quantize(CENT)


def _next_number(prefix: str, model) -> str:
    stem = f"{prefix}{tenant_today():%Y%m%d}-"
    last = (model.objects.filter(number__startswith=stem).order_by("-number").values_list("number", flat=True).first())
    n = int(last.rsplit("-", 1)[1]) + 1 if last and last.rsplit("-", 1)[1].isdigit() else 1
    return f"{stem}{n:04d}"


def _create_numbered(model, prefix: str, **fields):
    """Create a row with the next free number of the day (retry on a concurrent duplicate)."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return model.objects.create(number=_next_number(prefix, model), **fields)
        except IntegrityError:
            continue
    return model.objects.create(number=f"{prefix}{timezone.now():%Y%m%d%H%M%S%f}", **fields)
