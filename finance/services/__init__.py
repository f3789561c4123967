"""Finance writes, by concern:

- ledger: voucher and line specs, settings, periods, manual vouchers, set-based system postings;
- closing: period close and reopen, the month-end carry-forward of profit and loss;
- rules: the posting rules that turn business events into vouchers;
- settlement: platform bill lines booked set-based;
- reconciliation: shipped and refunded against settled per platform order;
- handlers: the event subscribers and the posting issues they leave to retry.

Callers (api, views, admin, tasks, seed, tests) use the names re-exported here. A test that replaces
a module-level name (a unit-cost source, a limit) patches the submodule that looks it up
(finance.services.rules.sku_costs, finance.services.settlement.SETTLEMENT_VOUCHER_MAX_LINES).
"""

from .closing import carry_forward_ref, period_carry_forward, period_close, period_reopen
from .handlers import (
    HANDLERS,
    goods_returned_ref,
    on_aftersales_refunded,
    on_goods_returned,
    on_order_shipped,
    on_platform_bills_changed,
    on_purchase_received,
    on_purchase_returned,
    on_stock_adjusted,
    posting_issue_retry,
    posting_issues_retry_all,
)
from .ledger import (
    ZERO,
    LineSpec,
    PeriodClosed,
    VoucherSpec,
    local_date,
    period_get,
    settings_get,
    voucher_create,
    voucher_delete,
    voucher_post,
    voucher_reverse,
    voucher_update,
    vouchers_post_auto,
)
from .reconciliation import reconciliation_flag_unsettled, reconciliation_resolve
from .rules import (
    ADJUST_MEMOS,
    post_goods_returned,
    post_order_shipped,
    post_purchase,
    post_refund,
    post_stock_adjusted,
    shipment_spec,
    stock_adjusted_ref,
)
from .settlement import FEE_ACCOUNT, settle_bill_lines, settlement_lines_for

__all__ = [
    "ADJUST_MEMOS", "FEE_ACCOUNT", "HANDLERS", "ZERO", "LineSpec", "PeriodClosed", "VoucherSpec",
    "carry_forward_ref", "goods_returned_ref", "local_date", "on_aftersales_refunded", "on_goods_returned",
    "on_order_shipped", "on_platform_bills_changed", "on_purchase_received", "on_purchase_returned",
    "on_stock_adjusted", "period_carry_forward", "period_close", "period_get", "period_reopen",
    "post_goods_returned", "post_order_shipped", "post_purchase", "post_refund", "post_stock_adjusted",
    "posting_issue_retry", "posting_issues_retry_all", "reconciliation_flag_unsettled", "reconciliation_resolve",
    "settings_get", "settle_bill_lines", "settlement_lines_for", "shipment_spec", "stock_adjusted_ref",
    "voucher_create", "voucher_delete", "voucher_post", "voucher_reverse", "voucher_update", "vouchers_post_auto",
]
