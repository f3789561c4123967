from django.db import models
from django.utils import timezone
from rest_framework import serializers

from erp.api.fields import ScopedIds
from erp.money import CENT

from ..models import BulkJob, HoldReason, Order, OrderBenefit, OrderEvent, OrderLine, Waybill

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
                  "is_committed", "is_gift"]
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


class OrderBenefitSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderBenefit
        fields = ["id", "kind", "key", "member_id", "level_rank", "level_name", "entitlement_id", "line", "amount",
                  "detail", "created_at"]
        read_only_fields = fields


class OrderDetailSerializer(OrderListSerializer):
    lines = OrderLineSerializer(many=True, read_only=True)
    benefits = OrderBenefitSerializer(many=True, read_only=True)
    timeline = OrderEventSerializer(source="events", many=True, read_only=True)
    waybills = WaybillSerializer(many=True, read_only=True)

    class Meta(OrderListSerializer.Meta):
        fields = [*LIST_FIELDS, "buyer_level", "buyer_message", "seller_memo", "seller_flag", "operator_note",
                  "receiver_phone", "receiver_district", "receiver_address", "address_hash", "presale_fully_paid",
                  "ship_blocked_reason", "platform_state", "platform_modified_at", "allocated_at", "weight_g",
                  "free_shipping", "lines", "benefits", "timeline", "waybills"]
        read_only_fields = fields


# --- lean output ----------------------------------------------------------------------------------
# The list and the detail are built from ``.values()`` rows by plain functions (no serializer fields
# built per request, no model instances). The ModelSerializers above describe the same output in the
# OpenAPI schema; tests/orders/test_api.py checks both give the same JSON.
def _dt(value, tz):
    if not value:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _money(value):
    return None if value is None else f"{value.quantize(CENT):f}"


def _spec(model, names: list[str]) -> list[tuple[str, str, str]]:
    """(output name, values() column, conversion) for plain model fields."""
    out = []
    for name in names:
        f = model._meta.get_field(name)
        column = f.attname if f.is_relation else name
        kind = "dt" if isinstance(f, models.DateTimeField) else "money" if isinstance(f, models.DecimalField) else "plain"
        out.append((name, column, kind))
    return out


_COMPUTED = {"display_no", "hold_reasons", "out_of_stock"}
ORDER_LIST_SPEC = _spec(Order, [f for f in LIST_FIELDS if f not in _COMPUTED])
ORDER_DETAIL_EXTRA = ["buyer_level", "buyer_message", "seller_memo", "seller_flag", "operator_note", "receiver_phone",
                      "receiver_district", "receiver_address", "address_hash", "presale_fully_paid", "ship_blocked_reason",
                      "platform_state", "platform_modified_at", "allocated_at", "weight_g", "free_shipping"]
ORDER_DETAIL_SPEC = _spec(Order, [f for f in LIST_FIELDS if f not in _COMPUTED] + ORDER_DETAIL_EXTRA)
LINE_SPEC = _spec(OrderLine, OrderLineSerializer.Meta.fields)
EVENT_SPEC = _spec(OrderEvent, OrderEventSerializer.Meta.fields)
WAYBILL_SPEC = _spec(Waybill, WaybillSerializer.Meta.fields)
BENEFIT_SPEC = _spec(OrderBenefit, OrderBenefitSerializer.Meta.fields)

ORDER_LIST_COLUMNS = sorted({c for _, c, _ in ORDER_LIST_SPEC} | {"hold_reasons", "out_of_stock_since"})
ORDER_DETAIL_COLUMNS = sorted({c for _, c, _ in ORDER_DETAIL_SPEC} | {"hold_reasons", "out_of_stock_since"})
LINE_COLUMNS = ["order_id"] + [c for _, c, _ in LINE_SPEC]
EVENT_COLUMNS = [c for _, c, _ in EVENT_SPEC]
WAYBILL_COLUMNS = [f"waybills__{c}" for _, c, _ in WAYBILL_SPEC]
BENEFIT_COLUMNS = [c for _, c, _ in BENEFIT_SPEC]


def _build(row: dict, spec, tz, prefix: str = "") -> dict:
    out = {}
    for name, column, kind in spec:
        value = row[prefix + column]
        if value is not None and kind != "plain":
            value = _dt(value, tz) if kind == "dt" else _money(value)
        out[name] = value
    return out


def _display_no(row) -> str:
    kind, pk = row["kind"], row["id"]
    return f"M{pk}" if kind == "merged" else f"{row['platform_order_id']}-S{pk}" if kind == "split" else row["platform_order_id"]


def _row_builder(spec, fields: list[str]):
    """A function row -> output dict, generated once from the spec (one dict display per row, in
    the serializer's field order; a loop over the spec per row costs twice as much)."""
    by_name = {name: (column, kind) for name, column, kind in spec}
    items = []
    for name in fields:
        if name == "display_no":
            expr = "_display_no(row)"
        elif name == "hold_reasons":
            expr = "[r for r in row['hold_reasons'].split(',') if r]"
        elif name == "out_of_stock":
            expr = "row['out_of_stock_since'] is not None"
        elif name in by_name:
            column, kind = by_name[name]
            expr = {"plain": f"row[{column!r}]", "dt": f"_dt(row[{column!r}], tz)", "money": f"_money(row[{column!r}])"}[kind]
        else:
            continue  # nested lists, added by the caller
        items.append(f"        {name!r}: {expr},")
    source = "def build(row, tz):\n    return {\n" + "\n".join(items) + "\n    }\n"
    namespace = {"_dt": _dt, "_money": _money, "_display_no": _display_no}
    exec(compile(source, f"<orders row builder {len(fields)}>", "exec"), namespace)  # noqa: S102 (code built from field names)
    return namespace["build"]


_LIST_ROW = _row_builder(ORDER_LIST_SPEC, LIST_FIELDS)
_DETAIL_ROW = _row_builder(ORDER_DETAIL_SPEC, OrderDetailSerializer.Meta.fields)


def order_list_rows(rows) -> list[dict]:
    """The list's JSON rows (same shape as OrderListSerializer) from ORDER_LIST_COLUMNS values."""
    tz = timezone.get_current_timezone()
    build = _LIST_ROW
    return [build(row, tz) for row in rows]


def order_detail_data(row: dict, lines, events, *, waybill: bool, benefits=()) -> dict:
    """The detail's JSON (same shape as OrderDetailSerializer) from ORDER_DETAIL_COLUMNS values plus
    the joined waybill columns, and LINE_COLUMNS / EVENT_COLUMNS rows."""
    tz = timezone.get_current_timezone()
    out = _DETAIL_ROW(row, tz)
    out["lines"] = [_build(ln, LINE_SPEC, tz) for ln in lines]
    out["benefits"] = [_build(b, BENEFIT_SPEC, tz) for b in benefits]
    out["timeline"] = [_build(ev, EVENT_SPEC, tz) for ev in events]
    out["waybills"] = [_build(row, WAYBILL_SPEC, tz, prefix="waybills__")] if waybill else []
    return out


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
    order_ids = ScopedIds(Order, min_length=2, max_length=100)
    dry_run = serializers.BooleanField(default=False)


class BulkSerializer(WhySerializer):
    action = serializers.ChoiceField(choices=["approve", "hold", "release", "allocate", "pick", "ship", "cancel"])
    order_ids = ScopedIds(Order, min_length=1, max_length=1000)


class MergeVerdictSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    mergeable = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())


# --- bulk jobs -----------------------------------------------------------------------------------------
class BulkJobStartSerializer(WhySerializer):
    """A bulk action: up to 20 orders run at once; more (up to 5,000) become a background job."""

    action = serializers.ChoiceField(choices=["approve", "hold", "release", "allocate", "pick", "ship", "cancel"])
    order_ids = ScopedIds(Order, min_length=1, max_length=5000)


BULK_JOB_FIELDS = ["id", "action", "why", "requested_by", "status", "total", "processed", "ok_count", "failed_count",
                   "percent", "error", "created_at", "started_at", "finished_at"]


class BulkJobListSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True, allow_null=True)
    processed = serializers.IntegerField(read_only=True)
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = BulkJob
        fields = BULK_JOB_FIELDS
        read_only_fields = fields


class BulkJobSerializer(BulkJobListSerializer):
    """A job with every order's outcome so far: {order id: "ok" | the reason it was refused}."""

    results = serializers.DictField(child=serializers.CharField(), read_only=True)

    class Meta(BulkJobListSerializer.Meta):
        fields = [*BULK_JOB_FIELDS, "order_ids", "results"]
        read_only_fields = fields
