"""Writes of analytics: the rollup tables and their maintenance (rollups), promotions."""

from .rollups import (  # noqa: F401
    days_mark_dirty,
    on_aftersales_refunded,
    on_order_changed,
    on_platform_orders_changed,
    on_platform_refunds_changed,
    rollups_refresh_days,
    rollups_refresh_dirty,
    rollups_repair,
)
