from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = _("Inventory")

    def ready(self):
        from erp import dashboard

        from . import tasks  # noqa: F401  (register the Celery tasks)

        dashboard.register_nav(dashboard.NavLink(_("Stock"), "inventory:stock", "inventory"))
        dashboard.register_nav(dashboard.NavLink(_("Unmatched SKUs"), "inventory:unmatched", "inventory"))
        dashboard.register_nav(dashboard.NavLink(_("Promotion locks"), "inventory:locks", "inventory"))
        dashboard.register_nav(dashboard.NavLink(_("Promotions"), "inventory:promotions", "inventory"))
        dashboard.register_nav(dashboard.NavLink(_("Stock health"), "inventory:health", "inventory"))
        dashboard.register(inventory_cards)


def inventory_cards(request):
    from django.urls import reverse

    from erp import dashboard

    from . import selectors

    counts = selectors.stock_health_counts()
    risk = counts.get("risk", 0) + counts.get("out", 0)
    unmatched = selectors.unmatched_count()
    return [
        dashboard.Card(title=_("Stock-out risk"), value=risk, url=reverse("inventory:health") + "?status=risk",
                       hint=_("SKUs with under 7 days of cover or sold out"), tone="bad" if risk else "good",
                       app_label="inventory"),
        dashboard.Card(title=_("Unmatched platform SKUs"), value=unmatched, url=reverse("inventory:unmatched"),
                       tone="warn" if unmatched else "good", app_label="inventory"),
    ]
