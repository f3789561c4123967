"""Admin for the chart of accounts and settings; the ledger, settlements and reconciliations are
read-only here (vouchers are written through finance.services: the API and the operator pages)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from erp.tenancy.admin import ReadOnlyAdmin, ReadOnlyInline, TenantScopedAdmin

from . import services
from .models import (
    Account,
    FinanceSettings,
    Period,
    PostingIssue,
    Reconciliation,
    SettlementLine,
    SupplierPayment,
    SupplierStatement,
    SupplierStatementLine,
    Voucher,
    VoucherLine,
)


@admin.register(Account)
class AccountAdmin(TenantScopedAdmin):
    list_display = ["code", "name", "type", "parent", "platform", "is_active"]
    list_filter = ["type", "is_active", "platform"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]

    def has_delete_permission(self, request, obj=None):
        return False  # an account with postings is protected; deactivate it instead


@admin.register(Period)
class PeriodAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "last_number", "closed_at", "closed_by"]
    list_filter = ["status", "year"]
    actions = ["close_periods", "reopen_periods"]

    def _run(self, request, queryset, fn):
        for period in queryset:
            try:
                fn(period=period, user=request.user)
            except Exception as exc:  # noqa: BLE001 - a Conflict names the reason
                self.message_user(request, f"{period}: {getattr(exc, 'detail', exc)}", messages.ERROR)

    @admin.action(description=_("Close the selected periods"))
    def close_periods(self, request, queryset):
        self._run(request, queryset, services.period_close)

    @admin.action(description=_("Reopen the selected periods"))
    def reopen_periods(self, request, queryset):
        self._run(request, queryset, services.period_reopen)

    def has_change_permission(self, request, obj=None):
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)


class VoucherLineInline(ReadOnlyInline):
    model = VoucherLine
    fields = ["line_no", "account", "debit", "credit", "currency", "tag", "shop_id", "platform", "platform_order_id",
              "sku_id", "memo"]
    readonly_fields = fields


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "date", "status", "source_type", "source_ref", "memo", "reversal_of"]
    list_filter = ["status", "source_type", "period"]
    search_fields = ["memo", "source_ref"]
    date_hierarchy = "date"
    inlines = [VoucherLineInline]


@admin.register(VoucherLine)
class VoucherLineAdmin(ReadOnlyAdmin):
    list_display = ["voucher", "account", "debit", "credit", "tag", "shop_id", "platform", "platform_order_id", "sku_id"]
    list_filter = ["tag", "platform"]
    search_fields = ["platform_order_id", "memo"]
    list_select_related = ["voucher", "voucher__period", "account"]


@admin.register(SettlementLine)
class SettlementLineAdmin(ReadOnlyAdmin):
    list_display = ["platform_bill_id", "platform", "shop_id", "platform_order_id", "kind", "amount", "booked_at",
                    "postings"]
    list_filter = ["kind", "platform"]
    search_fields = ["platform_bill_id", "platform_order_id"]


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyAdmin):
    list_display = ["platform_order_id", "platform", "shop_id", "status", "shipped_amount", "refunded_amount",
                    "settled_amount", "fees_amount", "difference", "shipped_at", "last_bill_at"]
    list_filter = ["status", "platform"]
    search_fields = ["platform_order_id"]


@admin.register(PostingIssue)
class PostingIssueAdmin(ReadOnlyAdmin):
    list_display = ["source_type", "source_ref", "error", "attempts", "last_tried_at", "resolved_at"]
    list_filter = ["source_type"]
    search_fields = ["source_ref", "error"]
    actions = ["retry"]

    @admin.action(description=_("Retry the selected postings"))
    def retry(self, request, queryset):
        done = sum(1 for issue in queryset.filter(resolved_at__isnull=True) if services.posting_issue_retry(issue=issue))
        self.message_user(request, _("%(n)d posting(s) went through.") % {"n": done})

    def has_change_permission(self, request, obj=None):
        return obj is None and super(ReadOnlyAdmin, self).has_change_permission(request, obj)


@admin.register(FinanceSettings)
class FinanceSettingsAdmin(TenantScopedAdmin):
    list_display = ["__str__", "settlement_due_days"]

    def has_add_permission(self, request, *args):
        return not FinanceSettings.objects.exists() and super().has_add_permission(request, *args)


class StatementLineInline(ReadOnlyInline):
    model = SupplierStatementLine
    fields = ["kind", "date", "receipt_number", "purchase_order_number", "sku_code", "quantity", "unit_price", "amount",
              "memo", "disputed", "dispute_reason"]
    readonly_fields = fields


@admin.register(SupplierStatement)
class SupplierStatementAdmin(ReadOnlyAdmin):
    """Read-only: statements change through finance.services.payables (the pages and the API)."""

    list_display = ["number", "supplier_name", "year", "month", "status", "total_amount", "paid_amount", "due_date"]
    list_filter = ["status", "year", "month"]
    search_fields = ["number", "supplier_name"]
    inlines = [StatementLineInline]


@admin.register(SupplierPayment)
class SupplierPaymentAdmin(ReadOnlyAdmin):
    list_display = ["statement", "amount", "currency", "paid_on", "reference", "voucher"]
    search_fields = ["reference"]
    date_hierarchy = "paid_on"
    list_select_related = ["statement", "voucher", "voucher__period"]
