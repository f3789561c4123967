from rest_framework import serializers

from erp.api.fields import ScopedId

from .. import selectors
from ..models import (
    Campaign,
    Coupon,
    CouponTemplate,
    Member,
    MemberIdentity,
    MemberLevel,
    MemberMerge,
    MemberOrder,
    MemberSettings,
    PointsEntry,
    PointsRedemption,
    Reward,
)

MEMBER_LIST_FIELDS = [
    "id", "display_name", "phone_masked", "level", "level_rank", "level_name", "lifetime_paid", "order_count",
    "first_order_at", "last_order_at", "points_balance", "segment", "rfm_r", "rfm_f", "rfm_m", "merged_into",
    "created_at", "marketing_opt_out",
]


class MemberLevelSerializer(serializers.ModelSerializer):
    class Meta:
        model = MemberLevel
        fields = ["id", "rank", "name", "min_spend", "min_orders", "require_both", "points_multiplier", "free_shipping",
                  "priority_shipping", "discount_percent", "benefits", "gift_sku_id", "gift_sku_code", "gift_quantity",
                  "description"]
        read_only_fields = ["gift_sku_id"]

    def validate(self, attrs):
        """A gift SKU code (empty: no gift) is looked up among the tenant's SKUs."""
        if "gift_sku_code" in attrs:
            from ..services.rewards import _gift_sku

            code = (attrs.get("gift_sku_code") or "").strip()
            if not code:
                attrs["gift_sku_id"], attrs["gift_sku_code"] = None, ""
            else:
                errors: dict = {}
                attrs["gift_sku_id"], attrs["gift_sku_code"] = _gift_sku(code, errors)
                if errors:
                    raise serializers.ValidationError(errors)
        if "gift_quantity" in attrs and not 1 <= attrs["gift_quantity"] <= 100:
            raise serializers.ValidationError({"gift_quantity": ["From 1 to 100."]})
        return attrs

    def validate_rank(self, value):
        if value < 1:
            raise serializers.ValidationError("Rank 1 or more (0 means no level).")
        qs = MemberLevel.objects.filter(rank=value)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError("Another level has this rank.")
        return value

    def validate_name(self, value):
        qs = MemberLevel.objects.filter(name=value)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError("Another level has this name.")
        return value

    def validate_min_spend(self, value):
        if value < 0:
            raise serializers.ValidationError("Zero or more.")
        return value

    def validate_points_multiplier(self, value):
        if value < 0:
            raise serializers.ValidationError("Zero or more.")
        return value

    def validate_discount_percent(self, value):
        if not 0 <= value <= 100:
            raise serializers.ValidationError("Between 0 and 100.")
        return value

    def validate_benefits(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("An object of benefit names and values.")
        return value


class MemberListSerializer(serializers.ModelSerializer):
    level_rank = serializers.IntegerField(source="level.rank", default=0, read_only=True)
    level_name = serializers.CharField(source="level.name", default="", read_only=True)

    class Meta:
        model = Member
        fields = MEMBER_LIST_FIELDS
        read_only_fields = fields


class MemberIdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = MemberIdentity
        fields = ["id", "member", "platform", "buyer_id", "receiver_name", "phone_masked", "matched_by",
                  "first_seen_at", "last_seen_at"]
        read_only_fields = fields


class PointsEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default="", read_only=True)

    class Meta:
        model = PointsEntry
        fields = ["id", "member", "kind", "amount", "reference", "order_id", "earn_entry", "expires_on", "note", "actor",
                  "created_at"]
        read_only_fields = fields


class MemberOrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = MemberOrder
        fields = ["order_id", "member", "shop_id", "platform", "parts", "paid_amount", "refunded_amount", "paid_at",
                  "shipped_at", "points_earned"]
        read_only_fields = fields


class MemberMergeSerializer(serializers.ModelSerializer):
    class Meta:
        model = MemberMerge
        fields = ["id", "target", "source", "reason", "note", "carried", "created_at", "unmerged_at"]
        read_only_fields = fields


class MemberDetailSerializer(MemberListSerializer):
    identities = serializers.SerializerMethodField()
    points_ledger = serializers.SerializerMethodField()
    orders = serializers.SerializerMethodField()
    orders_summary = serializers.SerializerMethodField()
    merges = serializers.SerializerMethodField()
    merged_members = serializers.SerializerMethodField()

    class Meta(MemberListSerializer.Meta):
        fields = MEMBER_LIST_FIELDS + ["note", "level_since", "below_level_since", "rfm_at", "identities",
                                       "points_ledger", "orders", "orders_summary", "merges", "merged_members"]
        read_only_fields = fields

    def get_identities(self, obj) -> list[dict]:
        return MemberIdentitySerializer(selectors.member_identities(obj), many=True).data

    def get_points_ledger(self, obj) -> list[dict]:
        return PointsEntrySerializer(selectors.member_ledger(obj), many=True).data

    def get_orders(self, obj) -> list[dict]:
        return MemberOrderSerializer(selectors.member_orders(obj), many=True).data

    def get_orders_summary(self, obj) -> dict:
        return {k: str(v) if not isinstance(v, int) else v for k, v in selectors.member_orders_summary(obj).items()}

    def get_merges(self, obj) -> list[dict]:
        return MemberMergeSerializer(selectors.member_merges(obj), many=True).data

    def get_merged_members(self, obj) -> list[int]:
        return list(obj.merged.order_by("pk").values_list("pk", flat=True))


class MemberPointsAdjustSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=-1_000_000_000, max_value=1_000_000_000)
    reason = serializers.CharField(max_length=300)

    def validate_amount(self, value):
        if value == 0:
            raise serializers.ValidationError("A non-zero number of points.")
        return value


class MemberPointsRedeemSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1, max_value=1_000_000_000)
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    reference = serializers.CharField(max_length=80, required=False, allow_blank=True, default="",
                                      help_text="your idempotency key: the same reference redeems once")


class MemberMergeInputSerializer(serializers.Serializer):
    source = serializers.IntegerField(min_value=1, help_text="the member merged into this one")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    allow_different_phones = serializers.BooleanField(required=False, default=False)

    def validate_source(self, value):
        if not Member.objects.filter(pk=value).exists():
            raise serializers.ValidationError("No such member.")
        return value


class MemberSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = MemberSettings
        fields = ["id", "points_per_yuan", "points_expire_days", "downgrade_policy", "downgrade_after_days",
                  "campaign_cap_count", "campaign_cap_days"]
        read_only_fields = ["id"]

    def validate_points_per_yuan(self, value):
        if value < 0:
            raise serializers.ValidationError("Zero or more.")
        return value


class CouponTemplateSerializer(serializers.ModelSerializer):
    """A coupon template; writes go through members.services.coupons (which checks the values)."""

    class Meta:
        model = CouponTemplate
        fields = ["id", "name", "kind", "amount_off", "percent_off", "max_discount", "threshold", "currency",
                  "valid_from", "valid_until", "valid_days", "per_member_limit", "active", "description",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators = []  # the name's uniqueness is checked by the service (a field error, 400)


class CouponSerializer(serializers.ModelSerializer):
    template_name = serializers.CharField(source="template.name", read_only=True)

    class Meta:
        model = Coupon
        fields = ["id", "code", "template", "template_name", "member", "issue_ref", "status", "valid_from",
                  "valid_until", "currency", "order_id", "order_amount", "discount_amount", "issued_at", "redeemed_at",
                  "closed_at", "note"]
        read_only_fields = fields


class CouponIssueSerializer(serializers.Serializer):
    template = serializers.IntegerField(min_value=1)
    member = serializers.IntegerField(min_value=1)
    issue_ref = serializers.CharField(max_length=100, help_text="A campaign or another reference: "
                                      "the same template, member and reference issue one coupon.")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CouponRedeemSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    order_id = ScopedId("orders.Order", max_value=2**63 - 1)
    order_amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    currency = serializers.CharField(max_length=3, min_length=3, required=False, default="CNY")
    member = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                      help_text="The buyer's member: the coupon must belong to its group.")


class CouponVoidSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class MemberBenefitsSerializer(serializers.Serializer):
    member_id = serializers.IntegerField(allow_null=True)
    level_rank = serializers.IntegerField()
    level_name = serializers.CharField()
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2)
    free_shipping = serializers.BooleanField()
    priority_shipping = serializers.BooleanField()
    coupons = serializers.ListField(child=serializers.DictField())


PLATFORM_CHOICES = ["taobao", "jd", "pdd", "own"]


class CampaignCriteriaSerializer(serializers.Serializer):
    """The segment and channels of a campaign (all given criteria apply)."""

    segment = serializers.CharField(max_length=20, required=False, allow_blank=True, default="",
                                    help_text="an RFM segment (important_retain, …)")
    level_rank = serializers.IntegerField(min_value=1, max_value=1000, required=False, allow_null=True, default=None)
    platform = serializers.CharField(max_length=10, required=False, allow_blank=True, default="",
                                     help_text="members with a buyer on this platform")
    no_purchase_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True,
                                                default=None, help_text="last purchase older than N days")
    purchased_within_days = serializers.IntegerField(min_value=1, max_value=3650, required=False, allow_null=True,
                                                     default=None, help_text="last purchase newer than N days")
    sku_code = serializers.CharField(max_length=128, required=False, allow_blank=True, default="",
                                     help_text="members who bought this SKU")
    channels = serializers.ListField(child=serializers.ChoiceField(choices=PLATFORM_CHOICES), min_length=1,
                                     max_length=4, help_text="taobao | jd | pdd | own, in order of preference")


class CampaignPreviewInputSerializer(CampaignCriteriaSerializer):
    holdout_percent = serializers.IntegerField(min_value=0, max_value=90, required=False, default=10)


class CampaignPreviewSerializer(serializers.Serializer):
    matched = serializers.IntegerField()
    opted_out = serializers.IntegerField()
    capped = serializers.IntegerField()
    eligible = serializers.IntegerField()
    holdout = serializers.IntegerField()
    to_send = serializers.IntegerField()


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign; writes go through members.services.campaigns (which checks the values)."""

    template = ScopedId(model=CouponTemplate, source="template_id")
    template_name = serializers.CharField(source="template.name", read_only=True)
    channels = serializers.ListField(child=serializers.ChoiceField(choices=PLATFORM_CHOICES), min_length=1,
                                     max_length=4)
    holdout_percent = serializers.IntegerField(min_value=0, max_value=90, required=False, default=10)

    class Meta:
        model = Campaign
        fields = ["id", "name", "segment", "level_rank", "platform", "no_purchase_days", "purchased_within_days",
                  "sku_code", "template", "template_name", "channels", "holdout_percent", "seed", "status",
                  "scheduled_at", "started_at", "sent_at", "n_audience", "n_holdout", "n_sent", "n_skipped",
                  "n_failed", "note", "created_at", "updated_at"]
        read_only_fields = ["id", "seed", "status", "scheduled_at", "started_at", "sent_at", "n_audience",
                            "n_holdout", "n_sent", "n_skipped", "n_failed", "created_at", "updated_at"]
        validators = []  # the name's uniqueness is checked by the service (a field error, 400)


class CampaignScheduleSerializer(serializers.Serializer):
    scheduled_at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                             help_text="empty: send now")


class CampaignProgressSerializer(serializers.Serializer):
    status = serializers.CharField()
    audience = serializers.IntegerField()
    processed = serializers.IntegerField()
    percent = serializers.IntegerField()
    sent = serializers.IntegerField()
    holdout = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    deliveries = serializers.DictField(child=serializers.IntegerField(),
                                       help_text="Coupon deliveries to the platforms by status: pending, sent, failed.")
    started_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)


class EffectGroupSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    repurchasers = serializers.IntegerField()
    repurchase_rate = serializers.FloatField(allow_null=True)
    revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
    revenue_per_member = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    redeemed = serializers.IntegerField(required=False)
    redemption_rate = serializers.FloatField(required=False, allow_null=True)
    redeemed_order_amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False)


class CampaignEffectSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    until = serializers.DateTimeField()
    complete = serializers.BooleanField()
    treated = EffectGroupSerializer()
    holdout = EffectGroupSerializer()
    uplift = serializers.FloatField(allow_null=True)


class MemberOptOutSerializer(serializers.Serializer):
    opt_out = serializers.BooleanField(help_text="true: the member receives no campaigns")


class RepurchaseMonthSerializer(serializers.Serializer):
    month = serializers.CharField()
    buyers = serializers.IntegerField()
    returning = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    segments = serializers.DictField(child=serializers.DictField())


# --- points rewards ---------------------------------------------------------------------------------
class RewardSerializer(serializers.ModelSerializer):
    """A catalogue entry; writes go through members.services.rewards (which checks the values)."""

    template_id = ScopedId(model=CouponTemplate, required=False, allow_null=True, default=None, max_value=2**53)
    template_name = serializers.CharField(source="template.name", read_only=True, default="")

    class Meta:
        model = Reward
        fields = ["id", "name", "kind", "points_price", "template_id", "template_name", "gift_sku_id", "gift_sku_code",
                  "gift_quantity", "active", "description", "created_at", "updated_at"]
        read_only_fields = ["id", "gift_sku_id", "template_name", "created_at", "updated_at"]
        validators = []  # the name's uniqueness is checked by the service (a field error, 400)


class RedemptionSerializer(serializers.ModelSerializer):
    reward_name = serializers.CharField(source="reward.name", read_only=True)
    coupon_code = serializers.CharField(source="coupon.code", read_only=True, allow_null=True, default=None)

    class Meta:
        model = PointsRedemption
        fields = ["id", "member", "reward", "reward_name", "kind", "points", "reference", "status", "coupon",
                  "coupon_code", "gift_sku_id", "gift_sku_code", "gift_quantity", "order_id", "redeem_entry",
                  "refund_entry", "created_at", "consumed_at", "cancelled_at"]
        read_only_fields = fields


class RedeemRewardSerializer(serializers.Serializer):
    reward = ScopedId(model=Reward, max_value=2**53)
    reference = serializers.CharField(max_length=60, required=False, allow_blank=True, default="",
                                      help_text="Redeeming again with the same reference changes nothing.")
