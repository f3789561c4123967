from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = _("Integrations")

    def ready(self):
        from django.urls import reverse

        from erp import dashboard

        dashboard.register_nav(dashboard.NavLink(_("Shops"), "integrations:shops", "integrations"))

        def failing_shops(request):
            from .selectors import shops_failing_count

            n = shops_failing_count()
            return [dashboard.Card(title=_("Shops with failing syncs"), value=n, url=reverse("integrations:shops"),
                                   hint=_("a pull or push failed on its last run") if n else "",
                                   tone="bad" if n else "good", app_label="integrations")]

        dashboard.register(failing_shops)
