from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self):
        from erp import dashboard, events

        from . import services, tasks  # noqa: F401  (register the Celery tasks)

        events.subscribe("order.shipped", services.on_order_shipped)
        events.subscribe("aftersales.refunded", services.on_aftersales_refunded)
        events.subscribe("order.coupons_used", services.on_order_coupons_used)
        events.subscribe("platform_coupon.delivered", services.on_platform_coupon_delivered)
        dashboard.register_nav(dashboard.NavLink(_("Members"), "members:list", "members"))
        dashboard.register_nav(dashboard.NavLink(_("Coupons"), "members:coupons", "members"))
        dashboard.register_nav(dashboard.NavLink(_("Points rewards"), "members:rewards", "members"))
        dashboard.register_nav(dashboard.NavLink(_("Campaigns"), "members:campaigns", "members"))
        dashboard.register_nav(dashboard.NavLink(_("Repurchase dashboard"), "members:dashboard", "members"))
        dashboard.register(members_cards)


def members_cards(request):
    from django.urls import reverse

    from erp.dashboard import Card

    from .models import Segment
    from .selectors import attention_counts

    counts = attention_counts()
    url = reverse("members:list")
    return [
        Card(title=_("Members"), value=counts["members"], url=url, tone="neutral", app_label="members"),
        Card(title=_("Important value members"), value=counts["important"],
             url=f"{url}?segment={Segment.IMPORTANT_VALUE}", tone="good", app_label="members"),
        Card(title=_("Important members to win back"), value=counts["retain"],
             url=f"{url}?segment={Segment.IMPORTANT_RETAIN}", hint=_("High spend, not bought for a while"),
             tone="warn" if counts["retain"] else "good", app_label="members"),
    ]
