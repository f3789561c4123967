from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PurchasingConfig(AppConfig):
    name = "purchasing"
    verbose_name = _("Purchasing")

    def ready(self):
        from erp import dashboard

        from . import tasks  # noqa: F401  (register the Celery tasks)

        dashboard.register_nav(dashboard.NavLink(_("Purchase orders"), "purchasing:list", "purchasing"))
        dashboard.register_nav(dashboard.NavLink(_("Reorder suggestions"), "purchasing:suggestions", "purchasing"))
        dashboard.register_nav(dashboard.NavLink(_("Notifications"), "purchasing:notifications", "purchasing"))
        dashboard.register_nav(dashboard.NavLink(_("Suppliers"), "admin:purchasing_supplier_changelist", "purchasing"))
        dashboard.register(purchasing_cards)
        from erp.tenancy.supplier_access import register_portal_context

        register_portal_context(portal_context)


def portal_context(request, supplier_id):
    from . import selectors
    from .models import Supplier

    return {"portal_supplier": Supplier.objects.filter(pk=supplier_id).first(),
            "portal_unread": selectors.unread_notifications(membership=request.membership)}


def purchasing_cards(request):
    from django.urls import reverse

    from erp import dashboard

    from . import selectors

    counts = selectors.attention_counts()
    url = reverse("purchasing:list")
    return [
        dashboard.Card(title=_("POs awaiting receipt"), value=counts["awaiting_receipt"], url=f"{url}?status=awaiting",
                       tone="warn" if counts["awaiting_receipt"] else "good", app_label="purchasing"),
        dashboard.Card(title=_("Overdue purchase orders"), value=counts["overdue"], url=f"{url}?overdue=1",
                       hint=_("Past the expected date and not fully received"),
                       tone="bad" if counts["overdue"] else "good", app_label="purchasing"),
        dashboard.Card(title=_("SKUs to reorder"), value=counts["to_reorder"], url=reverse("purchasing:suggestions"),
                       tone="warn" if counts["to_reorder"] else "good", app_label="purchasing"),
    ]
