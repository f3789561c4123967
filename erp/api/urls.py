"""/api/v1/: the tenancy routes plus each domain app's ``<app>/api/urls.py`` when it has one."""

from importlib import import_module
from importlib.util import find_spec

from django.urls import include, path

from erp.tenancy.api import urls as tenancy_urls

DOMAIN_APPS = ["orders", "inventory", "purchasing", "finance", "aftersales", "members", "integrations", "dataimport", "warehouse", "analytics"]

urlpatterns = [path("", include(tenancy_urls))]
for app in DOMAIN_APPS:
    if find_spec(f"{app}.api") is not None and find_spec(f"{app}.api.urls") is not None:
        module = import_module(f"{app}.api.urls")
        urlpatterns.append(path(f"{app}/", include(module)))
        # An app may also expose top-level routes (e.g. /api/v1/channels/...) as root_urlpatterns.
        urlpatterns += getattr(module, "root_urlpatterns", [])
