import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.fields import EncryptedJSONField
from erp.money import MoneyField
from erp.tenancy.history import TenantHistoricalRecords
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class Platform(models.TextChoices):
    TAOBAO = "taobao", _("Taobao / Tmall")
    JD = "jd", _("JD")
    PINDUODUO = "pdd", _("Pinduoduo")
    OWN = "own", _("Own web shop")


class Shop(TenantScopedModel, TimeStampedModel):
    """A seller's shop on one platform. ``code`` is the tenant's short name for it (used in URLs
    such as the inbound channel API)."""

    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=200)
    platform = models.CharField(_("platform"), max_length=10, choices=Platform.choices)
    platform_shop_id = models.CharField(_("platform shop id"), max_length=64, blank=True)
    api_base_url = models.URLField(_("API base URL"), blank=True, help_text=_("Empty: the platform's default."))
    credentials = EncryptedJSONField(_("credentials"), blank=True, default=dict,
                                     help_text=_("app_key, app_secret, access_token... stored encrypted."))
    channel_secret = EncryptedJSONField(_("channel secret"), blank=True, default=dict, editable=False)
    is_active = models.BooleanField(_("active"), default=True)

    # Which background jobs run for this shop, and how often (seconds). The beat ticks run every
    # minute (editable in admin, "Periodic tasks"); a shop is picked when its interval has passed.
    pull_orders_enabled = models.BooleanField(_("pull orders"), default=True)
    pull_orders_interval = models.PositiveIntegerField(_("pull orders every (s)"), default=60)
    pull_refunds_enabled = models.BooleanField(_("pull refunds"), default=True)
    pull_refunds_interval = models.PositiveIntegerField(_("pull refunds every (s)"), default=300)
    push_stock_enabled = models.BooleanField(_("push stock"), default=True)
    push_stock_interval = models.PositiveIntegerField(_("push stock every (s)"), default=60)
    push_shipments_enabled = models.BooleanField(_("push shipments"), default=True)
    pull_bills_enabled = models.BooleanField(_("pull settlement bills"), default=True)
    pull_bills_interval = models.PositiveIntegerField(_("pull bills every (s)"), default=86400)
    sync_overlap_seconds = models.PositiveIntegerField(
        _("pull overlap (s)"), default=300, help_text=_("Each pull starts this long before the cursor."))
    sync_lag_seconds = models.PositiveIntegerField(
        _("pull lag (s)"), default=5, help_text=_("Each pull stops this long before now (platform indexing delay)."))
    initial_lookback_hours = models.PositiveIntegerField(
        _("first pull looks back (h)"), default=72)

    history = TenantHistoricalRecords(excluded_fields=["credentials", "channel_secret"])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="uniq_shop_tenant_code")]
        ordering = ["name"]
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self):
        return f"{self.name} ({self.get_platform_display()})"

    @staticmethod
    def new_channel_secret() -> str:
        return secrets.token_hex(32)

    def job_enabled(self, job: str) -> bool:
        flag = JOB_ENABLED_FIELD.get(job)
        return bool(self.is_active and flag and getattr(self, flag))

    def job_interval(self, job: str) -> int:
        field = JOB_INTERVAL_FIELD.get(job)
        return int(getattr(self, field)) if field else 60


class Job(models.TextChoices):
    PULL_ORDERS = "pull_orders", _("Pull orders")
    PULL_REFUNDS = "pull_refunds", _("Pull refunds")
    PUSH_STOCK = "push_stock", _("Push changed stock")
    PUSH_STOCK_FULL = "push_stock_full", _("Push all stock")
    PUSH_SHIPMENTS = "push_shipments", _("Push shipments")
    PULL_BILLS = "pull_bills", _("Pull settlement bills")


JOB_ENABLED_FIELD = {
    Job.PULL_ORDERS: "pull_orders_enabled",
    Job.PULL_REFUNDS: "pull_refunds_enabled",
    Job.PUSH_STOCK: "push_stock_enabled",
    Job.PUSH_STOCK_FULL: "push_stock_enabled",
    Job.PUSH_SHIPMENTS: "push_shipments_enabled",
    Job.PULL_BILLS: "pull_bills_enabled",
}
JOB_INTERVAL_FIELD = {
    Job.PULL_ORDERS: "pull_orders_interval",
    Job.PULL_REFUNDS: "pull_refunds_interval",
    Job.PUSH_STOCK: "push_stock_interval",
    Job.PULL_BILLS: "pull_bills_interval",
}


class SyncCursor(TenantScopedModel):
    """The watermark of one (shop, job): everything modified before ``watermark`` is stored.

    A pull in progress records its fixed window and the next page to fetch (pages are read from
    the last one backwards), each update committed together with the page it follows, so a
    restarted pull resumes where the last committed page left off.
    """

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="sync_cursors")
    job = models.CharField(_("job"), max_length=20, choices=Job.choices)
    watermark = models.DateTimeField(_("watermark"), null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    next_page = models.PositiveIntegerField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "shop", "job"], name="uniq_synccursor_shop_job")]
        verbose_name = _("sync cursor")
        verbose_name_plural = _("sync cursors")

    def __str__(self):
        return f"{self.shop_id}/{self.job} @ {self.watermark}"


class SyncRun(TenantScopedModel):
    """One run of one job for one shop: what it fetched and what it changed."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCESS = "success", _("success")
        PARTIAL = "partial", _("partial (continues)")
        FAILED = "failed", _("failed")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="sync_runs")
    job = models.CharField(_("job"), max_length=20, choices=Job.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(_("trigger"), max_length=20, default="beat")
    window_start = models.DateTimeField(_("window start"), null=True, blank=True)
    window_end = models.DateTimeField(_("window end"), null=True, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    fetched = models.PositiveIntegerField(_("fetched"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    updated = models.PositiveIntegerField(_("updated"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["tenant", "shop", "job", "-started_at"], name="syncrun_shop_job_idx")]
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")

    def __str__(self):
        return f"{self.job} {self.shop_id} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"

    def summary(self) -> str:
        window = ""
        if self.window_start and self.window_end:
            window = f" window {self.window_start:%Y-%m-%d %H:%M:%S}..{self.window_end:%Y-%m-%d %H:%M:%S}"
        text = (f"{self.job} shop={self.shop_id} status={self.status}{window} pages={self.pages} "
                f"fetched={self.fetched} created={self.created} updated={self.updated} skipped={self.skipped} "
                f"failed={self.failed} duration={self.duration_ms}ms")
        return text + (f" error={self.error}" if self.error else "")


class PlatformRecord(TenantScopedModel):
    """Common columns of what a platform sent, stored as received plus its normalised form."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="+")
    platform_modified_at = models.DateTimeField(_("modified on the platform"))
    payload = models.JSONField(_("raw payload"), default=dict)
    normalized = models.JSONField(_("normalised"), default=dict)
    version = models.PositiveIntegerField(_("version"), default=1, help_text=_("Times the stored state changed."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        abstract = True


class PlatformOrder(PlatformRecord):
    platform_order_id = models.CharField(_("platform order id"), max_length=64)
    state = models.CharField(_("state"), max_length=20)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "shop", "platform_order_id"],
                                               name="uniq_platformorder_shop_pid")]
        indexes = [models.Index(fields=["tenant", "shop", "-platform_modified_at"], name="platformorder_mod_idx")]
        ordering = ["-platform_modified_at"]
        verbose_name = _("platform order")
        verbose_name_plural = _("platform orders")

    def __str__(self):
        return self.platform_order_id


class PlatformRefund(PlatformRecord):
    platform_refund_id = models.CharField(_("platform refund id"), max_length=64)
    platform_order_id = models.CharField(_("platform order id"), max_length=64)
    status = models.CharField(_("status"), max_length=20)
    refund_version = models.BigIntegerField(_("platform refund version"), default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "shop", "platform_refund_id"],
                                               name="uniq_platformrefund_shop_pid")]
        indexes = [models.Index(fields=["tenant", "shop", "platform_order_id"], name="platformrefund_order_idx")]
        ordering = ["-platform_modified_at"]
        verbose_name = _("platform refund")
        verbose_name_plural = _("platform refunds")

    def __str__(self):
        return self.platform_refund_id


class PlatformBillLine(PlatformRecord):
    platform_bill_id = models.CharField(_("platform bill id"), max_length=64)
    platform_order_id = models.CharField(_("platform order id"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=20)
    amount = MoneyField(_("amount"))
    booked_at = models.DateTimeField(_("booked at"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "shop", "platform_bill_id"],
                                               name="uniq_platformbill_shop_pid")]
        indexes = [models.Index(fields=["tenant", "shop", "booked_at"], name="platformbill_booked_idx")]
        ordering = ["-booked_at"]
        verbose_name = _("platform bill line")
        verbose_name_plural = _("platform bill lines")

    def __str__(self):
        return self.platform_bill_id


class Outbox(TenantScopedModel):
    """A push to a platform, written in the business transaction and sent by a relay."""

    class Kind(models.TextChoices):
        STOCK = "stock", _("stock")
        SHIPMENT = "shipment", _("shipment")
        REFUND = "refund", _("refund decision")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed (gave up)")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="outbox")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    dedupe_key = models.CharField(_("dedupe key"), max_length=200)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    response = models.JSONField(_("platform response"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    MAX_ATTEMPTS = 12

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="uniq_outbox_dedupe")]
        indexes = [models.Index(fields=["tenant", "status", "next_attempt_at"], name="outbox_due_idx")]
        ordering = ["-created_at"]
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox")

    def __str__(self):
        return self.dedupe_key


class InboundMessage(TenantScopedModel):
    """A message pushed to us (own web shop or platform push), stored before it is answered."""

    class Kind(models.TextChoices):
        ORDER = "order", _("order")
        REFUND = "refund", _("refund")

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="inbound_messages")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    external_id = models.CharField(_("external id"), max_length=64)
    version = models.CharField(_("version"), max_length=64, blank=True,
                               help_text=_("The sender's modified time (and refund version): a newer one is an update."))
    body_hash = models.CharField(_("body SHA-256"), max_length=64)
    body = models.JSONField(_("body"), default=dict)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "shop", "kind", "external_id", "version"],
                                               name="uniq_inbound_shop_kind_ext_version")]
        ordering = ["-received_at"]
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")

    def __str__(self):
        return f"{self.kind} {self.external_id}"


class CouponDelivery(TenantScopedModel):
    """A member's coupon delivered to a platform buyer (or made readable to the own web shop).

    One row per coupon (members' coupon, by id: integrations never reads members' tables). The row's
    ``request_id`` is the idempotency key the platform sees, so a resend after a lost answer makes no
    second coupon; ``platform_coupon_id`` maps the platform's coupon on an order back to ours. Sent by
    a relay (integrations.coupons) with retries and backoff, like the outbox."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    coupon_id = models.BigIntegerField(_("coupon"))
    code = models.CharField(_("coupon code"), max_length=32)
    platform = models.CharField(_("platform"), max_length=10, choices=Platform.choices)
    shop = models.ForeignKey(Shop, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("shop"))
    buyer_id = models.CharField(_("buyer id"), max_length=128)
    request_id = models.CharField(_("request id"), max_length=64)
    terms = models.JSONField(_("coupon terms"), default=dict,
                             help_text=_("title, kind, amount off, threshold, currency, validity"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    platform_coupon_id = models.CharField(_("platform coupon id"), max_length=64, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    response = models.JSONField(_("platform response"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    sent_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    MAX_ATTEMPTS = 8

    class Meta:
        ordering = ["-id"]
        verbose_name = _("coupon delivery")
        verbose_name_plural = _("coupon deliveries")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "coupon_id"], name="uniq_coupondelivery_t_coupon"),
            models.UniqueConstraint(fields=["tenant", "request_id"], name="uniq_coupondelivery_t_request"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "next_attempt_at"], name="coupondelivery_t_due"),
            models.Index(fields=["tenant", "platform", "platform_coupon_id"], name="coupondelivery_t_pcoupon"),
        ]

    def __str__(self):
        return f"{self.platform}:{self.code}"
