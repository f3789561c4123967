from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = _("Finance")

    def ready(self):
        from erp import dashboard, events

        from . import services, tasks  # noqa: F401  (register the Celery tasks)

        events.subscribe("order.shipped", services.on_order_shipped)
        events.subscribe("purchase.received", services.on_purchase_received)
        events.subscribe("purchase.returned", services.on_purchase_returned)
        events.subscribe("aftersales.refunded", services.on_aftersales_refunded)
        events.subscribe("aftersales.goods_returned", services.on_goods_returned)
        events.subscribe("platform_bills.changed", services.on_platform_bills_changed)
        events.subscribe("inventory.adjusted", services.on_stock_adjusted)
        dashboard.register_nav(dashboard.NavLink(_("Finance"), "finance:vouchers", "finance"))
        dashboard.register_nav(dashboard.NavLink(_("Trial balance"), "finance:trial-balance", "finance"))
        dashboard.register_nav(dashboard.NavLink(_("Profit"), "finance:profit", "finance"))
        dashboard.register_nav(dashboard.NavLink(_("Balance sheet"), "finance:balance-sheet", "finance"))
        dashboard.register_nav(dashboard.NavLink(_("Cash flow statement"), "finance:cash-flow", "finance"))
        dashboard.register_nav(dashboard.NavLink(_("Reconciliation"), "finance:reconciliation", "finance"))
        dashboard.register_nav(dashboard.NavLink(_("Supplier statements"), "finance:statements", "finance"))
        dashboard.register(finance_cards)


def finance_cards(request):
    from django.urls import reverse

    from erp import dashboard
    from erp.tenancy.roles import app_access

    if request.membership.role not in app_access("finance")[0]:
        return []  # the figures are computed only for those who may see them

    from . import selectors

    counts = selectors.reconciliation_counts()
    unreconciled = counts.get("awaiting", 0) + counts.get("unsettled", 0)
    differences = counts.get("difference", 0) + counts.get("no_order", 0)
    profit = selectors.month_gross_profit()
    url = reverse("finance:reconciliation")
    issues = selectors.open_posting_issues()
    cards = [dashboard.Card(title=_("Postings that failed"), value=issues,
                            url=reverse("admin:finance_postingissue_changelist"),
                            hint=_("fix the cause, then retry"), tone="bad", app_label="finance")] if issues else []
    return cards + [
        dashboard.Card(title=_("Unreconciled orders"), value=unreconciled, url=url,
                       hint=_("%(n)d overdue") % {"n": counts.get("unsettled", 0)} if counts.get("unsettled") else "",
                       tone="warn" if counts.get("unsettled") else "neutral", app_label="finance"),
        dashboard.Card(title=_("Settlement differences"), value=differences, url=f"{url}?status=difference",
                       tone="bad" if differences else "good", app_label="finance"),
        dashboard.Card(title=_("Gross profit this month"), value=f"¥{profit['gross_profit']:,.2f}",
                       url=reverse("finance:profit"),
                       hint=_("margin %(m)s%%") % {"m": profit["margin"]} if profit["margin"] is not None else "",
                       tone="good" if profit["gross_profit"] >= 0 else "bad", app_label="finance"),
    ]
