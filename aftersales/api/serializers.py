from decimal import Decimal

from rest_framework import serializers

from erp.api.fields import ScopedId, ScopedIds
from inventory.selectors import skus, warehouses

from ..models import AftersalesSettings, LineCondition, Ticket, TicketEvent, TicketKind, TicketLine
from ..services import allowed_actions

TICKET_LIST_FIELDS = [
    "id", "number", "kind", "source", "status", "order_id", "shop", "shop_name", "platform", "platform_order_id",
    "platform_refund_id", "platform_status", "buyer_id", "reason", "currency", "requested_amount", "approved_amount",
    "sla_due_at", "is_overdue", "created_at", "updated_at",
]


class TicketLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketLine
        fields = ["id", "order_line_id", "sku_id", "sku_code", "title", "quantity", "amount", "warehouse_id",
                  "exchange_sku_id", "received_quantity", "condition", "stock_returned_at"]
        read_only_fields = fields


class TicketEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketEvent
        fields = ["id", "created_at", "kind", "code", "from_status", "to_status", "actor_label", "message", "data"]
        read_only_fields = fields


class TicketListSerializer(serializers.ModelSerializer):
    shop_name = serializers.CharField(source="shop.name", default="", read_only=True)
    is_overdue = serializers.BooleanField(read_only=True)

    class Meta:
        model = Ticket
        fields = TICKET_LIST_FIELDS
        read_only_fields = fields


class TicketDetailSerializer(TicketListSerializer):
    lines = TicketLineSerializer(many=True, read_only=True)
    events = TicketEventSerializer(many=True, read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta(TicketListSerializer.Meta):
        fields = TICKET_LIST_FIELDS + [
            "note", "platform_refund_state", "platform_version", "platform_modified_at", "warehouse_id",
            "return_tracking_no", "reship_order_id", "approved_at", "goods_received_at", "refunded_at", "closed_at",
            "overdue_flagged_at", "allowed_actions", "lines", "events",
        ]
        read_only_fields = fields

    def get_allowed_actions(self, obj) -> list[str]:
        return allowed_actions(obj)


class TicketCreateLineSerializer(serializers.Serializer):
    order_line_id = ScopedId("orders.OrderLine")
    quantity = serializers.IntegerField(min_value=1, required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), required=False)
    exchange_sku_id = ScopedId(rows=skus, required=False, allow_null=True)


class TicketCreateSerializer(serializers.Serializer):
    order_id = ScopedId("orders.Order")
    kind = serializers.ChoiceField(choices=TicketKind.choices)
    reason = serializers.CharField(max_length=300)
    lines = TicketCreateLineSerializer(many=True, required=False)
    requested_amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), required=False,
                                                allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    warehouse_id = ScopedId(rows=warehouses, required=False, allow_null=True)


class TicketWhySerializer(serializers.Serializer):
    why = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class TicketRejectSerializer(serializers.Serializer):
    why = serializers.CharField(max_length=1000)


class TicketAmountSerializer(TicketWhySerializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"), required=False,
                                      allow_null=True, help_text="Default: the approved (or requested) amount.")


class TicketAwaitReturnSerializer(TicketWhySerializer):
    tracking_no = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)


class TicketReceiveLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, help_text="Ticket line id.")
    condition = serializers.ChoiceField(choices=[LineCondition.RESELLABLE, LineCondition.DEFECTIVE],
                                        default=LineCondition.RESELLABLE)
    quantity = serializers.IntegerField(min_value=0, required=False, help_text="Default: the line's quantity.")


class TicketReceiveGoodsSerializer(TicketWhySerializer):
    lines = TicketReceiveLineSerializer(many=True, required=False,
                                  help_text="Per line: resellable or defective. Default: every line, resellable.")
    warehouse_id = ScopedId(rows=warehouses, required=False, allow_null=True)


class TicketBulkApproveSerializer(TicketWhySerializer):
    ticket_ids = ScopedIds(Ticket, allow_empty=False, max_length=500)


class RefundReportSkuSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(allow_null=True)
    sku_code = serializers.CharField()
    tickets = serializers.IntegerField()
    units = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    sold_units = serializers.IntegerField(allow_null=True)
    refund_rate = serializers.DecimalField(max_digits=10, decimal_places=4, allow_null=True)
    top_reason = serializers.CharField()


class RefundReportShopSerializer(serializers.Serializer):
    shop_id = serializers.IntegerField(allow_null=True)
    shop_name = serializers.CharField()
    tickets = serializers.IntegerField()
    refunded = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    top_reason = serializers.CharField()


class RefundReportReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    tickets = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)


class RefundReportSerializer(serializers.Serializer):
    since = serializers.DateField()
    until = serializers.DateField()
    by_sku = RefundReportSkuSerializer(many=True)
    by_shop = RefundReportShopSerializer(many=True)
    reasons = RefundReportReasonSerializer(many=True)


class AftersalesSettingsSerializer(serializers.ModelSerializer):
    default_warehouse_id = ScopedId(rows=warehouses, required=False, allow_null=True,
                                    help_text="Where returns go when the order's warehouse is unknown.")

    class Meta:
        model = AftersalesSettings
        fields = ["id", "auto_approve_refund_below", "abuse_window_days", "abuse_ticket_limit",
                  "auto_complete_on_platform_refund", "sla_hours_refund_only", "sla_hours_return_refund",
                  "sla_hours_exchange", "sla_hours_reship", "default_warehouse_id"]
        read_only_fields = ["id"]
