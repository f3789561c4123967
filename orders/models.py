"""Orders: the ERP's order (one platform order, a merge of several, or a split part of one), its
lines, the timeline of everything that happened to it, and the per-tenant automation settings.

Other apps' rows are referenced by id only (``sku_id``, ``warehouse_id``): orders talks to
inventory through its services and selectors, never through its tables.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.money import CurrencyField, MoneyField
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class OrderStatus(models.TextChoices):
    PENDING_REVIEW = "pending_review", _("Pending review")
    ON_HOLD = "on_hold", _("On hold")
    APPROVED = "approved", _("Approved")
    ALLOCATED = "allocated", _("Allocated")
    PICKING = "picking", _("Picking")
    SHIPPED = "shipped", _("Shipped")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    CLOSED = "closed", _("Closed")


class HoldReason(models.TextChoices):
    # set and cleared by the platform's own state (an operator cannot release them)
    UNPAID = "unpaid", _("Not paid yet")
    PRESALE_UNPAID = "presale_unpaid", _("Presale not fully paid")
    PLATFORM_BLOCKED = "platform_blocked", _("Platform says do not ship")
    REFUND = "refund", _("Refund requested")
    # set by the review rules
    BUYER_MESSAGE = "buyer_message", _("Buyer remark")
    SELLER_MEMO = "seller_memo", _("Seller remark")
    UNMATCHED_SKU = "unmatched_sku", _("Unmatched SKU")
    INCOMPLETE_ADDRESS = "incomplete_address", _("Incomplete address")
    AMOUNT = "amount", _("Amount over threshold")
    BLACKLIST = "blacklist", _("Blacklisted buyer or address")
    RISK = "risk", _("Suspected risk")
    # set by an operator
    MANUAL = "manual", _("Held by an operator")


_HOLD_ORDER = tuple(HoldReason.values)
PLATFORM_HOLDS = frozenset({HoldReason.UNPAID, HoldReason.PRESALE_UNPAID, HoldReason.PLATFORM_BLOCKED, HoldReason.REFUND})


class OrderKind(models.TextChoices):
    PLATFORM = "platform", _("Platform order")
    MERGED = "merged", _("Merged shipment")
    SPLIT = "split", _("Split part")
    RESHIP = "reship", _("Reshipment")


class Order(TenantScopedModel, TimeStampedModel):
    shop = models.ForeignKey("integrations.Shop", on_delete=models.PROTECT, related_name="+", verbose_name=_("shop"))
    platform = models.CharField(_("platform"), max_length=10)
    platform_order_id = models.CharField(_("platform order id"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=OrderKind.choices, default=OrderKind.PLATFORM)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_sources",
                                    verbose_name=_("merged into"))
    split_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="split_parts",
                                   verbose_name=_("split from"))

    buyer_id = models.CharField(_("buyer"), max_length=128, blank=True)
    buyer_level = models.SmallIntegerField(_("member level"), default=0)
    buyer_message = models.TextField(_("buyer remark"), blank=True)
    seller_memo = models.TextField(_("seller remark"), blank=True)
    seller_flag = models.SmallIntegerField(_("seller flag"), default=0)
    operator_note = models.TextField(_("operator note"), blank=True)

    receiver_name = models.CharField(_("receiver"), max_length=128, blank=True)
    receiver_phone = models.CharField(_("phone"), max_length=64, blank=True)
    receiver_province = models.CharField(_("province"), max_length=64, blank=True)
    receiver_city = models.CharField(_("city"), max_length=64, blank=True)
    receiver_district = models.CharField(_("district"), max_length=64, blank=True)
    receiver_address = models.CharField(_("address"), max_length=500, blank=True)
    receiver_merge_key = models.CharField(_("platform merge key"), max_length=128, blank=True)
    address_hash = models.CharField(_("receiver hash"), max_length=40, blank=True,
                                    help_text=_("Same receiver and address (or same platform merge key)."))
    place_hash = models.CharField(_("address hash"), max_length=40, blank=True,
                                  help_text=_("Same delivery place, whoever the receiver is."))

    currency = CurrencyField(_("currency"))
    goods_amount = MoneyField(_("goods"), default=0)
    discount_amount = MoneyField(_("discounts"), default=0)
    freight_amount = MoneyField(_("freight"), default=0)
    paid_amount = MoneyField(_("paid"), default=0)

    is_presale = models.BooleanField(_("presale"), default=False)
    presale_fully_paid = models.BooleanField(_("presale fully paid"), default=True)
    ship_blocked_reason = models.CharField(_("platform ship block"), max_length=64, blank=True)

    platform_state = models.CharField(_("platform state"), max_length=20, blank=True)
    platform_status = models.CharField(_("platform status"), max_length=64, blank=True)
    platform_created_at = models.DateTimeField(_("ordered at"), null=True, blank=True)
    platform_modified_at = models.DateTimeField(_("platform modified at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    ship_by = models.DateTimeField(_("ship by"), null=True, blank=True)

    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_REVIEW)
    previous_status = models.CharField(_("previous status"), max_length=20, blank=True)
    hold_reasons = models.CharField(_("hold reasons"), max_length=255, blank=True,
                                    help_text=_("Comma-delimited, with a comma at each end (\",amount,risk,\")."))

    source_ref = models.CharField(_("source"), max_length=64, blank=True,
                                  help_text=_("What made this order when no platform did (e.g. an after-sales case)."))
    warehouse_id = models.BigIntegerField(_("warehouse"), null=True, blank=True)
    carrier_code = models.CharField(_("carrier"), max_length=32, blank=True)
    tracking_no = models.CharField(_("tracking number"), max_length=64, blank=True)
    free_shipping = models.BooleanField(_("free shipping"), default=False,
                                        help_text=_("A member benefit: the seller bears the freight."))
    out_of_stock_since = models.DateTimeField(_("out of stock since"), null=True, blank=True)
    allocated_at = models.DateTimeField(_("allocated at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)

    line_count = models.PositiveIntegerField(_("lines"), default=0)
    total_quantity = models.PositiveIntegerField(_("quantity"), default=0)
    weight_g = models.PositiveIntegerField(_("weight (g)"), default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "shop", "platform_order_id"], condition=models.Q(kind="platform"),
                                    name="uniq_order_tenant_shop_platform_id"),
            models.UniqueConstraint(fields=["tenant", "source_ref"], condition=~models.Q(source_ref=""),
                                    name="uniq_order_tenant_source_ref"),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="order_t_id"),  # the list's default order (keyset on id)
            models.Index(fields=["tenant", "status", "-id"], name="order_t_status_id"),
            models.Index(fields=["tenant", "shop", "-id"], name="order_t_shop_id"),
            models.Index(fields=["tenant", "platform_order_id"], name="order_t_poid"),
            models.Index(fields=["tenant", "buyer_id"], name="order_t_buyer"),
            models.Index(fields=["tenant", "address_hash", "status"], name="order_t_addr_status"),
            models.Index(fields=["tenant", "place_hash", "created_at"], name="order_t_place_created"),
            models.Index(fields=["tenant", "paid_at"], name="order_t_paid"),
            models.Index(fields=["tenant", "platform_created_at"], name="order_t_pcreated"),
            models.Index(fields=["tenant", "tracking_no"], name="order_t_tracking"),
            models.Index(fields=["tenant", "created_at"], name="order_t_created"),
            models.Index(fields=["tenant", "updated_at"], name="order_t_updated"),  # BI changed_since, repair
            models.Index(fields=["tenant", "shipped_at"], name="order_t_shipped",
                         condition=models.Q(shipped_at__isnull=False)),
            models.Index(fields=["tenant", "out_of_stock_since"], name="order_t_oos",
                         condition=models.Q(out_of_stock_since__isnull=False)),
        ]

    def __str__(self):
        return self.platform_order_id or f"#{self.pk}"

    @property
    def hold_reason_list(self) -> list[str]:
        return [r for r in self.hold_reasons.split(",") if r]

    @property
    def hold_reason_labels(self) -> list[tuple[str, str]]:
        """(code, translated label) of each hold reason, for pages."""
        labels = dict(HoldReason.choices)
        return [(r, labels.get(r, r)) for r in self.hold_reason_list]

    def set_hold_reasons(self, reasons) -> None:
        wanted = set(reasons)
        ordered = [r for r in _HOLD_ORDER if r in wanted] if wanted else ()
        self.hold_reasons = f",{','.join(ordered)}," if ordered else ""

    @property
    def display_no(self) -> str:
        if self.kind == OrderKind.MERGED:
            return f"M{self.pk}"
        if self.kind == OrderKind.SPLIT:
            return f"{self.platform_order_id}-S{self.pk}"
        if self.kind == OrderKind.RESHIP:
            return f"{self.platform_order_id}-R{self.pk}"
        return self.platform_order_id


class RefundState(models.TextChoices):
    NONE = "", _("None")
    REQUESTED = "requested", _("Refund requested")
    REFUNDED = "refunded", _("Refunded")
    CLOSED = "closed", _("Refund closed")


class OrderLine(TenantScopedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    origin_order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="origin_lines",
                                     verbose_name=_("platform order"))
    platform_order_id = models.CharField(_("platform order id"), max_length=64, blank=True)
    platform_line_id = models.CharField(_("platform line id"), max_length=64, blank=True)
    platform_item_id = models.CharField(_("platform item id"), max_length=64, blank=True)
    platform_sku_id = models.CharField(_("platform SKU id"), max_length=64, blank=True)
    outer_id = models.CharField(_("merchant code"), max_length=128, blank=True)
    title = models.CharField(_("title"), max_length=300, blank=True)
    sku_properties = models.CharField(_("SKU properties"), max_length=300, blank=True)
    sku_id = models.BigIntegerField(_("SKU"), null=True, blank=True)
    sku_code = models.CharField(_("SKU code"), max_length=128, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    price = MoneyField(_("unit price"), default=0)
    discount = MoneyField(_("discount"), default=0)
    paid = MoneyField(_("paid"), default=0)
    is_presale = models.BooleanField(_("presale"), default=False)
    weight_g = models.PositiveIntegerField(_("unit weight (g)"), default=0)
    refund_state = models.CharField(_("refund"), max_length=12, choices=RefundState.choices, blank=True, default="")
    refund_version = models.BigIntegerField(_("refund version"), default=-1)
    platform_refund_id = models.CharField(_("platform refund id"), max_length=64, blank=True)
    is_stopped = models.BooleanField(_("stopped"), default=False, help_text=_("Cancelled or refunded before shipment."))
    warehouse_id = models.BigIntegerField(_("warehouse"), null=True, blank=True)
    is_reserved = models.BooleanField(_("stock reserved"), default=False)
    is_committed = models.BooleanField(_("stock committed"), default=False)
    is_gift = models.BooleanField(_("gift"), default=False, help_text=_("Added free by a member benefit."))

    class Meta:
        ordering = ["id"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        indexes = [
            models.Index(fields=["tenant", "order"], name="oline_t_order"),
            models.Index(fields=["tenant", "origin_order", "platform_line_id"], name="oline_t_origin_line"),
            models.Index(fields=["tenant", "sku_id"], name="oline_t_sku"),
            models.Index(fields=["tenant", "platform_order_id"], name="oline_t_poid"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gt=0), name="oline_quantity_positive")]

    def __str__(self):
        return f"{self.title or self.outer_id} × {self.quantity}"


class BenefitKind(models.TextChoices):
    FREE_SHIPPING = "free_shipping", _("Free shipping (level)")
    PRIORITY_SHIPPING = "priority_shipping", _("Priority shipping (level)")
    LEVEL_DISCOUNT = "level_discount", _("Level discount")
    LEVEL_GIFT = "level_gift", _("Gift of the level")
    POINTS_GIFT = "points_gift", _("Gift bought with points")


class OrderBenefit(TenantScopedModel):
    """A member benefit applied to an order by the review (once: ``key`` is unique per order), with
    the member, its level or the gift entitlement behind it and the gift line it added."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="benefits", verbose_name=_("order"))
    kind = models.CharField(_("kind"), max_length=20, choices=BenefitKind.choices)
    key = models.CharField(_("key"), max_length=64)
    member_id = models.BigIntegerField(_("member"))
    level_rank = models.PositiveSmallIntegerField(_("level rank"), default=0)
    level_name = models.CharField(_("level"), max_length=50, blank=True)
    entitlement_id = models.BigIntegerField(_("gift entitlement"), null=True, blank=True)
    line = models.ForeignKey(OrderLine, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("gift line"))
    amount = MoneyField(_("value"), default=0)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("applied at"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order benefit")
        verbose_name_plural = _("order benefits")
        constraints = [models.UniqueConstraint(fields=["tenant", "order", "key"], name="uniq_orderbenefit_t_order_key")]
        indexes = [models.Index(fields=["tenant", "member_id"], name="obenefit_t_member")]

    def __str__(self):
        return f"{self.kind}: {self.detail}"


class EventKind(models.TextChoices):
    STATUS = "status", _("Status change")
    RULE = "rule", _("Rule decision")
    ACTION = "action", _("Operator action")
    PLATFORM = "platform", _("Platform update")
    SYSTEM = "system", _("System")


class OrderEvent(TenantScopedModel):
    """The order's timeline: every status change, rule decision and operator action, with who and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=10, choices=EventKind.choices)
    code = models.CharField(_("code"), max_length=40, blank=True)
    from_status = models.CharField(_("from"), max_length=20, blank=True, choices=OrderStatus.choices)
    to_status = models.CharField(_("to"), max_length=20, blank=True, choices=OrderStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by"))
    actor_label = models.CharField(_("by"), max_length=150, blank=True, default="system")
    message = models.CharField(_("why"), max_length=1000, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        indexes = [models.Index(fields=["tenant", "order", "id"], name="oevent_t_order_id")]

    def __str__(self):
        return f"{self.kind}: {self.message}"

    @property
    def from_label(self) -> str:
        return self.get_from_status_display() if self.from_status else ""

    @property
    def to_label(self) -> str:
        return self.get_to_status_display() if self.to_status else ""


class OrderSettings(TenantScopedModel):
    """One row per tenant: which automation steps run and their thresholds."""

    auto_review = models.BooleanField(_("auto review"), default=True)
    hold_on_buyer_message = models.BooleanField(_("hold on buyer remark"), default=True)
    hold_on_seller_memo = models.BooleanField(_("hold on seller remark"), default=True)
    hold_amount_over = MoneyField(_("hold when paid over"), null=True, blank=True, default=None,
                                  help_text=_("Empty: no amount limit."))
    risk_orders_per_address = models.PositiveIntegerField(
        _("risk: orders to one address"), default=5, help_text=_("Hold when this many orders go to one address within the window. 0 = off."))
    risk_window_hours = models.PositiveIntegerField(_("risk window (hours)"), default=24)
    auto_merge = models.BooleanField(_("auto merge"), default=True)
    merge_across_shops = models.BooleanField(_("merge across shops of one platform"), default=False)
    merge_window_hours = models.PositiveIntegerField(_("merge window (hours)"), default=48)
    auto_allocate = models.BooleanField(_("auto allocate"), default=True)
    split_by_stock = models.BooleanField(_("split by warehouse stock"), default=True)
    split_presale = models.BooleanField(_("split presale lines"), default=True)
    default_weight_g = models.PositiveIntegerField(_("default item weight (g)"), default=500)
    default_carrier_code = models.CharField(_("default carrier"), max_length=32, default="MOCK")

    class Meta:
        verbose_name = _("order settings")
        verbose_name_plural = _("order settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uniq_ordersettings_tenant")]

    def __str__(self):
        return str(_("Order settings"))


class BlacklistKind(models.TextChoices):
    BUYER = "buyer", _("Buyer")
    ADDRESS = "address", _("Address")
    PHONE = "phone", _("Phone")


class BlacklistEntry(TenantScopedModel, TimeStampedModel):
    kind = models.CharField(_("kind"), max_length=10, choices=BlacklistKind.choices)
    value = models.CharField(_("value"), max_length=500, help_text=_("Buyer id, phone, or the full address."))
    match_key = models.CharField(_("match key"), max_length=128, editable=False)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("blacklist entry")
        verbose_name_plural = _("blacklist")
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "match_key"], name="uniq_blacklist_tenant_kind_key")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.value}"

    def save(self, *args, **kwargs):
        from .addressing import blacklist_key

        self.match_key = blacklist_key(self.kind, self.value)
        super().save(*args, **kwargs)


class CarrierRule(TenantScopedModel):
    """A carrier offer: which regions, weights (and warehouse) it takes, and what it costs.
    The cheapest matching rule wins; ties go to the lower priority number."""

    name = models.CharField(_("name"), max_length=100)
    carrier_code = models.CharField(_("carrier code"), max_length=32)
    provinces = models.JSONField(_("provinces"), default=list, blank=True, help_text=_("Empty: everywhere."))
    warehouse_id = models.BigIntegerField(_("warehouse"), null=True, blank=True, help_text=_("Empty: any warehouse."))
    min_weight_g = models.PositiveIntegerField(_("from weight (g)"), default=0)
    max_weight_g = models.PositiveIntegerField(_("up to weight (g)"), null=True, blank=True)
    first_weight_g = models.PositiveIntegerField(_("first weight (g)"), default=1000)
    first_cost = MoneyField(_("first weight cost"), default=0)
    extra_cost_per_kg = MoneyField(_("each further kg"), default=0)
    priority = models.IntegerField(_("priority"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = _("carrier rule")
        verbose_name_plural = _("carrier rules")

    def __str__(self):
        return f"{self.name} ({self.carrier_code})"


class Waybill(TenantScopedModel, TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="waybills", verbose_name=_("order"))
    carrier_code = models.CharField(_("carrier"), max_length=32)
    tracking_no = models.CharField(_("tracking number"), max_length=64)
    warehouse_id = models.BigIntegerField(_("warehouse"), null=True, blank=True)
    weight_g = models.PositiveIntegerField(_("weight (g)"), default=0)
    cost = MoneyField(_("estimated cost"), default=0)

    class Meta:
        verbose_name = _("waybill")
        verbose_name_plural = _("waybills")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "carrier_code", "tracking_no"], name="uniq_waybill_tenant_tracking"),
            models.UniqueConstraint(fields=["tenant", "order"], name="uniq_waybill_tenant_order"),
        ]

    def __str__(self):
        return f"{self.carrier_code} {self.tracking_no}"


class BulkJobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class BulkJob(TenantScopedModel):
    """One operator action on many orders, run in the background in chunks (orders.services.bulk_job_*).

    ``results`` holds {order id: "ok" | the reason it was refused} for every processed order;
    ``pending`` holds the outcomes of the chunk in progress, each written in the same transaction
    as its order's change, so a worker killed mid-chunk loses and repeats nothing. ``lease`` names
    the task run working on the job and ``heartbeat_at`` its last sign of life: a run finding a
    fresh lease of another run leaves the job alone; a stale one is taken over and continued."""

    action = models.CharField(_("action"), max_length=20)
    why = models.CharField(_("why"), max_length=500, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("requested by"))
    order_ids = models.JSONField(_("orders"), default=list)
    status = models.CharField(_("status"), max_length=10, choices=BulkJobStatus.choices, default=BulkJobStatus.QUEUED)
    total = models.PositiveIntegerField(_("orders"), default=0)
    ok_count = models.PositiveIntegerField(_("done"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    results = models.JSONField(_("results"), default=dict)
    pending = models.JSONField(default=dict)
    error = models.TextField(_("error"), blank=True)
    lease = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("bulk job")
        verbose_name_plural = _("bulk jobs")
        indexes = [
            models.Index(fields=["tenant", "-id"], name="bulkjob_t_id"),
            models.Index(fields=["tenant", "status", "heartbeat_at"], name="bulkjob_t_status_beat"),
        ]

    def __str__(self):
        return f"{self.action} × {self.total} ({self.status})"

    @property
    def processed(self) -> int:
        return self.ok_count + self.failed_count

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.processed * 100 // self.total)

    @property
    def is_finished(self) -> bool:
        return self.status in (BulkJobStatus.DONE, BulkJobStatus.FAILED)
