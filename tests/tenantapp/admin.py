from django.contrib import admin

from erp.tenancy.admin import TenantScopedAdmin

from .models import Widget


@admin.register(Widget)
class WidgetAdmin(TenantScopedAdmin):
    access_app = "orders"
    list_display = ["code", "quantity"]
    search_fields = ["code"]
