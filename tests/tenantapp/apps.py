from django.apps import AppConfig


class TenantAppConfig(AppConfig):
    name = "tests.tenantapp"
    label = "tenantapp"
