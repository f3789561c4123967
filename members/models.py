"""Members (会员): one member across Taobao, JD, Pinduoduo and the own web shop.

A ``Member`` owns ``MemberIdentity`` rows (platform buyer ids). Merging never moves rows: the
merged member points at the surviving one (``merged_into``, always a root) and everything it owns
(identities, orders, points) counts for that root; unmerging clears the pointer. ``PointsEntry`` is
an append-only ledger; ``Member.points_balance`` is its projection (checked by ``verify_points``).
Orders are referenced by id (``MemberOrder.order_id``): members reads orders through
orders.selectors only.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.money import CurrencyField, MoneyField
from erp.tenancy.models import TenantScopedModel, TimeStampedModel


class Platform(models.TextChoices):
    TAOBAO = "taobao", _("Taobao / Tmall")
    JD = "jd", _("JD")
    PDD = "pdd", _("Pinduoduo")
    OWN = "own", _("Own web shop")


class DowngradePolicy(models.TextChoices):
    NEVER = "never", _("Never downgrade")
    AFTER_DAYS = "after_days", _("Downgrade after N days below the level")


class Segment(models.TextChoices):
    """RFM value segments (recency, frequency, monetary: high or low against the tenant's mean)."""

    IMPORTANT_VALUE = "important_value", _("Important value")  # R high, F high, M high
    IMPORTANT_KEEP = "important_keep", _("Important to keep")  # R low, F high, M high
    IMPORTANT_DEVELOP = "important_develop", _("Important to develop")  # R high, F low, M high
    IMPORTANT_RETAIN = "important_retain", _("Important to win back")  # R low, F low, M high
    GENERAL_VALUE = "general_value", _("General value")  # R high, F high, M low
    GENERAL_KEEP = "general_keep", _("General to keep")  # R low, F high, M low
    GENERAL_DEVELOP = "general_develop", _("General to develop")  # R high, F low, M low
    GENERAL_RETAIN = "general_retain", _("General to win back")  # R low, F low, M low


class MemberSettings(TenantScopedModel):
    """One row per tenant: points rate and expiry, level downgrade policy."""

    points_per_yuan = models.DecimalField(_("points per yuan paid"), max_digits=8, decimal_places=4, default=1,
                                          help_text=_("Points earned = floor(paid amount × this × level multiplier)."))
    points_expire_days = models.PositiveIntegerField(_("points expire after (days)"), default=365,
                                                     help_text=_("0: points never expire."))
    downgrade_policy = models.CharField(_("downgrade policy"), max_length=12, choices=DowngradePolicy.choices,
                                        default=DowngradePolicy.AFTER_DAYS)
    downgrade_after_days = models.PositiveIntegerField(_("downgrade after (days below)"), default=90)
    campaign_cap_count = models.PositiveIntegerField(
        _("campaigns per member at most"), default=2,
        help_text=_("A member receives at most this many campaigns within the period below."))
    campaign_cap_days = models.PositiveIntegerField(_("campaign cap period (days)"), default=30)

    class Meta:
        verbose_name = _("member settings")
        verbose_name_plural = _("member settings")
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="uniq_memberssettings_tenant"),
            models.CheckConstraint(condition=models.Q(points_per_yuan__gte=0), name="memberssettings_rate_gte_0"),
        ]

    def __str__(self):
        return str(_("Member settings"))


class MemberLevel(TenantScopedModel):
    """A level (普通会员, 银卡, …): reached by lifetime spend and/or order count."""

    rank = models.PositiveSmallIntegerField(_("rank"), help_text=_("Higher is better; 0 means no level."))
    name = models.CharField(_("name"), max_length=50)
    min_spend = MoneyField(_("lifetime spend from"), default=0)
    min_orders = models.PositiveIntegerField(_("orders from"), default=0)
    require_both = models.BooleanField(_("both thresholds needed"), default=False,
                                       help_text=_("Off: either threshold reaches the level."))
    points_multiplier = models.DecimalField(_("points multiplier"), max_digits=5, decimal_places=2, default=1)
    free_shipping = models.BooleanField(_("free shipping"), default=False)
    priority_shipping = models.BooleanField(_("priority shipping"), default=False)
    discount_percent = models.DecimalField(_("discount percent"), max_digits=5, decimal_places=2, default=0)
    benefits = models.JSONField(_("other benefits"), default=dict, blank=True)
    gift_sku_id = models.BigIntegerField(_("gift SKU"), null=True, blank=True,
                                         help_text=_("Added free to each order of a member of this level."))
    gift_sku_code = models.CharField(_("gift SKU code"), max_length=128, blank=True)
    gift_quantity = models.PositiveIntegerField(_("gift quantity"), default=1)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("member level")
        verbose_name_plural = _("member levels")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "rank"], name="uniq_memberlevel_tenant_rank"),
            models.UniqueConstraint(fields=["tenant", "name"], name="uniq_memberlevel_tenant_name"),
            models.CheckConstraint(condition=models.Q(rank__gte=1), name="memberlevel_rank_gte_1"),
            models.CheckConstraint(condition=models.Q(min_spend__gte=0), name="memberlevel_min_spend_gte_0"),
            models.CheckConstraint(condition=models.Q(points_multiplier__gte=0), name="memberlevel_multiplier_gte_0"),
            models.CheckConstraint(condition=models.Q(discount_percent__gte=0, discount_percent__lte=100),
                                   name="memberlevel_discount_0_100"),
        ]

    def __str__(self):
        return self.name

    def reached_by(self, *, spend, orders: int) -> bool:
        by_spend = spend >= self.min_spend
        by_orders = orders >= self.min_orders
        if self.require_both:
            return by_spend and by_orders
        if self.min_spend > 0 and self.min_orders > 0:
            return by_spend or by_orders
        return by_spend and by_orders  # one threshold (the other is 0) or none


class Member(TenantScopedModel, TimeStampedModel):
    display_name = models.CharField(_("name"), max_length=100, blank=True)
    phone_hash = models.CharField(_("phone hash"), max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True)
    level = models.ForeignKey(MemberLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="members",
                              verbose_name=_("level"))
    level_since = models.DateTimeField(_("level since"), null=True, blank=True)
    below_level_since = models.DateTimeField(_("below its level since"), null=True, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged",
                                    verbose_name=_("merged into"))
    # projections (maintained by services.member_refresh; the ledger and MemberOrder rows are the truth)
    lifetime_paid = MoneyField(_("lifetime paid"), default=0)
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    points_balance = models.IntegerField(_("points"), default=0)
    # RFM
    rfm_r = models.PositiveSmallIntegerField(_("R score"), default=0)
    rfm_f = models.PositiveSmallIntegerField(_("F score"), default=0)
    rfm_m = models.PositiveSmallIntegerField(_("M score"), default=0)
    segment = models.CharField(_("segment"), max_length=20, choices=Segment.choices, blank=True)
    rfm_at = models.DateTimeField(_("RFM computed at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    marketing_opt_out = models.BooleanField(_("no marketing"), default=False,
                                            help_text=_("The member asked not to receive campaigns."))
    marketing_opt_out_at = models.DateTimeField(_("no marketing since"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [
            models.CheckConstraint(condition=~models.Q(merged_into=models.F("id")), name="member_not_merged_into_self"),
        ]
        indexes = [
            models.Index(fields=["tenant", "phone_hash"], name="member_t_phone"),
            models.Index(fields=["tenant", "merged_into"], name="member_t_merged"),
            models.Index(fields=["tenant", "segment"], name="member_t_segment"),
            models.Index(fields=["tenant", "level"], name="member_t_level"),
            models.Index(fields=["tenant", "updated_at"], name="member_t_updated"),  # BI changed_since
        ]

    def __str__(self):
        return self.display_name or f"#{self.pk}"

    @property
    def root_id(self) -> int:
        return self.merged_into_id or self.pk


class MemberIdentity(TenantScopedModel):
    """A platform buyer (platform + buyer id) known to belong to a member."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="identities", verbose_name=_("member"))
    platform = models.CharField(_("platform"), max_length=10, choices=Platform.choices)
    buyer_id = models.CharField(_("buyer id"), max_length=128)
    receiver_name = models.CharField(_("receiver name"), max_length=100, blank=True)
    phone_hash = models.CharField(_("phone hash"), max_length=64, blank=True, editable=False)
    phone_masked = models.CharField(_("phone"), max_length=20, blank=True)
    matched_by = models.CharField(_("matched by"), max_length=12, blank=True, default="new",
                                  help_text=_("new, buyer_id, phone or manual"))
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("member identity")
        verbose_name_plural = _("member identities")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "platform", "buyer_id"], name="uniq_memberidentity_t_platform_buyer"),
        ]
        indexes = [
            models.Index(fields=["tenant", "phone_hash"], name="memberident_t_phone"),
            models.Index(fields=["tenant", "member"], name="memberident_t_member"),
        ]

    def __str__(self):
        return f"{self.platform}:{self.buyer_id}"


class MergeReason(models.TextChoices):
    PHONE = "phone", _("Same phone")
    MANUAL = "manual", _("By an operator")


class MemberMerge(TenantScopedModel):
    """Every merge, with who, why and what it carried; ``unmerged_at`` once undone."""

    target = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="merges_in", verbose_name=_("kept member"))
    source = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="merges_out",
                               verbose_name=_("merged member"))
    reason = models.CharField(_("reason"), max_length=10, choices=MergeReason.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    carried = models.JSONField(_("members carried along"), default=list, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("merged at"), default=timezone.now)
    unmerged_at = models.DateTimeField(_("unmerged at"), null=True, blank=True)
    unmerged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("unmerged by"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("member merge")
        verbose_name_plural = _("member merges")
        indexes = [
            models.Index(fields=["tenant", "source"], name="membermerge_t_source"),
            models.Index(fields=["tenant", "target"], name="membermerge_t_target"),
        ]

    def __str__(self):
        return f"{self.source_id} -> {self.target_id}"


class OpeningSource(models.TextChoices):
    FILE = "file", _("Members file")
    ORDERS = "orders", _("Imported historical orders")


class MemberOpening(TenantScopedModel, TimeStampedModel):
    """What a platform buyer bought before this system (a data import): paid, orders, first and
    last order. From the members file's lifetime columns (the old system's figures), else summed
    from the buyer's imported historical orders. ``member_refresh`` adds it to the orders that
    earned, so levels and RFM see the whole history."""

    identity = models.ForeignKey(MemberIdentity, on_delete=models.CASCADE, related_name="+", verbose_name=_("identity"))
    source = models.CharField(_("from"), max_length=10, choices=OpeningSource.choices)
    paid_amount = MoneyField(_("lifetime paid"), default=0)
    order_count = models.PositiveIntegerField(_("orders"), default=0)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True, help_text=_("e.g. import:<job id>"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("opening purchase history")
        verbose_name_plural = _("opening purchase histories")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "identity"], name="uniq_memberopening_tenant_identity"),
            models.CheckConstraint(condition=models.Q(paid_amount__gte=0), name="memberopening_paid_gte_0"),
        ]

    def __str__(self):
        return f"{self.identity_id}: {self.paid_amount} / {self.order_count}"


class MemberOrder(TenantScopedModel):
    """A shipment that earned for a member: what was paid for its goods and what was refunded since
    (copied from orders.selectors.order_snapshots when the order shipped)."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="orders", verbose_name=_("member"))
    identity = models.ForeignKey(MemberIdentity, on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("identity"))
    order_id = models.BigIntegerField(_("order"))
    shop_id = models.BigIntegerField(_("shop"), null=True, blank=True)
    platform = models.CharField(_("platform"), max_length=10)
    parts = models.JSONField(_("paid per platform order"), default=dict,
                             help_text=_("{platform order id: paid amount of its goods in this shipment}"))
    paid_amount = MoneyField(_("paid"))
    refunded_amount = MoneyField(_("refunded"), default=0)
    refunds = models.JSONField(_("refunds"), default=dict, blank=True, help_text=_("{ticket id: amount applied}"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    points_earned = models.IntegerField(_("points earned"), default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("member order")
        verbose_name_plural = _("member orders")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "order_id"], name="uniq_memberorder_tenant_order"),
            models.CheckConstraint(condition=models.Q(paid_amount__gte=0), name="memberorder_paid_gte_0"),
            models.CheckConstraint(condition=models.Q(refunded_amount__gte=0), name="memberorder_refunded_gte_0"),
        ]
        indexes = [
            models.Index(fields=["tenant", "member"], name="memberorder_t_member"),
            models.Index(fields=["tenant", "shop_id"], name="memberorder_t_shop"),
        ]

    def __str__(self):
        return f"order {self.order_id}"


class PointsKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjusted")
    CLAWBACK = "clawback", _("Refund clawback")


class PointsEntry(TenantScopedModel):
    """The points ledger: append-only (never updated nor deleted; a database trigger refuses it)."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="points_entries",
                               verbose_name=_("member"))
    kind = models.CharField(_("kind"), max_length=10, choices=PointsKind.choices)
    amount = models.IntegerField(_("points"))
    reference = models.CharField(_("reference"), max_length=100)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    earn_entry = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("expired earn entry"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], name="uniq_pointsentry_tenant_reference"),
            models.CheckConstraint(condition=~models.Q(amount=0), name="pointsentry_amount_not_0"),
            models.CheckConstraint(
                condition=(models.Q(kind="earn", amount__gt=0) | models.Q(kind="adjust")
                           | models.Q(kind__in=["redeem", "expire", "clawback"], amount__lt=0)),
                name="pointsentry_sign_by_kind"),
        ]
        indexes = [
            models.Index(fields=["tenant", "member", "id"], name="pointsentry_t_member"),
            models.Index(fields=["tenant", "kind", "expires_on"], name="pointsentry_t_kind_exp"),
            models.Index(fields=["tenant", "order_id"], name="pointsentry_t_order"),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount:+d}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValueError("Points entries are append-only: add a new entry instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Points entries are append-only: add a new entry instead.")


class CouponKind(models.TextChoices):
    AMOUNT = "amount", _("Amount off")
    PERCENT = "percent", _("Percent off")


class CouponTemplate(TenantScopedModel, TimeStampedModel):
    """What a coupon gives: an amount or a percent off an order of at least ``threshold``, valid in a
    window (fixed dates and/or N days from issue), at most ``per_member_limit`` per member."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=CouponKind.choices)
    amount_off = MoneyField(_("amount off"), default=0)
    percent_off = models.DecimalField(_("percent off"), max_digits=5, decimal_places=2, default=0)
    max_discount = MoneyField(_("largest discount"), null=True, blank=True,
                              help_text=_("Percent coupons: the discount never exceeds this (empty: no cap)."))
    threshold = MoneyField(_("order amount from"), default=0)
    currency = CurrencyField(_("currency"))
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(_("valid for (days after issue)"), null=True, blank=True,
                                             help_text=_("Empty: until the template's end date."))
    per_member_limit = models.PositiveIntegerField(_("per member"), default=1)
    active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="uniq_coupontemplate_tenant_name"),
            models.CheckConstraint(condition=models.Q(amount_off__gte=0), name="coupontemplate_amount_gte_0"),
            models.CheckConstraint(condition=models.Q(threshold__gte=0), name="coupontemplate_threshold_gte_0"),
            models.CheckConstraint(condition=models.Q(percent_off__gte=0, percent_off__lte=100),
                                   name="coupontemplate_percent_0_100"),
            models.CheckConstraint(condition=models.Q(per_member_limit__gte=1), name="coupontemplate_limit_gte_1"),
            models.CheckConstraint(
                condition=(models.Q(kind="amount", amount_off__gt=0) | models.Q(kind="percent", percent_off__gt=0)),
                name="coupontemplate_value_by_kind"),
        ]

    def __str__(self):
        return self.name


class CouponStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    REDEEMED = "redeemed", _("Redeemed")
    EXPIRED = "expired", _("Expired")
    VOID = "void", _("Void")


class Coupon(TenantScopedModel):
    """A coupon issued to a member: one per (template, member, issue reference); a code unique in the
    tenant; redeemed against one order (``order_id``) with the discount it gave."""

    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="coupons",
                                 verbose_name=_("template"))
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="coupons", verbose_name=_("member"))
    code = models.CharField(_("code"), max_length=32)
    issue_ref = models.CharField(_("issue reference"), max_length=100,
                                 help_text=_("A campaign or another reference: issuing again with it changes nothing."))
    status = models.CharField(_("status"), max_length=10, choices=CouponStatus.choices, default=CouponStatus.ISSUED)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    currency = CurrencyField(_("currency"))
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    order_amount = MoneyField(_("order amount"), null=True, blank=True)
    discount_amount = MoneyField(_("discount"), null=True, blank=True)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    redeemed_at = models.DateTimeField(_("redeemed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("expired or voided at"), null=True, blank=True)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("issued by"))
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="uniq_coupon_tenant_code"),
            models.UniqueConstraint(fields=["tenant", "template", "member", "issue_ref"],
                                    name="uniq_coupon_tenant_template_member_ref"),
            models.UniqueConstraint(fields=["tenant", "order_id"], condition=models.Q(order_id__isnull=False),
                                    name="uniq_coupon_tenant_order"),
            models.CheckConstraint(
                condition=(~models.Q(status="redeemed")
                           | models.Q(order_id__isnull=False, discount_amount__isnull=False)),
                name="coupon_redeemed_has_order"),
        ]
        indexes = [
            models.Index(fields=["tenant", "member", "status"], name="coupon_t_member_status"),
            models.Index(fields=["tenant", "status", "valid_until"], name="coupon_t_status_until"),
            models.Index(fields=["tenant", "template", "status"], name="coupon_t_template_status"),
        ]

    def __str__(self):
        return self.code


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


class Campaign(TenantScopedModel, TimeStampedModel):
    """A coupon sent to a segment of members through channels, on a schedule, with a random holdout
    group (seeded per campaign) that gets nothing, so that its effect can be measured.

    The audience is frozen into ``CampaignRecipient`` rows when sending starts; the counters below
    are the send's progress (maintained by services.campaigns)."""

    name = models.CharField(_("name"), max_length=100)
    # the segment (all given criteria apply)
    segment = models.CharField(_("RFM segment"), max_length=20, choices=Segment.choices, blank=True)
    level_rank = models.PositiveSmallIntegerField(_("level rank"), null=True, blank=True)
    platform = models.CharField(_("bought on platform"), max_length=10, choices=Platform.choices, blank=True)
    no_purchase_days = models.PositiveIntegerField(_("no purchase for (days)"), null=True, blank=True,
                                                   help_text=_("Last purchase older than this many days."))
    purchased_within_days = models.PositiveIntegerField(_("bought within (days)"), null=True, blank=True,
                                                        help_text=_("Last purchase newer than this many days."))
    sku_code = models.CharField(_("bought SKU"), max_length=128, blank=True)
    # the benefit and the channels
    template = models.ForeignKey(CouponTemplate, on_delete=models.PROTECT, related_name="campaigns",
                                 verbose_name=_("coupon template"))
    channels = models.JSONField(_("channels"), default=list,
                                help_text=_("Platforms the coupon goes out on, in order of preference."))
    holdout_percent = models.PositiveSmallIntegerField(_("holdout (%)"), default=10)
    seed = models.BigIntegerField(_("holdout seed"), default=0, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices,
                              default=CampaignStatus.DRAFT)
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    started_at = models.DateTimeField(_("sending started"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # progress
    n_audience = models.PositiveIntegerField(_("audience"), default=0)
    n_holdout = models.PositiveIntegerField(_("holdout"), default=0)
    n_sent = models.PositiveIntegerField(_("sent"), default=0)
    n_skipped = models.PositiveIntegerField(_("skipped"), default=0)
    n_failed = models.PositiveIntegerField(_("failed"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="uniq_campaign_tenant_name"),
            models.CheckConstraint(condition=models.Q(holdout_percent__lte=90), name="campaign_holdout_lte_90"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "scheduled_at"], name="campaign_t_status_at"),
        ]

    def __str__(self):
        return self.name

    @property
    def issue_ref(self) -> str:
        return f"campaign:{self.pk}"

    @property
    def processed(self) -> int:
        return self.n_holdout + self.n_sent + self.n_skipped + self.n_failed


class RecipientStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    HOLDOUT = "holdout", _("Holdout")
    OPTED_OUT = "opted_out", _("Opted out")
    CAPPED = "capped", _("Over the frequency cap")
    NO_CHANNEL = "no_channel", _("Not on the channels")
    FAILED = "failed", _("Failed")


class CampaignRecipient(TenantScopedModel):
    """One member of a campaign's audience (once per campaign): in the holdout group or treated,
    and what came of the send (the coupon, the channel it went out on)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients",
                                 verbose_name=_("campaign"))
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="campaign_entries",
                               verbose_name=_("member"))
    holdout = models.BooleanField(_("holdout"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=RecipientStatus.choices,
                              default=RecipientStatus.PENDING)
    channel = models.CharField(_("channel"), max_length=10, blank=True)
    buyer_id = models.CharField(_("buyer id"), max_length=128, blank=True)
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("coupon"))
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "campaign", "member"], name="uniq_campaignrecipient_t_c_m"),
        ]
        indexes = [
            models.Index(fields=["tenant", "campaign", "status"], name="campaignrcpt_t_c_status"),
            models.Index(fields=["tenant", "member", "status", "processed_at"], name="campaignrcpt_t_m_status"),
        ]

    def __str__(self):
        return f"{self.campaign_id}:{self.member_id}"


class RewardKind(models.TextChoices):
    COUPON = "coupon", _("Coupon")
    GIFT = "gift", _("Gift")


class Reward(TenantScopedModel, TimeStampedModel):
    """The catalogue of what points buy: a coupon of a template, or a gift SKU added free to the
    member's next order. ``points_price`` points each."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=RewardKind.choices)
    points_price = models.PositiveIntegerField(_("points price"))
    template = models.ForeignKey(CouponTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="rewards",
                                 verbose_name=_("coupon template"))
    gift_sku_id = models.BigIntegerField(_("gift SKU"), null=True, blank=True)
    gift_sku_code = models.CharField(_("gift SKU code"), max_length=128, blank=True)
    gift_quantity = models.PositiveIntegerField(_("gift quantity"), default=1)
    active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["points_price", "id"]
        verbose_name = _("points reward")
        verbose_name_plural = _("points rewards")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="uniq_reward_tenant_name"),
            models.CheckConstraint(condition=models.Q(points_price__gte=1), name="reward_price_gte_1"),
            models.CheckConstraint(condition=models.Q(gift_quantity__gte=1), name="reward_gift_qty_gte_1"),
            models.CheckConstraint(
                condition=(models.Q(kind="coupon", template__isnull=False)
                           | models.Q(kind="gift", gift_sku_id__isnull=False)),
                name="reward_target_by_kind"),
        ]

    def __str__(self):
        return self.name


class RedemptionStatus(models.TextChoices):
    ISSUED = "issued", _("Coupon issued")
    PENDING = "pending", _("Gift waiting for the next order")
    CONSUMED = "consumed", _("Gift added to an order")
    CANCELLED = "cancelled", _("Cancelled, points refunded")


class PointsRedemption(TenantScopedModel):
    """Points spent on a reward (the ledger's redeem entry), and what it gave: a coupon, or a gift
    entitlement that the order review adds once to the member's next order (``order_id``) unless it
    is cancelled first (the points come back as a new ledger entry, ``refund_entry``)."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("member"))
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("reward"))
    kind = models.CharField(_("kind"), max_length=10, choices=RewardKind.choices)
    points = models.PositiveIntegerField(_("points"))
    reference = models.CharField(_("reference"), max_length=100,
                                 help_text=_("Redeeming again with it changes nothing."))
    status = models.CharField(_("status"), max_length=10, choices=RedemptionStatus.choices)
    redeem_entry = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("redeem entry"))
    refund_entry = models.ForeignKey(PointsEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("refund entry"))
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("coupon"))
    gift_sku_id = models.BigIntegerField(_("gift SKU"), null=True, blank=True)
    gift_sku_code = models.CharField(_("gift SKU code"), max_length=128, blank=True)
    gift_quantity = models.PositiveIntegerField(_("gift quantity"), default=1)
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("redeemed at"), default=timezone.now)
    consumed_at = models.DateTimeField(_("added to an order at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("points redemption")
        verbose_name_plural = _("points redemptions")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference"], name="uniq_redemption_tenant_reference"),
            models.CheckConstraint(condition=~models.Q(status="consumed") | models.Q(order_id__isnull=False),
                                   name="redemption_consumed_has_order"),
        ]
        indexes = [
            models.Index(fields=["tenant", "member", "status"], name="redemption_t_member_status"),
            models.Index(fields=["tenant", "order_id"], name="redemption_t_order"),
        ]

    def __str__(self):
        return f"{self.reward_id}:{self.member_id}"
