from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from erp import dashboard, events

        from . import services

        events.subscribe("platform_orders.changed", services.on_platform_orders_changed)
        events.subscribe("platform_refunds.changed", services.on_platform_refunds_changed)
        # inventory may announce received stock; the out-of-stock queue is retried after commit
        events.subscribe("inventory.stock_received", services.on_stock_received)
        dashboard.register_nav(dashboard.NavLink(_("Orders"), "orders:workbench", "orders"))
        dashboard.register_nav(dashboard.NavLink(_("Sales report"), "orders:reports", "orders"))
        dashboard.register(_dashboard_cards)
        dashboard.register(_sales_card)
        dashboard.register_chart(_queues_chart, app_label="orders")


def _dashboard_cards(request):
    from django.urls import reverse

    from erp.dashboard import Card

    from .selectors import attention_counts

    counts = attention_counts()
    url = reverse("orders:workbench")
    return [
        Card(title=_("Orders to review"), value=counts["pending_review"], url=f"{url}?status=pending_review",
             tone="warn" if counts["pending_review"] else "good", app_label="orders"),
        Card(title=_("Orders on hold"), value=counts["on_hold"], url=f"{url}?status=on_hold",
             tone="warn" if counts["on_hold"] else "good", app_label="orders"),
        Card(title=_("Orders out of stock"), value=counts["out_of_stock"], url=f"{url}?queue=out_of_stock",
             tone="bad" if counts["out_of_stock"] else "good", app_label="orders"),
    ]


def _sales_card(request):
    from django.urls import reverse

    from erp.dashboard import Card

    from .reports import gmv_today_vs_yesterday

    gmv, change = gmv_today_vs_yesterday()
    if change is None:
        hint, tone = _("no sales yesterday by this time"), "neutral"
    else:
        hint = _("%(change)s%% vs yesterday by this time") % {"change": f"+{change}" if change > 0 else change}
        tone = "good" if change >= 0 else "warn"
    return [Card(title=_("GMV today"), value=f"¥{gmv:,.2f}", url=f"{reverse('orders:reports')}?range=today", hint=hint,
                 tone=tone, app_label="orders")]


def queues_chart_spec() -> dict:
    """Orders waiting per workbench queue (the workbench's own counts: open statuses, out of stock) and
    the orders shipped today, as a chart spec (static/erp/charts.js)."""
    from .models import OrderStatus
    from .selectors import OPEN_STATUSES, attention_counts, shipped_today, status_counts

    labels = dict(OrderStatus.choices)
    counts = status_counts()
    names = [str(labels[s]) for s in OPEN_STATUSES] + [str(_("Out of stock")), str(_("Shipped today"))]
    values = [counts[s] for s in OPEN_STATUSES] + [attention_counts()["out_of_stock"], shipped_today()]
    return {"type": "bar", "horizontal": True, "categories": names, "axes": [{"name": str(_("Orders"))}],
            "series": [{"name": str(_("Orders")), "data": values}]}


def _queues_chart(request):
    from django.urls import reverse

    from erp.dashboard import Chart

    return [Chart(key="queues", title=_("Orders waiting by queue"), spec=queues_chart_spec(),
                  url=reverse("orders:workbench"), hint=_("Open orders per status, out of stock, shipped today"),
                  app_label="orders", order=20)]
