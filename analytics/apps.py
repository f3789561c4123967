from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self):
        from erp import dashboard, events

        from . import charts, services, tasks  # noqa: F401  (register the Celery tasks)

        # the order events mark the days whose rollups they change (after the publisher commits)
        events.subscribe("platform_orders.changed", services.on_platform_orders_changed)
        events.subscribe("platform_refunds.changed", services.on_platform_refunds_changed)
        events.subscribe("order.shipped", services.on_order_changed)
        events.subscribe("order.cancelled", services.on_order_changed)
        events.subscribe("order.after_sale_opened", services.on_order_changed)
        events.subscribe("aftersales.refunded", services.on_aftersales_refunded)
        dashboard.register_nav(dashboard.NavLink(_("Big screen"), "analytics:bigscreen", "analytics"))
        dashboard.register_chart(charts.dashboard_charts, app_label="orders")
