from rest_framework import serializers

from ..models import HoldReason, Order, OrderEvent, OrderLine, Waybill

LIST_FIELDS = [
    "id", "display_no", "kind", "platform", "shop", "platform_order_id", "status", "hold_reasons", "out_of_stock",
    "buyer_id", "receiver_name", "receiver_province", "receiver_city", "currency", "goods_amount", "discount_amount",
    "freight_amount", "paid_amount", "line_count", "total_quantity", "is_presale", "platform_status",
    "platform_created_at", "paid_at", "ship_by", "warehouse_id", "carrier_code", "tracking_no", "shipped_at",
    "merged_into", "split_from", "created_at", "updated_at",
]


class OrderListSerializer(serializers.ModelSerializer):
    hold_reasons = serializers.ListField(source="hold_reason_list", child=serializers.CharField(), read_only=True)
    out_of_stock = serializers.SerializerMethodField()
    display_no = serializers.CharField(read_only=True)

    class Meta:
        model = Order
        fields = LIST_FIELDS
        read_only_fields = fields

    def get_out_of_stock(self, obj) -> bool:
        return obj.out_of_stock_since is not None


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ["id", "origin_order", "platform_order_id", "platform_line_id", "platform_item_id", "platform_sku_id",
                  "outer_id", "title", "sku_properties", "sku_id", "sku_code", "quantity", "price", "discount", "paid",
                  "is_presale", "refund_state", "platform_refund_id", "is_stopped", "warehouse_id", "is_reserved",
                  "is_committed"]
        read_only_fields = fields


class OrderEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["id", "created_at", "kind", "code", "from_status", "to_status", "actor_label", "message", "data"]
        read_only_fields = fields


class WaybillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Waybill
        fields = ["id", "carrier_code", "tracking_no", "warehouse_id", "weight_g", "cost", "created_at"]
        read_only_fields = fields


class OrderDetailSerializer(OrderListSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    timeline = OrderEventSerializer(source="events", many=True, read_only=True)
    waybills = WaybillSerializer(many=True, read_only=True)

    class Meta(OrderListSerializer.Meta):
        fields = [*LIST_FIELDS, "buyer_level", "buyer_message", "seller_memo", "seller_flag", "operator_note",
                  "receiver_phone", "receiver_district", "receiver_address", "address_hash", "presale_fully_paid",
                  "ship_blocked_reason", "platform_state", "platform_modified_at", "allocated_at", "weight_g",
                  "lines", "timeline", "waybills"]
        read_only_fields = fields


class WhySerializer(serializers.Serializer):
    why = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class HoldSerializer(WhySerializer):
    reason = serializers.ChoiceField(choices=[c for c in HoldReason.choices if c[0] in
                                              ("manual", "buyer_message", "seller_memo", "amount", "blacklist", "risk",
                                               "incomplete_address")], default="manual")


class ReleaseSerializer(WhySerializer):
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=HoldReason.choices), required=False,
                                    help_text="Hold reasons to clear; default: every reason an operator may clear.")


class ShipSerializer(serializers.Serializer):
    carrier_code = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    tracking_no = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class SplitSerializer(WhySerializer):
    mode = serializers.ChoiceField(choices=["manual", "presale"], default="manual")
    lines = serializers.JSONField(required=False, default=dict, help_text='{"<line id>": quantity to move to the new part}')

    def validate_lines(self, value):
        # flat messages (a nested error dict per key does not fit the one error shape)
        if not isinstance(value, dict):
            raise serializers.ValidationError('an object {"<line id>": quantity}')
        out = {}
        for key, qty in value.items():
            if not str(key).isdigit() or isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
                raise serializers.ValidationError(f"line {key!r}: quantity must be a whole number of at least 1")
            out[int(key)] = qty
        return out


class MergeSerializer(WhySerializer):
    order_ids = serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=100)
    dry_run = serializers.BooleanField(default=False)


class BulkSerializer(WhySerializer):
    action = serializers.ChoiceField(choices=["approve", "hold", "release", "allocate", "pick", "ship", "cancel"])
    order_ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=1000)


class MergeVerdictSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    mergeable = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
