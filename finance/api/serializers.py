from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from erp.api.fields import ScopedId, ScopedPK
from integrations.selectors import shops
from inventory.selectors import skus

from ..models import (
    Account,
    FinanceSettings,
    LineTag,
    Period,
    PostingIssue,
    Reconciliation,
    SettlementLine,
    Voucher,
    VoucherLine,
)

MAX_AMOUNT = Decimal("999999999999.99")




class FinanceAccountSerializer(serializers.ModelSerializer):
    parent = ScopedPK(model=Account, required=False, allow_null=True)

    class Meta:
        model = Account
        fields = ["id", "code", "name", "type", "parent", "platform", "is_active", "created_at", "updated_at"]

    def validate(self, attrs):
        parent = attrs.get("parent", getattr(self.instance, "parent", None))
        type_ = attrs.get("type", getattr(self.instance, "type", None))
        if parent is not None:
            if self.instance is not None and parent.pk == self.instance.pk:
                raise serializers.ValidationError({"parent": [_("An account cannot be its own parent.")]})
            if parent.type != type_:
                raise serializers.ValidationError({"parent": [_("A sub-account has its parent's type.")]})
        if self.instance is not None and self.instance.lines.exists():
            for name in ("code", "type"):
                if name in attrs and attrs[name] != getattr(self.instance, name):
                    raise serializers.ValidationError({name: [_("The account has postings: its %(f)s is fixed.")
                                                              % {"f": name}]})
        return attrs


class FinancePeriodSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    month = serializers.IntegerField(min_value=1, max_value=12)
    year = serializers.IntegerField(min_value=2000, max_value=2100)

    class Meta:
        model = Period
        fields = ["id", "key", "year", "month", "status", "last_number", "closed_at"]
        read_only_fields = ["status", "last_number", "closed_at"]


class FinanceVoucherLineSerializer(serializers.ModelSerializer):
    account_code = serializers.CharField(source="account.code", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = VoucherLine
        fields = ["id", "line_no", "account", "account_code", "account_name", "debit", "credit", "currency", "memo", "tag",
                  "shop_id", "platform", "order_id", "platform_order_id", "sku_id", "supplier_id"]


class FinanceVoucherSerializer(serializers.ModelSerializer):
    display_no = serializers.CharField(read_only=True)
    period = serializers.CharField(source="period.key", read_only=True)
    lines = FinanceVoucherLineSerializer(many=True, read_only=True)
    reversed_by = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    class Meta:
        model = Voucher
        fields = ["id", "display_no", "number", "period", "date", "memo", "status", "source_type", "source_ref",
                  "reversal_of", "reversed_by", "posted_at", "created_at", "total", "lines"]

    def get_reversed_by(self, obj) -> int | None:
        reversals = list(obj.reversals.all())
        return reversals[0].pk if reversals else None

    def get_total(self, obj) -> str:
        return str(sum((ln.debit for ln in obj.lines.all()), Decimal("0.00")))


class FinanceLineInputSerializer(serializers.Serializer):
    account = ScopedPK(model=Account, required=False)
    account_code = serializers.CharField(required=False, max_length=20)
    debit = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), max_value=MAX_AMOUNT,
                                     required=False, default=Decimal("0"))
    credit = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), max_value=MAX_AMOUNT,
                                      required=False, default=Decimal("0"))
    currency = serializers.CharField(max_length=3, required=False, default="CNY")
    memo = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    tag = serializers.ChoiceField(choices=LineTag.choices, required=False, default="")
    shop_id = ScopedId(rows=shops, required=False, allow_null=True)
    platform = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    order_id = ScopedId("orders.Order", required=False, allow_null=True)
    platform_order_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    sku_id = ScopedId(rows=skus, required=False, allow_null=True)
    supplier_id = ScopedId("purchasing.Supplier", required=False, allow_null=True)

    def validate(self, attrs):
        if attrs.get("account") is None:
            code = attrs.pop("account_code", None)
            account = Account.objects.filter(code=code).first() if code else None
            if account is None:
                raise serializers.ValidationError({"account": [_("Give an account id or an existing account_code.")]})
            attrs["account"] = account
        attrs.pop("account_code", None)
        if (attrs["debit"] > 0) == (attrs["credit"] > 0):
            raise serializers.ValidationError({"debit": [_("Give either a debit or a credit.")]})
        return attrs


class FinanceVoucherWriteSerializer(serializers.Serializer):
    date = serializers.DateField()
    memo = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    lines = FinanceLineInputSerializer(many=True, allow_empty=False)
    post = serializers.BooleanField(required=False, default=False,
                                    help_text=_("Post at once (it must balance); otherwise a draft is saved."))


class FinanceReverseSerializer(serializers.Serializer):
    date = serializers.DateField(required=False, allow_null=True, help_text=_("Default: today."))
    memo = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class FinanceResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300)


class FinanceSettlementLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = SettlementLine
        fields = ["id", "shop_id", "platform", "platform_bill_id", "platform_order_id", "order_id", "kind", "amount",
                  "booked_at", "description", "postings", "created_at"]


class FinanceReconciliationSerializer(serializers.ModelSerializer):
    expected_amount = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)

    class Meta:
        model = Reconciliation
        fields = ["id", "shop_id", "platform", "platform_order_id", "order_id", "status", "shipped_amount",
                  "refunded_amount", "expected_amount", "settled_amount", "fees_amount", "difference", "shipped_at",
                  "last_bill_at", "bill_lines", "note", "updated_at"]


class FinancePostingIssueSerializer(serializers.ModelSerializer):
    class Meta:
        model = PostingIssue
        fields = ["id", "source_type", "source_ref", "payload", "error", "attempts", "created_at", "last_tried_at",
                  "resolved_at"]


class FinanceLedgerLineSerializer(serializers.ModelSerializer):
    """The BI feed: one posted voucher line with its voucher, account and dimensions (stable columns)."""

    line_id = serializers.IntegerField(source="id", read_only=True)
    voucher_number = serializers.IntegerField(source="voucher.number", read_only=True)
    period_year = serializers.IntegerField(source="voucher.period.year", read_only=True)
    period_month = serializers.IntegerField(source="voucher.period.month", read_only=True)
    entry_date = serializers.DateField(source="voucher.date", read_only=True)
    posted_at = serializers.DateTimeField(source="voucher.posted_at", read_only=True)
    source_type = serializers.CharField(source="voucher.source_type", read_only=True)
    source_ref = serializers.CharField(source="voucher.source_ref", read_only=True)
    reversal_of_id = serializers.IntegerField(source="voucher.reversal_of_id", read_only=True)
    voucher_memo = serializers.CharField(source="voucher.memo", read_only=True)
    account_code = serializers.CharField(source="account.code", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    account_type = serializers.CharField(source="account.type", read_only=True)
    line_memo = serializers.CharField(source="memo", read_only=True)

    class Meta:
        model = VoucherLine
        fields = ["id", "line_id", "voucher_id", "voucher_number", "period_year", "period_month", "entry_date",
                  "posted_at", "source_type", "source_ref", "reversal_of_id", "voucher_memo", "account_code",
                  "account_name", "account_type", "debit", "credit", "currency", "tag", "shop_id", "platform",
                  "order_id", "platform_order_id", "sku_id", "supplier_id", "line_memo"]


class FinanceSettingsSerializer(serializers.ModelSerializer):
    settlement_due_days = serializers.IntegerField(min_value=1, max_value=365)

    class Meta:
        model = FinanceSettings
        fields = ["id", "settlement_due_days"]
