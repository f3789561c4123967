from django.contrib import admin

from erp.tenancy.admin import TenantScopedAdmin

from .models import (
    BinLocation,
    CarrierAccount,
    CarrierRate,
    Parcel,
    PickWave,
    WmsAccount,
    WmsOrder,
    WmsStockSnapshot,
)


@admin.register(BinLocation)
class BinLocationAdmin(TenantScopedAdmin):
    list_display = ("code", "warehouse", "sort_key")


@admin.register(CarrierAccount)
class CarrierAccountAdmin(TenantScopedAdmin):
    list_display = ("code", "name", "carrier_code", "warehouse", "next_number", "is_active")
    exclude = ("credentials",)


@admin.register(CarrierRate)
class CarrierRateAdmin(TenantScopedAdmin):
    list_display = ("account", "provinces", "first_weight_g", "first_cost", "extra_cost_per_kg")


@admin.register(PickWave)
class PickWaveAdmin(TenantScopedAdmin):
    list_display = ("number", "warehouse", "kind", "status", "created_at")


@admin.register(Parcel)
class ParcelAdmin(TenantScopedAdmin):
    list_display = ("order_no", "status", "carrier_code", "tracking_no", "weight_g", "freight")


@admin.register(WmsAccount)
class WmsAccountAdmin(TenantScopedAdmin):
    list_display = ("code", "name", "warehouse", "owner_code", "api_base_url", "is_active", "last_pull_at")
    readonly_fields = ("confirm_cursor", "last_pull_at", "last_error")


@admin.register(WmsOrder)
class WmsOrderAdmin(TenantScopedAdmin):
    list_display = ("code", "account", "kind", "status", "tracking_no", "attempts", "confirmed_at")
    list_filter = ("status", "kind")


@admin.register(WmsStockSnapshot)
class WmsStockSnapshotAdmin(TenantScopedAdmin):
    list_display = ("account", "taken_at", "items", "differences")
