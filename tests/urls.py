from django.urls import include, path

from erp.urls import urlpatterns as project_urls

urlpatterns = [*project_urls, path("api/v1/test/", include("tests.tenantapp.api"))]
