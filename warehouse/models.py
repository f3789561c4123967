"""Warehouse execution: bin locations, pick waves, parcels (waybill, scans, weight, freight), tracking.

Orders, SKUs and warehouses belong to other apps: they are referenced by id (orders) or by string
FKs (inventory), and read through those apps' selectors."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.fields import EncryptedJSONField
from erp.money import CurrencyField, MoneyField
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class BinLocation(TenantScopedModel):
    """A shelf place in a warehouse (e.g. A-01-03); pick lists walk bins in ``sort_key`` order."""

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, related_name="+",
                                  verbose_name=_("warehouse"))
    code = models.CharField(_("bin"), max_length=40)
    sort_key = models.IntegerField(_("pick path order"), default=0)

    class Meta:
        ordering = ["sort_key", "code"]
        verbose_name = _("bin location")
        verbose_name_plural = _("bin locations")
        constraints = [models.UniqueConstraint(fields=["tenant", "warehouse", "code"], name="uniq_bin_tenant_wh_code")]

    def __str__(self):
        return self.code


class SkuBin(TenantScopedModel):
    """Where a SKU sits in a warehouse (one bin per SKU and warehouse)."""

    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, related_name="+",
                                  verbose_name=_("warehouse"))
    sku = models.ForeignKey("inventory.SKU", on_delete=models.CASCADE, related_name="+", verbose_name=_("SKU"))
    bin = models.ForeignKey(BinLocation, on_delete=models.CASCADE, related_name="skus", verbose_name=_("bin"))

    class Meta:
        verbose_name = _("SKU bin")
        verbose_name_plural = _("SKU bins")
        constraints = [models.UniqueConstraint(fields=["tenant", "warehouse", "sku"], name="uniq_skubin_tenant_wh_sku")]


class CarrierAccount(TenantScopedModel, TimeStampedModel):
    """An electronic waybill account with a carrier (Cainiao / SF style), used by one or more warehouses."""

    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    carrier_code = models.CharField(_("carrier code"), max_length=32, help_text=_("e.g. SF, YTO, ZTO"))
    warehouse = models.ForeignKey("inventory.Warehouse", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("warehouse"),
                                  help_text=_("Parcels packed in this warehouse get their waybill here."))
    api_base_url = models.CharField(_("API base URL"), max_length=200, blank=True,
                                    help_text=_("Empty: the built-in simulated carrier."))
    credentials = EncryptedJSONField(_("credentials"), default=dict, blank=True)
    range_start = models.BigIntegerField(_("waybill range start"), default=1)
    range_end = models.BigIntegerField(_("waybill range end"), default=999_999)
    next_number = models.BigIntegerField(_("next waybill number"), default=1)
    first_weight_g = models.PositiveIntegerField(_("first weight (g)"), default=1000)
    first_cost = MoneyField(_("first weight cost"), default=0)
    extra_cost_per_kg = MoneyField(_("each further kg"), default=0)
    currency = CurrencyField(_("currency"))
    stuck_after_days = models.PositiveIntegerField(_("stuck after (days)"), default=3)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("carrier account")
        verbose_name_plural = _("carrier accounts")
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="uniq_carrier_account_tenant_code")]

    def __str__(self):
        return f"{self.name} ({self.carrier_code})"


class CarrierRate(TenantScopedModel):
    """A line of the carrier's rate table: provinces it covers and the price by weight."""

    account = models.ForeignKey(CarrierAccount, on_delete=models.CASCADE, related_name="rates",
                                verbose_name=_("carrier account"))
    provinces = models.JSONField(_("provinces"), default=list, blank=True, help_text=_("Empty: everywhere else."))
    first_weight_g = models.PositiveIntegerField(_("first weight (g)"), default=1000)
    first_cost = MoneyField(_("first weight cost"), default=0)
    extra_cost_per_kg = MoneyField(_("each further kg"), default=0)

    class Meta:
        ordering = ["id"]
        verbose_name = _("carrier rate")
        verbose_name_plural = _("carrier rates")


class WaveStatus(models.TextChoices):
    OPEN = "open", _("Picking")
    DONE = "done", _("Done")


class WaveKind(models.TextChoices):
    SINGLE = "single", _("Single-item orders")
    MULTI = "multi", _("Multi-item orders")


class PickWave(TenantScopedModel, TimeStampedModel):
    number = models.CharField(_("number"), max_length=40)
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("warehouse"))
    carrier_code = models.CharField(_("carrier"), max_length=32, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=WaveKind.choices)
    status = models.CharField(_("status"), max_length=10, choices=WaveStatus.choices, default=WaveStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("by"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("pick wave")
        verbose_name_plural = _("pick waves")
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="uniq_wave_tenant_number")]

    def __str__(self):
        return self.number


class ParcelStatus(models.TextChoices):
    PICKING = "picking", _("Picking")
    PACKED = "packed", _("Packed")
    WEIGHED = "weighed", _("Weighed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


class Parcel(TenantScopedModel, TimeStampedModel):
    """One order's parcel: in a wave, packed by scanning, a carrier waybill, weighed, shipped, tracked."""

    order_id = models.BigIntegerField(_("order"))
    order_no = models.CharField(_("order number"), max_length=80, blank=True)
    wave = models.ForeignKey(PickWave, null=True, blank=True, on_delete=models.SET_NULL, related_name="parcels",
                             verbose_name=_("wave"))
    seq = models.PositiveIntegerField(_("position in wave"), default=0)
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("warehouse"))
    account = models.ForeignKey(CarrierAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="parcels",
                                verbose_name=_("carrier account"))
    carrier_code = models.CharField(_("carrier"), max_length=32, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=64, blank=True)
    label = models.JSONField(_("label data"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ParcelStatus.choices, default=ParcelStatus.PICKING)
    expected = models.JSONField(_("expected items"), default=dict, blank=True,
                                help_text=_("{SKU id: quantity} when the wave was made."))
    weight_g = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    freight = MoneyField(_("freight"), null=True, blank=True)
    currency = CurrencyField(_("currency"))
    packed_at = models.DateTimeField(_("packed at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    last_movement_at = models.DateTimeField(_("last movement"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "order_id"], condition=~models.Q(status="cancelled"),
                                    name="uniq_parcel_tenant_open_order"),
            models.UniqueConstraint(fields=["tenant", "carrier_code", "tracking_no"], condition=~models.Q(tracking_no=""),
                                    name="uniq_parcel_tenant_tracking"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "last_movement_at"], name="parcel_t_status_move")]

    def __str__(self):
        return f"{self.order_no} {self.tracking_no}".strip()


class ScanResult(models.TextChoices):
    OK = "ok", _("Accepted")
    REFUSED = "refused", _("Refused")


class ScanRecord(TenantScopedModel):
    """Every scan at the packing station, accepted or refused (append-only)."""

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="scans", verbose_name=_("parcel"))
    code = models.CharField(_("scanned code"), max_length=128)
    sku_id = models.BigIntegerField(_("SKU"), null=True, blank=True)
    result = models.CharField(_("result"), max_length=10, choices=ScanResult.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        indexes = [models.Index(fields=["tenant", "parcel", "result"], name="scan_t_parcel_result")]


class TrackingEvent(TenantScopedModel):
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="tracking", verbose_name=_("parcel"))
    occurred_at = models.DateTimeField(_("at"))
    code = models.CharField(_("event"), max_length=32)
    description = models.CharField(_("description"), max_length=300, blank=True)
    location = models.CharField(_("location"), max_length=100, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        constraints = [models.UniqueConstraint(fields=["tenant", "parcel", "code", "occurred_at"],
                                               name="uniq_tracking_tenant_parcel_event")]


# --- third-party warehouses (WMS, QiMen style) ----------------------------------------------------
class WmsAccount(TenantScopedModel, TimeStampedModel):
    """Makes one of our warehouses a third-party one: its orders go to this WMS (QiMen style) instead
    of our own floor, its confirmations come back on the beat tick, its stock is compared nightly."""

    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("warehouse"))
    wms_warehouse_code = models.CharField(_("WMS warehouse code"), max_length=40)
    owner_code = models.CharField(_("owner code (customerId)"), max_length=64)
    app_key = models.CharField(_("app key"), max_length=64)
    credentials = EncryptedJSONField(_("credentials"), default=dict, blank=True, help_text=_("{\"app_secret\": ...}"))
    api_base_url = models.CharField(_("API base URL"), max_length=200,
                                    help_text=_("The WMS gateway, e.g. the mock platforms server."))
    is_active = models.BooleanField(_("active"), default=True)
    confirm_cursor = models.BigIntegerField(_("last confirmation applied"), default=0)
    last_pull_at = models.DateTimeField(_("last pulled"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("WMS account")
        verbose_name_plural = _("WMS accounts")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="uniq_wms_account_tenant_code"),
            models.UniqueConstraint(fields=["tenant", "warehouse"], name="uniq_wms_account_tenant_warehouse"),
        ]

    def __str__(self):
        return f"{self.name} ({self.owner_code})"


class WmsOrderKind(models.TextChoices):
    DELIVERY = "delivery", _("Outbound (delivery order)")
    ENTRY = "entry", _("Inbound (entry order)")


class WmsOrderStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("At the WMS")
    SHIPPED = "shipped", _("Shipped")
    SHORT = "short", _("Short-shipped")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")
    FAILED = "failed", _("Failed (gave up)")


class WmsOrder(TenantScopedModel, TimeStampedModel):
    """A document sent to a WMS, written in the business transaction and sent by the relay (the
    outbox of the warehouse app): an order's delivery order or an inbound entry order. The
    confirmation is applied once (``confirm_id``); a second copy changes nothing."""

    MAX_ATTEMPTS = 12

    account = models.ForeignKey(WmsAccount, on_delete=models.PROTECT, related_name="orders",
                                verbose_name=_("WMS account"))
    kind = models.CharField(_("kind"), max_length=10, choices=WmsOrderKind.choices, default=WmsOrderKind.DELIVERY)
    code = models.CharField(_("our code"), max_length=64)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=WmsOrderStatus.choices,
                              default=WmsOrderStatus.PENDING)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    lines = models.JSONField(_("planned items"), default=dict, blank=True, help_text=_("{SKU code: units}"))
    actual = models.JSONField(_("actual items"), default=dict, blank=True, help_text=_("{SKU code: units}"))
    wms_order_id = models.CharField(_("WMS order id"), max_length=64, blank=True)
    carrier_code = models.CharField(_("carrier"), max_length=32, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=64, blank=True)
    confirm_id = models.BigIntegerField(_("confirmation id"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("WMS order")
        verbose_name_plural = _("WMS orders")
        constraints = [models.UniqueConstraint(fields=["tenant", "account", "kind", "code"],
                                               name="uniq_wms_order_tenant_account_code")]
        indexes = [models.Index(fields=["tenant", "status", "next_attempt_at"], name="wms_order_t_due"),
                   models.Index(fields=["tenant", "order_id"], name="wms_order_t_order")]

    def __str__(self):
        return self.code


class WmsStockSnapshot(TenantScopedModel):
    """One inventory.query of a WMS compared with our stock levels; only the differences are kept
    as lines. Nothing is changed: an operator decides (stocktake, adjustment)."""

    account = models.ForeignKey(WmsAccount, on_delete=models.CASCADE, related_name="snapshots",
                                verbose_name=_("WMS account"))
    taken_at = models.DateTimeField(_("taken at"), default=timezone.now)
    items = models.PositiveIntegerField(_("items compared"), default=0)
    differences = models.PositiveIntegerField(_("differences"), default=0)

    class Meta:
        ordering = ["-taken_at", "-id"]
        verbose_name = _("WMS stock snapshot")
        verbose_name_plural = _("WMS stock snapshots")
        indexes = [models.Index(fields=["tenant", "account", "taken_at"], name="wms_snap_t_account_at")]


class WmsStockDifference(TenantScopedModel):
    snapshot = models.ForeignKey(WmsStockSnapshot, on_delete=models.CASCADE, related_name="lines",
                                 verbose_name=_("snapshot"))
    sku_id = models.BigIntegerField(_("SKU"), null=True, blank=True)
    sku_code = models.CharField(_("SKU code"), max_length=64)
    ours = models.IntegerField(_("our stock"))
    theirs = models.IntegerField(_("WMS stock"))
    in_flight = models.IntegerField(_("sent, not confirmed"), default=0)

    class Meta:
        ordering = ["sku_code"]
        verbose_name = _("WMS stock difference")
        verbose_name_plural = _("WMS stock differences")

    @property
    def difference(self) -> int:
        return self.theirs - self.ours
