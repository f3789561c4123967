from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AftersalesConfig(AppConfig):
    name = "aftersales"
    verbose_name = _("After-sales")

    def ready(self):
        from erp import dashboard, events

        from . import services, tasks  # noqa: F401  (register the Celery tasks)

        events.subscribe("order.after_sale_opened", services.on_order_after_sale_opened)
        events.subscribe("platform_refunds.changed", services.on_platform_refunds_changed)
        events.subscribe("platform_refund_decision.sent", services.on_refund_decision_sent)
        dashboard.register_nav(dashboard.NavLink(_("After-sales"), "aftersales:queue", "aftersales"))
        dashboard.register_nav(dashboard.NavLink(_("Refund report"), "aftersales:report", "aftersales"))
        dashboard.register(aftersales_cards)


def aftersales_cards(request):
    from django.urls import reverse

    from erp.dashboard import Card

    from .selectors import attention_counts

    counts = attention_counts()
    url = reverse("aftersales:queue")
    return [
        Card(title=_("Open after-sales tickets"), value=counts["open"], url=f"{url}?status=open",
             hint=_("%(n)d in progress") % {"n": counts["active"]}, tone="warn" if counts["open"] else "good",
             app_label="aftersales"),
        Card(title=_("Overdue after-sales tickets"), value=counts["overdue"], url=f"{url}?overdue=1",
             tone="bad" if counts["overdue"] else "good", app_label="aftersales"),
        Card(title=_("Awaiting returned goods"), value=counts["awaiting_return"], url=f"{url}?status=awaiting_return",
             tone="neutral", app_label="aftersales"),
    ]
