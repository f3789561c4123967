"""Set-based writers for the data import (dataimport app): suppliers and supplier items.

``<type>_import(*, rows, commit, options)`` takes one batch of parsed rows (a blank optional cell is
absent and keeps the stored value), reads what exists for the batch's keys in one query, classifies
each row (create / update / unchanged or an error ``(line, column, message)``) and with ``commit``
writes the new and changed rows with one ``INSERT ... ON CONFLICT`` (never save() per row). A
supplier item made preferred takes the flag from the SKU's other items (one UPDATE first), as
``supplier_item_save`` does.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from erp.tenancy.context import require_tenant

from ..models import Supplier, SupplierItem

SUPPLIER_FIELDS = ("name", "contact_name", "phone", "email", "address", "payment_terms_days", "is_active", "note")
SUPPLIER_DEFAULTS = {"contact_name": "", "phone": "", "email": "", "address": "", "payment_terms_days": 30,
                     "is_active": True, "note": ""}
ITEM_FIELDS = ("supplier_sku_code", "unit_price", "min_order_quantity", "order_multiple", "lead_time_days", "is_preferred")
ITEM_DEFAULTS = {"supplier_sku_code": "", "unit_price": Decimal("0.00"), "min_order_quantity": 1, "order_multiple": 1,
                 "lead_time_days": 14, "is_preferred": False}


def _result():
    return {"created": 0, "updated": 0, "unchanged": 0, "errors": []}


def suppliers_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    tenant = require_tenant()
    result = _result()
    existing = {s["code"]: s for s in Supplier.objects.filter(code__in=[r["code"] for r in rows]).values("code", *SUPPLIER_FIELDS)}
    writes = []
    for row in rows:
        if row.get("email"):
            try:
                validate_email(row["email"])
            except ValidationError:
                result["errors"].append((row["line"], "email", _("“%(value)s” is not an email address") % {"value": row["email"]}))
                continue
        old = existing.get(row["code"])
        values = {f: (old[f] if old else SUPPLIER_DEFAULTS.get(f)) for f in SUPPLIER_FIELDS}
        values.update({f: row[f] for f in SUPPLIER_FIELDS if f in row})
        if old is None:
            result["created"] += 1
        elif any(values[f] != old[f] for f in SUPPLIER_FIELDS):
            result["updated"] += 1
        else:
            result["unchanged"] += 1
            continue
        writes.append(Supplier(tenant=tenant, code=row["code"], currency=tenant.currency or "CNY", **values))
    if commit and writes:
        Supplier.objects.bulk_create(writes, update_conflicts=True, unique_fields=["tenant", "code"],
                                     update_fields=list(SUPPLIER_FIELDS))
    return result


def suppliers_reconcile(*, rows: list[dict], options: dict) -> dict:
    return {"rows": Supplier.objects.filter(code__in=[r["code"] for r in rows]).count()}


def supplier_items_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    from inventory.selectors import skus_by_codes

    tenant = require_tenant()
    result = _result()
    suppliers = dict(Supplier.objects.filter(code__in={r["supplier_code"] for r in rows}).values_list("code", "pk"))
    skus = {code: sku.pk for code, sku in skus_by_codes(codes={r["sku_code"] for r in rows}).items()}
    existing = {(i["supplier_id"], i["sku_id"]): i for i in SupplierItem.objects.filter(
        supplier_id__in=set(suppliers.values()), sku_id__in=set(skus.values())).values("supplier_id", "sku_id", *ITEM_FIELDS)}
    preferred_in_file: dict[int, int] = {}
    writes = []
    for row in rows:
        supplier_id, sku_id = suppliers.get(row["supplier_code"]), skus.get(row["sku_code"])
        if supplier_id is None:
            result["errors"].append((row["line"], "supplier_code",
                                     _("unknown supplier code “%(code)s”") % {"code": row["supplier_code"]}))
            continue
        if sku_id is None:
            result["errors"].append((row["line"], "sku_code", _("unknown SKU code “%(code)s”") % {"code": row["sku_code"]}))
            continue
        if row.get("is_preferred"):
            if sku_id in preferred_in_file:
                result["errors"].append((row["line"], "is_preferred", _(
                    "line %(line)s already makes another supplier preferred for this SKU") % {"line": preferred_in_file[sku_id]}))
                continue
            preferred_in_file[sku_id] = row["line"]
        old = existing.get((supplier_id, sku_id))
        values = {f: (old[f] if old else ITEM_DEFAULTS.get(f)) for f in ITEM_FIELDS}
        values.update({f: row[f] for f in ITEM_FIELDS if f in row})
        if old is None:
            result["created"] += 1
        elif any(values[f] != old[f] for f in ITEM_FIELDS):
            result["updated"] += 1
        else:
            result["unchanged"] += 1
            continue
        writes.append(SupplierItem(tenant=tenant, supplier_id=supplier_id, sku_id=sku_id, currency=tenant.currency or "CNY",
                                   **values) if _has_currency() else
                      SupplierItem(tenant=tenant, supplier_id=supplier_id, sku_id=sku_id, **values))
    if commit and writes:
        taking = [(w.sku_id, w.supplier_id) for w in writes if w.is_preferred]
        if taking:
            from django.db.models import Q

            others = Q()
            for sku_id, supplier_id in taking:
                others |= Q(sku_id=sku_id) & ~Q(supplier_id=supplier_id)
            SupplierItem.objects.filter(others, is_preferred=True).update(is_preferred=False)
        SupplierItem.objects.bulk_create(writes, update_conflicts=True, unique_fields=["tenant", "supplier", "sku"],
                                         update_fields=list(ITEM_FIELDS))
    return result


def _has_currency() -> bool:
    return any(f.name == "currency" for f in SupplierItem._meta.concrete_fields)


def supplier_items_reconcile(*, rows: list[dict], options: dict) -> dict:
    from inventory.selectors import skus_by_codes

    suppliers = dict(Supplier.objects.filter(code__in={r["supplier_code"] for r in rows}).values_list("code", "pk"))
    skus = {code: sku.pk for code, sku in skus_by_codes(codes={r["sku_code"] for r in rows}).items()}
    prices = {(s, k): p for s, k, p in SupplierItem.objects.filter(
        supplier_id__in=set(suppliers.values()), sku_id__in=set(skus.values())).values_list("supplier_id", "sku_id", "unit_price")}
    found = [(r, prices.get((suppliers.get(r["supplier_code"]), skus.get(r["sku_code"])))) for r in rows]
    return {"rows": sum(1 for _r, p in found if p is not None),
            "price_total": sum((p for r, p in found if p is not None and "unit_price" in r), Decimal(0))}
