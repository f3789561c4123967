"""Catalog and stock: what we sell (Product/SKU/bundles), where it is (Warehouse/StockLevel), the
append-only ledger (StockMove), reservations, promotion locks, channel sync rules and platform SKU
mappings.

Stock buckets per (warehouse, SKU), all kept by inventory.services in the same transaction as the
ledger row that explains them:

* ``on_hand``   sellable units physically in the warehouse (sum of the moves' ``on_hand_delta``)
* ``reserved``  units promised to open order lines (sum of open Reservations)
* ``locked``    units set aside by active promotion locks for one shop (sum of active locks' remaining)
* ``available`` = on_hand - reserved - locked: what any channel/order may still take
* ``in_transit`` units dispatched by a transfer towards this warehouse, not yet received
* ``defective`` damaged units (次品), not sellable and not part of on_hand

CHECK constraints are the last wall: on_hand >= 0, reserved >= 0, locked >= 0,
reserved + locked <= on_hand, in_transit >= 0, defective >= 0.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.money import CurrencyField, MoneyField
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class CatalogStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
    DISCONTINUED = "discontinued", _("Discontinued")


class Product(TenantScopedModel, TimeStampedModel):
    """A product (SPU): the thing a listing describes; its SKUs are the variants."""

    code = models.CharField(_("product code"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=100, blank=True)
    brand = models.CharField(_("brand"), max_length=100, blank=True)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=CatalogStatus.choices, default=CatalogStatus.ACTIVE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="uniq_product_tenant_code")]
        ordering = ["code"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return f"{self.code} {self.name}"


class SKU(TenantScopedModel, TimeStampedModel):
    """A sellable unit with a merchant code (商家编码), unique per tenant. A bundle SKU (组合装) holds
    no stock of its own: its availability comes from its components and selling it moves theirs."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="skus",
                                verbose_name=_("product"))
    code = models.CharField(_("merchant code"), max_length=64)
    barcode = models.CharField(_("barcode"), max_length=64, blank=True)
    name = models.CharField(_("name"), max_length=200)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True, help_text=_('e.g. {"颜色": "红", "尺码": "M"}'))
    unit_cost = MoneyField(_("unit cost"), default=0)
    currency = CurrencyField(_("currency"))
    weight_grams = models.PositiveIntegerField(_("weight (g)"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=CatalogStatus.choices, default=CatalogStatus.ACTIVE)
    is_bundle = models.BooleanField(_("bundle"), default=False, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="uniq_sku_tenant_code"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="sku_unit_cost_gte_0"),
        ]
        indexes = [models.Index(fields=["tenant", "barcode"], name="inv_sku_tenant_barcode")]
        ordering = ["code"]
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")

    def __str__(self):
        return f"{self.code} {self.name}"


class BundleComponent(TenantScopedModel):
    """One component of a bundle SKU: ``quantity`` units of ``component`` per bundle."""

    bundle = models.ForeignKey(SKU, on_delete=models.CASCADE, related_name="components", verbose_name=_("bundle"))
    component = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="used_in_bundles", verbose_name=_("component"))
    quantity = models.PositiveIntegerField(_("quantity"), default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "bundle", "component"], name="uniq_bundle_component"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="bundle_component_quantity_gte_1"),
            models.CheckConstraint(condition=~Q(bundle=F("component")), name="bundle_component_not_self"),
        ]
        indexes = [models.Index(fields=["tenant", "component"], name="inv_bundle_tenant_component")]
        ordering = ["bundle_id", "component_id"]
        verbose_name = _("bundle component")
        verbose_name_plural = _("bundle components")

    def __str__(self):
        return f"{self.bundle_id}: {self.quantity} × {self.component_id}"


class WarehouseKind(models.TextChoices):
    OWN = "own", _("Own warehouse")
    THIRD_PARTY = "third_party", _("Third-party / WMS")


class Warehouse(TenantScopedModel, TimeStampedModel):
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=WarehouseKind.choices, default=WarehouseKind.OWN)
    wms_provider = models.CharField(_("WMS provider"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    regions = models.JSONField(_("regions served"), default=list, blank=True,
                               help_text=_("Province names this warehouse serves; empty means all."))
    priority = models.IntegerField(_("priority"), default=100, help_text=_("Lower is tried first."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="uniq_warehouse_tenant_code")]
        ordering = ["priority", "code"]
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")

    def __str__(self):
        return f"{self.code} {self.name}"


class StockLevel(TenantScopedModel):
    """Projection of the ledger per (warehouse, SKU); written only by inventory.services."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="levels", verbose_name=_("warehouse"))
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="levels", verbose_name=_("SKU"))
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    locked = models.IntegerField(_("promotion locked"), default=0)
    in_transit = models.IntegerField(_("in transit"), default=0)
    defective = models.IntegerField(_("defective"), default=0)
    version = models.BigIntegerField(default=0, editable=False)
    # Set by every change in the same UPDATE (free on the hot path); the channel-stock claim turns
    # flagged levels into per-(shop, mapping) dirty marks and clears the flag.
    needs_push = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "warehouse", "sku"], name="uniq_stocklevel_tenant_wh_sku"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stocklevel_on_hand_gte_0"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_gte_0"),
            models.CheckConstraint(condition=Q(locked__gte=0), name="stocklevel_locked_gte_0"),
            models.CheckConstraint(condition=Q(on_hand__gte=F("reserved") + F("locked")), name="stocklevel_reserved_locked_lte_on_hand"),
            models.CheckConstraint(condition=Q(in_transit__gte=0), name="stocklevel_in_transit_gte_0"),
            models.CheckConstraint(condition=Q(defective__gte=0), name="stocklevel_defective_gte_0"),
        ]
        indexes = [
            models.Index(fields=["tenant", "sku"], name="inv_level_tenant_sku"),
            models.Index(fields=["tenant", "updated_at"], name="inv_level_tenant_updated"),  # BI changed_since
            models.Index(fields=["tenant", "id"], condition=Q(needs_push=True), name="inv_level_tenant_push"),
        ]
        ordering = ["warehouse_id", "sku_id"]
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")

    def __str__(self):
        return f"{self.warehouse_id}/{self.sku_id}: {self.on_hand}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.locked


class MoveKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt")
    SHIPMENT = "shipment", _("Shipment")
    RETURN = "return", _("Return")
    ADJUSTMENT = "adjustment", _("Adjustment")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
    TRANSFER_IN = "transfer_in", _("Transfer in")
    DEFECTIVE = "defective", _("Defective")


class StockMove(TenantScopedModel):
    """The append-only stock ledger. Each row changes one (warehouse, SKU)'s buckets by its deltas.

    A transfer dispatch writes TRANSFER_OUT at the source (on_hand -q) and TRANSFER_OUT at the
    destination (in_transit +q); the receipt writes TRANSFER_IN at the destination (on_hand +received,
    in_transit -q)."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="moves", verbose_name=_("warehouse"))
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="moves", verbose_name=_("SKU"))
    kind = models.CharField(_("kind"), max_length=20, choices=MoveKind.choices)
    on_hand_delta = models.IntegerField(_("on hand change"), default=0)
    in_transit_delta = models.IntegerField(_("in transit change"), default=0)
    defective_delta = models.IntegerField(_("defective change"), default=0)
    on_hand_after = models.IntegerField(_("on hand after"), default=0)
    reason = models.CharField(_("reason"), max_length=200)
    source_doc = models.CharField(_("source document"), max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("at"), default=timezone.now, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "sku", "created_at"], name="inv_move_tenant_sku_at"),
            models.Index(fields=["tenant", "warehouse", "sku"], name="inv_move_tenant_wh_sku"),
            models.Index(fields=["tenant", "kind", "created_at"], name="inv_move_tenant_kind_at"),
            models.Index(fields=["tenant", "source_doc"], name="inv_move_tenant_doc"),
        ]
        ordering = ["-created_at", "-id"]
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")

    def __str__(self):
        return f"{self.get_kind_display()} {self.sku_id}@{self.warehouse_id} {self.on_hand_delta:+d}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Stock moves are append-only; write a correcting move instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Stock moves are append-only; write a correcting move instead.")


class ReservationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RELEASED = "released", _("Released")
    COMMITTED = "committed", _("Committed (shipped)")


class Reservation(TenantScopedModel):
    """Stock promised to one reference (an order line). A bundle line holds one row per component
    (``sku`` is the component, ``bundle`` the SKU that was ordered). ``from_lock`` units came from a
    promotion lock of ``shop``."""

    ref_type = models.CharField(_("reference type"), max_length=40)
    ref_id = models.CharField(_("reference"), max_length=64)
    # Few indexes on purpose (every one costs on the reservation hot path): the unique constraint
    # serves the lookups by reference.
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+", verbose_name=_("warehouse"),
                                  db_index=False)
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="reservations", verbose_name=_("SKU"), db_index=False)
    bundle = models.ForeignKey(SKU, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("bundle"),
                               db_index=False)
    quantity = models.PositiveIntegerField(_("quantity"))
    requested = models.PositiveIntegerField(_("requested quantity"), default=0,
                                            help_text=_("Units of the ordered SKU (the bundle count for bundles)."))
    status = models.CharField(_("status"), max_length=12, choices=ReservationStatus.choices, default=ReservationStatus.OPEN)
    lock = models.ForeignKey("StockLock", on_delete=models.PROTECT, null=True, blank=True, related_name="reservations",
                             db_index=False)
    from_lock = models.PositiveIntegerField(_("from promotion lock"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "ref_type", "ref_id", "sku", "warehouse"], name="uniq_reservation_ref_sku_wh"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="reservation_quantity_gte_1"),
            models.CheckConstraint(condition=Q(from_lock__lte=F("quantity")), name="reservation_from_lock_lte_quantity"),
        ]
        ordering = ["-id"]
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")

    def __str__(self):
        return f"{self.ref_type}:{self.ref_id} {self.quantity} × {self.sku_id} ({self.status})"


class LockStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    ACTIVE = "active", _("Active")
    ENDED = "ended", _("Ended")
    CANCELLED = "cancelled", _("Cancelled")


class StockLock(TenantScopedModel, TimeStampedModel):
    """A promotion lock (活动锁库存): ``quantity`` units of a SKU in one warehouse set aside for one
    shop from ``starts_at`` to ``ends_at``. While active, ``remaining`` units count in the level's
    ``locked`` bucket, so no other shop and no order without this shop can take them; the shop's own
    reservations use them first (``used``). At the end the remaining units return (``released``)."""

    name = models.CharField(_("campaign"), max_length=200)
    shop = models.ForeignKey("integrations.Shop", on_delete=models.PROTECT, related_name="+", verbose_name=_("shop"))
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+", verbose_name=_("warehouse"))
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="locks", verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("quantity"))
    locked_quantity = models.PositiveIntegerField(_("quantity actually locked"), default=0)
    remaining = models.PositiveIntegerField(_("remaining"), default=0)
    used = models.PositiveIntegerField(_("used by orders"), default=0)
    released = models.PositiveIntegerField(_("returned"), default=0)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(_("status"), max_length=12, choices=LockStatus.choices, default=LockStatus.SCHEDULED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    promotion = models.ForeignKey("Promotion", on_delete=models.PROTECT, null=True, blank=True, related_name="locks",
                                  verbose_name=_("promotion"))

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="stocklock_quantity_gte_1"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="stocklock_ends_after_start"),
            models.CheckConstraint(condition=Q(remaining__lte=F("locked_quantity")), name="stocklock_remaining_lte_locked"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "ends_at"], name="inv_lock_tenant_status_end"),
            models.Index(fields=["tenant", "shop", "sku", "status"], name="inv_lock_tenant_shop_sku"),
        ]
        ordering = ["-starts_at", "-id"]
        verbose_name = _("promotion stock lock")
        verbose_name_plural = _("promotion stock locks")

    def __str__(self):
        return f"{self.name}: {self.quantity} × {self.sku_id} for shop {self.shop_id}"


class Promotion(TenantScopedModel, TimeStampedModel):
    """A promotion (campaign, 活动): shops, SKUs and a time window. Orders of its shops with its SKUs
    paid inside the window are attributed to it (its SKUs' lines); it owns the stock locks made for
    it. ``spend`` is what the campaign cost beyond the order discounts (ads, fees for the slot, gifts)."""

    name = models.CharField(_("name"), max_length=200)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    spend = MoneyField(_("spend"), default=0, help_text=_("Campaign cost beyond order discounts (ads, slot fees)."))
    currency = CurrencyField(_("currency"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    shops = models.ManyToManyField("integrations.Shop", through="PromotionShop", related_name="+", verbose_name=_("shops"))
    skus = models.ManyToManyField(SKU, through="PromotionSKU", related_name="promotions", verbose_name=_("SKUs"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="promotion_ends_after_start"),
            models.CheckConstraint(condition=Q(spend__gte=0), name="promotion_spend_gte_0"),
        ]
        indexes = [models.Index(fields=["tenant", "-starts_at"], name="inv_promo_tenant_start")]
        ordering = ["-starts_at", "-id"]
        verbose_name = _("promotion")
        verbose_name_plural = _("promotions")

    def __str__(self):
        return self.name


class PromotionShop(TenantScopedModel):
    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="promotion_shops")
    shop = models.ForeignKey("integrations.Shop", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "promotion", "shop"], name="uniq_promotion_shop")]
        verbose_name = _("promotion shop")

    def __str__(self):
        return f"{self.promotion_id}->{self.shop_id}"


class PromotionSKU(TenantScopedModel):
    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="promotion_skus")
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "promotion", "sku"], name="uniq_promotion_sku")]
        indexes = [models.Index(fields=["tenant", "sku"], name="inv_promosku_tenant_sku")]
        verbose_name = _("promotion SKU")

    def __str__(self):
        return f"{self.promotion_id}->{self.sku_id}"


class LockEventKind(models.TextChoices):
    LOCK = "lock", _("Locked")
    USE = "use", _("Used by an order")
    UNUSE = "unuse", _("Returned by a cancelled order")
    RELEASE = "release", _("Released at the end")
    CANCEL = "cancel", _("Cancelled")
    SHORT = "short", _("Could not lock everything")


class StockLockEvent(TenantScopedModel):
    """Audit trail of a promotion lock: every lock, use, return and release."""

    lock = models.ForeignKey(StockLock, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=10, choices=LockEventKind.choices)
    quantity = models.IntegerField(_("quantity"))
    ref_type = models.CharField(max_length=40, blank=True)
    ref_id = models.CharField(max_length=64, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "lock"], name="inv_lockevent_tenant_lock")]
        ordering = ["id"]
        verbose_name = _("stock lock event")
        verbose_name_plural = _("stock lock events")

    def __str__(self):
        return f"{self.lock_id} {self.kind} {self.quantity}"


class TransferStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_TRANSIT = "in_transit", _("In transit")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class Transfer(TenantScopedModel, TimeStampedModel):
    number = models.CharField(_("number"), max_length=40)
    from_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+", verbose_name=_("from"))
    to_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+", verbose_name=_("to"))
    status = models.CharField(_("status"), max_length=12, choices=TransferStatus.choices, default=TransferStatus.DRAFT)
    note = models.CharField(_("note"), max_length=300, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="uniq_transfer_tenant_number"),
            models.CheckConstraint(condition=~Q(from_warehouse=F("to_warehouse")), name="transfer_distinct_warehouses"),
        ]
        ordering = ["-id"]
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")

    def __str__(self):
        return self.number


class TransferLine(TenantScopedModel):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("quantity"))
    received_quantity = models.PositiveIntegerField(_("received"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "transfer", "sku"], name="uniq_transferline_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="transferline_quantity_gte_1"),
        ]
        ordering = ["id"]

    def __str__(self):
        return f"{self.transfer_id}: {self.quantity} × {self.sku_id}"


class StocktakeStatus(models.TextChoices):
    OPEN = "open", _("Counting")
    POSTED = "posted", _("Posted")
    CANCELLED = "cancelled", _("Cancelled")


class Stocktake(TenantScopedModel, TimeStampedModel):
    """A count sheet (盘点单) of one warehouse; posting writes adjustment moves for every variance."""

    number = models.CharField(_("number"), max_length=40)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+", verbose_name=_("warehouse"))
    status = models.CharField(_("status"), max_length=12, choices=StocktakeStatus.choices, default=StocktakeStatus.OPEN)
    note = models.CharField(_("note"), max_length=300, blank=True)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="uniq_stocktake_tenant_number")]
        ordering = ["-id"]
        verbose_name = _("stocktake")
        verbose_name_plural = _("stocktakes")

    def __str__(self):
        return self.number


class StocktakeLine(TenantScopedModel):
    stocktake = models.ForeignKey(Stocktake, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    expected = models.IntegerField(_("expected (book)"), default=0)
    counted = models.IntegerField(_("counted"), null=True, blank=True)
    variance = models.IntegerField(_("variance"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "stocktake", "sku"], name="uniq_stocktakeline_sku"),
            models.CheckConstraint(condition=Q(counted__isnull=True) | Q(counted__gte=0), name="stocktakeline_counted_gte_0"),
        ]
        ordering = ["id"]

    def __str__(self):
        return f"{self.stocktake_id}: {self.sku_id}"


class SyncRule(TenantScopedModel, TimeStampedModel):
    """How a shop's sellable stock is computed: from which warehouses (none listed: every active
    warehouse), a percentage of available, plus/minus, safety stock, minimum and maximum."""

    shop = models.ForeignKey("integrations.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("shop"))
    warehouses = models.ManyToManyField(Warehouse, through="SyncRuleWarehouse", blank=True, related_name="+",
                                        verbose_name=_("warehouses"))
    percentage = models.PositiveSmallIntegerField(_("percentage of available"), default=100)
    adjust = models.IntegerField(_("plus/minus"), default=0)
    safety_stock = models.PositiveIntegerField(_("safety stock"), default=0)
    min_quantity = models.PositiveIntegerField(_("minimum"), null=True, blank=True,
                                               help_text=_("Show at least this many while any stock is available."))
    max_quantity = models.PositiveIntegerField(_("maximum"), null=True, blank=True)
    auto_delist = models.BooleanField(_("auto delist at zero"), default=True)
    is_active = models.BooleanField(_("sync enabled"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shop"], name="uniq_syncrule_tenant_shop"),
            models.CheckConstraint(condition=Q(percentage__lte=100), name="syncrule_percentage_lte_100"),
            models.CheckConstraint(
                condition=Q(min_quantity__isnull=True) | Q(max_quantity__isnull=True) | Q(min_quantity__lte=F("max_quantity")),
                name="syncrule_min_lte_max",
            ),
        ]
        ordering = ["shop_id"]
        verbose_name = _("stock sync rule")
        verbose_name_plural = _("stock sync rules")

    def __str__(self):
        return f"sync rule of shop {self.shop_id}"


class SyncRuleWarehouse(TenantScopedModel):
    rule = models.ForeignKey(SyncRule, on_delete=models.CASCADE, related_name="rule_warehouses")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "rule", "warehouse"], name="uniq_syncrule_warehouse")]
        indexes = [models.Index(fields=["tenant", "warehouse"], name="inv_rulewh_tenant_wh")]
        verbose_name = _("sync rule warehouse")

    def __str__(self):
        return f"{self.rule_id}->{self.warehouse_id}"


class MatchMethod(models.TextChoices):
    NONE = "none", _("Unmatched")
    AUTO = "auto", _("By merchant code")
    MANUAL = "manual", _("By hand")


class PlatformSkuMapping(TenantScopedModel, TimeStampedModel):
    """(shop, platform item id, platform SKU id) -> our SKU. ``sku`` is empty while unmatched: such
    rows are the operators' queue, never silently dropped."""

    shop = models.ForeignKey("integrations.Shop", on_delete=models.CASCADE, related_name="+", verbose_name=_("shop"))
    platform_item_id = models.CharField(_("platform item id"), max_length=64)
    platform_sku_id = models.CharField(_("platform SKU id"), max_length=64, blank=True)
    outer_id = models.CharField(_("outer id (merchant code)"), max_length=64, blank=True)
    title = models.CharField(_("platform title"), max_length=300, blank=True)
    sku = models.ForeignKey(SKU, on_delete=models.PROTECT, null=True, blank=True, related_name="mappings", verbose_name=_("SKU"))
    match_method = models.CharField(_("matched"), max_length=10, choices=MatchMethod.choices, default=MatchMethod.NONE)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shop", "platform_item_id", "platform_sku_id"], name="uniq_mapping_platform_sku"),
        ]
        indexes = [
            models.Index(fields=["tenant", "sku"], name="inv_mapping_tenant_sku"),
            models.Index(fields=["tenant", "shop", "match_method"], name="inv_mapping_tenant_shop_m"),
        ]
        ordering = ["shop_id", "platform_item_id", "platform_sku_id"]
        verbose_name = _("platform SKU mapping")
        verbose_name_plural = _("platform SKU mappings")

    def __str__(self):
        return f"{self.shop_id}:{self.platform_item_id}/{self.platform_sku_id} -> {self.sku_id or '?'}"


class StockDirty(TenantScopedModel):
    """A mapping whose shown stock may have changed since the last push. Every change bumps
    ``version``; an acknowledgement clears ``dirty`` only for the version that was pushed."""

    shop = models.ForeignKey("integrations.Shop", on_delete=models.CASCADE, related_name="+")
    mapping = models.ForeignKey(PlatformSkuMapping, on_delete=models.CASCADE, related_name="+")
    version = models.BigIntegerField(default=1)
    dirty = models.BooleanField(default=True)
    changed_at = models.DateTimeField()
    pushed_at = models.DateTimeField(null=True, blank=True)
    pushed_version = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "mapping"], name="uniq_stockdirty_mapping")]
        indexes = [models.Index(fields=["tenant", "shop", "dirty"], name="inv_dirty_tenant_shop")]
        verbose_name = _("dirty channel stock")
        verbose_name_plural = _("dirty channel stock")

    def __str__(self):
        return f"{self.mapping_id} v{self.version} {'dirty' if self.dirty else 'clean'}"
