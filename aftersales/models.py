"""After-sales (售后): a ticket per platform refund/return or per operator case, its lines, the
timeline of everything that happened to it, and the per-tenant automation settings.

Other apps' rows are referenced by id (``order_id``, ``sku_id``, ``warehouse_id``, order line ids):
after-sales reads orders through orders.selectors and changes stock through inventory.services.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from erp.money import CurrencyField, MoneyField
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class TicketKind(models.TextChoices):
    REFUND_ONLY = "refund_only", _("Refund only")
    RETURN_REFUND = "return_refund", _("Return and refund")
    EXCHANGE = "exchange", pgettext_lazy("aftersales", "Exchange")
    RESHIP = "reship", _("Reship")


RETURN_KINDS = frozenset({TicketKind.RETURN_REFUND, TicketKind.EXCHANGE})  # goods come back
REFUND_KINDS = frozenset({TicketKind.REFUND_ONLY, TicketKind.RETURN_REFUND})  # money goes back
OUTGOING_KINDS = frozenset({TicketKind.EXCHANGE, TicketKind.RESHIP})  # goods go out again


class TicketSource(models.TextChoices):
    PLATFORM = "platform", _("Platform refund")
    MANUAL = "manual", pgettext_lazy("aftersales", "Manual")


class TicketStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("aftersales status", "Open")
    APPROVED = "approved", pgettext_lazy("aftersales status", "Approved")
    AWAITING_RETURN = "awaiting_return", _("Awaiting return")
    GOODS_RECEIVED = "goods_received", pgettext_lazy("aftersales status", "Goods received")
    REFUNDING = "refunding", _("Refunding")
    COMPLETED = "completed", _("Completed")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


TERMINAL = frozenset({TicketStatus.COMPLETED, TicketStatus.REJECTED, TicketStatus.CANCELLED})
ACTIVE = frozenset(TicketStatus.values) - TERMINAL


class LineCondition(models.TextChoices):
    PENDING = "", _("Not inspected")
    RESELLABLE = "resellable", _("Resellable")
    DEFECTIVE = "defective", _("Defective")


class Ticket(TenantScopedModel, TimeStampedModel):
    number = models.CharField(_("number"), max_length=32)
    kind = models.CharField(_("kind"), max_length=16, choices=TicketKind.choices)
    source = models.CharField(_("source"), max_length=10, choices=TicketSource.choices, default=TicketSource.MANUAL)
    status = models.CharField(_("status"), max_length=20, choices=TicketStatus.choices, default=TicketStatus.OPEN)

    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    shop = models.ForeignKey("integrations.Shop", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("shop"))
    platform = models.CharField(_("platform"), max_length=10, blank=True)
    platform_order_id = models.CharField(_("platform order id"), max_length=64, blank=True)
    platform_refund_id = models.CharField(_("platform refund id"), max_length=64, blank=True)
    platform_status = models.CharField(_("platform refund status"), max_length=64, blank=True)
    platform_refund_state = models.CharField(_("platform refund state"), max_length=20, blank=True,
                                             help_text=_("requested, agreed, wait_return, refused, closed, success"))
    platform_version = models.BigIntegerField(_("platform refund version"), default=-1)
    platform_modified_at = models.DateTimeField(_("platform modified at"), null=True, blank=True)

    buyer_id = models.CharField(_("buyer"), max_length=128, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    note = models.TextField(_("note"), blank=True)
    currency = CurrencyField(_("currency"))
    requested_amount = MoneyField(_("requested amount"), default=0)
    approved_amount = MoneyField(_("approved amount"), null=True, blank=True, default=None)
    warehouse_id = models.BigIntegerField(_("return warehouse"), null=True, blank=True)
    return_tracking_no = models.CharField(_("return tracking number"), max_length=64, blank=True)
    reship_order_id = models.BigIntegerField(_("reship order"), null=True, blank=True)

    sla_due_at = models.DateTimeField(_("SLA due"), null=True, blank=True)
    overdue_flagged_at = models.DateTimeField(_("flagged overdue at"), null=True, blank=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    goods_received_at = models.DateTimeField(_("goods received at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    refund_published_at = models.DateTimeField(_("refund announced at"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("after-sales ticket")
        verbose_name_plural = _("after-sales tickets")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="uniq_asticket_tenant_number"),
            models.UniqueConstraint(fields=["tenant", "shop", "platform_refund_id"], condition=~models.Q(platform_refund_id=""),
                                    name="uniq_asticket_tenant_shop_refund"),
            models.CheckConstraint(condition=models.Q(requested_amount__gte=0), name="asticket_requested_gte_0"),
            models.CheckConstraint(condition=models.Q(approved_amount__isnull=True) | models.Q(approved_amount__gte=0),
                                   name="asticket_approved_gte_0"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-id"], name="asticket_t_status_id"),
            models.Index(fields=["tenant", "order_id"], name="asticket_t_order"),
            models.Index(fields=["tenant", "buyer_id", "created_at"], name="asticket_t_buyer"),
            models.Index(fields=["tenant", "sla_due_at"], name="asticket_t_sla"),
            models.Index(fields=["tenant", "updated_at"], name="asticket_t_updated"),  # BI changed_since
            models.Index(fields=["tenant", "platform_order_id"], name="asticket_t_poid"),
        ]

    def __str__(self):
        return self.number

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_overdue(self) -> bool:
        return bool(self.sla_due_at and not self.is_terminal and self.sla_due_at < timezone.now())

    @property
    def refund_amount(self):
        return self.approved_amount if self.approved_amount is not None else self.requested_amount


class TicketLine(TenantScopedModel):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="lines", verbose_name=_("ticket"))
    order_line_id = models.BigIntegerField(_("order line"), null=True, blank=True)
    sku_id = models.BigIntegerField(_("SKU"), null=True, blank=True)
    sku_code = models.CharField(_("SKU code"), max_length=128, blank=True)
    title = models.CharField(_("title"), max_length=300, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    amount = MoneyField(_("amount"), default=0)
    warehouse_id = models.BigIntegerField(_("warehouse"), null=True, blank=True)
    exchange_sku_id = models.BigIntegerField(_("exchange to SKU"), null=True, blank=True,
                                             help_text=_("Exchange: the SKU sent instead (empty: the same SKU)."))
    received_quantity = models.PositiveIntegerField(pgettext_lazy("aftersales", "received"), default=0)
    condition = models.CharField(_("condition"), max_length=12, choices=LineCondition.choices, blank=True, default="")
    stock_returned_at = models.DateTimeField(_("stock returned at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("ticket line")
        verbose_name_plural = _("ticket lines")
        indexes = [
            models.Index(fields=["tenant", "ticket"], name="asline_t_ticket"),
            models.Index(fields=["tenant", "sku_id"], name="asline_t_sku"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="asline_quantity_positive"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="asline_amount_gte_0"),
        ]

    def __str__(self):
        return f"{self.title or self.sku_code} × {self.quantity}"


class EventKind(models.TextChoices):
    STATUS = "status", _("Status change")
    ACTION = "action", _("Operator action")
    PLATFORM = "platform", _("Platform update")
    RULE = "rule", _("Automatic rule")
    SYSTEM = "system", pgettext_lazy("aftersales", "System")


class TicketEvent(TenantScopedModel):
    """The ticket's timeline: every transition and effect, with who and why."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events", verbose_name=_("ticket"))
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=10, choices=EventKind.choices)
    code = models.CharField(_("code"), max_length=40, blank=True)
    from_status = models.CharField(pgettext_lazy("aftersales", "from"), max_length=20, blank=True)
    to_status = models.CharField(pgettext_lazy("aftersales", "to"), max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by"))
    actor_label = models.CharField(_("by"), max_length=150, blank=True, default="system")
    message = models.CharField(_("why"), max_length=1000, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [models.Index(fields=["tenant", "ticket", "id"], name="asevent_t_ticket_id")]

    def __str__(self):
        return f"{self.kind}: {self.message}"


class AftersalesSettings(TenantScopedModel):
    """One row per tenant: automatic rules and service-level targets."""

    auto_approve_refund_below = MoneyField(
        _("auto-approve refund-only below"), null=True, blank=True, default=None,
        help_text=_("Refund-only tickets asking less than this are approved at once. Empty: off."))
    abuse_window_days = models.PositiveIntegerField(_("abuse window (days)"), default=90)
    abuse_ticket_limit = models.PositiveIntegerField(
        _("abuse: tickets in the window"), default=3,
        help_text=_("A buyer with this many other tickets in the window (or any rejected one) is never auto-approved."))
    auto_complete_on_platform_refund = models.BooleanField(
        _("complete when the platform reports refunded"), default=True)
    sla_hours_refund_only = models.PositiveIntegerField(_("SLA refund only (hours)"), default=24)
    sla_hours_return_refund = models.PositiveIntegerField(_("SLA return and refund (hours)"), default=72)
    sla_hours_exchange = models.PositiveIntegerField(_("SLA exchange (hours)"), default=72)
    sla_hours_reship = models.PositiveIntegerField(_("SLA reship (hours)"), default=48)
    default_warehouse_id = models.BigIntegerField(
        _("default return warehouse"), null=True, blank=True,
        help_text=_("Where returns go when the order's warehouse is unknown."))

    class Meta:
        ordering = ["id"]
        verbose_name = _("after-sales settings")
        verbose_name_plural = _("after-sales settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uniq_assettings_tenant")]

    def __str__(self):
        return str(_("After-sales settings"))

    def sla_hours(self, kind: str) -> int:
        return getattr(self, f"sla_hours_{kind}", 48)
