"""Order writes, one entry point for every caller (other apps, api, views, tasks, tests, bench).

The code lives in one module per subdomain:

- ``_common``: the status machine, order settings, timeline events, status changes, row locks;
- ``ingest``: new platform orders, set-based; ``interception``: platform updates, cancellations,
  shipments outside the ERP and refunds of orders we have;
- ``review``: rules and the operator actions approve / hold / release / cancel;
- ``merge``, ``split``, ``allocation`` (and the out-of-stock queue), ``shipping``, ``reship``;
- ``bulk_actions``: one action on many orders, at once or as a background BulkJob.

Wrong-state actions raise ``erp.api.exceptions.Conflict`` (409) with the reason; nothing changes.
Patch a module-level setting where it is read (e.g. ``orders.services.bulk_actions.BULK_JOB_CHUNK``).
"""

from ._common import ACTION_STATES, RESERVED_STATES, TRANSITIONS, order_settings
from .allocation import (
    AllocationOutcome,
    on_stock_received,
    order_allocate,
    order_deallocate,
    order_pick,
    orders_allocate,
    orders_retry_out_of_stock,
)
from .bulk_actions import (
    BULK_ACTIONS,
    BULK_JOB_BUDGET_SECONDS,
    BULK_JOB_MAX_ORDERS,
    BULK_SYNC_LIMIT,
    BulkStart,
    bulk_job_fail,
    bulk_job_hand_over,
    bulk_job_run,
    bulk_job_start,
    bulk_jobs_stalled,
    bulk_jobs_take_over_stalled,
    orders_bulk_action,
)
from .ingest import IngestResult, on_platform_orders_changed, orders_ingest_normalized
from .interception import STOPPING_REFUND, on_platform_refunds_changed, orders_intercept_refunds
from .merge import MergeVerdict, merge_candidates, order_unmerge, orders_merge, orders_merge_dry_run
from .reship import order_create_reship
from .review import order_approve, order_cancel, order_hold, order_release
from .shipping import mock_tracking_no, order_ship
from .split import order_split

__all__ = [
    "ACTION_STATES", "BULK_ACTIONS", "BULK_JOB_BUDGET_SECONDS", "BULK_JOB_MAX_ORDERS", "BULK_SYNC_LIMIT",
    "RESERVED_STATES", "STOPPING_REFUND", "TRANSITIONS",
    "AllocationOutcome", "BulkStart", "IngestResult", "MergeVerdict",
    "bulk_job_fail", "bulk_job_hand_over", "bulk_job_run", "bulk_job_start", "bulk_jobs_stalled",
    "bulk_jobs_take_over_stalled", "merge_candidates", "mock_tracking_no", "on_platform_orders_changed",
    "on_platform_refunds_changed", "on_stock_received", "order_allocate", "order_approve", "order_cancel",
    "order_create_reship", "order_deallocate", "order_hold", "order_pick", "order_release", "order_settings",
    "order_ship", "order_split", "order_unmerge", "orders_allocate", "orders_bulk_action",
    "orders_ingest_normalized", "orders_intercept_refunds", "orders_merge", "orders_merge_dry_run",
    "orders_retry_out_of_stock",
]
