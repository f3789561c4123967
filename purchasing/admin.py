"""Admin for suppliers, supplier items and settings; purchase orders, receipts and suggestions are
read-only here (their changes go through purchasing.services: the API and the operator pages, so
every one is validated and recorded in the timeline)."""

from django.contrib import admin

from erp.tenancy.admin import ReadOnlyAdmin, ReadOnlyInline, TenantScopedAdmin

from . import services
from .models import (
    GoodsReceipt,
    GoodsReceiptLine,
    POLine,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchasingSettings,
    ReorderSuggestion,
    Supplier,
    SupplierItem,
)


class SupplierItemInline(admin.TabularInline):
    model = SupplierItem
    extra = 0
    fields = ["sku", "supplier_sku_code", "unit_price", "min_order_quantity", "order_multiple", "lead_time_days",
              "is_preferred", "is_active"]
    autocomplete_fields = ["sku"]


@admin.register(Supplier)
class SupplierAdmin(TenantScopedAdmin):
    list_display = ["code", "name", "contact_name", "phone", "payment_terms_days", "currency", "is_active"]
    list_filter = ["is_active", "currency"]
    search_fields = ["code", "name", "contact_name"]
    inlines = [SupplierItemInline]

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for obj in instances:
            if isinstance(obj, SupplierItem):
                services.supplier_item_save(item=obj)
            else:
                obj.save()
        formset.save_m2m()


@admin.register(SupplierItem)
class SupplierItemAdmin(TenantScopedAdmin):
    list_display = ["supplier", "sku", "supplier_sku_code", "unit_price", "min_order_quantity", "order_multiple",
                    "lead_time_days", "is_preferred", "is_active"]
    list_filter = ["is_preferred", "is_active", "supplier"]
    search_fields = ["sku__code", "supplier_sku_code", "supplier__name"]
    list_select_related = ["supplier", "sku"]
    autocomplete_fields = ["sku", "supplier"]

    def save_model(self, request, obj, form, change):
        services.supplier_item_save(item=obj)


class POLineInline(ReadOnlyInline):
    model = POLine
    fields = ["sku", "supplier_sku_code", "quantity", "unit_price", "received_quantity", "returned_quantity"]
    readonly_fields = fields


class POEventInline(ReadOnlyInline):
    model = PurchaseOrderEvent
    fields = ["created_at", "kind", "code", "from_status", "to_status", "actor_label", "message"]
    readonly_fields = fields
    ordering = ["id"]


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(ReadOnlyAdmin):
    list_display = ["number", "supplier", "warehouse", "status", "expected_date", "total_quantity", "received_quantity",
                    "total_amount", "currency", "created_at"]
    list_filter = ["status", "source", "supplier"]
    search_fields = ["number", "supplier__name", "supplier__code"]
    list_select_related = ["supplier", "warehouse"]
    inlines = [POLineInline, POEventInline]


class ReceiptLineInline(ReadOnlyInline):
    model = GoodsReceiptLine
    fields = ["po_line", "sku", "quantity", "unit_cost"]
    readonly_fields = fields


@admin.register(GoodsReceipt)
class GoodsReceiptAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "reference", "purchase_order", "warehouse", "received_at", "total_quantity",
                    "total_amount", "currency"]
    list_filter = ["kind"]
    search_fields = ["number", "reference", "purchase_order__number"]
    list_select_related = ["purchase_order", "warehouse"]
    inlines = [ReceiptLineInline]


@admin.register(ReorderSuggestion)
class ReorderSuggestionAdmin(ReadOnlyAdmin):
    list_display = ["sku", "supplier", "status", "suggested_quantity", "daily_demand", "seasonal_factor", "available",
                    "on_order", "safety_stock", "days_of_cover", "urgent", "computed_at"]
    list_filter = ["status", "urgent", "season_basis"]
    search_fields = ["sku__code"]
    list_select_related = ["sku", "supplier"]


@admin.register(PurchasingSettings)
class PurchasingSettingsAdmin(TenantScopedAdmin):
    list_display = ["__str__", "over_receipt_tolerance_percent", "review_period_days", "service_level_z", "history_days",
                    "default_lead_time_days"]

    def has_add_permission(self, request, *args):
        return not PurchasingSettings.objects.exists()
