from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataImportConfig(AppConfig):
    name = "dataimport"
    label = "dataimport"
    verbose_name = _("Data import")

    def ready(self):
        from erp import dashboard

        from . import tasks  # noqa: F401  (register the Celery tasks)

        dashboard.register_nav(dashboard.NavLink(_("Import data"), "dataimport:list", "dataimport"))
