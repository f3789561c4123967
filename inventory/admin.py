"""Admin for the catalog and configuration; the ledger, levels and stock documents are read-only
here (stock changes only through inventory.services: the API and the operator pages)."""

from django.contrib import admin

from erp.tenancy.admin import ReadOnlyAdmin, ReadOnlyInline, TenantScopedAdmin

from . import services
from .models import (
    SKU,
    BundleComponent,
    PlatformSkuMapping,
    Product,
    Reservation,
    StockDirty,
    StockLevel,
    StockLock,
    StockLockEvent,
    StockMove,
    Stocktake,
    StocktakeLine,
    SyncRule,
    SyncRuleWarehouse,
    Transfer,
    TransferLine,
    Warehouse,
)


@admin.register(Product)
class ProductAdmin(TenantScopedAdmin):
    list_display = ["code", "name", "category", "brand", "status"]
    list_filter = ["status", "category"]
    search_fields = ["code", "name", "brand"]


@admin.register(SKU)
class SKUAdmin(TenantScopedAdmin):
    list_display = ["code", "name", "barcode", "product", "unit_cost", "is_bundle", "status"]
    list_filter = ["status", "is_bundle"]
    search_fields = ["code", "name", "barcode"]
    readonly_fields = ["is_bundle"]
    autocomplete_fields = ["product"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.sku_mappings_automatch()


@admin.register(BundleComponent)
class BundleComponentAdmin(ReadOnlyAdmin):
    list_display = ["bundle", "component", "quantity"]
    search_fields = ["bundle__code", "component__code"]


@admin.register(Warehouse)
class WarehouseAdmin(TenantScopedAdmin):
    list_display = ["code", "name", "kind", "priority", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["sku", "warehouse", "on_hand", "reserved", "locked", "in_transit", "defective", "updated_at"]
    list_filter = ["warehouse"]
    search_fields = ["sku__code", "sku__name"]
    list_select_related = ["sku", "warehouse"]


@admin.register(StockMove)
class StockMoveAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "sku", "warehouse", "on_hand_delta", "on_hand_after", "reason", "source_doc"]
    list_filter = ["kind", "warehouse"]
    search_fields = ["sku__code", "source_doc", "reason"]
    list_select_related = ["sku", "warehouse"]
    date_hierarchy = "created_at"


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["ref_type", "ref_id", "sku", "warehouse", "quantity", "status", "from_lock", "created_at"]
    list_filter = ["status", "ref_type"]
    search_fields = ["ref_id", "sku__code"]


class StockLockEventInline(ReadOnlyInline):
    model = StockLockEvent
    readonly_fields = ["kind", "quantity", "ref_type", "ref_id", "note", "created_at"]
    exclude = ["tenant"]


@admin.register(StockLock)
class StockLockAdmin(ReadOnlyAdmin):
    list_display = ["name", "shop", "sku", "warehouse", "quantity", "remaining", "used", "released", "starts_at", "ends_at",
                    "status"]
    list_filter = ["status", "shop"]
    search_fields = ["name", "sku__code"]
    inlines = [StockLockEventInline]


@admin.register(StockLockEvent)
class StockLockEventAdmin(ReadOnlyAdmin):
    list_display = ["lock", "kind", "quantity", "ref_type", "ref_id", "created_at"]
    list_filter = ["kind"]


class TransferLineInline(ReadOnlyInline):
    model = TransferLine
    readonly_fields = ["sku", "quantity", "received_quantity"]
    exclude = ["tenant"]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["number", "from_warehouse", "to_warehouse", "status", "shipped_at", "received_at"]
    list_filter = ["status"]
    search_fields = ["number"]
    inlines = [TransferLineInline]


@admin.register(TransferLine)
class TransferLineAdmin(ReadOnlyAdmin):
    list_display = ["transfer", "sku", "quantity", "received_quantity"]


class StocktakeLineInline(ReadOnlyInline):
    model = StocktakeLine
    readonly_fields = ["sku", "expected", "counted", "variance"]
    exclude = ["tenant"]


@admin.register(Stocktake)
class StocktakeAdmin(ReadOnlyAdmin):
    list_display = ["number", "warehouse", "status", "posted_at"]
    list_filter = ["status", "warehouse"]
    search_fields = ["number"]
    inlines = [StocktakeLineInline]


@admin.register(StocktakeLine)
class StocktakeLineAdmin(ReadOnlyAdmin):
    list_display = ["stocktake", "sku", "expected", "counted", "variance"]


@admin.register(SyncRule)
class SyncRuleAdmin(TenantScopedAdmin):
    list_display = ["shop", "percentage", "adjust", "safety_stock", "min_quantity", "max_quantity", "auto_delist", "is_active"]
    list_filter = ["is_active", "auto_delist"]

    def save_model(self, request, obj, form, change):
        fields = {f: getattr(obj, f) for f in ("percentage", "adjust", "safety_stock", "min_quantity", "max_quantity",
                                               "auto_delist", "is_active")}
        saved = services.sync_rule_save(shop=obj.shop, **fields)
        obj.pk = saved.pk


@admin.register(SyncRuleWarehouse)
class SyncRuleWarehouseAdmin(TenantScopedAdmin):
    list_display = ["rule", "warehouse"]


@admin.register(PlatformSkuMapping)
class PlatformSkuMappingAdmin(TenantScopedAdmin):
    list_display = ["shop", "platform_item_id", "platform_sku_id", "outer_id", "title", "sku", "match_method", "last_seen_at"]
    list_filter = ["match_method", "shop"]
    search_fields = ["platform_item_id", "platform_sku_id", "outer_id", "title", "sku__code"]
    readonly_fields = ["match_method", "last_seen_at"]
    autocomplete_fields = ["sku"]

    def save_model(self, request, obj, form, change):
        if change and "sku" in form.changed_data:
            sku = obj.sku
            super().save_model(request, obj, form, change)
            services.sku_mapping_set(mapping=obj, sku=sku)
        else:
            super().save_model(request, obj, form, change)


@admin.register(StockDirty)
class StockDirtyAdmin(ReadOnlyAdmin):
    list_display = ["shop", "mapping", "version", "dirty", "changed_at", "pushed_at", "pushed_version"]
    list_filter = ["dirty", "shop"]
