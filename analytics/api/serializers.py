from rest_framework import serializers


def _money(**kw):
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kw)


def _rate(**kw):
    return serializers.DecimalField(max_digits=16, decimal_places=1, allow_null=True, **kw)


class FiguresSerializer(serializers.Serializer):
    paid_orders = serializers.IntegerField()
    units = serializers.IntegerField()
    gmv = _money(help_text="goods of the lines not cancelled before shipment plus the paid orders' freight")
    goods = _money()
    freight = _money()
    average_order_value = _money(allow_null=True)
    cancelled_orders = serializers.IntegerField()
    cancelled_amount = _money()
    refunded_after_shipment = _money()
    shipped_parcels = serializers.IntegerField()
    parcels_with_promise = serializers.IntegerField()
    shipped_on_time = serializers.IntegerField()
    on_time_ship_rate = _rate()


class DaySerializer(FiguresSerializer):
    day = serializers.DateField()


class ShopSerializer(FiguresSerializer):
    shop = serializers.IntegerField()
    name = serializers.CharField()


class PlatformSerializer(FiguresSerializer):
    platform = serializers.CharField()
    name = serializers.CharField()


class SkuSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(allow_null=True)
    sku_code = serializers.CharField()
    title = serializers.CharField()
    units = serializers.IntegerField()
    gmv = _money()


class HourSerializer(serializers.Serializer):
    hour = serializers.IntegerField()
    paid_orders = serializers.IntegerField()


class ProvinceSerializer(serializers.Serializer):
    province = serializers.CharField()
    key = serializers.CharField(help_text="one spelling per province (浙江省 and 浙江 are 浙江)")
    orders = serializers.IntegerField()
    units = serializers.IntegerField()
    gmv = _money()
    share = _rate()


class SalesSummarySerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    previous_from = serializers.DateField()
    previous_to = serializers.DateField()
    timezone = serializers.CharField()
    shop = serializers.IntegerField(allow_null=True)
    platform = serializers.CharField(allow_null=True)
    totals = FiguresSerializer()
    previous = FiguresSerializer()
    change_pct = serializers.DictField(child=_rate())
    days = DaySerializer(many=True)
    by_shop = ShopSerializer(many=True)
    by_platform = PlatformSerializer(many=True)
    top_skus_by_units = SkuSerializer(many=True)
    top_skus_by_gmv = SkuSerializer(many=True)
    hours = HourSerializer(many=True)
    provinces = ProvinceSerializer(many=True)
    live_days = serializers.ListField(child=serializers.DateField(),
                                      help_text="days read from the orders (changed since their rollup was written)")


class HourPairSerializer(serializers.Serializer):
    hour = serializers.IntegerField()
    today = serializers.IntegerField()
    yesterday = serializers.IntegerField()


class QueuesSerializer(serializers.Serializer):
    review = serializers.IntegerField()
    on_hold = serializers.IntegerField()
    out_of_stock = serializers.IntegerField()
    to_ship = serializers.IntegerField()
    shipped_today = serializers.IntegerField()


class GroupSerializer(serializers.Serializer):
    name = serializers.CharField()
    gmv = _money()
    paid_orders = serializers.IntegerField()


class StockLineSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    available = serializers.IntegerField()
    days_of_cover = serializers.FloatField(allow_null=True)
    status = serializers.CharField()


class StockSerializer(serializers.Serializer):
    out = serializers.IntegerField()
    risk = serializers.IntegerField()
    slow = serializers.IntegerField()
    lines = StockLineSerializer(many=True)


class AfterSalesSerializer(serializers.Serializer):
    open = serializers.IntegerField()
    overdue = serializers.IntegerField()
    awaiting_return = serializers.IntegerField()


class SyncSerializer(serializers.Serializer):
    shop = serializers.IntegerField()
    name = serializers.CharField()
    platform = serializers.CharField()
    tone = serializers.CharField()
    failures = serializers.IntegerField()
    failed_pushes = serializers.IntegerField()
    pending_pushes = serializers.IntegerField()
    last_success_at = serializers.DateTimeField(allow_null=True)


class BigScreenSerializer(serializers.Serializer):
    now = serializers.DateTimeField()
    day = serializers.DateField()
    timezone = serializers.CharField()
    today = FiguresSerializer()
    yesterday_same_time = FiguresSerializer(help_text="yesterday up to the same time of day")
    change_pct = serializers.DictField(child=_rate())
    hours = HourPairSerializer(many=True)
    queues = QueuesSerializer()
    by_platform = GroupSerializer(many=True)
    by_shop = GroupSerializer(many=True)
    top_skus = SkuSerializer(many=True)
    provinces = ProvinceSerializer(many=True)
    stock = StockSerializer()
    aftersales = AfterSalesSerializer()
    sync = SyncSerializer(many=True)


class BIDatasetSerializer(serializers.Serializer):
    name = serializers.CharField()
    view = serializers.CharField()
    key = serializers.CharField()
    changed = serializers.CharField()
    about = serializers.CharField()


class BIPageSerializer(serializers.Serializer):
    dataset = serializers.CharField()
    rows = serializers.ListField(child=serializers.DictField())
    next_after = serializers.IntegerField(allow_null=True)
    next = serializers.URLField(allow_null=True)
    as_of = serializers.DateTimeField()
