from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from erp.api.fields import ScopedPK
from inventory import selectors as inventory

from ..models import (
    AdvanceShippingNotice,
    ASNLine,
    GoodsReceipt,
    GoodsReceiptLine,
    Notification,
    POLine,
    PurchaseOrder,
    PurchaseOrderEvent,
    ReceiptDifference,
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
    asns = serializers.SerializerMethodField(help_text=_("The supplier's shipping notices, with the differences "
                                                         "found on receipt."))

    class Meta(PurchaseOrderSerializer.Meta):
        fields = [*PO_FIELDS, "confirmed_at", "supplier_note", "lines", "timeline", "allowed_actions", "asns"]
        read_only_fields = fields

    @extend_schema_field({"type": "array", "items": {"$ref": "#/components/schemas/ASN"}})
    def get_asns(self, obj) -> list:
        from ..selectors import po_asns

        return ASNSerializer(po_asns(po=obj), many=True).data

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
    explanation_steps = serializers.SerializerMethodField(
        help_text=_("The same, step by step: [{label, text}] (history, factor, safety stock, stock position, "
                    "rounding, supplier)."))
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True, default=None, allow_null=True)

    class Meta:
        model = ReorderSuggestion
        fields = ["id", "status", "sku", "sku_code", "sku_name", "supplier", "supplier_code", "supplier_item",
                  "suggested_quantity", "unit_price", "currency", "amount", "urgent", "daily_demand",
                  "base_daily_demand", "demand_std_dev", "seasonal_factor", "season_basis", "days_of_cover",
                  "lead_time_days", "review_period_days", "service_level_z", "safety_stock", "available", "on_order",
                  "reorder_point", "target_stock", "net_requirement", "min_order_quantity", "order_multiple",
                  "warehouse", "warehouse_code", "warehouse_share", "history_days", "history_units", "stockout_days",
                  "promotion_days", "promotion_uplift", "coming_promotion_days", "forecast_demand", "forecast_error",
                  "in_transit", "supplier_reason", "alternatives",
                  "explanation", "explanation_steps", "computed_at", "purchase_order"]
        read_only_fields = fields

    def get_explanation(self, obj) -> str:
        return _explain(obj)

    def get_explanation_steps(self, obj) -> list[dict]:
        from ..selectors import suggestion_explanation_parts

        return [{"label": str(label), "text": str(text)} for label, text in suggestion_explanation_parts(obj)]


def _explain(obj) -> str:
    from ..selectors import suggestion_explanation

    return suggestion_explanation(obj)


class ReorderCreatePOsSerializer(serializers.Serializer):
    suggestions = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False)
    warehouse = ScopedPK(rows=inventory.warehouses, required=False, allow_null=True,
                         help_text=_("Destination for every line; default each suggestion's warehouse."))
    quantities = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=MAX_QTY), required=False,
                                       help_text=_("Override quantities: {suggestion id: quantity}."))
    expected_date = serializers.DateField(required=False, allow_null=True)


class ReorderRecomputeResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()


# --- shipping notices, differences, notifications, supplier users -----------------------------------
class ASNLineSerializer(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)

    class Meta:
        model = ASNLine
        fields = ["id", "po_line", "sku", "sku_code", "quantity", "received_quantity", "damaged_quantity"]
        read_only_fields = fields


class ReceiptDifferenceSerializer(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    asn_number = serializers.CharField(source="asn.number", read_only=True)

    class Meta:
        model = ReceiptDifference
        fields = ["id", "asn", "asn_number", "asn_line", "purchase_order", "sku", "sku_code", "kind", "quantity", "note",
                  "created_at"]
        read_only_fields = fields


class ASNSerializer(serializers.ModelSerializer):
    purchase_order_number = serializers.CharField(source="purchase_order.number", read_only=True)
    lines = ASNLineSerializer(many=True, read_only=True)
    differences = ReceiptDifferenceSerializer(many=True, read_only=True)

    class Meta:
        model = AdvanceShippingNotice
        fields = ["id", "number", "purchase_order", "purchase_order_number", "status", "expected_arrival", "carrier",
                  "tracking_number", "note", "total_quantity", "created_at", "received_at", "receipt", "lines",
                  "differences"]
        read_only_fields = fields


class LineQuantitySerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, help_text=_("PO line id."))
    quantity = serializers.IntegerField(min_value=0, max_value=MAX_QTY)


class POConfirmSerializer(serializers.Serializer):
    expected_date = serializers.DateField(required=False, allow_null=True, help_text=_("The date you will deliver."))
    lines = LineQuantitySerializer(many=True, required=False, help_text=_("Changed quantities only."))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class PORefuseSerializer(serializers.Serializer):
    why = serializers.CharField(max_length=1000)


class ASNCreateSerializer(serializers.Serializer):
    lines = LineQuantitySerializer(many=True, allow_empty=False)
    expected_arrival = serializers.DateField()
    carrier = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
    tracking_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class ASNReceiveLineSerializer(serializers.Serializer):
    asn_line = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=0, max_value=MAX_QTY, help_text=_("Good units taken into stock."))
    damaged = serializers.IntegerField(min_value=0, max_value=MAX_QTY, required=False, default=0)


class ASNReceiveSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=100)
    lines = ASNReceiveLineSerializer(many=True, allow_empty=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "code", "subject", "body", "url", "created_at", "read_at"]
        read_only_fields = fields


class NotificationReadSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                help_text=_("Default: every unread one."))


class NotificationReadResultSerializer(serializers.Serializer):
    count = serializers.IntegerField()


class SupplierUserInviteSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class SupplierUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    supplier_id = serializers.IntegerField()
    is_active = serializers.BooleanField()


# --- the supplier portal's view of its documents -------------------------------------------------------
class PortalPOLineSerializer(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    sku_name = serializers.CharField(source="sku.name", read_only=True)
    open_quantity = serializers.IntegerField(read_only=True)

    class Meta:
        model = POLine
        fields = ["id", "sku", "sku_code", "sku_name", "supplier_sku_code", "quantity", "unit_price",
                  "received_quantity", "returned_quantity", "open_quantity"]
        read_only_fields = fields


PORTAL_PO_FIELDS = ["id", "number", "status", "currency", "expected_date", "warehouse_name", "total_quantity",
                    "received_quantity", "total_amount", "sent_at", "confirmed_at", "supplier_note"]


class PortalPurchaseOrderSerializer(serializers.ModelSerializer):
    warehouse_name = serializers.CharField(source="warehouse.name", read_only=True)

    class Meta:
        model = PurchaseOrder
        fields = PORTAL_PO_FIELDS
        read_only_fields = fields


class PortalPurchaseOrderDetailSerializer(PortalPurchaseOrderSerializer):
    lines = PortalPOLineSerializer(many=True, read_only=True)
    asns = ASNSerializer(many=True, read_only=True)
    timeline = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()

    class Meta(PortalPurchaseOrderSerializer.Meta):
        fields = [*PORTAL_PO_FIELDS, "lines", "asns", "timeline", "allowed_actions"]
        read_only_fields = fields

    def get_timeline(self, obj) -> list[dict]:
        from ..models import EventKind

        kinds = {EventKind.STATUS, EventKind.SUPPLIER, EventKind.RECEIPT, EventKind.RETURN}
        return [{"created_at": e.created_at, "kind": e.kind, "code": e.code, "message": e.message,
                 "actor_label": e.actor_label} for e in obj.events.all() if e.kind in kinds]

    def get_allowed_actions(self, obj) -> list[str]:
        from ..services import allowed_actions

        return [a for a in allowed_actions(obj) if a in ("confirm", "refuse", "ship")]


class PortalReceiptSerializer(serializers.ModelSerializer):
    purchase_order_number = serializers.CharField(source="purchase_order.number", read_only=True)
    lines = PurchasingReceiptLineSerializer(many=True, read_only=True)

    class Meta:
        model = GoodsReceipt
        fields = ["id", "number", "kind", "purchase_order", "purchase_order_number", "received_at", "currency",
                  "total_quantity", "total_amount", "defective", "note", "lines"]
        read_only_fields = fields


class PortalItemSerializer(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    sku_name = serializers.CharField(source="sku.name", read_only=True)

    class Meta:
        model = SupplierItem
        fields = ["id", "sku", "sku_code", "sku_name", "supplier_sku_code", "unit_price", "min_order_quantity",
                  "order_multiple", "lead_time_days"]
        read_only_fields = fields
