from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ..models import Job, Platform, Shop, SyncRun

SHOP_JOB_FIELDS = [
    "pull_orders_enabled", "pull_orders_interval", "pull_refunds_enabled", "pull_refunds_interval",
    "push_stock_enabled", "push_stock_interval", "push_shipments_enabled", "pull_bills_enabled",
    "pull_bills_interval", "sync_overlap_seconds", "sync_lag_seconds", "initial_lookback_hours",
]


class ShopSerializer(serializers.ModelSerializer):
    credentials = serializers.DictField(
        child=serializers.CharField(allow_blank=True), write_only=True, required=False,
        help_text=_("app_key, app_secret, access_token (PDD: client_id...). Write-only; stored encrypted."))
    credential_keys = serializers.SerializerMethodField(help_text=_("Which credential fields are set (never values)."))
    channel_url = serializers.SerializerMethodField(help_text=_("Where this shop's inbound channel API listens."))

    class Meta:
        model = Shop
        fields = ["id", "code", "name", "platform", "platform_shop_id", "api_base_url", "is_active", "credentials",
                  "credential_keys", "channel_url", *SHOP_JOB_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def get_credential_keys(self, obj) -> list[str]:
        return sorted(k for k, v in (obj.credentials or {}).items() if v)

    def get_channel_url(self, obj) -> str:
        return f"/api/v1/channels/{obj.code}/orders/"

    def validate_code(self, value):
        if self.instance is not None and value != self.instance.code:
            raise serializers.ValidationError(_("The code of a shop cannot change (it is in its channel URL)."))
        return value

    def validate_platform(self, value):
        if self.instance is not None and value != self.instance.platform:
            raise serializers.ValidationError(_("The platform of a shop cannot change."))
        return value


class ShopCreatedSerializer(ShopSerializer):
    channel_secret = serializers.CharField(
        read_only=True, help_text=_("Shown once: sign inbound channel requests with it (HMAC-SHA256, hex)."))

    class Meta(ShopSerializer.Meta):
        fields = [*ShopSerializer.Meta.fields, "channel_secret"]


class RunRequestSerializer(serializers.Serializer):
    job = serializers.ChoiceField(choices=Job.choices)


class SyncRunSerializer(serializers.ModelSerializer):
    shop_code = serializers.CharField(source="shop.code", read_only=True)
    summary = serializers.CharField(read_only=True)

    class Meta:
        model = SyncRun
        fields = ["id", "shop", "shop_code", "job", "status", "trigger", "window_start", "window_end", "pages", "fetched",
                  "created", "updated", "skipped", "failed", "started_at", "finished_at", "duration_ms", "error",
                  "summary"]
        read_only_fields = fields


class ChannelAcceptedSerializer(serializers.Serializer):
    kind = serializers.CharField()
    external_id = serializers.CharField()
    received_at = serializers.DateTimeField()
    duplicate = serializers.BooleanField()


PLATFORM_CHOICES = Platform.choices
