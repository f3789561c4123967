from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from erp.tenancy.admin import TenantScopedAdmin

from . import services
from .api.serializers import SHOP_JOB_FIELDS
from .models import (
    InboundMessage,
    Job,
    Outbox,
    PlatformBillLine,
    PlatformOrder,
    PlatformRefund,
    Shop,
    SyncCursor,
    SyncRun,
)

CREDENTIAL_FIELDS = [("app_key", _("App key / client id"), False), ("app_secret", _("App secret"), True),
                     ("access_token", _("Access token / session"), True)]


class ShopForm(forms.ModelForm):
    """Credentials as separate fields; secrets are never shown back (blank keeps the stored value)."""

    app_key = forms.CharField(label=_("App key / client id"), required=False)
    app_secret = forms.CharField(label=_("App secret"), required=False, widget=forms.PasswordInput(render_value=False),
                                 help_text=_("Leave blank to keep the stored secret."))
    access_token = forms.CharField(label=_("Access token / session"), required=False,
                                   widget=forms.PasswordInput(render_value=False),
                                   help_text=_("Leave blank to keep the stored token."))

    class Meta:
        model = Shop
        fields = ["code", "name", "platform", "platform_shop_id", "is_active", "api_base_url", *SHOP_JOB_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.fields["app_key"].initial = (self.instance.credentials or {}).get("app_key", "")
            self.fields["code"].disabled = True
            self.fields["platform"].disabled = True

    def save(self, commit=True):
        shop = super().save(commit=False)
        creds = dict(shop.credentials or {})
        for name, _label, secret in CREDENTIAL_FIELDS:
            value = self.cleaned_data.get(name, "")
            if value or not secret:
                creds[name] = value
        shop.credentials = creds
        if not shop.channel_secret:
            shop.channel_secret = {"secret": Shop.new_channel_secret()}
        if commit:
            shop.save()
        return shop


def _run_action(job):
    def action(modeladmin, request, queryset):
        for shop in queryset:
            run = services.sync_run_now(shop=shop, job=job, trigger="admin", budget_seconds=20)
            if run is None:
                modeladmin.message_user(request, _("%(shop)s: a run is in progress") % {"shop": shop.code},
                                        messages.WARNING)
            else:
                level = messages.SUCCESS if run.status in ("success", "partial") else messages.ERROR
                modeladmin.message_user(request, f"{shop.code}: {run.summary()}", level)

    action.__name__ = f"run_{job}"
    action.short_description = _("Run now: %(job)s") % {"job": Job(job).label}
    return action


@admin.register(Shop)
class ShopAdmin(TenantScopedAdmin):
    form = ShopForm
    list_display = ["name", "code", "platform", "is_active", "pull_orders_enabled", "push_stock_enabled", "updated_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["name", "code", "platform_shop_id"]
    actions = [_run_action(job) for job in (Job.PULL_ORDERS, Job.PULL_REFUNDS, Job.PUSH_STOCK, Job.PUSH_STOCK_FULL,
                                            Job.PUSH_SHIPMENTS, Job.PULL_BILLS)]
    fieldsets = [
        (None, {"fields": ["code", "name", "platform", "platform_shop_id", "is_active"]}),
        (_("Connection"), {"fields": ["api_base_url", "app_key", "app_secret", "access_token"]}),
        (_("Jobs"), {"fields": [
            ("pull_orders_enabled", "pull_orders_interval"), ("pull_refunds_enabled", "pull_refunds_interval"),
            ("push_stock_enabled", "push_stock_interval"), "push_shipments_enabled",
            ("pull_bills_enabled", "pull_bills_interval"),
            ("sync_overlap_seconds", "sync_lag_seconds", "initial_lookback_hours")]}),
    ]

    def has_delete_permission(self, request, obj=None):
        return False  # orders point at shops: deactivate instead


class ReadOnlyAdmin(TenantScopedAdmin):
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "shop", "job", "status", "trigger", "pages", "fetched", "created", "updated", "skipped",
                    "failed", "duration_ms"]
    list_filter = ["job", "status", "trigger", "shop"]
    date_hierarchy = "started_at"
    list_select_related = ["shop"]


@admin.register(SyncCursor)
class SyncCursorAdmin(TenantScopedAdmin):
    list_display = ["shop", "job", "watermark", "next_page", "last_success_at", "consecutive_failures"]
    list_filter = ["job", "shop"]
    readonly_fields = ["last_started_at", "last_success_at", "last_error", "consecutive_failures"]
    list_select_related = ["shop"]


@admin.register(PlatformOrder)
class PlatformOrderAdmin(ReadOnlyAdmin):
    list_display = ["platform_order_id", "shop", "state", "platform_modified_at", "version", "updated_at"]
    list_filter = ["state", "shop"]
    search_fields = ["platform_order_id"]
    list_select_related = ["shop"]


@admin.register(PlatformRefund)
class PlatformRefundAdmin(ReadOnlyAdmin):
    list_display = ["platform_refund_id", "platform_order_id", "shop", "status", "refund_version",
                    "platform_modified_at"]
    list_filter = ["status", "shop"]
    search_fields = ["platform_refund_id", "platform_order_id"]
    list_select_related = ["shop"]


@admin.register(PlatformBillLine)
class PlatformBillLineAdmin(ReadOnlyAdmin):
    list_display = ["platform_bill_id", "platform_order_id", "shop", "kind", "amount", "booked_at"]
    list_filter = ["kind", "shop"]
    search_fields = ["platform_bill_id", "platform_order_id"]
    list_select_related = ["shop"]


@admin.register(Outbox)
class OutboxAdmin(TenantScopedAdmin):
    list_display = ["dedupe_key", "shop", "kind", "status", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_filter = ["kind", "status", "shop"]
    search_fields = ["dedupe_key"]
    readonly_fields = ["shop", "kind", "dedupe_key", "payload", "attempts", "last_error", "response", "sent_at"]
    actions = ["retry"]
    list_select_related = ["shop"]

    @admin.action(description=_("Send again"))
    def retry(self, request, queryset):
        for row in queryset.exclude(status=Outbox.Status.SENT):
            services.outbox_retry(row=row)

    def has_add_permission(self, request, *args):
        return False


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "shop", "kind", "external_id", "processed_at", "error"]
    list_filter = ["kind", "shop"]
    search_fields = ["external_id"]
    list_select_related = ["shop"]
