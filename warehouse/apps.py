from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WarehouseConfig(AppConfig):
    name = "warehouse"
    label = "warehouse"
    verbose_name = _("Warehouse floor")

    def ready(self):
        from erp import dashboard

        from . import tasks  # noqa: F401  (register the Celery tasks)

        dashboard.register_nav(dashboard.NavLink(_("Pick waves"), "warehouse:waves", "warehouse"))
        dashboard.register_nav(dashboard.NavLink(_("Packing station"), "warehouse:pack", "warehouse"))
        dashboard.register_nav(dashboard.NavLink(_("Parcels"), "warehouse:parcels", "warehouse"))
        dashboard.register_nav(dashboard.NavLink(_("Third-party warehouses"), "warehouse:wms", "warehouse"))
