"""Set-based writer for the data import (dataimport app): historical orders with their lines.

A historical order is an ordinary platform order row (kind ``platform``, status ``completed`` or
``cancelled``) marked ``source_ref = "hist:<shop id>:<platform order id>"`` and platform status
``imported``. It feeds sales history (``selectors.daily_sales``), purchase planning and reports, but
its lines are never reserved (``is_reserved``) nor committed (``is_committed``): it never moves
today's stock, is never reviewed, allocated or shipped, and publishes no event (so finance books
nothing and no shipment is pushed to a platform). An order already pulled from the platform is the
truth: rows for it are refused.

``historical_orders_import(*, rows, commit, options)`` takes one batch of order lines: one read of
the shops, SKUs, the batch's orders and their lines; then COPY of the new orders and lines, one
bulk UPDATE of changed lines and one UPDATE recomputing the touched orders' totals. A line's key is
(shop, platform order id, line); the same file again changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _

from erp.tenancy.context import require_tenant
from erp.tenancy.dates import tenant_date

from ..models import Order, OrderKind, OrderLine, OrderStatus

HIST = "hist:"
IMPORTED = "imported"
ZERO = Decimal("0.00")
LINE_FIELDS = ("sku_id", "quantity", "price", "paid")


def _ref(shop_id: int, platform_order_id: str) -> str:
    return f"{HIST}{shop_id}:{platform_order_id}"


def historical_orders_import(*, rows: list[dict], commit: bool, options: dict) -> dict:
    from integrations.selectors import shops
    from inventory.selectors import sku_refs_by_codes

    if connection.vendor == "postgresql":
        return _historical_orders_import_sql(rows=rows, commit=commit, options=options)
    result = {"created": 0, "updated": 0, "unchanged": 0, "errors": []}
    shop_by_code = {s.code: s for s in shops()}
    skus = sku_refs_by_codes(codes={r["sku_code"] for r in rows})
    good = []
    for row in rows:
        shop = shop_by_code.get(row["shop_code"])
        if shop is None:
            result["errors"].append((row["line"], "shop_code", _("unknown shop code “%(code)s”") % {"code": row["shop_code"]}))
        elif row["sku_code"] not in skus:
            result["errors"].append((row["line"], "sku_code", _("unknown SKU code “%(code)s”") % {"code": row["sku_code"]}))
        elif len(_ref(shop.pk, row["platform_order_id"])) > 64:
            result["errors"].append((row["line"], "platform_order_id", _("order id too long")))
        else:
            good.append((row, shop))
    orders = _existing_orders({(shop.pk, row["platform_order_id"]) for row, shop in good})
    live = {key for key, o in orders.items() if not o["source_ref"].startswith(HIST)}
    lines = _existing_lines([o["pk"] for key, o in orders.items() if key not in live])
    new_orders: dict[tuple, dict] = {}
    new_lines, changed_lines, changed_orders = [], [], set()
    for row, shop in good:
        key = (shop.pk, row["platform_order_id"])
        if key in live:
            result["errors"].append((row["line"], "platform_order_id",
                                     _("this order was pulled from the platform already; it is not imported again")))
            continue
        sku = skus[row["sku_code"]]
        want = {"sku_id": sku.pk, "quantity": row["quantity"], "price": row.get("price", ZERO), "paid": row["paid"]}
        order = orders.get(key)
        old = lines.get((order["pk"], row["line_no"])) if order else None
        if old is None:
            result["created"] += 1
            if order is None and key not in new_orders:
                new_orders[key] = _order_values(row, shop)
            new_lines.append((key, row, shop, sku, want))
        elif any(old[f] != want[f] for f in LINE_FIELDS):
            result["updated"] += 1
            changed_orders.add(order["pk"])
            changed_lines.append(OrderLine(pk=old["pk"], sku_id=sku.pk, sku_code=sku.code, outer_id=sku.code, title=sku.name[:300],
                                           quantity=want["quantity"], price=want["price"], paid=want["paid"],
                                           discount=max(ZERO, want["price"] * want["quantity"] - want["paid"])))
        else:
            result["unchanged"] += 1
    if not commit or not (new_lines or changed_lines):
        return result
    tenant = require_tenant()
    from dataimport.ports import copy_insert

    if new_orders:  # their lines are all in this batch: the totals are known before the insert
        for key, _row, _shop, _sku, want in new_lines:
            values = new_orders.get(key)
            if values is not None:
                values["line_count"] = values.get("line_count", 0) + 1
                values["total_quantity"] = values.get("total_quantity", 0) + want["quantity"]
                values["goods_amount"] = values.get("goods_amount", ZERO) + want["price"] * want["quantity"]
                values["_paid"] = values.get("_paid", ZERO) + want["paid"]
        for values in new_orders.values():
            paid = values.pop("_paid", ZERO)
            values["discount_amount"] = max(ZERO, values.get("goods_amount", ZERO) - paid)
            values["paid_amount"] = paid + values["freight_amount"]
        copy_insert(Order, [{**values, "tenant_id": tenant.pk} for values in new_orders.values()])
        orders.update(_existing_orders(set(new_orders)))
    if new_lines:
        copy_insert(OrderLine, [_line_values(tenant.pk, orders[key]["pk"], row, sku, want, orders[key]["status"])
                            for key, row, shop, sku, want in new_lines])
    if changed_lines:
        OrderLine.objects.bulk_update(changed_lines, ["sku_id", "sku_code", "outer_id", "title", "quantity", "price",
                                                      "paid", "discount"], batch_size=2000)
    _recompute_totals(sorted({orders[key]["pk"] for key, *_rest in new_lines if key not in new_orders} | changed_orders))
    return result


_STAGE = [("line", "integer"), ("shop_id", "bigint"), ("platform", "text"), ("poid", "text"), ("line_no", "text"),
          ("sku_id", "bigint"), ("sku_code", "text"), ("title", "text"), ("quantity", "integer"), ("price", "numeric"),
          ("paid", "numeric"), ("paid_at", "timestamptz"), ("ordered_at", "timestamptz"), ("shipped_at", "timestamptz"),
          ("cancelled", "boolean"), ("buyer_id", "text"), ("receiver_name", "text"), ("receiver_province", "text"),
          ("receiver_city", "text"), ("freight", "numeric")]
_STAGE_EXTRA = ("order_id bigint, order_status text, live boolean NOT NULL DEFAULT false, "
                "new_order boolean NOT NULL DEFAULT false, line_id bigint, line_differs boolean NOT NULL DEFAULT false")


def _historical_orders_import_sql(*, rows: list[dict], commit: bool, options: dict) -> dict:
    """PostgreSQL: shops and SKUs resolved in Python (their apps' selectors, one query each), the
    batch COPYed into a staging table, then one statement per step for the whole batch: find the
    batch's orders (refusing rows of live orders), and with ``commit`` insert the new orders with
    their totals, update the lines whose values differ, insert the new lines, and recompute the
    totals of orders that existed and got new or changed lines. Lines already stored as in the file
    are not touched (the same file again changes 0 rows)."""
    from dataimport.ports import column_defaults, stage_rows
    from integrations.selectors import shops
    from inventory.selectors import sku_refs_by_codes

    result = {"created": 0, "updated": 0, "unchanged": 0, "errors": []}
    errors = result["errors"]
    shop_by_code = {s.code: s for s in shops()}
    skus = sku_refs_by_codes(codes={r["sku_code"] for r in rows})
    staged = []
    for row in rows:
        shop = shop_by_code.get(row["shop_code"])
        sku = skus.get(row["sku_code"])
        if shop is None:
            errors.append((row["line"], "shop_code", _("unknown shop code “%(code)s”") % {"code": row["shop_code"]}))
        elif sku is None:
            errors.append((row["line"], "sku_code", _("unknown SKU code “%(code)s”") % {"code": row["sku_code"]}))
        elif len(_ref(shop.pk, row["platform_order_id"])) > 64:
            errors.append((row["line"], "platform_order_id", _("order id too long")))
        else:
            get = row.get
            staged.append((row["line"], shop.pk, shop.platform, row["platform_order_id"], row["line_no"], sku.pk, sku.code,
                           sku.name[:300], row["quantity"], get("price", ZERO), row["paid"], row["paid_at"],
                           get("ordered_at"), get("shipped_at"), get("status") == "cancelled", get("buyer_id"),
                           get("receiver_name"), get("receiver_province"), get("receiver_city"), get("freight")))
    if not staged:
        return result
    tenant_id = require_tenant().pk
    stage = stage_rows("hist_orders", _STAGE, staged, extra=_STAGE_EXTRA)
    order_t, line_t = Order._meta.db_table, OrderLine._meta.db_table
    p = {"tenant": tenant_id, "platform_kind": OrderKind.PLATFORM}
    with connection.cursor() as cursor:
        # each key looked up by its index (LATERAL ... LIMIT 1): a join would hash every order / line of the
        # tenant in each batch, which grows with the table (quadratic over a file of a million lines)
        cursor.execute(
            f"UPDATE {stage} AS s SET order_id = m.id, order_status = m.status, live = left(m.source_ref, 5) <> %(hist)s "
            f"FROM (SELECT DISTINCT shop_id, poid FROM {stage}) AS k CROSS JOIN LATERAL (SELECT o.id, o.status, o.source_ref "
            f"FROM {order_t} AS o WHERE o.tenant_id = %(tenant)s AND o.kind = %(platform_kind)s AND o.shop_id = k.shop_id "
            "AND o.platform_order_id = k.poid LIMIT 1) AS m WHERE s.shop_id = k.shop_id AND s.poid = k.poid", {**p, "hist": HIST})
        cursor.execute(f"DELETE FROM {stage} WHERE live RETURNING line")
        message = _("this order was pulled from the platform already; it is not imported again")
        errors.extend((line, "platform_order_id", message) for (line,) in cursor.fetchall())
        cursor.execute(
            f"UPDATE {stage} AS s SET line_id = m.id, line_differs = m.differs FROM (SELECT s2.line, l.id, "
            "(l.sku_id, l.quantity, l.price, l.paid) IS DISTINCT FROM (s2.sku_id, s2.quantity, s2.price, s2.paid) AS differs "
            f"FROM {stage} AS s2 CROSS JOIN LATERAL (SELECT id, sku_id, quantity, price, paid FROM {line_t} AS l "
            "WHERE l.tenant_id = %(tenant)s AND l.order_id = s2.order_id AND l.platform_line_id = s2.line_no LIMIT 1) AS l "
            "WHERE s2.order_id IS NOT NULL) AS m WHERE s.line = m.line", p)
        cursor.execute(f"SELECT count(*) FILTER (WHERE line_id IS NULL), count(*) FILTER (WHERE line_differs), count(*) "
                       f"FROM {stage}")
        created, updated, total = cursor.fetchone()
        if not commit:
            result.update(created=created, updated=updated, unchanged=total - created - updated)
            return result
        given = ["tenant_id", "shop_id", "platform", "platform_order_id", "kind", "source_ref", "status", "platform_status",
                 "buyer_id", "receiver_name", "receiver_province", "receiver_city", "freight_amount", "paid_at",
                 "platform_created_at", "platform_modified_at", "shipped_at", "line_count", "total_quantity",
                 "goods_amount", "discount_amount", "paid_amount"]
        odefaults = column_defaults(Order, set(given))
        p.update({f"od{i}": v for i, (_c, v) in enumerate(odefaults)}, hist=HIST, imported=IMPORTED,
                 cancelled=OrderStatus.CANCELLED, completed=OrderStatus.COMPLETED)
        cursor.execute(
            f"WITH ins AS (INSERT INTO {order_t} ({', '.join([*given, *(c for c, _v in odefaults)])}) "
            "SELECT %(tenant)s, f.shop_id, f.platform, f.poid, %(platform_kind)s, %(hist)s::text || f.shop_id || ':' || f.poid, "
            "CASE WHEN f.cancelled THEN %(cancelled)s ELSE %(completed)s END, %(imported)s, COALESCE(f.buyer_id, ''), "
            "COALESCE(f.receiver_name, ''), COALESCE(f.receiver_province, ''), COALESCE(f.receiver_city, ''), "
            "COALESCE(f.freight, 0), f.paid_at, COALESCE(f.ordered_at, f.paid_at), COALESCE(f.shipped_at, f.paid_at), "
            "CASE WHEN f.cancelled THEN NULL ELSE f.shipped_at END, t.n, t.q, t.g, GREATEST(t.g - t.p, 0), "
            f"t.p + COALESCE(f.freight, 0){''.join(f', %(od{i})s' for i in range(len(odefaults)))} "
            f"FROM (SELECT DISTINCT ON (shop_id, poid) * FROM {stage} WHERE order_id IS NULL ORDER BY shop_id, poid, line) AS f "
            "JOIN (SELECT shop_id, poid, count(*) AS n, sum(quantity) AS q, sum(price * quantity) AS g, sum(paid) AS p "
            f"FROM {stage} WHERE order_id IS NULL GROUP BY shop_id, poid) AS t USING (shop_id, poid) "
            "RETURNING id, shop_id, platform_order_id, status) "
            f"UPDATE {stage} AS s SET order_id = ins.id, order_status = ins.status, new_order = true FROM ins "
            "WHERE s.shop_id = ins.shop_id AND s.poid = ins.platform_order_id", p)
        cursor.execute(
            f"UPDATE {line_t} AS l SET sku_id = s.sku_id, sku_code = s.sku_code, outer_id = s.sku_code, "
            "title = s.title, quantity = s.quantity, price = s.price, paid = s.paid, "
            f"discount = GREATEST(s.price * s.quantity - s.paid, 0) FROM {stage} AS s WHERE s.line_differs "
            "AND l.tenant_id = %(tenant)s AND l.id = s.line_id", p)
        lgiven = ["tenant_id", "order_id", "origin_order_id", "platform_order_id", "platform_line_id", "outer_id", "title",
                  "sku_id", "sku_code", "quantity", "price", "paid", "discount", "is_stopped", "is_reserved", "is_committed"]
        ldefaults = column_defaults(OrderLine, set(lgiven))
        p.update({f"ld{i}": v for i, (_c, v) in enumerate(ldefaults)})
        cursor.execute(
            f"INSERT INTO {line_t} ({', '.join([*lgiven, *(c for c, _v in ldefaults)])}) "
            "SELECT %(tenant)s, s.order_id, s.order_id, s.poid, s.line_no, s.sku_code, s.title, s.sku_id, s.sku_code, "
            "s.quantity, s.price, s.paid, GREATEST(s.price * s.quantity - s.paid, 0), s.order_status = %(cancelled)s, "
            f"false, false{''.join(f', %(ld{i})s' for i in range(len(ldefaults)))} FROM {stage} AS s "
            "WHERE s.line_id IS NULL RETURNING id", p)
        lines_created = [pk for (pk,) in cursor.fetchall()]
        written = "(line_id IS NULL OR line_differs)"
        cursor.execute(f"SELECT DISTINCT order_id FROM {stage} WHERE {written} AND NOT new_order")
        recomputed = sorted(order_id for (order_id,) in cursor.fetchall())
        _recompute_totals(recomputed)  # orders that had lines before
        cursor.execute(f"SELECT DISTINCT order_id FROM {stage} WHERE new_order")
        orders_created = [pk for (pk,) in cursor.fetchall()]
        cursor.execute(f"SELECT line_id FROM {stage} WHERE line_differs")
        lines_updated = [pk for (pk,) in cursor.fetchall()]
        cursor.execute(f"SELECT DISTINCT platform, buyer_id FROM {stage} WHERE {written} AND buyer_id <> ''")
        buyers = cursor.fetchall()
    result.update(created=created, updated=updated, unchanged=total - created - updated, changes={
        Order._meta.label_lower: {"created": orders_created, "updated": recomputed},
        OrderLine._meta.label_lower: {"created": lines_created, "updated": lines_updated}})
    if buyers:  # whose purchase history changed (members books it: members.services.imports)
        result["posted"] = {"buyers": [list(b) for b in buyers]}
    return result


def _order_values(row: dict, shop) -> dict:
    cancelled = row.get("status") == "cancelled"
    paid_at = row["paid_at"]
    return {
        "shop_id": shop.pk, "platform": shop.platform, "platform_order_id": row["platform_order_id"],
        "kind": OrderKind.PLATFORM, "source_ref": _ref(shop.pk, row["platform_order_id"]),
        "status": OrderStatus.CANCELLED if cancelled else OrderStatus.COMPLETED,
        "platform_status": IMPORTED, "buyer_id": row.get("buyer_id", ""), "receiver_name": row.get("receiver_name", ""),
        "receiver_province": row.get("receiver_province", ""), "receiver_city": row.get("receiver_city", ""),
        "freight_amount": row.get("freight", ZERO), "paid_at": paid_at,
        "platform_created_at": row.get("ordered_at") or paid_at, "platform_modified_at": row.get("shipped_at") or paid_at,
        "shipped_at": None if cancelled else row.get("shipped_at"),
    }


def _line_values(tenant_id, order_id, row, sku, want, status) -> dict:
    return {
        "tenant_id": tenant_id, "order_id": order_id, "origin_order_id": order_id,
        "platform_order_id": row["platform_order_id"], "platform_line_id": row["line_no"], "outer_id": sku.code,
        "title": sku.name[:300], "sku_id": sku.pk, "sku_code": sku.code, "quantity": want["quantity"],
        "price": want["price"], "paid": want["paid"],
        "discount": max(ZERO, want["price"] * want["quantity"] - want["paid"]),
        "is_stopped": status == OrderStatus.CANCELLED, "is_reserved": False, "is_committed": False,
    }


def _existing_orders(keys: set[tuple[int, str]]) -> dict[tuple, dict]:
    if not keys:
        return {}
    fields = ("pk", "shop_id", "platform_order_id", "source_ref", "status")
    if connection.vendor == "postgresql":  # the keys as two arrays: no per-key placeholders
        shop_list, poid_list = [], []
        for shop_id, poid in keys:
            shop_list.append(shop_id)
            poid_list.append(poid)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT o.id, o.shop_id, o.platform_order_id, o.source_ref, o.status FROM {Order._meta.db_table} AS o "
                "JOIN unnest(%s::bigint[], %s::text[]) AS k(shop_id, poid) ON o.shop_id = k.shop_id "
                "AND o.platform_order_id = k.poid WHERE o.tenant_id = %s AND o.kind = %s",
                [shop_list, poid_list, require_tenant().pk, OrderKind.PLATFORM])
            return {(r[1], r[2]): dict(zip(fields, r, strict=True)) for r in cursor.fetchall()}
    by_shop = defaultdict(set)
    for shop_id, poid in keys:
        by_shop[shop_id].add(poid)
    condition = Q()
    for shop_id, poids in by_shop.items():
        condition |= Q(shop_id=shop_id, platform_order_id__in=list(poids))
    return {(o["shop_id"], o["platform_order_id"]): o for o in Order.objects.filter(condition, kind=OrderKind.PLATFORM)
            .values(*fields)}


def _existing_lines(order_ids: list[int]) -> dict[tuple[int, str], dict]:
    if not order_ids:
        return {}
    fields = ("pk", "order_id", "platform_line_id", *LINE_FIELDS)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, order_id, platform_line_id, {', '.join(LINE_FIELDS)} FROM {OrderLine._meta.db_table} "
                           "WHERE tenant_id = %s AND order_id = ANY(%s::bigint[])", [require_tenant().pk, list(order_ids)])
            return {(r[1], r[2]): dict(zip(fields, r, strict=True)) for r in cursor.fetchall()}
    return {(ln["order_id"], ln["platform_line_id"]): ln for ln in OrderLine.objects.filter(order_id__in=order_ids)
            .values(*fields)}


def _recompute_totals(order_ids: list[int]) -> None:
    if not order_ids:
        return
    order_table, line_table = Order._meta.db_table, OrderLine._meta.db_table
    if connection.vendor != "postgresql":
        from django.db.models import Count, F, Sum

        for o in OrderLine.objects.filter(order_id__in=order_ids).values("order_id").annotate(
                n=Count("id"), q=Sum("quantity"), g=Sum(F("price") * F("quantity")), p=Sum("paid")):
            Order.objects.filter(pk=o["order_id"]).update(line_count=o["n"], total_quantity=o["q"], goods_amount=o["g"],
                                                          paid_amount=o["p"] + F("freight_amount"))
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {order_table} AS o SET line_count = t.n, total_quantity = t.q, goods_amount = t.g, "
            "discount_amount = GREATEST(t.g - t.p, 0), paid_amount = t.p + o.freight_amount, updated_at = now() "
            f"FROM (SELECT order_id, count(*) AS n, sum(quantity) AS q, sum(price * quantity) AS g, sum(paid) AS p "
            f"FROM {line_table} WHERE tenant_id = %s AND order_id = ANY(%s::bigint[]) GROUP BY order_id) AS t "
            "WHERE o.tenant_id = %s AND o.id = t.order_id",
            [require_tenant().pk, order_ids, require_tenant().pk])


def historical_orders_reconcile(*, rows: list[dict], options: dict) -> dict:
    """Rows, paid amount and units per month (tenant's calendar, by paid time) read back for the
    batch's line keys (on PostgreSQL one aggregate: the batch's orders by their source_ref, their
    lines by the order index, kept when their key is one of the batch's)."""
    from integrations.selectors import shops

    shop_ids = {s.code: s.pk for s in shops()}
    keys = {(shop_ids.get(r["shop_code"]), r["platform_order_id"], r["line_no"]) for r in rows}
    keys = {k for k in keys if k[0]}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    totals["rows"] = Decimal(0)
    if connection.vendor == "postgresql":
        if not keys:
            return dict(totals)
        from erp.tenancy.dates import tenant_zone

        tenant_id = require_tenant().pk
        ref_list, poid_list, line_list = [], [], []
        for shop_id, poid, line_id in keys:
            ref_list.append(_ref(shop_id, poid))
            poid_list.append(poid)
            line_list.append(line_id)
        from dataimport.ports import joined_text

        refs = sorted(set(ref_list))
        joined = [joined_text(refs), joined_text(ref_list), joined_text(poid_list), joined_text(line_list)]
        if None in joined:
            joined, split = [refs, ref_list, poid_list, line_list], "%s::text[]"
        else:  # three text parameters: far cheaper to send than three text[]
            split = "string_to_array(%s, E'\\x1f')"
        with connection.cursor() as cursor:
            # the batch's orders by their unique source_ref (a few thousand index probes), their lines by
            # the order index, kept when their (order id, line) key is one of the batch's
            cursor.execute(
                "SELECT to_char(o.paid_at AT TIME ZONE %s, 'YYYY-MM'), count(*), sum(l.paid), sum(l.quantity) "
                f"FROM {Order._meta.db_table} AS o JOIN {OrderLine._meta.db_table} AS l ON l.tenant_id = %s "
                f"AND l.order_id = o.id JOIN unnest({split}, {split}, {split}) AS k(ref, poid, line_id) "
                "ON k.ref = o.source_ref AND k.poid = l.platform_order_id AND k.line_id = l.platform_line_id "
                f"WHERE o.tenant_id = %s AND o.source_ref <> '' AND o.source_ref = ANY({split}) GROUP BY 1",
                [str(tenant_zone()), tenant_id, joined[1], joined[2], joined[3], tenant_id, joined[0]])
            for month, count, paid, qty in cursor.fetchall():
                totals["rows"] += count
                totals[f"amount:{month}"] += paid
                totals[f"units:{month}"] += qty
        return dict(totals)
    refs = {_ref(s, p) for s, p, _l in keys}
    for shop_id, poid, line_id, paid, qty, paid_at in OrderLine.objects.filter(order__source_ref__in=refs).values_list(
            "order__shop_id", "platform_order_id", "platform_line_id", "paid", "quantity", "order__paid_at"):
        if (shop_id, poid, line_id) in keys:
            month = tenant_date(paid_at).strftime("%Y-%m")
            totals["rows"] += 1
            totals[f"amount:{month}"] += paid
            totals[f"units:{month}"] += qty
    return dict(totals)
