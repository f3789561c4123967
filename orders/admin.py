from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from erp.tenancy.admin import ReadOnlyAdmin, ReadOnlyInline, TenantScopedAdmin

from .models import BlacklistEntry, BulkJob, CarrierRule, Order, OrderEvent, OrderLine, OrderSettings, Waybill


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fk_name = "order"
    fields = ["platform_order_id", "title", "outer_id", "sku_code", "quantity", "price", "discount", "paid",
              "refund_state", "is_stopped", "is_reserved", "is_committed"]
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "kind", "code", "from_status", "to_status", "actor_label", "message"]
    readonly_fields = fields
    ordering = ["id"]


@admin.register(Order)
class OrderAdmin(TenantScopedAdmin):
    """Read-mostly: status changes go through the workbench / API actions so they are recorded."""

    list_display = ["id", "platform_order_id", "kind", "shop", "status", "hold_reasons", "buyer_id", "paid_amount",
                    "platform_created_at", "tracking_no"]
    list_filter = ["status", "kind", "platform"]
    search_fields = ["platform_order_id", "buyer_id", "tracking_no"]
    list_select_related = ["shop"]
    show_full_result_count = False
    inlines = [OrderLineInline, OrderEventInline]
    fields = ["operator_note"]
    readonly_fields = []

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OrderSettings)
class OrderSettingsAdmin(TenantScopedAdmin):
    list_display = ["__str__", "auto_review", "auto_merge", "auto_allocate", "hold_amount_over"]
    fieldsets = [
        (_("Review"), {"fields": ["auto_review", "hold_on_buyer_message", "hold_on_seller_memo", "hold_amount_over",
                                  "risk_orders_per_address", "risk_window_hours"]}),
        (_("Merge and split"), {"fields": ["auto_merge", "merge_across_shops", "merge_window_hours", "split_by_stock",
                                           "split_presale"]}),
        (_("Allocation and shipping"), {"fields": ["auto_allocate", "default_weight_g", "default_carrier_code"]}),
    ]

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request) and not OrderSettings.objects.exists()


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(TenantScopedAdmin):
    list_display = ["kind", "value", "reason", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["value", "reason"]
    fields = ["kind", "value", "reason", "is_active"]


@admin.register(CarrierRule)
class CarrierRuleAdmin(TenantScopedAdmin):
    list_display = ["name", "carrier_code", "provinces", "warehouse_id", "min_weight_g", "max_weight_g", "first_cost",
                    "extra_cost_per_kg", "priority", "is_active"]
    list_filter = ["carrier_code", "is_active"]


@admin.register(Waybill)
class WaybillAdmin(TenantScopedAdmin):
    list_display = ["tracking_no", "carrier_code", "order", "warehouse_id", "weight_g", "cost", "created_at"]
    search_fields = ["tracking_no"]
    list_select_related = ["order"]
    readonly_fields = ["order", "carrier_code", "tracking_no", "warehouse_id", "weight_g", "cost"]

    def has_add_permission(self, request, *args):
        return False


@admin.register(BulkJob)
class BulkJobAdmin(ReadOnlyAdmin):
    """Read-only: jobs are started from the workbench or the API and run by the background worker."""

    list_display = ["id", "action", "status", "total", "ok_count", "failed_count", "requested_by", "created_at",
                    "finished_at"]
    list_filter = ["status", "action"]
    list_select_related = ["requested_by"]
    readonly_fields = ["action", "why", "requested_by", "order_ids", "status", "total", "ok_count", "failed_count",
                       "results", "error", "created_at", "started_at", "finished_at"]
    exclude = ["pending", "lease", "heartbeat_at"]
