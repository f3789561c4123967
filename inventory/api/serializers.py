from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from erp.api.fields import ScopedPK
from integrations.selectors import shops

from ..models import (
    SKU,
    BundleComponent,
    PlatformSkuMapping,
    Product,
    Promotion,
    Reservation,
    StockLevel,
    StockLock,
    StockLockEvent,
    StockMove,
    Stocktake,
    StocktakeLine,
    SyncRule,
    Transfer,
    TransferLine,
    Warehouse,
)

MAX_QTY = 1_000_000_000




class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "code", "name", "category", "brand", "description", "status", "created_at", "updated_at"]


class ComponentSerializer(serializers.Serializer):
    sku = ScopedPK(model=SKU)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)


class SKUSerializer(serializers.ModelSerializer):
    components = ComponentSerializer(many=True, required=False, write_only=True,
                                     help_text=_("Bundle components; giving them makes this SKU a bundle."))
    unit_cost = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)

    class Meta:
        model = SKU
        fields = ["id", "product", "code", "barcode", "name", "attributes", "unit_cost", "currency", "weight_grams", "status",
                  "is_bundle", "components", "created_at", "updated_at"]
        read_only_fields = ["is_bundle"]

    def validate_attributes(self, value):
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str | int) for k, v in value.items()):
            raise serializers.ValidationError(_('An object of attribute names to values, e.g. {"颜色": "红"}.'))
        return value

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["components"] = [{"sku": c.component_id, "quantity": c.quantity}
                              for c in BundleComponent.objects.filter(bundle=instance).order_by("component_id")]
        return data


class WarehouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "kind", "wms_provider", "address", "regions", "priority", "is_active", "created_at",
                  "updated_at"]

    def validate_regions(self, value):
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise serializers.ValidationError(_("A list of province names."))
        return [v.strip() for v in value]


class StockLevelSerializer(serializers.ModelSerializer):
    available = serializers.IntegerField(read_only=True)
    sku_code = serializers.CharField(source="sku.code", read_only=True)
    sku_name = serializers.CharField(source="sku.name", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)

    class Meta:
        model = StockLevel
        fields = ["id", "warehouse", "warehouse_code", "sku", "sku_code", "sku_name", "on_hand", "reserved", "locked",
                  "available", "in_transit", "defective", "updated_at"]


class StockMoveSerializer(serializers.ModelSerializer):
    sku_code = serializers.CharField(source="sku.code", read_only=True)

    class Meta:
        model = StockMove
        fields = ["id", "warehouse", "sku", "sku_code", "kind", "on_hand_delta", "in_transit_delta", "defective_delta",
                  "on_hand_after", "reason", "source_doc", "created_by", "created_at"]
        read_only_fields = fields


class AdjustmentCreateSerializer(serializers.Serializer):
    warehouse = ScopedPK(model=Warehouse)
    sku = ScopedPK(model=SKU)
    quantity = serializers.IntegerField(min_value=-MAX_QTY, max_value=MAX_QTY,
                                        help_text=_("Signed change of on hand (not zero)."))
    reason = serializers.CharField(max_length=200)
    source_doc = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate_quantity(self, value):
        if value == 0:
            raise serializers.ValidationError(_("Must not be zero."))
        return value


class ReceiptCreateSerializer(serializers.Serializer):
    warehouse = ScopedPK(model=Warehouse)
    sku = ScopedPK(model=SKU)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    reason = serializers.CharField(max_length=200, required=False, default="receipt")
    source_doc = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class LineSerializer(serializers.Serializer):
    sku = ScopedPK(model=SKU)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QTY)


class TransferLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = TransferLine
        fields = ["id", "sku", "quantity", "received_quantity"]


class TransferSerializer(serializers.ModelSerializer):
    lines = TransferLineSerializer(many=True, read_only=True)

    class Meta:
        model = Transfer
        fields = ["id", "number", "from_warehouse", "to_warehouse", "status", "note", "shipped_at", "received_at", "lines",
                  "created_at"]
        read_only_fields = fields


class TransferCreateSerializer(serializers.Serializer):
    from_warehouse = ScopedPK(model=Warehouse)
    to_warehouse = ScopedPK(model=Warehouse)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    lines = LineSerializer(many=True, allow_empty=False)


class ReceivedLineSerializer(serializers.Serializer):
    sku = ScopedPK(model=SKU)
    quantity = serializers.IntegerField(min_value=0, max_value=MAX_QTY)


class TransferReceiveSerializer(serializers.Serializer):
    lines = ReceivedLineSerializer(many=True, required=False,
                                   help_text=_("Received quantities; lines left out arrived in full."))


class StocktakeLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = StocktakeLine
        fields = ["id", "sku", "expected", "counted", "variance"]


class StocktakeSerializer(serializers.ModelSerializer):
    lines = StocktakeLineSerializer(many=True, read_only=True)

    class Meta:
        model = Stocktake
        fields = ["id", "number", "warehouse", "status", "note", "posted_at", "lines", "created_at"]
        read_only_fields = fields


class StocktakeCreateSerializer(serializers.Serializer):
    warehouse = ScopedPK(model=Warehouse)
    skus = ScopedPK(model=SKU, many=True, required=False,
                    help_text=_("SKUs to count; left out: every SKU with stock in the warehouse."))
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CountLineSerializer(serializers.Serializer):
    sku = ScopedPK(model=SKU)
    counted = serializers.IntegerField(min_value=0, max_value=MAX_QTY)


class StocktakeCountSerializer(serializers.Serializer):
    counts = CountLineSerializer(many=True, allow_empty=False)


class StockLockEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = StockLockEvent
        fields = ["id", "kind", "quantity", "ref_type", "ref_id", "note", "created_at"]


class StockLockSerializer(serializers.ModelSerializer):
    events = StockLockEventSerializer(many=True, read_only=True)

    class Meta:
        model = StockLock
        fields = ["id", "name", "shop", "warehouse", "sku", "quantity", "locked_quantity", "remaining", "used", "released",
                  "starts_at", "ends_at", "status", "events", "created_at"]
        read_only_fields = fields


class StockLockCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    shop = ScopedPK(rows=shops)
    sku = ScopedPK(model=SKU)
    warehouse = ScopedPK(model=Warehouse, required=False, allow_null=True,
                         help_text=_("Left out: the first warehouse feeding the shop with enough available."))
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QTY)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()

    def validate(self, attrs):
        if attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": [_("The end must be after the start.")]})
        return attrs


class SyncRuleSerializer(serializers.ModelSerializer):
    shop = ScopedPK(rows=shops)
    warehouses = ScopedPK(model=Warehouse, many=True, required=False,
                          help_text=_("Warehouses that feed the shop; empty: every active warehouse."))
    percentage = serializers.IntegerField(min_value=0, max_value=100, required=False)
    adjust = serializers.IntegerField(min_value=-MAX_QTY, max_value=MAX_QTY, required=False)

    class Meta:
        model = SyncRule
        fields = ["id", "shop", "warehouses", "percentage", "adjust", "safety_stock", "min_quantity", "max_quantity",
                  "auto_delist", "is_active", "updated_at"]

    def validate(self, attrs):
        low = attrs.get("min_quantity", getattr(self.instance, "min_quantity", None))
        high = attrs.get("max_quantity", getattr(self.instance, "max_quantity", None))
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_quantity": [_("The minimum is above the maximum.")]})
        return attrs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["warehouses"] = sorted(instance.rule_warehouses.values_list("warehouse_id", flat=True))
        return data


class PlatformSkuMappingSerializer(serializers.ModelSerializer):
    sku = ScopedPK(model=SKU, required=False, allow_null=True)
    sku_code = serializers.CharField(source="sku.code", read_only=True, default=None, allow_null=True)

    class Meta:
        model = PlatformSkuMapping
        fields = ["id", "shop", "platform_item_id", "platform_sku_id", "outer_id", "title", "sku", "sku_code",
                  "match_method", "last_seen_at", "created_at", "updated_at"]
        read_only_fields = ["match_method", "last_seen_at"]

    shop = ScopedPK(rows=shops)


class ReservationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reservation
        fields = ["id", "ref_type", "ref_id", "warehouse", "sku", "bundle", "quantity", "requested", "status", "lock",
                  "from_lock", "created_at", "closed_at"]
        read_only_fields = fields


class AvailabilitySerializer(serializers.Serializer):
    warehouse = serializers.IntegerField()
    warehouse_code = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    locked = serializers.IntegerField()
    available = serializers.IntegerField()
    in_transit = serializers.IntegerField()
    defective = serializers.IntegerField()


class ShopStockLineSerializer(serializers.Serializer):
    mapping_id = serializers.IntegerField()
    sku_id = serializers.IntegerField()
    platform_item_id = serializers.CharField()
    platform_sku_id = serializers.CharField()
    outer_id = serializers.CharField()
    quantity = serializers.IntegerField()
    delist = serializers.BooleanField()


class StockHealthLineSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    on_hand = serializers.IntegerField()
    available = serializers.IntegerField()
    sold = serializers.IntegerField()
    daily = serializers.FloatField()
    days_of_cover = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(choices=["out", "risk", "slow", "ok"])


class PromotionSerializer(serializers.ModelSerializer):
    shops = serializers.SerializerMethodField()
    skus = serializers.SerializerMethodField()
    locks = serializers.SerializerMethodField()

    class Meta:
        model = Promotion
        fields = ["id", "name", "starts_at", "ends_at", "spend", "currency", "note", "shops", "skus", "locks", "created_at"]
        read_only_fields = fields

    def get_shops(self, obj) -> list[int]:
        return sorted(r.shop_id for r in obj.promotion_shops.all())

    def get_skus(self, obj) -> list[int]:
        return sorted(r.sku_id for r in obj.promotion_skus.all())

    def get_locks(self, obj) -> list[int]:
        return sorted(lock.pk for lock in obj.locks.all())


class PromotionCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    shops = ScopedPK(rows=shops, many=True, allow_empty=False)
    skus = ScopedPK(model=SKU, many=True, allow_empty=False)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    spend = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False, default=Decimal("0"))
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if attrs["ends_at"] <= attrs["starts_at"]:
            raise serializers.ValidationError({"ends_at": [_("The end must be after the start.")]})
        return attrs


class PromotionLockSerializer(serializers.Serializer):
    shop = ScopedPK(rows=shops)
    sku = ScopedPK(model=SKU)
    warehouse = ScopedPK(model=Warehouse, required=False, allow_null=True,
                         help_text=_("Left out: the first warehouse feeding the shop with enough available."))
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QTY)


class PromotionReportQuerySerializer(serializers.Serializer):
    margin_below = serializers.DecimalField(max_digits=6, decimal_places=2, min_value=-1000, max_value=100,
                                            required=False, default=Decimal("10"),
                                            help_text=_("Name promotions whose well-selling SKUs have a margin (%) below this."))
    uplift = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, max_value=1000, required=False,
                                      default=Decimal("1.5"), help_text=_("Sold well: units at least this times the baseline's."))
    min_units = serializers.IntegerField(min_value=0, max_value=MAX_QTY, required=False, default=1)
