"""Auto review (审单) rules: pure functions over an order, its lines and a context loaded once per
batch. Each rule returns the hold reason and a sentence saying why; no reason means approve."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count

from .addressing import address_blacklist_key, address_complete
from .models import BlacklistEntry, BlacklistKind, HoldReason, Order, OrderKind, OrderSettings


@dataclass
class ReviewContext:
    settings: OrderSettings
    blacklist: dict[str, set[str]] = field(default_factory=dict)  # kind -> match keys
    place_counts: Counter = field(default_factory=Counter)  # place hash -> orders in the risk window

    @classmethod
    def load(cls, *, settings: OrderSettings, orders: list[Order], count_in_batch: bool = True) -> ReviewContext:
        ctx = cls(settings=settings)
        for kind, key in BlacklistEntry.objects.filter(is_active=True).values_list("kind", "match_key"):
            ctx.blacklist.setdefault(kind, set()).add(key)
        if settings.risk_orders_per_address and orders:
            places = {o.place_hash for o in orders if o.place_hash}
            times = [o.platform_created_at for o in orders if o.platform_created_at]
            if places and times:
                since = min(times) - timedelta(hours=settings.risk_window_hours)
                rows = Order.objects.filter(place_hash__in=places, kind=OrderKind.PLATFORM, platform_created_at__gte=since)
                stored = [o.pk for o in orders if o.pk]
                if stored:
                    rows = rows.exclude(pk__in=stored)
                rows = rows.values_list("place_hash").order_by().annotate(n=Count("id"))
                ctx.place_counts.update(dict(rows))
            if count_in_batch:
                ctx.place_counts.update(o.place_hash for o in orders if o.place_hash)
        return ctx


def review(order: Order, lines, ctx: ReviewContext) -> list[tuple[str, str]]:
    """Hold reasons the rules find (platform holds are decided by status_mapping, not here)."""
    s = ctx.settings
    found: list[tuple[str, str]] = []
    if s.hold_on_buyer_message and order.buyer_message.strip():
        found.append((HoldReason.BUYER_MESSAGE, f"buyer remark: {order.buyer_message.strip()[:80]}"))
    if s.hold_on_seller_memo and (order.seller_memo.strip() or order.seller_flag):
        memo = order.seller_memo.strip()[:80] or f"flag {order.seller_flag}"
        found.append((HoldReason.SELLER_MEMO, f"seller remark: {memo}"))
    unmatched = [ln for ln in lines if ln.sku_id is None and not ln.is_stopped]
    if unmatched:
        codes = ", ".join(sorted({ln.outer_id or ln.platform_sku_id or ln.platform_item_id or "?" for ln in unmatched}))
        found.append((HoldReason.UNMATCHED_SKU, f"no SKU matches {codes[:120]}"))
    missing = address_complete(name=order.receiver_name, phone=order.receiver_phone, province=order.receiver_province,
                               city=order.receiver_city, address=order.receiver_address)
    if missing:
        found.append((HoldReason.INCOMPLETE_ADDRESS, f"address incomplete: missing {', '.join(missing)}"))
    if s.hold_amount_over is not None and order.paid_amount > s.hold_amount_over:
        found.append((HoldReason.AMOUNT, f"paid {order.paid_amount} over the limit {s.hold_amount_over}"))
    hits = []
    if order.buyer_id and order.buyer_id.strip() in ctx.blacklist.get(BlacklistKind.BUYER, ()):
        hits.append(f"buyer {order.buyer_id}")
    digits = "".join(ch for ch in order.receiver_phone if ch.isdigit())
    if digits and digits in ctx.blacklist.get(BlacklistKind.PHONE, ()):
        hits.append(f"phone {order.receiver_phone}")
    if ctx.blacklist.get(BlacklistKind.ADDRESS):
        key = address_blacklist_key(province=order.receiver_province, city=order.receiver_city,
                                    district=order.receiver_district, address=order.receiver_address)
        if key in ctx.blacklist[BlacklistKind.ADDRESS]:
            hits.append("address")
    if hits:
        found.append((HoldReason.BLACKLIST, f"blacklisted {', '.join(hits)}"))
    if s.risk_orders_per_address and order.place_hash:
        n = ctx.place_counts.get(order.place_hash, 0)
        if n >= s.risk_orders_per_address:
            found.append((HoldReason.RISK, f"{n} orders to this address within {s.risk_window_hours} h "
                                           f"(limit {s.risk_orders_per_address})"))
    return found
