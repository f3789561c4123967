"""Set-based writers for the data import (dataimport app): products and SKUs, bundles, barcodes,
platform SKU mappings, warehouses and opening stock.

Each ``<type>_import(*, rows, commit, options)`` takes one batch of parsed rows (``{"line": n,
<column>: value}``; a blank optional cell is absent, so it keeps the stored value), reads what
exists for the batch's natural keys in one query, classifies every row (create / update /
unchanged, or an error ``(line, column, message)``) and, with ``commit``, writes the new and changed
rows with one bulk ``INSERT ... ON CONFLICT`` per table (never a save() per row). Running the same
rows again changes nothing. ``<type>_reconcile`` reads back the figures the report compares.

Opening stock goes through the ledger: one receipt StockMove per (warehouse, SKU) with source
document ``opening-stock`` and the level updated by the same delta in one statement, so
``verify_stock`` agrees; a pair that already has its opening move is unchanged when the quantity is
the same and refused otherwise (corrections are adjustments or stocktakes). The SKU's moving-average
cost takes the imported unit costs in. The valued lines are returned as ``posted`` for the books.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Sum
from django.utils.translation import gettext as _

from erp import events
from erp.tenancy.context import require_tenant

from .. import stock_sql
from ..models import (
    SKU,
    BundleComponent,
    CatalogStatus,
    MatchMethod,
    MoveKind,
    PlatformSkuMapping,
    Product,
    StockLevel,
    StockMove,
    Warehouse,
    WarehouseKind,
)

OPENING_DOC = "opening-stock"
_CENT = Decimal("0.01")


def _result():
    return {"created": 0, "updated": 0, "unchanged": 0, "errors": []}


def _classify(result, key_exists: bool, changed: bool) -> str:
    action = "created" if not key_exists else ("updated" if changed else "unchanged")
    result[action] += 1
    return action


def _sku_ids(codes) -> dict[str, int]:
    return dict(SKU.objects.filter(code__in=set(codes)).values_list("code", "pk"))


# --- products and SKUs -------------------------------------------------------------------------------

SKU_FIELDS = ("name", "barcode", "attributes", "unit_cost", "weight_grams", "status")
SKU_DEFAULTS = {"barcode": "", "attributes": {}, "unit_cost": Decimal("0.00"), "weight_grams": 0,
                "status": CatalogStatus.ACTIVE}
PRODUCT_FIELDS = ("name", "category", "brand")


def skus_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    if connection.vendor == "postgresql":
        return _skus_import_sql(rows=rows, commit=commit, options=options)
    tenant = require_tenant()
    result = _result()
    existing = {s["code"]: s for s in SKU.objects.filter(code__in=[r["sku_code"] for r in rows])
                .values("pk", "code", "product_id", "is_bundle", *SKU_FIELDS)}
    product_codes = {r.get("product_code") or r["sku_code"] for r in rows
                     if "product_code" in r or {"product_name", "category", "brand"} & r.keys()}
    products = {p["code"]: p for p in Product.objects.filter(code__in=product_codes).values("pk", "code", *PRODUCT_FIELDS)}
    product_writes: dict[str, dict] = {}
    sku_writes: list[tuple[dict, str | None]] = []
    for row in rows:
        code = row["sku_code"]
        old = existing.get(code)
        values = {f: (old[f] if old else SKU_DEFAULTS.get(f)) for f in SKU_FIELDS}
        for f in SKU_FIELDS:
            if f in row:
                values[f] = row[f]
        if values.get("name") in (None, ""):
            result["errors"].append((row["line"], "name", _("is required for a new SKU")))
            continue
        if old and old["is_bundle"] and "unit_cost" in row and row["unit_cost"] != old["unit_cost"]:
            pass  # a bundle may carry its own cost
        product_code = None
        product_changed = False
        if "product_code" in row or {"product_name", "category", "brand"} & row.keys():
            product_code = row.get("product_code") or code
            current = product_writes.get(product_code) or products.get(product_code)
            want = {f: (current[f] if current else "") for f in PRODUCT_FIELDS}
            if not current:
                want["name"] = row.get("product_name") or values["name"]
            elif "product_name" in row:
                want["name"] = row["product_name"]
            for f in ("category", "brand"):
                if f in row:
                    want[f] = row[f]
            if not current or any(want[f] != current[f] for f in PRODUCT_FIELDS):
                product_writes[product_code] = {"code": product_code, **want}
                product_changed = True
        product_moves = product_code is not None and (old is None or products.get(product_code, {}).get("pk") != old["product_id"])
        changed = old is None or product_moves or product_changed or any(values[f] != old[f] for f in SKU_FIELDS)
        if _classify(result, old is not None, changed) != "unchanged":
            sku_writes.append(({"code": code, **values, "product_id": old["product_id"] if old else None}, product_code))
    if not commit:
        return result
    if product_writes:
        Product.objects.bulk_create(
            [Product(tenant=tenant, **p) for p in product_writes.values()],
            update_conflicts=True, unique_fields=["tenant", "code"], update_fields=list(PRODUCT_FIELDS))
        products.update({p["code"]: p for p in Product.objects.filter(code__in=list(product_writes)).values("pk", "code", *PRODUCT_FIELDS)})
    if sku_writes:
        from dataimport.ports import copy_upsert

        currency = tenant.currency or "CNY"
        out = []
        for values, product_code in sku_writes:
            product_id = products[product_code]["pk"] if product_code else values.get("product_id")
            out.append({**values, "product_id": product_id, "currency": currency})
        copy_upsert(SKU, out, conflict=["tenant_id", "code"], update=[*SKU_FIELDS, "product_id"])
    return result


_SKU_STAGE = [("line", "integer"), ("code", "text"), ("name", "text"), ("pcode", "text"), ("product_name", "text"),
              ("category", "text"), ("brand", "text"), ("barcode", "text"), ("attributes", "jsonb"),
              ("unit_cost", "numeric"), ("weight_grams", "integer"), ("status", "text")]
_SKU_WANT = ("COALESCE(s.name, o.name)", "COALESCE(s.barcode, o.barcode, '')",
             "COALESCE(s.attributes, o.attributes, '{}'::jsonb)", "COALESCE(s.unit_cost, o.unit_cost, 0)",
             "COALESCE(s.weight_grams, o.weight_grams, 0)", "COALESCE(s.status, o.status, 'active')",
             "CASE WHEN s.pcode IS NULL THEN o.product_id ELSE p.id END")
_SKU_COLS = ("name", "barcode", "attributes", "unit_cost", "weight_grams", "status", "product_id")


def _product_wanted(stage: str) -> str:
    """The products a batch writes (rows with a product code, or product name / category / brand):
    per product code the last given name, category and brand, beside the stored row; a new
    product without a product name takes its first SKU's name."""
    t = Product._meta.db_table
    return (
        "SELECT w.pcode AS code, COALESCE(w.pname, p.name, w.first_name) AS name, "
        "COALESCE(w.category, p.category, '') AS category, COALESCE(w.brand, p.brand, '') AS brand, p.id AS old_id, "
        "(p.id IS NULL OR (p.name, p.category, p.brand) IS DISTINCT FROM "
        "(COALESCE(w.pname, p.name, w.first_name), COALESCE(w.category, p.category, ''), COALESCE(w.brand, p.brand, ''))) "
        "AS changed FROM (SELECT pcode, (array_agg(product_name ORDER BY line DESC) FILTER (WHERE product_name IS NOT NULL))[1] AS pname, "
        "(array_agg(name ORDER BY line))[1] AS first_name, "
        "(array_agg(category ORDER BY line DESC) FILTER (WHERE category IS NOT NULL))[1] AS category, "
        "(array_agg(brand ORDER BY line DESC) FILTER (WHERE brand IS NOT NULL))[1] AS brand "
        f"FROM {stage} WHERE pcode IS NOT NULL GROUP BY pcode) AS w "
        f"LEFT JOIN {t} AS p ON p.tenant_id = %(tenant)s AND p.code = w.pcode")


def _skus_import_sql(*, rows: list[dict], commit: bool, options: dict) -> dict:
    """PostgreSQL: the batch COPYed into a staging table, then set-based statements: a dry run
    classifies it with one SELECT; a commit upserts the products (one INSERT ... SELECT ... ON
    CONFLICT DO UPDATE ... WHERE the values differ) and the SKUs (the same), so a row whose values
    are already stored is not written at all (the same file again changes 0 rows). A blank
    optional cell keeps the stored value (NULL in the staging table: COALESCE with the stored row)."""
    from dataimport.ports import column_defaults, stage_rows

    tenant = require_tenant()
    result = _result()
    staged = []
    for r in rows:
        touches = "product_code" in r or "product_name" in r or "category" in r or "brand" in r
        staged.append({**r, "code": r["sku_code"], "pcode": (r.get("product_code") or r["sku_code"]) if touches else None})
    stage = stage_rows("skus", _SKU_STAGE, staged, extra="product_changed boolean NOT NULL DEFAULT false, written char(1), sku_id bigint")
    sku_t, prod_t = SKU._meta.db_table, Product._meta.db_table
    params = {"tenant": tenant.pk}
    old_cols = ", ".join(f"o.{c}" for c in _SKU_COLS)
    want = ", ".join(_SKU_WANT)
    with connection.cursor() as cursor:
        if not commit:
            cursor.execute(
                f"WITH pw AS ({_product_wanted(stage)}) SELECT count(*) FILTER (WHERE o.id IS NULL), "
                f"count(*) FILTER (WHERE o.id IS NOT NULL AND (COALESCE(pw.changed, false) OR ({old_cols}) IS DISTINCT FROM ({want}))) "
                f"FROM {stage} AS s LEFT JOIN {sku_t} AS o ON o.tenant_id = %(tenant)s AND o.code = s.code "
                "LEFT JOIN pw ON pw.code = s.pcode LEFT JOIN (SELECT old_id AS id, code FROM pw) AS p ON p.code = s.pcode",
                params)
            created, updated = cursor.fetchone()
            result.update(created=created, updated=updated, unchanged=len(rows) - created - updated)
            return result
        pdefaults = column_defaults(Product, {"tenant_id", "code", "name", "category", "brand"})
        params.update({f"pd{i}": v for i, (_c, v) in enumerate(pdefaults)})
        cursor.execute(
            f"WITH pw AS ({_product_wanted(stage)}), up AS ("
            f"INSERT INTO {prod_t} (tenant_id, code, name, category, brand{''.join(', ' + c for c, _v in pdefaults)}) "
            f"SELECT %(tenant)s, code, name, category, brand{''.join(f', %(pd{i})s' for i in range(len(pdefaults)))} "
            "FROM pw WHERE changed "
            f"ON CONFLICT (tenant_id, code) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category, "
            f"brand = EXCLUDED.brand, updated_at = EXCLUDED.updated_at RETURNING id, code, (xmax = 0) AS created), "
            f"marked AS (UPDATE {stage} AS s SET product_changed = true FROM up WHERE s.pcode = up.code) "
            "SELECT id, created FROM up", params)
        product_changes = {"created": [], "updated": []}
        for pk, was_created in cursor.fetchall():
            product_changes["created" if was_created else "updated"].append(pk)
        sdefaults = column_defaults(SKU, {"tenant_id", "code", *_SKU_COLS})
        params.update({f"sd{i}": v for i, (_c, v) in enumerate(sdefaults)})
        params["currency"] = tenant.currency or "CNY"
        insert_cols = ", ".join(["tenant_id", "code", *_SKU_COLS, *(c for c, _v in sdefaults)])
        defaults_sql = "".join(", %(currency)s" if c == "currency" else f", %(sd{i})s" for i, (c, _v) in enumerate(sdefaults))
        compare = ", ".join(f"{sku_t}.{c}" for c in _SKU_COLS)
        cursor.execute(
            f"WITH up AS (INSERT INTO {sku_t} ({insert_cols}) SELECT %(tenant)s, s.code, {want}{defaults_sql} "
            f"FROM {stage} AS s LEFT JOIN {sku_t} AS o ON o.tenant_id = %(tenant)s AND o.code = s.code "
            f"LEFT JOIN {prod_t} AS p ON p.tenant_id = %(tenant)s AND p.code = s.pcode "
            f"ON CONFLICT (tenant_id, code) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in _SKU_COLS)}, "
            f"updated_at = EXCLUDED.updated_at WHERE ({compare}) IS DISTINCT FROM "
            f"({', '.join(f'EXCLUDED.{c}' for c in _SKU_COLS)}) RETURNING id, code, (xmax = 0) AS created) "
            f"UPDATE {stage} AS s SET written = CASE WHEN up.created THEN 'c' ELSE 'u' END, sku_id = up.id FROM up "
            "WHERE s.code = up.code", params)
        cursor.execute(f"SELECT written, array_agg(sku_id) FROM {stage} WHERE written IS NOT NULL GROUP BY written")
        sku_changes = {"created" if w == "c" else "updated": ids for w, ids in cursor.fetchall()}
        cursor.execute(f"SELECT count(*) FILTER (WHERE written = 'c'), "
                       f"count(*) FILTER (WHERE written = 'u' OR (written IS NULL AND product_changed)) FROM {stage}")
        created, updated = cursor.fetchone()
    result.update(created=created, updated=updated, unchanged=len(rows) - created - updated,
                  changes={SKU._meta.label_lower: sku_changes, Product._meta.label_lower: product_changes})
    return result


def skus_reconcile(*, rows: list[dict], options: dict) -> dict:
    if connection.vendor == "postgresql":  # one aggregate over the codes sent as one text parameter
        from dataimport.ports import joined_text

        codes = [r["sku_code"] for r in rows]
        costed = [r["sku_code"] for r in rows if "unit_cost" in r]
        joined, joined_costed = joined_text(codes), joined_text(costed)
        if joined is not None and joined_costed is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT count(*), COALESCE(sum(s.unit_cost) FILTER (WHERE c.code IS NOT NULL), 0) "
                    f"FROM {SKU._meta.db_table} AS s LEFT JOIN unnest(string_to_array(%s, E'\\x1f')) AS c(code) "
                    "ON c.code = s.code WHERE s.tenant_id = %s AND s.code = ANY(string_to_array(%s, E'\\x1f'))",
                    [joined_costed or None, require_tenant().pk, joined or None])
                count, cost_total = cursor.fetchone()
            return {"rows": count, "cost_total": cost_total}
    found = SKU.objects.filter(code__in=[r["sku_code"] for r in rows])
    costs = dict(found.values_list("code", "unit_cost"))
    return {"rows": len(costs),
            "cost_total": sum((costs[r["sku_code"]] for r in rows if "unit_cost" in r and r["sku_code"] in costs), Decimal(0))}


# --- barcodes ------------------------------------------------------------------------------------------

def barcodes_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    result = _result()
    existing = {s.code: s for s in SKU.objects.filter(code__in=[r["sku_code"] for r in rows]).only("pk", "code", "barcode")}
    changed = []
    for row in rows:
        sku = existing.get(row["sku_code"])
        if sku is None:
            result["errors"].append((row["line"], "sku_code", _("unknown SKU code “%(code)s”") % {"code": row["sku_code"]}))
            continue
        if sku.barcode == row["barcode"]:
            result["unchanged"] += 1
        else:
            result["updated"] += 1
            sku.barcode = row["barcode"]
            changed.append(sku)
    if commit and changed:
        SKU.objects.bulk_update(changed, ["barcode"], batch_size=5000)
    return result


def barcodes_reconcile(*, rows: list[dict], options: dict) -> dict:
    pairs = set(SKU.objects.filter(code__in=[r["sku_code"] for r in rows]).values_list("code", "barcode"))
    return {"rows": sum(1 for r in rows if (r["sku_code"], r["barcode"]) in pairs)}


# --- bundles -------------------------------------------------------------------------------------------

def bundles_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    """The whole file at once: each bundle's rows are its complete list of components."""
    from .catalogue import sku_set_components

    result = _result()
    codes = {r["bundle_code"] for r in rows} | {r["component_code"] for r in rows}
    skus = {s.code: s for s in SKU.objects.filter(code__in=codes)}
    by_bundle: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_bundle[row["bundle_code"]].append(row)
    bundle_ids = [skus[c].pk for c in by_bundle if c in skus]
    current: dict[int, dict[int, int]] = defaultdict(dict)
    for bundle_id, component_id, qty in BundleComponent.objects.filter(bundle_id__in=bundle_ids).values_list(
            "bundle_id", "component_id", "quantity"):
        current[bundle_id][component_id] = qty
    holding = set(StockLevel.objects.filter(sku_id__in=bundle_ids).exclude(
        on_hand=0, reserved=0, in_transit=0, defective=0, locked=0).values_list("sku_id", flat=True))
    components_of_bundles = set(BundleComponent.objects.filter(component_id__in=bundle_ids).values_list("component_id", flat=True))
    file_bundles = set(by_bundle)
    for code, bundle_rows in by_bundle.items():
        bundle = skus.get(code)
        errors = []
        if bundle is None:
            errors = [(r["line"], "bundle_code", _("unknown SKU code “%(code)s”") % {"code": code}) for r in bundle_rows]
        else:
            for r in bundle_rows:
                component = skus.get(r["component_code"])
                if component is None:
                    errors.append((r["line"], "component_code", _("unknown SKU code “%(code)s”") % {"code": r["component_code"]}))
                elif component.pk == bundle.pk:
                    errors.append((r["line"], "component_code", _("a bundle cannot contain itself")))
                elif component.is_bundle or component.code in file_bundles:
                    errors.append((r["line"], "component_code", _("a bundle cannot contain another bundle")))
            if bundle.pk in holding:
                errors.append((bundle_rows[0]["line"], "bundle_code", _("this SKU holds stock; it cannot become a bundle")))
            if bundle.pk in components_of_bundles:
                errors.append((bundle_rows[0]["line"], "bundle_code",
                               _("this SKU is a component of a bundle; it cannot become a bundle")))
        if errors:
            bad = {line for line, _c, _m in errors}
            result["errors"].extend(errors)
            result["errors"].extend((r["line"], "bundle_code", _("another row of this bundle is rejected"))
                                    for r in bundle_rows if r["line"] not in bad)
            continue
        want = {skus[r["component_code"]].pk: r["quantity"] for r in bundle_rows}
        have = current.get(bundle.pk, {})
        if bundle.is_bundle and have == want:
            result["unchanged"] += len(bundle_rows)
            continue
        for r in bundle_rows:
            cid = skus[r["component_code"]].pk
            result["created" if cid not in have else ("unchanged" if have[cid] == r["quantity"] else "updated")] += 1
        if commit:
            sku_set_components(bundle=bundle, components=[(c, q) for c, q in want.items()])
    return result


def bundles_reconcile(*, rows: list[dict], options: dict) -> dict:
    skus = _sku_ids({r["bundle_code"] for r in rows} | {r["component_code"] for r in rows})
    have = {(b, c): q for b, c, q in BundleComponent.objects.filter(
        bundle_id__in=[skus.get(r["bundle_code"]) for r in rows]).values_list("bundle_id", "component_id", "quantity")}
    found = [have.get((skus.get(r["bundle_code"]), skus.get(r["component_code"]))) for r in rows]
    return {"rows": sum(1 for q in found if q is not None), "units": sum(q for q in found if q is not None)}


# --- warehouses ----------------------------------------------------------------------------------------

WAREHOUSE_FIELDS = ("name", "kind", "address", "regions", "priority", "is_active")
WAREHOUSE_DEFAULTS = {"kind": WarehouseKind.OWN, "address": "", "regions": [], "priority": 100, "is_active": True}


def warehouses_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    tenant = require_tenant()
    result = _result()
    existing = {w["code"]: w for w in Warehouse.objects.filter(code__in=[r["code"] for r in rows]).values("code", *WAREHOUSE_FIELDS)}
    writes = []
    for row in rows:
        old = existing.get(row["code"])
        values = {f: (old[f] if old else WAREHOUSE_DEFAULTS.get(f)) for f in WAREHOUSE_FIELDS}
        values.update({f: row[f] for f in WAREHOUSE_FIELDS if f in row})
        changed = old is None or any(values[f] != old[f] for f in WAREHOUSE_FIELDS)
        if _classify(result, old is not None, changed) != "unchanged":
            writes.append(Warehouse(tenant=tenant, code=row["code"], **values))
    if commit and writes:
        Warehouse.objects.bulk_create(writes, update_conflicts=True, unique_fields=["tenant", "code"],
                                      update_fields=list(WAREHOUSE_FIELDS))
    return result


def warehouses_reconcile(*, rows: list[dict], options: dict) -> dict:
    return {"rows": Warehouse.objects.filter(code__in=[r["code"] for r in rows]).count()}


# --- platform SKU mappings -----------------------------------------------------------------------------

def sku_mappings_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    from integrations.selectors import shops

    tenant = require_tenant()
    result = _result()
    shop_ids = {s.code: s.pk for s in shops()}
    skus = _sku_ids(r["sku_code"] for r in rows)
    keys = {(shop_ids.get(r["shop_code"]), r["platform_item_id"], r.get("platform_sku_id", "")) for r in rows}
    existing = {}
    for m in PlatformSkuMapping.objects.filter(shop_id__in={k[0] for k in keys if k[0]},
                                               platform_item_id__in={k[1] for k in keys}).values(
            "pk", "shop_id", "platform_item_id", "platform_sku_id", "sku_id", "title", "match_method"):
        existing[(m["shop_id"], m["platform_item_id"], m["platform_sku_id"])] = m
    writes = []
    for row in rows:
        shop_id = shop_ids.get(row["shop_code"])
        if shop_id is None:
            result["errors"].append((row["line"], "shop_code", _("unknown shop code “%(code)s”") % {"code": row["shop_code"]}))
            continue
        sku_id = skus.get(row["sku_code"])
        if sku_id is None:
            result["errors"].append((row["line"], "sku_code", _("unknown SKU code “%(code)s”") % {"code": row["sku_code"]}))
            continue
        key = (shop_id, row["platform_item_id"], row.get("platform_sku_id", ""))
        old = existing.get(key)
        title = row.get("title", old["title"] if old else "")
        changed = old is None or old["sku_id"] != sku_id or old["title"] != title or old["match_method"] != MatchMethod.MANUAL
        if _classify(result, old is not None, changed) != "unchanged":
            writes.append(PlatformSkuMapping(tenant=tenant, shop_id=shop_id, platform_item_id=key[1], platform_sku_id=key[2],
                                             sku_id=sku_id, title=title, outer_id=row["sku_code"], match_method=MatchMethod.MANUAL))
    if commit and writes:
        PlatformSkuMapping.objects.bulk_create(
            writes, update_conflicts=True, unique_fields=["tenant", "shop", "platform_item_id", "platform_sku_id"],
            update_fields=["sku", "title", "outer_id", "match_method"])
        ids = PlatformSkuMapping.objects.filter(shop_id__in={w.shop_id for w in writes},
                                                platform_item_id__in={w.platform_item_id for w in writes},
                                                sku_id__in={w.sku_id for w in writes}).values_list("pk", flat=True)
        stock_sql.mark_mappings_dirty(list(ids))
    return result


def sku_mappings_reconcile(*, rows: list[dict], options: dict) -> dict:
    from integrations.selectors import shops

    shop_ids = {s.code: s.pk for s in shops()}
    skus = _sku_ids(r["sku_code"] for r in rows)
    have = set(PlatformSkuMapping.objects.filter(platform_item_id__in={r["platform_item_id"] for r in rows}).values_list(
        "shop_id", "platform_item_id", "platform_sku_id", "sku_id"))
    return {"rows": sum(1 for r in rows if (shop_ids.get(r["shop_code"]), r["platform_item_id"], r.get("platform_sku_id", ""),
                                            skus.get(r["sku_code"])) in have)}


# --- opening stock -------------------------------------------------------------------------------------

def opening_stock_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    result = _result()
    warehouses = dict(Warehouse.objects.filter(code__in={r["warehouse_code"] for r in rows}).values_list("code", "pk"))
    skus = {s["code"]: s for s in SKU.objects.filter(code__in={r["sku_code"] for r in rows}).values("pk", "code", "is_bundle", "unit_cost")}
    pairs = {(warehouses.get(r["warehouse_code"]), skus.get(r["sku_code"], {}).get("pk")) for r in rows}
    opened = {(w, s): n for w, s, n in StockMove.objects.filter(
        source_doc=OPENING_DOC, sku_id__in={p[1] for p in pairs if p[1]}, warehouse_id__in={p[0] for p in pairs if p[0]})
        .values("warehouse_id", "sku_id").annotate(n=Sum("on_hand_delta")).values_list("warehouse_id", "sku_id", "n")}
    new = []  # (row, warehouse_id, sku, unit_cost)
    for row in rows:
        warehouse_id = warehouses.get(row["warehouse_code"])
        sku = skus.get(row["sku_code"])
        if warehouse_id is None:
            result["errors"].append((row["line"], "warehouse_code",
                                     _("unknown warehouse code “%(code)s”") % {"code": row["warehouse_code"]}))
            continue
        if sku is None:
            result["errors"].append((row["line"], "sku_code", _("unknown SKU code “%(code)s”") % {"code": row["sku_code"]}))
            continue
        if sku["is_bundle"]:
            result["errors"].append((row["line"], "sku_code", _("a bundle holds no stock of its own; give its components")))
            continue
        done = opened.get((warehouse_id, sku["pk"]))
        if done is not None:
            if done == row["quantity"]:
                result["unchanged"] += 1
            else:
                result["errors"].append((row["line"], "quantity", _(
                    "this warehouse already has opening stock of %(done)s for this SKU; correct the difference with a "
                    "stock adjustment or a stocktake") % {"done": done}))
            continue
        if row["quantity"] == 0:
            result["unchanged"] += 1
            continue
        result["created"] += 1
        new.append((row, warehouse_id, sku, row.get("unit_cost", sku["unit_cost"])))
    if not commit or not new:
        return result
    _book_opening(new, options)
    result["posted"] = {"lines": [{"sku_id": sku["pk"], "warehouse_code": row["warehouse_code"],
                                   "amount": str((row["quantity"] * cost).quantize(_CENT))}
                                  for row, _w, sku, cost in new], "ref": options.get("source", ""),
                        "first_line": min(row["line"] for row, *_rest in new)}
    return result


def _book_opening(new, options) -> None:
    """The ledger rows and the levels, set-based: one INSERT of missing levels, one UPDATE of all the
    levels (locked by it, in id order via ORDER BY in the locking SELECT), one INSERT of the moves."""
    tenant = require_tenant()
    deltas: dict[tuple[int, int], int] = defaultdict(int)
    for row, warehouse_id, sku, _cost in new:
        deltas[(warehouse_id, sku["pk"])] += row["quantity"]
    sku_ids = sorted({s for _w, s in deltas})
    before = dict(StockLevel.objects.filter(sku_id__in=sku_ids).values("sku_id").annotate(n=Sum("on_hand"))
                  .values_list("sku_id", "n"))
    stock_sql.ensure_levels(deltas.keys())
    if connection.vendor == "postgresql":
        after = _levels_add(tenant.pk, deltas)
    else:  # the embedded SQLite demo: one guarded update per pair
        after = {}
        for (w, s), q in sorted(deltas.items()):
            after[(w, s)] = stock_sql.level_update(warehouse_id=w, sku_id=s, on_hand=q)["on_hand"]
    user_id = options.get("user_id")
    reason = _("opening stock (import %(ref)s)") % {"ref": options.get("source", "")}
    StockMove.objects.bulk_create([
        StockMove(tenant=tenant, warehouse_id=w, sku_id=s, kind=MoveKind.RECEIPT, on_hand_delta=q, on_hand_after=after[(w, s)],
                  reason=reason[:200], source_doc=OPENING_DOC, created_by_id=user_id)
        for (w, s), q in sorted(deltas.items())], batch_size=5000)
    # moving-average cost: the units already on hand at their cost, plus the opening units at theirs
    added_qty: dict[int, int] = defaultdict(int)
    added_value: dict[int, Decimal] = defaultdict(Decimal)
    costs = {}
    for row, _w, sku, cost in new:
        added_qty[sku["pk"]] += row["quantity"]
        added_value[sku["pk"]] += row["quantity"] * cost
        costs[sku["pk"]] = sku["unit_cost"]
    changed = []
    for sku_id, qty in added_qty.items():
        old_qty = max(0, before.get(sku_id) or 0)
        average = ((costs[sku_id] * old_qty + added_value[sku_id]) / (old_qty + qty)).quantize(_CENT)
        if average != costs[sku_id]:
            changed.append(SKU(pk=sku_id, unit_cost=average))
    if changed:
        SKU.objects.bulk_update(changed, ["unit_cost"], batch_size=5000)
    first = next(iter(deltas))
    events.publish("inventory.stock_received", warehouse_id=first[0], sku_id=first[1])


def _levels_add(tenant_id: int, deltas: dict) -> dict:
    table = StockLevel._meta.db_table
    values = ", ".join(["(%s::bigint, %s::bigint, %s::integer)"] * len(deltas))
    params = [x for (w, s), q in sorted(deltas.items()) for x in (w, s, q)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT l.id FROM {table} AS l JOIN (VALUES {values}) AS v(w, s, q) "
                       "ON l.warehouse_id = v.w AND l.sku_id = v.s WHERE l.tenant_id = %s ORDER BY l.id FOR UPDATE OF l",
                       [*params, tenant_id])
        cursor.execute(
            f"UPDATE {table} AS l SET on_hand = l.on_hand + v.q, version = l.version + 1, needs_push = TRUE, updated_at = now() "
            f"FROM (VALUES {values}) AS v(w, s, q) WHERE l.tenant_id = %s AND l.warehouse_id = v.w AND l.sku_id = v.s "
            "RETURNING l.warehouse_id, l.sku_id, l.on_hand", [*params, tenant_id])
        return {(w, s): n for w, s, n in cursor.fetchall()}


def opening_stock_reconcile(*, rows: list[dict], options: dict) -> dict:
    """Units per warehouse read back from the ledger's opening moves (and the level they built)."""
    warehouses = dict(Warehouse.objects.filter(code__in={r["warehouse_code"] for r in rows}).values_list("code", "pk"))
    skus = _sku_ids(r["sku_code"] for r in rows)
    opened = {(w, s): n for w, s, n in StockMove.objects.filter(
        source_doc=OPENING_DOC, sku_id__in=set(skus.values()), warehouse_id__in=set(warehouses.values()))
        .values("warehouse_id", "sku_id").annotate(n=Sum("on_hand_delta")).values_list("warehouse_id", "sku_id", "n")}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    totals["rows"] = Decimal(0)
    for r in rows:
        n = opened.get((warehouses.get(r["warehouse_code"]), skus.get(r["sku_code"])))
        if n is not None or r["quantity"] == 0:
            totals["rows"] += 1
            totals[f"units:{r['warehouse_code']}"] += n or 0
    return dict(totals)
