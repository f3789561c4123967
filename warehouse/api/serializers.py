from rest_framework import serializers

from ..models import Parcel, PickWave, ScanRecord, TrackingEvent


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
