"""Purchasing (采购): suppliers and what each supplies (price, MOQ, case pack, lead time), purchase
orders with their lines and timeline, goods receipts (and returns to the supplier), reorder
suggestions and the per-tenant purchasing settings.

Stock and SKU costs belong to inventory: purchasing changes them only through inventory.services
(stock_receive, stock_adjust, sku_cost_update_on_receipt). Status changes go through
purchasing.services, which record every one of them as a PurchaseOrderEvent (who, why).
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from erp.money import CurrencyField, MoneyField
from erp.tenancy.dates import tenant_today
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class PurchasingSettings(TenantScopedModel):
    """One row per tenant: receiving tolerance and the planning parameters."""

    over_receipt_tolerance_percent = models.DecimalField(
        _("over-receipt tolerance (%)"), max_digits=5, decimal_places=2, default=Decimal("0"),
        help_text=_("A line may receive at most its quantity plus this percentage (rounded down). 0: never more."))
    review_period_days = models.PositiveIntegerField(_("review period (days)"), default=7,
                                                     help_text=_("How often purchases are planned; the order covers it."))
    service_level_z = models.DecimalField(_("service level (z)"), max_digits=4, decimal_places=2, default=Decimal("1.65"),
                                          help_text=_("1.28 ≈ 90%, 1.65 ≈ 95%, 2.33 ≈ 99% of cycles without a stock-out."))
    history_days = models.PositiveIntegerField(_("recent history (days)"), default=56,
                                               help_text=_("Days of recent sales the demand is measured on."))
    default_lead_time_days = models.PositiveIntegerField(_("default lead time (days)"), default=14,
                                                         help_text=_("For SKUs without a supplier item."))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="uniq_purchasingsettings_tenant"),
            models.CheckConstraint(condition=Q(over_receipt_tolerance_percent__gte=0), name="purch_settings_tolerance_gte_0"),
            models.CheckConstraint(condition=Q(history_days__gte=7), name="purch_settings_history_gte_7"),
        ]
        verbose_name = _("purchasing settings")
        verbose_name_plural = _("purchasing settings")

    def __str__(self):
        return str(_("purchasing settings"))


class Supplier(TenantScopedModel, TimeStampedModel):
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    phone = models.CharField(pgettext_lazy("purchasing", "phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    payment_terms_days = models.PositiveIntegerField(_("payment terms (days)"), default=30)
    currency = CurrencyField(_("currency"))
    is_active = models.BooleanField(_("active"), default=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="uniq_supplier_tenant_code")]
        ordering = ["code"]
        verbose_name = _("supplier")
        verbose_name_plural = _("suppliers")

    def __str__(self):
        return f"{self.code} {self.name}"


class SupplierItem(TenantScopedModel, TimeStampedModel):
    """What a supplier sells us of one SKU: their code, price, minimum order, case pack, lead time.
    At most one preferred supplier per SKU (planning orders from it)."""

    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="items", verbose_name=_("supplier"))
    sku = models.ForeignKey("inventory.SKU", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    supplier_sku_code = models.CharField(_("supplier's code"), max_length=64, blank=True)
    unit_price = MoneyField(_("unit price"), default=0)
    min_order_quantity = models.PositiveIntegerField(_("minimum order quantity"), default=1)
    order_multiple = models.PositiveIntegerField(_("order multiple (case pack)"), default=1)
    lead_time_days = models.PositiveIntegerField(_("lead time (days)"), default=14)
    is_preferred = models.BooleanField(_("preferred"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "supplier", "sku"], name="uniq_supplieritem_tenant_supplier_sku"),
            models.UniqueConstraint(fields=["tenant", "sku"], condition=Q(is_preferred=True),
                                    name="uniq_supplieritem_tenant_preferred_sku"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="supplieritem_unit_price_gte_0"),
            models.CheckConstraint(condition=Q(min_order_quantity__gte=1), name="supplieritem_moq_gte_1"),
            models.CheckConstraint(condition=Q(order_multiple__gte=1), name="supplieritem_multiple_gte_1"),
        ]
        indexes = [models.Index(fields=["tenant", "sku"], name="purch_item_tenant_sku")]
        ordering = ["supplier_id", "sku_id"]
        verbose_name = _("supplier item")
        verbose_name_plural = _("supplier items")

    def __str__(self):
        return f"{self.supplier_id}: {self.sku_id} @ {self.unit_price}"


class POStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    SENT = "sent", _("Sent to supplier")
    CONFIRMED = "confirmed", _("Confirmed by supplier")
    REFUSED = "refused", _("Refused by supplier")
    PARTIALLY_RECEIVED = "partially_received", _("Partially received")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")
    CLOSED = "closed", _("Closed")


OPEN_STATUSES = frozenset({POStatus.DRAFT, POStatus.APPROVED, POStatus.SENT, POStatus.CONFIRMED,
                           POStatus.PARTIALLY_RECEIVED})
AWAITING_RECEIPT = frozenset({POStatus.SENT, POStatus.CONFIRMED, POStatus.PARTIALLY_RECEIVED})
TERMINAL = frozenset({POStatus.RECEIVED, POStatus.CANCELLED, POStatus.CLOSED})


class POSource(models.TextChoices):
    MANUAL = "manual", _("Manual")
    SUGGESTION = "suggestion", _("Reorder suggestion")


class PurchaseOrder(TenantScopedModel, TimeStampedModel):
    number = models.CharField(_("number"), max_length=40)
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="purchase_orders",
                                 verbose_name=_("supplier"))
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("destination warehouse"))
    status = models.CharField(_("status"), max_length=20, choices=POStatus.choices, default=POStatus.DRAFT)
    source = models.CharField(_("source"), max_length=12, choices=POSource.choices, default=POSource.MANUAL)
    currency = CurrencyField(_("currency"))
    expected_date = models.DateField(_("expected date"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    # derived from the lines by the services (kept for lists and reports)
    total_quantity = models.PositiveIntegerField(_("quantity"), default=0)
    received_quantity = models.PositiveIntegerField(pgettext_lazy("purchasing", "received"), default=0)
    total_amount = MoneyField(_("amount"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed by the supplier at"), null=True, blank=True)
    supplier_note = models.CharField(_("supplier's note"), max_length=1000, blank=True,
                                     help_text=_("The supplier's remark on confirming, or the reason it refused."))
    received_at = models.DateTimeField(_("fully received at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="uniq_po_tenant_number"),
            models.CheckConstraint(condition=Q(total_amount__gte=0), name="po_total_amount_gte_0"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-id"], name="purch_po_tenant_status"),
            models.Index(fields=["tenant", "supplier"], name="purch_po_tenant_supplier"),
            models.Index(fields=["tenant", "expected_date"], name="purch_po_tenant_expected"),
            models.Index(fields=["tenant", "updated_at"], name="purch_po_tenant_updated"),  # BI changed_since
        ]
        ordering = ["-id"]
        verbose_name = _("purchase order")
        verbose_name_plural = _("purchase orders")

    def __str__(self):
        return self.number

    @property
    def is_overdue(self) -> bool:
        return bool(self.expected_date and self.status in OPEN_STATUSES - {POStatus.DRAFT}
                    and self.expected_date < tenant_today())


class POLine(TenantScopedModel):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines",
                                       verbose_name=_("purchase order"))
    sku = models.ForeignKey("inventory.SKU", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    supplier_sku_code = models.CharField(_("supplier's code"), max_length=64, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = MoneyField(_("unit price"), default=0)
    received_quantity = models.PositiveIntegerField(pgettext_lazy("purchasing", "received"), default=0)
    returned_quantity = models.PositiveIntegerField(pgettext_lazy("purchasing", "returned"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "purchase_order", "sku"], name="uniq_poline_tenant_po_sku"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="poline_quantity_gte_1"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="poline_unit_price_gte_0"),
            models.CheckConstraint(condition=Q(returned_quantity__lte=models.F("received_quantity")),
                                   name="poline_returned_lte_received"),
        ]
        indexes = [models.Index(fields=["tenant", "sku"], name="purch_line_tenant_sku")]
        ordering = ["id"]
        verbose_name = _("purchase order line")
        verbose_name_plural = _("purchase order lines")

    def __str__(self):
        return f"{self.purchase_order_id}: {self.quantity} × {self.sku_id}"

    @property
    def amount(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"))

    @property
    def open_quantity(self) -> int:
        return max(self.quantity - self.received_quantity, 0)


class EventKind(models.TextChoices):
    STATUS = "status", _("Status change")
    EDIT = "edit", pgettext_lazy("purchasing", "Edit")
    RECEIPT = "receipt", _("Goods received")
    RETURN = "return", _("Returned to supplier")
    SUPPLIER = "supplier", _("Supplier")
    SYSTEM = "system", pgettext_lazy("purchasing", "System")


class PurchaseOrderEvent(TenantScopedModel):
    """The purchase order's timeline: every transition, edit, receipt and return, with who and why."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="events",
                                       verbose_name=_("purchase order"))
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=10, choices=EventKind.choices)
    code = models.CharField(_("code"), max_length=40, blank=True)
    from_status = models.CharField(pgettext_lazy("purchasing", "from"), max_length=20, blank=True)
    to_status = models.CharField(pgettext_lazy("purchasing", "to"), max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by"))
    actor_label = models.CharField(_("by"), max_length=150, blank=True, default="system")
    message = models.CharField(_("why"), max_length=1000, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "purchase_order", "id"], name="purch_event_tenant_po")]
        ordering = ["id"]
        verbose_name = _("purchase order event")
        verbose_name_plural = _("purchase order events")

    def __str__(self):
        return f"{self.code}: {self.message}"


class ReceiptKind(models.TextChoices):
    RECEIPT = "receipt", _("Goods receipt")
    RETURN = "return", _("Return to supplier")


class GoodsReceipt(TenantScopedModel):
    """Goods in against a purchase order (or, kind=return, goods sent back). ``reference`` is the
    client's idempotency key: the same reference never receives twice."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="receipts",
                                       verbose_name=_("purchase order"))
    kind = models.CharField(_("kind"), max_length=10, choices=ReceiptKind.choices, default=ReceiptKind.RECEIPT)
    number = models.CharField(_("number"), max_length=40)
    reference = models.CharField(pgettext_lazy("purchasing", "reference"), max_length=100)
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("warehouse"))
    received_at = models.DateTimeField(_("at"), default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("by"))
    currency = CurrencyField(_("currency"))
    total_quantity = models.PositiveIntegerField(_("quantity"), default=0)
    total_amount = MoneyField(_("amount"), default=0)
    defective = models.BooleanField(_("defective goods"), default=False)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "reference"], name="uniq_receipt_tenant_kind_reference"),
            models.UniqueConstraint(fields=["tenant", "number"], name="uniq_receipt_tenant_number"),
        ]
        indexes = [models.Index(fields=["tenant", "purchase_order"], name="purch_receipt_tenant_po")]
        ordering = ["-id"]
        verbose_name = _("goods receipt")
        verbose_name_plural = _("goods receipts")

    def __str__(self):
        return self.number


class GoodsReceiptLine(TenantScopedModel):
    receipt = models.ForeignKey(GoodsReceipt, on_delete=models.CASCADE, related_name="lines", verbose_name=_("receipt"))
    po_line = models.ForeignKey(POLine, on_delete=models.PROTECT, related_name="receipt_lines",
                                verbose_name=_("purchase order line"))
    sku = models.ForeignKey("inventory.SKU", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_cost = MoneyField(_("unit cost"), default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="receiptline_quantity_gte_1")]
        indexes = [models.Index(fields=["tenant", "receipt"], name="purch_rline_tenant_receipt")]
        ordering = ["id"]
        verbose_name = _("goods receipt line")
        verbose_name_plural = _("goods receipt lines")

    def __str__(self):
        return f"{self.receipt_id}: {self.quantity} × {self.sku_id}"


class SuggestionStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("purchasing", "Open")
    ORDERED = "ordered", _("Ordered")


class ReorderSuggestion(TenantScopedModel):
    """A computed reorder suggestion (采购建议) for one SKU, with every figure that explains it.
    Recomputing replaces the open ones; an ordered one keeps the purchase order it became."""

    sku = models.ForeignKey("inventory.SKU", on_delete=models.CASCADE, related_name="+", verbose_name=_("SKU"))
    supplier = models.ForeignKey(Supplier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                 verbose_name=_("supplier"))
    supplier_item = models.ForeignKey(SupplierItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                      verbose_name=_("supplier item"))
    status = models.CharField(_("status"), max_length=10, choices=SuggestionStatus.choices, default=SuggestionStatus.OPEN)
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)
    daily_demand = models.DecimalField(_("daily demand"), max_digits=12, decimal_places=3, default=0)
    base_daily_demand = models.DecimalField(_("recent daily sales"), max_digits=12, decimal_places=3, default=0)
    demand_std_dev = models.DecimalField(_("daily demand std dev"), max_digits=12, decimal_places=3, default=0)
    seasonal_factor = models.DecimalField(_("seasonal factor"), max_digits=7, decimal_places=3, default=1)
    season_basis = models.CharField(_("season basis"), max_length=12, default="none")
    lead_time_days = models.PositiveIntegerField(_("lead time (days)"), default=0)
    review_period_days = models.PositiveIntegerField(_("review period (days)"), default=0)
    service_level_z = models.DecimalField(_("service level (z)"), max_digits=4, decimal_places=2, default=0)
    safety_stock = models.PositiveIntegerField(_("safety stock"), default=0)
    available = models.IntegerField(_("available"), default=0)
    on_order = models.PositiveIntegerField(_("on order"), default=0)
    reorder_point = models.PositiveIntegerField(_("reorder point"), default=0)
    target_stock = models.PositiveIntegerField(_("order-up-to level"), default=0)
    days_of_cover = models.DecimalField(_("days of cover"), max_digits=9, decimal_places=1, null=True, blank=True)
    net_requirement = models.PositiveIntegerField(_("net requirement"), default=0)
    min_order_quantity = models.PositiveIntegerField(_("minimum order quantity"), default=1)
    order_multiple = models.PositiveIntegerField(_("order multiple"), default=1)
    suggested_quantity = models.PositiveIntegerField(_("suggested quantity"), default=0)
    unit_price = MoneyField(_("unit price"), default=0)
    currency = CurrencyField(_("currency"))
    amount = MoneyField(_("amount"), default=0)
    urgent = models.BooleanField(_("below reorder point"), default=False)
    explanation = models.TextField(_("explanation"), blank=True)
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+", verbose_name=_("purchase order"))
    # how the forecast (purchasing.forecast) reached its numbers, per SKU and warehouse
    warehouse = models.ForeignKey("inventory.Warehouse", on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="+", verbose_name=_("warehouse"))
    warehouse_share = models.DecimalField(_("share of the SKU's demand"), max_digits=5, decimal_places=3, default=1)
    history_days = models.PositiveIntegerField(_("days of history"), default=0)
    history_units = models.PositiveIntegerField(_("units sold in the history"), default=0)
    stockout_days = models.PositiveIntegerField(_("out-of-stock days imputed"), default=0)
    promotion_days = models.PositiveIntegerField(_("promotion days in the history"), default=0)
    promotion_uplift = models.DecimalField(_("promotion uplift"), max_digits=7, decimal_places=3, default=1)
    coming_promotion_days = models.PositiveIntegerField(_("coming promotion days"), default=0)
    forecast_demand = models.DecimalField(_("forecast demand over lead time + review"), max_digits=14,
                                          decimal_places=3, default=0)
    forecast_error = models.DecimalField(_("forecast error of that sum"), max_digits=14, decimal_places=3, default=0)
    in_transit = models.PositiveIntegerField(_("in transit"), default=0)
    supplier_reason = models.CharField(_("why this supplier"), max_length=20, blank=True)
    alternatives = models.JSONField(_("supplier candidates"), default=list, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "status", "supplier"], name="purch_sugg_tenant_status"),
            models.Index(fields=["tenant", "sku"], name="purch_sugg_tenant_sku"),
        ]
        ordering = ["supplier_id", "-urgent", "sku_id"]
        verbose_name = _("reorder suggestion")
        verbose_name_plural = _("reorder suggestions")

    def __str__(self):
        return f"{self.sku_id}: {self.suggested_quantity}"


class ASNStatus(models.TextChoices):
    SENT = "sent", _("In transit")
    RECEIVED = "received", pgettext_lazy("purchasing", "Received")
    CANCELLED = "cancelled", _("Cancelled")


class AdvanceShippingNotice(TenantScopedModel, TimeStampedModel):
    """An ASN (发货通知): what the supplier shipped against a purchase order, when it should arrive
    and its tracking number. The warehouse receives against it (purchasing.services.asn_receive)."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="asns",
                                       verbose_name=_("purchase order"))
    number = models.CharField(_("number"), max_length=40)
    status = models.CharField(_("status"), max_length=10, choices=ASNStatus.choices, default=ASNStatus.SENT)
    expected_arrival = models.DateField(_("expected arrival"))
    carrier = models.CharField(_("carrier"), max_length=60, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    total_quantity = models.PositiveIntegerField(_("quantity"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"))
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    receipt = models.ForeignKey(GoodsReceipt, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("goods receipt"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="uniq_asn_tenant_number")]
        indexes = [models.Index(fields=["tenant", "purchase_order"], name="purch_asn_tenant_po"),
                   models.Index(fields=["tenant", "status", "expected_arrival"], name="purch_asn_tenant_status")]
        ordering = ["-id"]
        verbose_name = _("advance shipping notice")
        verbose_name_plural = _("advance shipping notices")

    def __str__(self):
        return self.number


class ASNLine(TenantScopedModel):
    asn = models.ForeignKey(AdvanceShippingNotice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("ASN"))
    po_line = models.ForeignKey(POLine, on_delete=models.PROTECT, related_name="asn_lines",
                                verbose_name=_("purchase order line"))
    sku = models.ForeignKey("inventory.SKU", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    quantity = models.PositiveIntegerField(_("shipped"))
    received_quantity = models.PositiveIntegerField(pgettext_lazy("purchasing", "received"), default=0)
    damaged_quantity = models.PositiveIntegerField(_("damaged"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "asn", "po_line"], name="uniq_asnline_tenant_asn_line"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="asnline_quantity_gte_1"),
        ]
        indexes = [models.Index(fields=["tenant", "po_line"], name="purch_asnline_tenant_line")]
        ordering = ["id"]
        verbose_name = _("ASN line")
        verbose_name_plural = _("ASN lines")

    def __str__(self):
        return f"{self.asn_id}: {self.quantity} × {self.sku_id}"


class DifferenceKind(models.TextChoices):
    SHORT = "short", _("Short")
    OVER = "over", _("Over")
    DAMAGED = "damaged", _("Damaged")


class ReceiptDifference(TenantScopedModel):
    """What the warehouse found against an ASN line: fewer units than shipped (short), more (over) or
    damaged ones (not taken into stock). Both the buyer and the supplier see them."""

    asn = models.ForeignKey(AdvanceShippingNotice, on_delete=models.CASCADE, related_name="differences",
                            verbose_name=_("ASN"))
    asn_line = models.ForeignKey(ASNLine, on_delete=models.CASCADE, related_name="differences", verbose_name=_("ASN line"))
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="differences",
                                       verbose_name=_("purchase order"))
    sku = models.ForeignKey("inventory.SKU", on_delete=models.PROTECT, related_name="+", verbose_name=_("SKU"))
    kind = models.CharField(_("kind"), max_length=10, choices=DifferenceKind.choices)
    quantity = models.PositiveIntegerField(_("quantity"))
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="receiptdiff_quantity_gte_1")]
        indexes = [models.Index(fields=["tenant", "purchase_order"], name="purch_diff_tenant_po"),
                   models.Index(fields=["tenant", "asn"], name="purch_diff_tenant_asn")]
        ordering = ["id"]
        verbose_name = _("receipt difference")
        verbose_name_plural = _("receipt differences")

    def __str__(self):
        return f"{self.kind} {self.quantity} × {self.sku_id}"


class Notification(TenantScopedModel):
    """An in-app notification to one member (staff or supplier user); e-mailed once when the user has
    an address (purchasing.tasks.send_notification_emails). Written by purchasing.services.notify."""

    membership = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="+",
                                   verbose_name=_("recipient"))
    code = models.CharField(_("code"), max_length=40, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "membership", "-id"], name="purch_notif_tenant_member")]
        ordering = ["-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self):
        return self.subject
