from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from erp.tenancy.admin import ReadOnlyInline, TenantScopedAdmin

from .models import Member, MemberIdentity, MemberLevel, MemberMerge, MemberOrder, MemberSettings, PointsEntry


class IdentityInline(ReadOnlyInline):
    model = MemberIdentity
    fk_name = "member"
    fields = ["platform", "buyer_id", "receiver_name", "phone_masked", "matched_by", "first_seen_at", "last_seen_at"]
    readonly_fields = fields


@admin.register(Member)
class MemberAdmin(TenantScopedAdmin):
    """Totals, points and merges change through the members pages / API (so they are recorded)."""

    list_display = ["id", "display_name", "phone_masked", "level", "segment", "lifetime_paid", "order_count",
                    "points_balance", "last_order_at", "merged_into"]
    list_filter = ["segment", "level"]
    search_fields = ["display_name", "phone_masked", "identities__buyer_id"]
    list_select_related = ["level"]
    fields = ["display_name", "note"]
    inlines = [IdentityInline]

    def has_add_permission(self, request, *args):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MemberLevelForm(forms.ModelForm):
    """Rank and name are unique in the tenant (the form does not see the tenant column, so it says so
    itself instead of letting the database refuse it)."""

    class Meta:
        model = MemberLevel
        fields = ["rank", "name", "min_spend", "min_orders", "require_both", "points_multiplier", "free_shipping",
                  "priority_shipping", "discount_percent", "benefits", "description"]

    def clean(self):
        data = super().clean()
        for field in ("rank", "name"):
            value = data.get(field)
            if value is None or value == "":
                continue
            qs = MemberLevel.objects.filter(**{field: value})
            if self.instance.pk:
                qs = qs.exclude(pk=self.instance.pk)
            if qs.exists():
                self.add_error(field, _("Another level has this value."))
        if data.get("rank") is not None and data["rank"] < 1:
            self.add_error("rank", _("Rank 1 or more."))
        return data


@admin.register(MemberLevel)
class MemberLevelAdmin(TenantScopedAdmin):
    form = MemberLevelForm
    list_display = ["rank", "name", "min_spend", "min_orders", "require_both", "points_multiplier", "free_shipping",
                    "priority_shipping", "discount_percent"]
    ordering = ["rank"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        from .services import levels_changed

        levels_changed()


@admin.register(MemberSettings)
class MemberSettingsAdmin(TenantScopedAdmin):
    list_display = ["__str__", "points_per_yuan", "points_expire_days", "downgrade_policy", "downgrade_after_days"]

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request, *args) and not MemberSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class AppendOnlyAdmin(TenantScopedAdmin):
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PointsEntry)
class PointsEntryAdmin(AppendOnlyAdmin):
    list_display = ["id", "member", "kind", "amount", "reference", "order_id", "expires_on", "created_at"]
    list_filter = ["kind"]
    search_fields = ["reference"]
    list_select_related = ["member"]


@admin.register(MemberOrder)
class MemberOrderAdmin(AppendOnlyAdmin):
    list_display = ["order_id", "member", "platform", "paid_amount", "refunded_amount", "points_earned", "shipped_at"]
    list_filter = ["platform"]
    list_select_related = ["member"]


@admin.register(MemberMerge)
class MemberMergeAdmin(AppendOnlyAdmin):
    list_display = ["id", "target", "source", "reason", "created_at", "unmerged_at"]
    list_filter = ["reason"]
    list_select_related = ["target", "source"]
