from rest_framework import serializers

from ..models import (
    Parcel,
    PickWave,
    ScanRecord,
    TrackingEvent,
    WmsAccount,
    WmsOrder,
    WmsStockDifference,
    WmsStockSnapshot,
)


class TrackingEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = ["occurred_at", "code", "description", "location"]


class ParcelSerializer(serializers.ModelSerializer):
    tracking = TrackingEventSerializer(many=True, read_only=True)

    class Meta:
        model = Parcel
        fields = ["id", "order_id", "order_no", "wave", "seq", "warehouse", "carrier_code", "tracking_no", "status",
                  "expected", "weight_g", "freight", "currency", "packed_at", "shipped_at", "last_movement_at",
                  "tracking"]
        read_only_fields = fields


class WaveSerializer(serializers.ModelSerializer):
    class Meta:
        model = PickWave
        fields = ["id", "number", "warehouse", "carrier_code", "kind", "status", "created_at"]
        read_only_fields = fields


class WaveCreateSerializer(serializers.Serializer):
    warehouse = serializers.IntegerField(min_value=1)
    kind = serializers.ChoiceField(choices=["", "single", "multi"], required=False, default="")
    carrier_code = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=500, required=False, default=50)


class PickRowSerializer(serializers.Serializer):
    bin = serializers.CharField()
    sku_id = serializers.IntegerField()
    sku_code = serializers.CharField()
    sku_name = serializers.CharField()
    quantity = serializers.IntegerField()
    orders = serializers.ListField(child=serializers.CharField())


class ScanSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=128)


class ScanOutcomeSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    complete = serializers.BooleanField()
    counts = serializers.DictField(child=serializers.IntegerField())
    parcel = ParcelSerializer()


class WeighSerializer(serializers.Serializer):
    weight_g = serializers.IntegerField(min_value=1, max_value=100_000)


class ScanRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScanRecord
        fields = ["id", "code", "sku_id", "result", "reason", "created_at"]


# --- third-party warehouses ------------------------------------------------------------------------
class WmsAccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = WmsAccount
        fields = ["id", "code", "name", "warehouse", "wms_warehouse_code", "owner_code", "app_key", "api_base_url",
                  "is_active", "last_pull_at", "last_error"]
        read_only_fields = fields


class WmsOrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = WmsOrder
        fields = ["id", "account", "kind", "code", "order_id", "status", "lines", "actual", "wms_order_id",
                  "carrier_code", "tracking_no", "attempts", "next_attempt_at", "last_error", "sent_at",
                  "confirmed_at", "created_at"]
        read_only_fields = fields


class WmsStockDifferenceSerializer(serializers.ModelSerializer):
    difference = serializers.IntegerField(read_only=True)

    class Meta:
        model = WmsStockDifference
        fields = ["sku_id", "sku_code", "ours", "theirs", "difference", "in_flight"]
        read_only_fields = fields


class WmsStockSnapshotSerializer(serializers.ModelSerializer):
    lines = WmsStockDifferenceSerializer(many=True, read_only=True)

    class Meta:
        model = WmsStockSnapshot
        fields = ["id", "account", "taken_at", "items", "differences", "lines"]
        read_only_fields = fields


class WmsEntryLineSerializer(serializers.Serializer):
    sku = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class WmsEntryCreateSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=64)
    lines = WmsEntryLineSerializer(many=True, allow_empty=False)

    def validate_lines(self, value):
        from erp.api.fields import ScopedIds
        from inventory import selectors as inventory_selectors

        ScopedIds(rows=inventory_selectors.skus).run_validation([row["sku"] for row in value])
        return value


class WmsSyncResultSerializer(serializers.Serializer):
    result = serializers.DictField()
