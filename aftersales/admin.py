from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from erp.tenancy.admin import ReadOnlyInline, TenantScopedAdmin

from .models import AftersalesSettings, Ticket, TicketEvent, TicketLine


class TicketLineInline(ReadOnlyInline):
    model = TicketLine
    fields = ["order_line_id", "sku_code", "title", "quantity", "amount", "warehouse_id", "exchange_sku_id",
              "received_quantity", "condition", "stock_returned_at"]
    readonly_fields = fields


class TicketEventInline(ReadOnlyInline):
    model = TicketEvent
    fields = ["created_at", "kind", "code", "from_status", "to_status", "actor_label", "message"]
    readonly_fields = fields
    ordering = ["id"]


@admin.register(Ticket)
class TicketAdmin(TenantScopedAdmin):
    """Read-mostly: status changes go through the after-sales pages / API actions so they are recorded."""

    list_display = ["number", "kind", "source", "status", "shop", "platform_order_id", "platform_refund_id", "buyer_id",
                    "requested_amount", "approved_amount", "sla_due_at", "created_at"]
    list_filter = ["status", "kind", "source"]
    search_fields = ["number", "platform_order_id", "platform_refund_id", "buyer_id", "return_tracking_no"]
    list_select_related = ["shop"]
    inlines = [TicketLineInline, TicketEventInline]
    fields = ["note"]

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TicketEvent)
class TicketEventAdmin(TenantScopedAdmin):
    list_display = ["created_at", "ticket", "kind", "code", "from_status", "to_status", "actor_label", "message"]
    list_filter = ["kind"]
    search_fields = ["ticket__number", "message"]
    list_select_related = ["ticket"]
    readonly_fields = ["ticket", "created_at", "kind", "code", "from_status", "to_status", "actor", "actor_label",
                       "message", "data"]

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AftersalesSettings)
class AftersalesSettingsAdmin(TenantScopedAdmin):
    list_display = ["__str__", "auto_approve_refund_below", "auto_complete_on_platform_refund", "sla_hours_refund_only",
                    "sla_hours_return_refund"]
    fieldsets = [
        (_("Automatic rules"), {"fields": ["auto_approve_refund_below", "abuse_window_days", "abuse_ticket_limit",
                                           "auto_complete_on_platform_refund"]}),
        (_("Service levels"), {"fields": ["sla_hours_refund_only", "sla_hours_return_refund", "sla_hours_exchange",
                                          "sla_hours_reship"]}),
        (_("Returns"), {"fields": ["default_warehouse_id"]}),
    ]

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request) and not AftersalesSettings.objects.exists()
