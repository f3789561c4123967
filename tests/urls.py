from django.urls import include, path

from erp.urls import handler404  # noqa: F401 - the project's 404 (JSON under /api/)
from erp.urls import urlpatterns as project_urls

urlpatterns = [*project_urls, path("api/v1/test/", include("tests.tenantapp.api"))]
