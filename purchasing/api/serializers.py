from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from erp.api.fields import ScopedPK
from inventory import selectors as inventory

from ..models import (
    GoodsReceipt,
    GoodsReceiptLine,
    POLine,
    PurchaseOrder,
    PurchaseOrderEvent,
    ReorderSuggestion,
    Supplier,
    SupplierItem,
)

MAX_QTY = 1_000_000




class PurchasingSupplierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Supplier
        fields = ["id", "code", "name", "contact_name", "phone", "email", "address", "payment_terms_days", "currency",
                  "is_active", "note", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class PurchasingSupplierItemSerializer(serializers.ModelSerializer):
    supplier = ScopedPK(model=Supplier)
    sku = ScopedPK(rows=inventory.skus)
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    min_order_quantity = serializers.IntegerField(min_value=1, max_value=MAX_QTY, required=False)
    order_multiple = serializers.IntegerField(min_value=1, max_value=MAX_QTY, required=False)
    lead_time_days = serializers.IntegerField(min_value=0, max_value=365, required=False)

    class Meta:
        model = SupplierItem
        fields = ["id", "supplier", "sku", "sku_code", "supplier_sku_code", "unit_price", "min_order_quantity",
                  "order_multiple", "lead_time_days", "is_preferred", "is_active", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_sku(self, sku):
        if sku.is_bundle:
            raise serializers.ValidationError(_("A bundle is not purchased; add its components."))
        return sku


class POLineSerializer(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    sku_name = serializers.CharField(source="sku.name", read_only=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    open_quantity = serializers.IntegerField(read_only=True)

    class Meta:
        model = POLine
        fields = ["id", "sku", "sku_code", "sku_name", "supplier_sku_code", "quantity", "unit_price", "amount",
                  "received_quantity", "returned_quantity", "open_quantity"]
        read_only_fields = fields


class POEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = PurchaseOrderEvent
        fields = ["id", "created_at", "kind", "code", "from_status", "to_status", "actor_label", "message", "data"]
        read_only_fields = fields


PO_FIELDS = ["id", "number", "supplier", "supplier_code", "supplier_name", "warehouse", "status", "source", "currency",
             "expected_date", "is_overdue", "total_quantity", "received_quantity", "total_amount", "note", "approved_at",
             "sent_at", "received_at", "closed_at", "created_at", "updated_at"]


class PurchaseOrderSerializer(serializers.ModelSerializer):
    supplier_code = serializers.CharField(source="supplier.code", read_only=True)
    supplier_name = serializers.CharField(source="supplier.name", read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = PurchaseOrder
        fields = PO_FIELDS
        read_only_fields = fields


class PurchaseOrderDetailSerializer(PurchaseOrderSerializer):
    lines = POLineSerializer(many=True, read_only=True)
    timeline = POEventSerializer(source="events", many=True, read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta(PurchaseOrderSerializer.Meta):
        fields = [*PO_FIELDS, "lines", "timeline", "allowed_actions"]
        read_only_fields = fields

    def get_allowed_actions(self, obj) -> list[str]:
        from ..services import allowed_actions

        return allowed_actions(obj)


class POLineInputSerializer(serializers.Serializer):
    sku = ScopedPK(rows=inventory.skus)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False, allow_null=True,
                                          help_text=_("Default: the supplier item's price."))


class PurchaseOrderCreateSerializer(serializers.Serializer):
    supplier = ScopedPK(model=Supplier)
    warehouse = ScopedPK(rows=inventory.warehouses)
    expected_date = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    lines = POLineInputSerializer(many=True, allow_empty=False)


class PurchaseOrderUpdateSerializer(serializers.Serializer):
    warehouse = ScopedPK(rows=inventory.warehouses, required=False)
    expected_date = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True)


class POLinesSerializer(serializers.Serializer):
    lines = POLineInputSerializer(many=True, allow_empty=False)
    why = serializers.CharField(required=False, allow_blank=True, default="")


class POWhySerializer(serializers.Serializer):
    why = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class POSendSerializer(POWhySerializer):
    expected_date = serializers.DateField(required=False, allow_null=True)


class POReceiveLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(required=False, help_text=_("PO line id (or give sku)."))
    sku = serializers.IntegerField(required=False, help_text=_("SKU id (instead of line)."))
    quantity = serializers.IntegerField(min_value=0, max_value=MAX_QTY)

    def validate(self, attrs):
        if attrs.get("line") is None and attrs.get("sku") is None:
            raise serializers.ValidationError(_("Give line or sku."))
        return attrs


class POReceiveSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100, help_text=_(
        "Your idempotency key (e.g. the delivery note number): the same reference never receives twice."))
    lines = POReceiveLineSerializer(many=True, allow_empty=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class POReturnSerializer(POReceiveSerializer):
    why = serializers.CharField(max_length=500)
    defective = serializers.BooleanField(required=False, default=False)


class PurchasingReceiptLineSerializer(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)

    class Meta:
        model = GoodsReceiptLine
        fields = ["id", "po_line", "sku", "sku_code", "quantity", "unit_cost"]
        read_only_fields = fields


class PurchasingGoodsReceiptSerializer(serializers.ModelSerializer):
    purchase_order_number = serializers.CharField(source="purchase_order.number", read_only=True)
    lines = PurchasingReceiptLineSerializer(many=True, read_only=True)
    replayed = serializers.SerializerMethodField(help_text=_("True when the reference had already been received: "
                                                             "nothing was received again."))

    class Meta:
        model = GoodsReceipt
        fields = ["id", "number", "kind", "reference", "purchase_order", "purchase_order_number", "warehouse",
                  "received_at", "received_by", "currency", "total_quantity", "total_amount", "defective", "note",
                  "lines", "replayed"]
        read_only_fields = fields

    def get_replayed(self, obj) -> bool:
        return bool(getattr(obj, "replayed", False))


class ReorderSuggestionSerializer(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    sku_name = serializers.CharField(source="sku.name", read_only=True)
    supplier_code = serializers.CharField(source="supplier.code", read_only=True, default=None, allow_null=True)
    explanation = serializers.SerializerMethodField(help_text=_("How the quantity was reached, in words."))

    class Meta:
        model = ReorderSuggestion
        fields = ["id", "status", "sku", "sku_code", "sku_name", "supplier", "supplier_code", "supplier_item",
                  "suggested_quantity", "unit_price", "currency", "amount", "urgent", "daily_demand",
                  "base_daily_demand", "demand_std_dev", "seasonal_factor", "season_basis", "days_of_cover",
                  "lead_time_days", "review_period_days", "service_level_z", "safety_stock", "available", "on_order",
                  "reorder_point", "target_stock", "net_requirement", "min_order_quantity", "order_multiple",
                  "explanation", "computed_at", "purchase_order"]
        read_only_fields = fields

    def get_explanation(self, obj) -> str:
        return _explain(obj)


def _explain(obj) -> str:
    from ..selectors import suggestion_explanation

    return suggestion_explanation(obj)


class ReorderCreatePOsSerializer(serializers.Serializer):
    suggestions = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False)
    warehouse = ScopedPK(rows=inventory.warehouses, required=False, allow_null=True,
                         help_text=_("Destination; default the first active warehouse by priority."))
    quantities = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=MAX_QTY), required=False,
                                       help_text=_("Override quantities: {suggestion id: quantity}."))
    expected_date = serializers.DateField(required=False, allow_null=True)


class ReorderRecomputeResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()
