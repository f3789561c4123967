"""The dashboard's sales trend: GMV and paid orders of the tenant's last 30 days, from the sales
summary (the rollups plus the dirty days live; it equals the orders sales report of the same days)."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils.translation import gettext as _

from erp import dashboard
from erp.tenancy.dates import tenant_today

from . import selectors

TREND_DAYS = 30


def sales_trend_spec(*, days: int = TREND_DAYS) -> dict:
    """Chart spec (static/erp/charts.js) of GMV (bars) and paid orders (line) per tenant day."""
    today = tenant_today()
    summary = selectors.sales_summary(params=selectors.Params(date_from=today - timedelta(days=days - 1), date_to=today))
    rows = summary["days"]
    return {
        "type": "bar", "categories": [r["day"].isoformat() for r in rows],
        "axes": [{"name": _("GMV")}, {"name": _("Paid orders")}],
        "series": [{"name": _("GMV"), "data": [r["gmv"] for r in rows]},
                   {"name": _("Paid orders"), "type": "line", "axis": 1, "data": [r["paid_orders"] for r in rows]}],
        "empty": _("No sales yet"),
    }


def dashboard_charts(request) -> list[dashboard.Chart]:
    return [dashboard.Chart(key="sales-trend", title=_("Sales, last %(days)d days") % {"days": TREND_DAYS},
                            spec=sales_trend_spec(), url=f"{reverse('orders:reports')}?range=last30",
                            hint=_("GMV and paid orders per day (company time)"), app_label="orders", order=10)]
