"""Members writes, one entry point for every caller (api, views, tasks, seed, admin, event handlers,
tests): identity matching and merging, totals and levels, the points ledger, RFM segments.

- ``identity``: phones, platform identities matched to members, merge / unmerge.
- ``levels``: a member's totals and level (refresh, nightly review).
- ``points``: the points ledger (earn, clawback, redeem, adjust, expire).
- ``rfm``: RFM scores and segments. ``handlers``: erp.events handlers (order.shipped, aftersales.refunded).
- ``common``: settings and member groups.

Writes only; every function runs in the current tenant. Order data comes from
orders.selectors.order_snapshots (members.ports), never from orders' tables.
"""

from .common import group_ids, member_settings
from .handlers import (
    coupons_redeem_for_order,
    on_aftersales_refunded,
    on_order_coupons_used,
    on_order_shipped,
    on_platform_coupon_delivered,
)
from .identity import (
    identity_match,
    mask_phone,
    member_merge,
    member_unmerge,
    normalize_phone,
    phone_hash,
    phone_parts,
)
from .levels import levels_by_rank_desc, levels_changed, member_refresh, members_review_levels, next_level
from .points import (
    _post,
    earn_points_for,
    points_adjust,
    points_balance,
    points_clawback_for_refund,
    points_earn_for_order,
    points_expire,
    points_redeem,
)
from .rfm import SEGMENTS, members_recompute_rfm, rfm_segment

__all__ = [
    "SEGMENTS", "_post", "coupons_redeem_for_order", "earn_points_for", "group_ids", "identity_match", "levels_by_rank_desc", "levels_changed",
    "mask_phone", "member_merge", "member_refresh", "member_settings", "member_unmerge", "members_recompute_rfm",
    "members_review_levels", "next_level", "normalize_phone", "on_aftersales_refunded", "on_order_coupons_used",
    "on_order_shipped", "on_platform_coupon_delivered",
    "phone_hash", "phone_parts", "points_adjust", "points_balance", "points_clawback_for_refund",
    "points_earn_for_order", "points_expire", "points_redeem", "rfm_segment",
]
