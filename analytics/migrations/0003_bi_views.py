"""Read-only BI views over orders, stock, purchasing, after-sales, members and the ledger.

Each view (``bi_*``) is the documented, stable shape a BI tool reads (BI.md lists every column).
They are not ``security_invoker``: a BI login role reads them with the privileges of their owner
(the application role) and needs no grant on any table. Every view filters its rows itself:

* for a BI login role (``erp_bi_t<tenant id>_<name>``, made by ``manage.py bi_role create``) the
  rows of the tenant in its name, whatever the session's settings say (a role cannot rename itself);
* for any other session the same rule as the tables' row-level security: the tenant in
  ``app.tenant_id``, or every row in a system context (``app.bypass_rls``); no tenant, no rows.

The tables' row-level security applies underneath as well (it is checked as the view owner, with
the session's settings: a BI role gets ``app.tenant_id`` as a role default). ``security_barrier``
keeps a reader's own conditions from being evaluated on rows the filter would hide. Personal data
(receiver names, phones and addresses, phone hashes, notes) is left out.
"""

from django.db import migrations

TENANT_FN = """
CREATE OR REPLACE FUNCTION analytics_bi_tenant() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT substring(session_user::text FROM '^erp_bi_t([0-9]+)_')::bigint
$$;
"""


def visible(alias: str) -> str:
    return (
        f"({alias}.tenant_id = analytics_bi_tenant() OR (analytics_bi_tenant() IS NULL AND ("
        f"current_setting('app.bypass_rls', true) = 'on' "
        f"OR {alias}.tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)))"
    )


VIEWS = {
    "bi_orders": f"""
SELECT o.id AS order_id, o.tenant_id, o.shop_id, s.name AS shop_name, o.platform, o.platform_order_id, o.kind,
       o.merged_into_id, o.split_from_id, o.buyer_id, o.buyer_level,
       o.receiver_province, o.receiver_city, o.receiver_district,
       o.currency, o.goods_amount, o.discount_amount, o.freight_amount, o.paid_amount,
       o.is_presale, o.status, o.platform_status, o.hold_reasons, o.warehouse_id, o.carrier_code, o.tracking_no,
       o.line_count, o.total_quantity, o.weight_g,
       o.platform_created_at, o.paid_at, o.ship_by, o.allocated_at, o.shipped_at, o.created_at, o.updated_at
FROM orders_order o
LEFT JOIN integrations_shop s ON s.id = o.shop_id AND s.tenant_id = o.tenant_id
WHERE {visible("o")}""",
    "bi_order_lines": f"""
SELECT l.id AS line_id, l.tenant_id, l.order_id, l.origin_order_id, o.shop_id, o.platform, l.platform_order_id,
       l.platform_line_id, l.platform_item_id, l.platform_sku_id, l.outer_id, l.title, l.sku_properties,
       l.sku_id, l.sku_code, l.quantity, l.price, l.discount, l.paid, o.currency, l.is_presale, l.refund_state,
       l.is_stopped, l.warehouse_id, o.status AS order_status, o.paid_at, o.shipped_at, o.updated_at AS order_updated_at
FROM orders_orderline l
JOIN orders_order o ON o.id = l.order_id AND o.tenant_id = l.tenant_id
WHERE {visible("l")}""",
    "bi_stock_levels": f"""
SELECT sl.id AS stock_level_id, sl.tenant_id, sl.warehouse_id, w.code AS warehouse_code, sl.sku_id,
       k.code AS sku_code, k.name AS sku_name, sl.on_hand, sl.reserved, sl.locked, sl.in_transit, sl.defective,
       sl.on_hand - sl.reserved - sl.locked AS available, k.unit_cost, k.currency,
       (sl.on_hand * k.unit_cost)::numeric(16, 2) AS stock_value, sl.updated_at
FROM inventory_stocklevel sl
JOIN inventory_warehouse w ON w.id = sl.warehouse_id AND w.tenant_id = sl.tenant_id
JOIN inventory_sku k ON k.id = sl.sku_id AND k.tenant_id = sl.tenant_id
WHERE {visible("sl")}""",
    "bi_stock_moves": f"""
SELECT m.id AS move_id, m.tenant_id, m.warehouse_id, w.code AS warehouse_code, m.sku_id, k.code AS sku_code,
       m.kind, m.on_hand_delta, m.in_transit_delta, m.defective_delta, m.on_hand_after, m.reason, m.source_doc,
       m.created_by_id, m.created_at
FROM inventory_stockmove m
JOIN inventory_warehouse w ON w.id = m.warehouse_id AND w.tenant_id = m.tenant_id
JOIN inventory_sku k ON k.id = m.sku_id AND k.tenant_id = m.tenant_id
WHERE {visible("m")}""",
    "bi_purchase_orders": f"""
SELECT po.id AS purchase_order_id, po.tenant_id, po.number, po.supplier_id, su.code AS supplier_code,
       su.name AS supplier_name, po.warehouse_id, po.status, po.source, po.currency, po.expected_date,
       po.total_quantity, po.received_quantity, po.total_amount, po.approved_at, po.sent_at, po.received_at,
       po.closed_at, po.created_at, po.updated_at
FROM purchasing_purchaseorder po
JOIN purchasing_supplier su ON su.id = po.supplier_id AND su.tenant_id = po.tenant_id
WHERE {visible("po")}""",
    "bi_purchase_order_lines": f"""
SELECT pl.id AS po_line_id, pl.tenant_id, pl.purchase_order_id, po.number AS po_number, po.supplier_id,
       po.warehouse_id, pl.sku_id, k.code AS sku_code, pl.supplier_sku_code, pl.quantity, pl.unit_price,
       (pl.quantity * pl.unit_price)::numeric(16, 2) AS amount, po.currency, pl.received_quantity,
       pl.returned_quantity, po.status AS po_status, po.updated_at AS po_updated_at
FROM purchasing_poline pl
JOIN purchasing_purchaseorder po ON po.id = pl.purchase_order_id AND po.tenant_id = pl.tenant_id
JOIN inventory_sku k ON k.id = pl.sku_id AND k.tenant_id = pl.tenant_id
WHERE {visible("pl")}""",
    "bi_receipts": f"""
SELECT r.id AS receipt_id, r.tenant_id, r.number, r.kind, r.reference, r.purchase_order_id, po.number AS po_number,
       po.supplier_id, r.warehouse_id, r.received_at, r.received_by_id, r.currency, r.total_quantity,
       r.total_amount, r.defective
FROM purchasing_goodsreceipt r
JOIN purchasing_purchaseorder po ON po.id = r.purchase_order_id AND po.tenant_id = r.tenant_id
WHERE {visible("r")}""",
    "bi_receipt_lines": f"""
SELECT rl.id AS receipt_line_id, rl.tenant_id, rl.receipt_id, r.number AS receipt_number, r.kind,
       r.purchase_order_id, rl.po_line_id, po.supplier_id, r.warehouse_id, rl.sku_id, k.code AS sku_code,
       rl.quantity, rl.unit_cost, (rl.quantity * rl.unit_cost)::numeric(16, 2) AS amount, r.currency,
       r.defective, r.received_at
FROM purchasing_goodsreceiptline rl
JOIN purchasing_goodsreceipt r ON r.id = rl.receipt_id AND r.tenant_id = rl.tenant_id
JOIN purchasing_purchaseorder po ON po.id = r.purchase_order_id AND po.tenant_id = r.tenant_id
JOIN inventory_sku k ON k.id = rl.sku_id AND k.tenant_id = rl.tenant_id
WHERE {visible("rl")}""",
    "bi_aftersales_tickets": f"""
SELECT t.id AS ticket_id, t.tenant_id, t.number, t.kind, t.source, t.status, t.order_id, t.shop_id, t.platform,
       t.platform_order_id, t.platform_refund_id, t.platform_status, t.buyer_id, t.reason, t.currency,
       t.requested_amount, t.approved_amount, t.warehouse_id, t.reship_order_id, t.sla_due_at, t.approved_at,
       t.goods_received_at, t.refunded_at, t.closed_at, t.created_at, t.updated_at
FROM aftersales_ticket t
WHERE {visible("t")}""",
    "bi_aftersales_ticket_lines": f"""
SELECT tl.id AS ticket_line_id, tl.tenant_id, tl.ticket_id, t.number AS ticket_number, t.kind, t.status,
       t.order_id, tl.order_line_id, tl.sku_id, tl.sku_code, tl.title, tl.quantity, tl.amount, t.currency,
       tl.received_quantity, tl.condition, tl.exchange_sku_id, tl.warehouse_id, tl.stock_returned_at,
       t.updated_at AS ticket_updated_at
FROM aftersales_ticketline tl
JOIN aftersales_ticket t ON t.id = tl.ticket_id AND t.tenant_id = tl.tenant_id
WHERE {visible("tl")}""",
    "bi_members": f"""
SELECT m.id AS member_id, m.tenant_id, m.display_name, m.phone_masked, m.level_id, lv.name AS level_name,
       lv.rank AS level_rank, m.level_since, m.merged_into_id, m.lifetime_paid, m.order_count, m.first_order_at,
       m.last_order_at, m.points_balance, m.rfm_r, m.rfm_f, m.rfm_m, m.segment, m.rfm_at,
       m.created_at, m.updated_at
FROM members_member m
LEFT JOIN members_memberlevel lv ON lv.id = m.level_id AND lv.tenant_id = m.tenant_id
WHERE {visible("m")}""",
    # finance_ledger_bi's columns (finance/migrations/0002): that view is security_invoker, so reading
    # it from here would check its tables' grants as the BI role; this one reads the tables itself.
    "bi_finance_ledger": f"""
SELECT l.id AS line_id, l.tenant_id, v.id AS voucher_id, v.number AS voucher_number,
       p.year AS period_year, p.month AS period_month, v.date AS entry_date, v.posted_at,
       v.source_type, v.source_ref, v.reversal_of_id, v.memo AS voucher_memo,
       a.code AS account_code, a.name AS account_name, a.type AS account_type,
       l.debit, l.credit, l.debit - l.credit AS net_debit, l.currency, l.tag,
       l.shop_id, l.platform, l.order_id, l.platform_order_id, l.sku_id, l.supplier_id, l.memo AS line_memo
FROM finance_voucherline l
JOIN finance_voucher v ON v.id = l.voucher_id AND v.tenant_id = l.tenant_id
JOIN finance_period p ON p.id = v.period_id AND p.tenant_id = v.tenant_id
JOIN finance_account a ON a.id = l.account_id AND a.tenant_id = l.tenant_id
WHERE v.status = 'posted' AND {visible("l")}""",
}


def create_views(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(TENANT_FN)
    for name, body in VIEWS.items():
        schema_editor.execute(f"CREATE OR REPLACE VIEW {name} WITH (security_barrier = true) AS {body}")


def drop_views(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in reversed(list(VIEWS)):
        schema_editor.execute(f"DROP VIEW IF EXISTS {name}")
    schema_editor.execute("DROP FUNCTION IF EXISTS analytics_bi_tenant()")


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_beat"),
        ("orders", "0008_bulk_job"),
        ("inventory", "0004_reservation_fewer_indexes"),
        ("purchasing", "0002_beat_schedule"),
        ("aftersales", "0003_settings_ordering"),
        ("members", "0004_coupons_beat"),
        ("finance", "0004_carry_forward_source"),
        ("integrations", "0005_outbox_refund_decisions"),
    ]

    operations = [migrations.RunPython(create_views, drop_views)]
