"""The posting rules: business events (an order shipped, a refund, goods received from or returned
to a supplier, goods returned by a buyer, a stock adjustment) turned into system vouchers, and the
helpers they share with settlement (amount parsing, pro-rata allocation, order snapshots, unit costs).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp.money import CENT, to_money

from .. import chart
from ..models import LineTag, SourceType, Voucher
from .ledger import ZERO, LineSpec, VoucherSpec, local_date, vouchers_post_auto
from .reconciliation import _recompute, _recon_row

logger = logging.getLogger("finance")


# --- helpers for the posting rules -------------------------------------------------------------------
def _money(value) -> Decimal:
    if value is None or value == "":
        return ZERO
    return to_money(value)


def _allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` over ``weights`` pro rata, to the cent; the rounding rest goes to the last."""
    if not weights:
        return []
    base = sum(weights, ZERO)
    if base <= 0:
        parts = [ZERO] * len(weights)
        parts[-1] = total
        return parts
    parts = [(total * w / base).quantize(CENT) for w in weights]
    biggest = max(range(len(weights)), key=lambda i: weights[i])
    parts[biggest] += total - sum(parts, ZERO)  # the rounding rest goes where it is smallest relatively
    return parts


def _shipped_lines(snapshot, poid: str = "") -> list:
    """The snapshot's lines of one platform order that were not stopped (what was shipped and sold)."""
    lines = [ln for ln in (snapshot.lines if snapshot else ()) if not poid or ln.platform_order_id in ("", poid)]
    live = [ln for ln in lines if not ln.is_stopped]
    return live or lines


def _pair(dr: LineSpec, cr: LineSpec, amount: Decimal) -> list[LineSpec]:
    """Two lines for a signed amount: positive debits ``dr``, negative swaps the sides."""
    if amount == 0:
        return []
    if amount < 0:
        dr, cr, amount = cr, dr, -amount
    dr.debit, dr.credit, cr.credit, cr.debit = amount, ZERO, amount, ZERO
    return [dr, cr]


def sku_costs(sku_ids) -> dict[int, Decimal]:
    from inventory.selectors import sku_unit_costs

    ids = sorted({int(s) for s in sku_ids if s})
    return sku_unit_costs(sku_ids=ids) if ids else {}


def _order_snapshots(order_ids: list[int]) -> list:
    from orders.selectors import order_snapshots

    return order_snapshots(order_ids=order_ids)


def _snapshots_by_platform_ids(shop_id: int, platform_order_ids: list[str]) -> dict:
    from orders.selectors import order_snapshots_by_platform_ids

    if not platform_order_ids:
        return {}
    return order_snapshots_by_platform_ids(shop_id=shop_id, platform_order_ids=platform_order_ids)


def _shop_platform(shop_id) -> str:
    from integrations.selectors import shops_with_platform

    if not shop_id:
        return ""
    return shops_with_platform().filter(pk=shop_id).values_list("platform", flat=True).first() or ""


# --- posting rules -------------------------------------------------------------------------------------
def shipment_spec(snapshot, *, freight_by_poid: dict[str, Decimal] | None = None) -> tuple[VoucherSpec, dict[str, Decimal]]:
    """Dr 应收账款-平台 / Cr 主营业务收入 (goods and freight) and Dr 主营业务成本 / Cr 库存商品 at the
    SKUs' unit cost. Returns the voucher and the receivable booked per platform order id."""
    lines = [ln for ln in snapshot.lines if not ln.is_stopped]
    platform = snapshot.platform or ""
    receivable = chart.platform_account(chart.RECEIVABLE, platform)
    dims = dict(shop_id=snapshot.shop_id, platform=platform, currency=snapshot.currency or "CNY")
    per_poid: dict[str, Decimal] = defaultdict(lambda: ZERO)
    out: list[LineSpec] = []
    for ln in lines:
        paid = _money(ln.paid)
        poid = ln.platform_order_id or snapshot.platform_order_id
        if paid > 0:
            per_poid[poid] += paid
            out.append(LineSpec(account=chart.REVENUE, credit=paid, tag=LineTag.SALES, sku_id=ln.sku_id,
                                order_id=snapshot.id, platform_order_id=poid,
                                memo=f"{ln.sku_code or ln.title} × {ln.quantity}", **dims))
    freight = _money(snapshot.freight_amount)
    if freight > 0:
        poids = [ln.platform_order_id for ln in lines if ln.platform_order_id]
        first = snapshot.platform_order_id if snapshot.platform_order_id in poids or not poids else poids[0]
        shares = {poid: amount for poid, amount in (freight_by_poid or {}).items() if amount > 0}
        if sum(shares.values(), ZERO) != freight:  # unknown split: all of it on the first platform order
            shares = {first: freight}
        for poid, amount in shares.items():
            per_poid[poid] += amount
            out.append(LineSpec(account=chart.REVENUE, credit=amount, tag=LineTag.FREIGHT, order_id=snapshot.id,
                                platform_order_id=poid, memo=_("Freight"), **dims))
    ar = [LineSpec(account=receivable, debit=amount, tag=LineTag.RECEIVABLE, order_id=snapshot.id,
                   platform_order_id=poid, memo=_("Receivable %(poid)s") % {"poid": poid}, **dims)
          for poid, amount in per_poid.items()]
    costs = sku_costs(ln.sku_id for ln in lines)
    cogs: list[LineSpec] = []
    qty_by_sku: dict[int, int] = defaultdict(int)
    for ln in lines:
        if ln.sku_id:
            qty_by_sku[ln.sku_id] += ln.quantity
    for sku_id, qty in sorted(qty_by_sku.items()):
        amount = (costs.get(sku_id, ZERO) * qty).quantize(CENT)
        if amount > 0:
            memo = _("Cost of %(qty)d units") % {"qty": qty}
            cogs.append(LineSpec(account=chart.COGS, debit=amount, tag=LineTag.COGS, sku_id=sku_id, order_id=snapshot.id,
                                 platform_order_id=snapshot.platform_order_id, memo=memo, **dims))
            cogs.append(LineSpec(account=chart.INVENTORY, credit=amount, tag=LineTag.STOCK, sku_id=sku_id,
                                 order_id=snapshot.id, platform_order_id=snapshot.platform_order_id, memo=memo, **dims))
    spec = VoucherSpec(date=local_date(snapshot.shipped_at), source_type=SourceType.ORDER_SHIPPED,
                       source_ref=str(snapshot.id), lines=ar + out + cogs,
                       memo=_("Order %(no)s shipped") % {"no": snapshot.platform_order_id or snapshot.id})
    return spec, dict(per_poid)


@transaction.atomic
def post_order_shipped(*, order_id: int) -> Voucher | None:
    snapshots = _order_snapshots([int(order_id)])
    if not snapshots:
        raise ValidationError(_("Order %(id)s not found.") % {"id": order_id})
    snapshot = snapshots[0]
    freight_by_poid = None
    if snapshot.kind == "merged" and _money(snapshot.freight_amount) > 0:
        # a merged shipment's freight is the sum of its platform orders': book each on its own order
        poids = sorted({ln.platform_order_id for ln in snapshot.lines if ln.platform_order_id})
        freight_by_poid = {poid: _money(o.freight_amount)
                           for poid, o in _snapshots_by_platform_ids(snapshot.shop_id, poids).items()}
    spec, per_poid = shipment_spec(snapshot, freight_by_poid=freight_by_poid)
    if len(spec.lines) < 2:
        return None
    made = vouchers_post_auto([spec])
    if not made:
        return None
    for poid, amount in per_poid.items():
        rec = _recon_row(snapshot.shop_id, poid, platform=snapshot.platform)
        rec.shipped_amount += amount
        rec.shipped_at = rec.shipped_at or snapshot.shipped_at or timezone.now()
        if poid == snapshot.platform_order_id or rec.order_id is None:
            rec.order_id = rec.order_id or snapshot.id
        _recompute(rec)
    return made[0]


@transaction.atomic
def post_refund(*, ticket_id, order_id=None, shop_id=None, platform_order_id: str = "", amount=None,
                currency: str = "CNY", refunded_at=None, kind: str = "refund", **_ignored) -> Voucher | None:
    """Dr 主营业务收入 (sales returns, spread over the order's SKUs) / Cr 应收账款-平台."""
    amount = _money(amount)
    if amount <= 0:
        return None
    snapshot = None
    if shop_id and platform_order_id:  # the platform order with its lines, wherever they are now
        snapshot = _snapshots_by_platform_ids(int(shop_id), [platform_order_id]).get(platform_order_id)
    if snapshot is None and order_id:
        snapshot = next(iter(_order_snapshots([int(order_id)])), None)
    shop_id = shop_id or (snapshot.shop_id if snapshot else None)
    platform = snapshot.platform if snapshot else _shop_platform(shop_id)
    poid = platform_order_id or (snapshot.platform_order_id if snapshot else "")
    dims = dict(shop_id=shop_id, platform=platform, currency=currency or "CNY", platform_order_id=poid,
                order_id=snapshot.id if snapshot else (int(order_id) if order_id else None))
    memo = _("Refund, after-sales ticket %(t)s") % {"t": ticket_id}
    lines_of = _shipped_lines(snapshot, poid)
    weights = [_money(ln.paid) for ln in lines_of]
    returns: list[LineSpec] = []
    if lines_of and sum(weights, ZERO) > 0:
        for ln, part in zip(lines_of, _allocate(amount, weights), strict=True):
            if part:
                returns.append(LineSpec(account=chart.REVENUE, debit=part, tag=LineTag.RETURNS, sku_id=ln.sku_id,
                                        memo=memo, **dims))
    else:
        returns.append(LineSpec(account=chart.REVENUE, debit=amount, tag=LineTag.RETURNS, memo=memo, **dims))
    ar = LineSpec(account=chart.platform_account(chart.RECEIVABLE, platform), credit=amount, tag=LineTag.RECEIVABLE,
                  memo=memo, **dims)
    spec = VoucherSpec(date=local_date(refunded_at), memo=memo, source_type=SourceType.AFTERSALES_REFUNDED,
                       source_ref=str(ticket_id), lines=[*returns, ar])
    made = vouchers_post_auto([spec])
    if not made:
        return None
    if shop_id and poid:
        rec = _recon_row(int(shop_id), poid, platform=platform)
        rec.refunded_amount += amount
        if rec.order_id is None and snapshot is not None:
            rec.order_id = snapshot.id
        _recompute(rec)
    return made[0]


def _stock_lines(lines, *, sign: int, memo: str, supplier_id=None, currency="CNY") -> tuple[list[LineSpec], Decimal]:
    out, total = [], ZERO
    for row in lines or ():
        qty = int(row.get("quantity") or 0)
        amount = (_money(row.get("unit_cost")) * qty).quantize(CENT)
        if amount <= 0:
            continue
        total += amount
        side = {"debit": amount} if sign > 0 else {"credit": amount}
        out.append(LineSpec(account=chart.INVENTORY, tag=LineTag.STOCK, sku_id=row.get("sku_id"),
                            supplier_id=supplier_id, currency=currency, memo=f"{memo} × {qty}", **side))
    return out, total


@transaction.atomic
def post_purchase(*, receipt_id, supplier_id=None, received_at=None, currency: str = "CNY", lines=None,
                  returned: bool = False, purchase_order_id=None, **_ignored) -> Voucher | None:
    """Received: Dr 库存商品 (per SKU) / Cr 应付账款. Returned to the supplier: the other way round."""
    memo = (_("Goods returned to supplier, receipt %(r)s") if returned else _("Goods received, receipt %(r)s")) % {
        "r": receipt_id}
    stock, total = _stock_lines(lines, sign=-1 if returned else 1, memo=memo, supplier_id=supplier_id,
                                currency=currency or "CNY")
    if total <= 0:
        return None
    side = {"debit": total} if returned else {"credit": total}
    payable = LineSpec(account=chart.PAYABLE, tag=LineTag.PAYABLE, supplier_id=supplier_id, currency=currency or "CNY",
                       memo=memo, **side)
    spec = VoucherSpec(date=local_date(received_at), memo=memo, source_ref=str(receipt_id),
                       source_type=SourceType.PURCHASE_RETURNED if returned else SourceType.PURCHASE_RECEIVED,
                       lines=[payable, *stock] if returned else [*stock, payable])
    made = vouchers_post_auto([spec])
    return made[0] if made else None


@transaction.atomic
def post_goods_returned(*, ticket_id, lines=None, warehouse_id=None, source_ref: str = "", **_ignored) -> Voucher | None:
    """Sellable goods back from a buyer: Dr 库存商品 / Cr 主营业务成本 at unit cost (defective ones
    stay in the cost of goods)."""
    good = [row for row in lines or () if not row.get("defective")]
    costs = sku_costs(row.get("sku_id") for row in good)
    memo = _("Goods returned by buyer, ticket %(t)s") % {"t": ticket_id}
    out = []
    for row in good:
        amount = (costs.get(int(row.get("sku_id") or 0), ZERO) * int(row.get("quantity") or 0)).quantize(CENT)
        if amount > 0:
            out.append(LineSpec(account=chart.INVENTORY, debit=amount, tag=LineTag.STOCK, sku_id=row["sku_id"], memo=memo))
            out.append(LineSpec(account=chart.COGS, credit=amount, tag=LineTag.COGS, sku_id=row["sku_id"], memo=memo))
    if not out:
        return None
    made = vouchers_post_auto([VoucherSpec(date=local_date(None), memo=memo, source_type=SourceType.GOODS_RETURNED,
                                           source_ref=source_ref or str(ticket_id), lines=out)])
    return made[0] if made else None


ADJUST_MEMOS = {
    "stocktake": gettext_lazy("Stocktake %(doc)s"),
    "adjustment": gettext_lazy("Stock adjustment %(doc)s"),
    "scrap": gettext_lazy("Defective units scrapped %(doc)s"),
    "transfer_shortage": gettext_lazy("Units missing from transfer %(doc)s"),
}


def stock_adjusted_ref(payload: dict) -> str:
    """The voucher's source reference: the event's own reference (one business operation), else its
    moves (an older publisher without ``ref``)."""
    ref = str(payload.get("ref") or "").strip()
    if not ref:
        ref = "moves:" + ",".join(str(m) for m in sorted(int(m) for m in payload.get("move_ids") or ()))
    return ref[:120]


@transaction.atomic
def post_stock_adjusted(*, ref: str = "", kind: str = "", lines=None, source_doc: str = "", reason: str = "",
                        occurred_at=None, warehouse_id=None, source_ref: str = "", **_ignored) -> Voucher | None:
    """A stock change outside purchasing, shipping and returns (stocktake, manual adjustment, scrap of
    defective units, units lost in a transfer), valued at the unit cost the event carries:
    a loss Dr 营业外支出 (6711) / Cr 库存商品 (1405), a gain Dr 库存商品 / Cr 营业外收入 (6301), per SKU.

    Booked straight to profit and loss, not through 待处理财产损溢 (1901): posting the stocktake (or
    the adjustment) is already the operator's approval, so a second approval step would only leave
    amounts waiting in 1901 with no one to clear them. Lines at zero cost post nothing: stock with no
    recorded cost carries no value in 库存商品, so its count changes none either (an event of only such
    lines posts no voucher)."""
    memo = str(ADJUST_MEMOS.get(kind, ADJUST_MEMOS["adjustment"])) % {"doc": source_doc or ref}
    if kind == "adjustment" and reason:
        memo = f"{memo}: {reason}"  # the operator's reason
    out: list[LineSpec] = []
    for row in lines or ():
        qty = int(row.get("quantity") or 0)
        amount = (_money(row.get("unit_cost")) * abs(qty)).quantize(CENT)
        if amount <= 0:
            continue  # zero cost: nothing in 库存商品 to take out or put in
        sku_id = int(row["sku_id"]) if row.get("sku_id") else None
        dims = dict(sku_id=sku_id, currency=row.get("currency") or "CNY", memo=f"{memo} ({qty:+d})")
        if qty < 0:  # 盘亏 / write-off
            out += [LineSpec(account=chart.NON_OPERATING_EXPENSE, debit=amount, **dims),
                    LineSpec(account=chart.INVENTORY, credit=amount, tag=LineTag.STOCK, **dims)]
        else:  # 盘盈
            out += [LineSpec(account=chart.INVENTORY, debit=amount, tag=LineTag.STOCK, **dims),
                    LineSpec(account=chart.NON_OPERATING_INCOME, credit=amount, **dims)]
    if not out:
        logger.info("finance: stock change %s has no cost to book", source_ref or ref)
        return None
    made = vouchers_post_auto([VoucherSpec(date=local_date(occurred_at), memo=memo, source_type=SourceType.STOCK_ADJUSTED,
                                           source_ref=source_ref or ref, lines=out)])
    return made[0] if made else None

