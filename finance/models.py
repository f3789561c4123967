"""Finance: a double-entry ledger (chart of accounts, monthly periods, vouchers and their lines) that
posts itself from business events, and the settlement reconciliation of platform bills against
shipped orders.

The ledger is append-only: a voucher is posted only when it balances (the service checks, and
Postgres triggers refuse an unbalanced posting, any change to a posted voucher or its lines);
corrections are reversal vouchers. Other apps' rows are referenced by id only (shop, order, SKU,
supplier dimensions), never by foreign key.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.money import CurrencyField, MoneyField
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class AccountType(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    EQUITY = "equity", _("Equity")
    REVENUE = "revenue", _("Revenue")
    EXPENSE = "expense", _("Expense")


DEBIT_NORMAL = frozenset({AccountType.ASSET, AccountType.EXPENSE})


class Account(TenantScopedModel, TimeStampedModel):
    """One account of the tenant's chart (科目). ``platform`` marks the per-platform sub-accounts
    (应收账款-平台, 平台钱包) the posting rules pick by the order's platform."""

    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=100)
    type = models.CharField(_("type"), max_length=10, choices=AccountType.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("parent"))
    platform = models.CharField(_("platform"), max_length=10, blank=True,
                                help_text=_("For platform sub-accounts: the platform they follow."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="uniq_fin_account_tenant_code")]
        ordering = ["code"]
        verbose_name = _("account")
        verbose_name_plural = _("chart of accounts")

    def __str__(self):
        return f"{self.code} {self.name}"

    @property
    def debit_normal(self) -> bool:
        return self.type in DEBIT_NORMAL


class PeriodStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Period(TenantScopedModel):
    """An accounting month. A closed period refuses postings; reopening it is an explicit action."""

    year = models.PositiveSmallIntegerField(_("year"))
    month = models.PositiveSmallIntegerField(_("month"))
    status = models.CharField(_("status"), max_length=10, choices=PeriodStatus.choices, default=PeriodStatus.OPEN)
    last_number = models.PositiveIntegerField(_("last voucher number"), default=0, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", editable=False, verbose_name=_("closed by"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "year", "month"], name="uniq_fin_period_tenant_month"),
            models.CheckConstraint(condition=Q(month__gte=1, month__lte=12), name="fin_period_month_1_12"),
        ]
        ordering = ["-year", "-month"]
        verbose_name = _("period")
        verbose_name_plural = _("periods")

    def __str__(self):
        return f"{self.year}-{self.month:02d}"

    @property
    def key(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def is_open(self) -> bool:
        return self.status == PeriodStatus.OPEN


class VoucherStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    POSTED = "posted", _("Posted")


class SourceType(models.TextChoices):
    MANUAL = "manual", _("Manual")
    ORDER_SHIPPED = "order.shipped", _("Order shipped")
    PURCHASE_RECEIVED = "purchase.received", _("Goods received")
    PURCHASE_RETURNED = "purchase.returned", _("Goods returned to supplier")
    AFTERSALES_REFUNDED = "aftersales.refunded", _("Refund")
    GOODS_RETURNED = "aftersales.goods_returned", _("Goods returned by buyer")
    PLATFORM_BILL = "platform_bill", _("Platform settlement")
    STOCK_ADJUSTED = "inventory.adjusted", _("Stock count or write-off")
    REVERSAL = "reversal", _("Reversal")
    CARRY_FORWARD = "period.carry_forward", _("Profit and loss carry-forward")
    SUPPLIER_STATEMENT = "supplier.statement", _("Supplier statement")
    SUPPLIER_PAYMENT = "supplier.payment", _("Payment to supplier")


class Voucher(TenantScopedModel, TimeStampedModel):
    """A journal voucher (记账凭证). ``number`` is given when it is posted, in sequence per period.
    (source_type, source_ref) is unique per tenant: one business event never posts twice."""

    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="vouchers", verbose_name=_("period"))
    number = models.PositiveIntegerField(_("number"), null=True, blank=True, editable=False)
    date = models.DateField(_("date"))
    memo = models.CharField(_("memo"), max_length=300, blank=True)
    source_type = models.CharField(_("source"), max_length=30, choices=SourceType.choices, default=SourceType.MANUAL)
    source_ref = models.CharField(_("source reference"), max_length=120, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.DRAFT)
    reversal_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals",
                                    verbose_name=_("reversal of"))
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False, verbose_name=_("created by"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "period", "number"], name="uniq_fin_voucher_period_number"),
            models.UniqueConstraint(fields=["tenant", "source_type", "source_ref"], condition=~Q(source_ref=""),
                                    name="uniq_fin_voucher_source"),
            models.UniqueConstraint(fields=["tenant", "reversal_of"], condition=Q(reversal_of__isnull=False),
                                    name="uniq_fin_voucher_reversal"),
            models.CheckConstraint(condition=Q(status="draft") | Q(number__isnull=False, posted_at__isnull=False),
                                   name="fin_voucher_posted_numbered"),
        ]
        indexes = [
            models.Index(fields=["tenant", "date"], name="fin_voucher_t_date"),
            models.Index(fields=["tenant", "status", "-id"], name="fin_voucher_t_status"),
        ]
        ordering = ["-date", "-id"]
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")

    def __str__(self):
        return self.display_no

    @property
    def display_no(self) -> str:
        if self.number is None:
            return f"{_('Draft')} #{self.pk}"
        return f"记-{self.period.key}-{self.number:04d}" if self.period_id else f"记-{self.number:04d}"

    @property
    def is_posted(self) -> bool:
        return self.status == VoucherStatus.POSTED


class LineTag(models.TextChoices):
    """What a line means for the reports (profit by shop / platform / SKU)."""

    NONE = "", _("—")
    SALES = "sales", _("Sales")
    FREIGHT = "freight", _("Freight income")
    RETURNS = "returns", _("Sales returns")
    COGS = "cogs", _("Cost of goods")
    COMMISSION = "commission", _("Commission")
    SERVICE_FEE = "service_fee", _("Service fee")
    OTHER_FEE = "other_fee", _("Other platform fee")
    RECEIVABLE = "receivable", _("Receivable")
    SETTLEMENT = "settlement", _("Settlement")
    STOCK = "stock", _("Stock")
    PAYABLE = "payable", _("Payable")


class VoucherLine(TenantScopedModel):
    """One side of a voucher: exactly one of debit / credit is positive. Dimensions (shop, platform,
    order, SKU, supplier) are ids of other apps' rows, for the reports."""

    voucher = models.ForeignKey(Voucher, on_delete=models.CASCADE, related_name="lines", verbose_name=_("voucher"))
    line_no = models.PositiveSmallIntegerField(_("line"), default=1)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines", verbose_name=_("account"))
    debit = MoneyField(_("debit"), default=0)
    credit = MoneyField(_("credit"), default=0)
    currency = CurrencyField(_("currency"))
    memo = models.CharField(_("memo"), max_length=300, blank=True)
    tag = models.CharField(_("tag"), max_length=20, choices=LineTag.choices, blank=True, default="")
    shop_id = models.BigIntegerField(_("shop"), null=True, blank=True)
    platform = models.CharField(_("platform"), max_length=10, blank=True)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    platform_order_id = models.CharField(_("platform order id"), max_length=64, blank=True)
    sku_id = models.BigIntegerField(_("SKU"), null=True, blank=True)
    supplier_id = models.BigIntegerField(_("supplier"), null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(debit__gte=0) & Q(credit__gte=0), name="fin_line_not_negative"),
            models.CheckConstraint(condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(credit__gt=0) & Q(debit=0)),
                                   name="fin_line_one_sided"),
        ]
        indexes = [
            models.Index(fields=["tenant", "voucher"], name="fin_line_t_voucher"),
            models.Index(fields=["tenant", "account"], name="fin_line_t_account"),
            models.Index(fields=["tenant", "order_id"], name="fin_line_t_order"),
            models.Index(fields=["tenant", "sku_id"], name="fin_line_t_sku"),
        ]
        ordering = ["voucher_id", "line_no", "id"]
        verbose_name = _("voucher line")
        verbose_name_plural = _("voucher lines")

    def __str__(self):
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{self.account_id} {side}"


class FinanceSettings(TenantScopedModel):
    """One row per tenant."""

    settlement_due_days = models.PositiveIntegerField(
        _("settlement due after (days)"), default=20,
        help_text=_("A shipped order with no platform bill after this many days goes to the unsettled queue."))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="uniq_fin_settings_tenant")]
        verbose_name = _("finance settings")
        verbose_name_plural = _("finance settings")

    def __str__(self):
        return str(_("Finance settings"))


class BillKind(models.TextChoices):
    SALE = "sale", _("Sale income")
    FREIGHT = "freight", _("Freight")
    REFUND = "refund", _("Refund")
    COMMISSION = "commission", _("Commission")
    SERVICE_FEE = "service_fee", _("Service fee")
    OTHER = "other", _("Other")


SETTLED_KINDS = (BillKind.SALE, BillKind.FREIGHT, BillKind.REFUND)  # compared with what we shipped
FEE_KINDS = (BillKind.COMMISSION, BillKind.SERVICE_FEE, BillKind.OTHER)


class SettlementLine(TenantScopedModel):
    """A platform bill line as finance booked it (one per platform bill id and shop): the amount
    posted so far and the order it matched. A bill line arriving again changes nothing; a changed
    amount posts only the difference."""

    shop_id = models.BigIntegerField(_("shop"))
    platform = models.CharField(_("platform"), max_length=10)
    platform_bill_id = models.CharField(_("platform bill id"), max_length=64)
    platform_order_id = models.CharField(_("platform order id"), max_length=64, blank=True)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=BillKind.choices)
    amount = MoneyField(_("amount"), help_text=_("Signed: income positive, fees and refunds negative."))
    booked_at = models.DateTimeField(_("booked at"))
    description = models.CharField(_("description"), max_length=300, blank=True)
    postings = models.PositiveIntegerField(_("postings"), default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "shop_id", "platform_bill_id"],
                                               name="uniq_fin_settlement_bill")]
        indexes = [models.Index(fields=["tenant", "shop_id", "platform_order_id"], name="fin_settle_t_order")]
        ordering = ["-booked_at", "-id"]
        verbose_name = _("settlement line")
        verbose_name_plural = _("settlement lines")

    def __str__(self):
        return f"{self.platform_bill_id} {self.kind} {self.amount}"


class ReconStatus(models.TextChoices):
    AWAITING = "awaiting", _("Awaiting settlement")
    MATCHED = "matched", _("Matched")
    DIFFERENCE = "difference", _("Amount differs")
    NO_ORDER = "no_order", _("Bill without order")
    UNSETTLED = "unsettled", _("Unsettled (overdue)")
    RESOLVED = "resolved", _("Resolved by an operator")


EXCEPTION_STATUSES = (ReconStatus.DIFFERENCE, ReconStatus.NO_ORDER, ReconStatus.UNSETTLED)


class Reconciliation(TenantScopedModel):
    """Settlement state of one platform order (对账): what we shipped and booked (expected), what the
    platform settled (sale, freight and refund bill lines), its fees, and the difference."""

    shop_id = models.BigIntegerField(_("shop"))
    platform = models.CharField(_("platform"), max_length=10, blank=True)
    platform_order_id = models.CharField(_("platform order id"), max_length=64)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=ReconStatus.choices, default=ReconStatus.AWAITING)
    shipped_amount = MoneyField(_("shipped"), default=0)
    refunded_amount = MoneyField(_("refunded"), default=0)
    settled_amount = MoneyField(_("settled"), default=0)
    fees_amount = MoneyField(_("fees"), default=0)
    difference = MoneyField(_("difference"), default=0, help_text=_("Settled minus expected (shipped less refunds)."))
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    last_bill_at = models.DateTimeField(_("last bill at"), null=True, blank=True)
    bill_lines = models.PositiveIntegerField(_("bill lines"), default=0)
    note = models.CharField(_("note"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "shop_id", "platform_order_id"],
                                               name="uniq_fin_recon_order")]
        indexes = [
            models.Index(fields=["tenant", "status", "-id"], name="fin_recon_t_status"),
            models.Index(fields=["tenant", "order_id"], name="fin_recon_t_order"),
        ]
        ordering = ["-id"]
        verbose_name = _("reconciliation")
        verbose_name_plural = _("reconciliations")

    def __str__(self):
        return f"{self.platform_order_id} {self.status}"

    @property
    def expected_amount(self):
        return self.shipped_amount - self.refunded_amount


class PostingIssue(TenantScopedModel):
    """A business event whose posting failed (the event itself went through): kept with its payload
    so an operator can fix the cause (e.g. reopen a period, add a SKU cost) and retry."""

    source_type = models.CharField(_("source"), max_length=30)
    source_ref = models.CharField(_("source reference"), max_length=120)
    payload = models.JSONField(_("payload"), default=dict)
    error = models.TextField(_("error"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    last_tried_at = models.DateTimeField(_("last tried at"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "source_type", "source_ref"],
                                               name="uniq_fin_issue_source")]
        ordering = ["-id"]
        verbose_name = _("posting issue")
        verbose_name_plural = _("posting issues")

    def __str__(self):
        return f"{self.source_type} {self.source_ref}"


# --- payables: supplier statements (对账单) and payments ---------------------------------------------------
class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SENT = "sent", _("Sent to supplier")
    DISPUTED = "disputed", _("Disputed")
    CONFIRMED = "confirmed", _("Confirmed")
    POSTED = "posted", _("Posted")
    PAID = "paid", _("Paid")


class SupplierStatement(TenantScopedModel, TimeStampedModel):
    """A supplier's statement for one month (对账单): the goods received from it (quantity × purchase
    order price), the goods returned (negative) and agreed adjustments, line by line with the document
    each comes from. The supplier confirms or disputes it; confirmed, it posts the payable; payments
    are recorded against it. ``supplier_id`` is a purchasing.Supplier id (finance keeps ids of other
    apps' rows, never foreign keys)."""

    supplier_id = models.BigIntegerField(_("supplier"))
    supplier_name = models.CharField(_("supplier name"), max_length=250, blank=True)
    year = models.PositiveSmallIntegerField(_("year"))
    month = models.PositiveSmallIntegerField(_("month"))
    number = models.CharField(_("number"), max_length=40)
    currency = CurrencyField(_("currency"))
    status = models.CharField(_("status"), max_length=10, choices=StatementStatus.choices, default=StatementStatus.DRAFT)
    total_amount = MoneyField(_("total"), default=0)
    paid_amount = MoneyField(_("paid"), default=0)
    booked_amount = MoneyField(_("booked on receipt"), default=0, editable=False,
                               help_text=_("What the receipts and returns had already booked to 应付账款 when posted."))
    payment_terms_days = models.PositiveIntegerField(_("payment terms (days)"), default=30)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True, editable=False)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True, editable=False)
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True, editable=False)
    voucher = models.ForeignKey(Voucher, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                editable=False, verbose_name=_("payable voucher"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "supplier_id", "year", "month"], name="uniq_fin_statement_period"),
            models.UniqueConstraint(fields=["tenant", "number"], name="uniq_fin_statement_number"),
            models.CheckConstraint(condition=Q(month__gte=1, month__lte=12), name="fin_statement_month_1_12"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="fin_statement_paid_gte_0"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "-id"], name="fin_stmt_t_status"),
            models.Index(fields=["tenant", "supplier_id", "due_date"], name="fin_stmt_t_supplier_due"),
        ]
        ordering = ["-year", "-month", "-id"]
        verbose_name = _("supplier statement")
        verbose_name_plural = _("supplier statements")

    def __str__(self):
        return self.number

    @property
    def key(self) -> str:
        return f"{self.year}-{self.month:02d}"

    @property
    def outstanding(self):
        return self.total_amount - self.paid_amount


class StatementLineKind(models.TextChoices):
    RECEIPT = "receipt", _("Goods received")
    RETURN = "return", _("Returned to supplier")
    ADJUSTMENT = "adjustment", _("Adjustment")


class SupplierStatementLine(TenantScopedModel):
    """One line of a statement. Receipt and return lines come from a goods receipt line of purchasing
    (``receipt_line_id``, unique per tenant: a document is on one statement only); an adjustment is
    an agreed price change or a correction the buyer adds (with its reason), possibly answering a
    disputed line (``corrects``)."""

    statement = models.ForeignKey(SupplierStatement, on_delete=models.CASCADE, related_name="lines",
                                  verbose_name=_("statement"))
    kind = models.CharField(_("kind"), max_length=12, choices=StatementLineKind.choices)
    receipt_id = models.BigIntegerField(_("receipt"), null=True, blank=True)
    receipt_line_id = models.BigIntegerField(_("receipt line"), null=True, blank=True)
    receipt_number = models.CharField(_("document"), max_length=40, blank=True)
    purchase_order_id = models.BigIntegerField(_("purchase order"), null=True, blank=True)
    purchase_order_number = models.CharField(_("purchase order number"), max_length=40, blank=True)
    sku_id = models.BigIntegerField(_("SKU"), null=True, blank=True)
    sku_code = models.CharField(_("SKU code"), max_length=64, blank=True)
    date = models.DateField(_("date"))
    quantity = models.IntegerField(_("quantity"), default=0, help_text=_("Negative for returns."))
    unit_price = MoneyField(_("unit price"), default=0)
    amount = MoneyField(_("amount"), help_text=_("Signed: returns and credit notes are negative."))
    memo = models.CharField(_("memo"), max_length=300, blank=True)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections",
                                 verbose_name=_("corrects line"))
    disputed = models.BooleanField(_("disputed"), default=False)
    dispute_reason = models.CharField(_("dispute reason"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False, verbose_name=_("created by"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "receipt_line_id"], condition=Q(receipt_line_id__isnull=False),
                                    name="uniq_fin_stmtline_receipt_line"),
        ]
        indexes = [models.Index(fields=["tenant", "statement"], name="fin_stmtline_t_statement")]
        ordering = ["statement_id", "date", "id"]
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")

    def __str__(self):
        return f"{self.statement_id}: {self.kind} {self.amount}"


class StatementEvent(TenantScopedModel):
    """The statement's timeline (erp.workflow): generated, sent, confirmed, disputed, posted, paid."""

    statement = models.ForeignKey(SupplierStatement, on_delete=models.CASCADE, related_name="events",
                                  verbose_name=_("statement"))
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=10, default="status")
    code = models.CharField(_("code"), max_length=40, blank=True)
    from_status = models.CharField(_("from"), max_length=10, blank=True)
    to_status = models.CharField(_("to"), max_length=10, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by"))
    actor_label = models.CharField(_("by"), max_length=150, blank=True, default="system")
    message = models.CharField(_("why"), max_length=1000, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "statement", "id"], name="fin_stmtevent_t_statement")]
        ordering = ["id"]
        verbose_name = _("statement event")
        verbose_name_plural = _("statement events")

    def __str__(self):
        return f"{self.code}: {self.message}"


class SupplierPayment(TenantScopedModel):
    """A payment to a supplier against a posted statement (partial payments allowed), posted as
    Dr 应付账款 / Cr 银行存款. ``reference`` (the bank transfer's number) makes a repeated request
    record it once."""

    statement = models.ForeignKey(SupplierStatement, on_delete=models.PROTECT, related_name="payments",
                                  verbose_name=_("statement"))
    supplier_id = models.BigIntegerField(_("supplier"))
    amount = MoneyField(_("amount"))
    currency = CurrencyField(_("currency"))
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="+", verbose_name=_("voucher"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False, verbose_name=_("created by"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], condition=~Q(reference=""),
                                    name="uniq_fin_payment_reference"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="fin_payment_amount_gt_0"),
        ]
        indexes = [models.Index(fields=["tenant", "statement"], name="fin_payment_t_statement"),
                   models.Index(fields=["tenant", "supplier_id", "paid_on"], name="fin_payment_t_supplier")]
        ordering = ["-paid_on", "-id"]
        verbose_name = _("supplier payment")
        verbose_name_plural = _("supplier payments")

    def __str__(self):
        return f"{self.statement_id}: {self.amount}"
