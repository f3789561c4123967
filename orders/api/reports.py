"""GET /api/v1/orders/reports/sales/: the sales report of the orders app (orders.reports), the same
numbers as the page /orders/reports/."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from erp.tenancy.permissions import RolePermission

from .. import reports


def _money(**kw):
    return serializers.DecimalField(max_digits=16, decimal_places=2, **kw)


def _rate(**kw):
    return serializers.DecimalField(max_digits=16, decimal_places=1, allow_null=True, **kw)


class SalesFiguresSerializer(serializers.Serializer):
    paid_orders = serializers.IntegerField(help_text="platform orders paid in the period with at least one line not cancelled")
    units = serializers.IntegerField()
    gmv = _money(help_text="paid amount of the lines not cancelled before shipment, plus the paid orders' freight")
    goods = _money()
    freight = _money()
    average_order_value = _money(allow_null=True)
    cancelled_orders = serializers.IntegerField(help_text="paid orders whose every line was cancelled before shipment")
    cancelled_amount = _money(help_text="paid amount of the lines cancelled or refunded before shipment")
    refunded_after_shipment = _money(help_text="lines the platform reports refunded after the order shipped "
                                              "(after-sales tickets are booked by finance)")
    shipped_parcels = serializers.IntegerField(help_text="parcels shipped in the period (by shipped time)")
    parcels_with_promise = serializers.IntegerField()
    shipped_on_time = serializers.IntegerField()
    on_time_ship_rate = _rate(help_text="% of the parcels with a ship-by promise shipped by then")
    median_hours_to_ship = _rate(help_text="median hours from paid to shipped")


class SalesDaySerializer(SalesFiguresSerializer):
    day = serializers.DateField()


class SalesShopSerializer(SalesFiguresSerializer):
    shop = serializers.IntegerField()
    name = serializers.CharField()


class SalesPlatformSerializer(SalesFiguresSerializer):
    platform = serializers.CharField()
    name = serializers.CharField()


class SalesSkuSerializer(serializers.Serializer):
    sku_id = serializers.IntegerField(allow_null=True)
    sku_code = serializers.CharField()
    title = serializers.CharField()
    units = serializers.IntegerField()
    gmv = _money()


class SalesHourSerializer(serializers.Serializer):
    hour = serializers.IntegerField(help_text="hour of day in the tenant's time zone (0-23)")
    paid_orders = serializers.IntegerField()


class SalesProvinceSerializer(serializers.Serializer):
    province = serializers.CharField()
    orders = serializers.IntegerField()
    units = serializers.IntegerField()
    gmv = _money()
    share = _rate(help_text="% of the period's goods amount")


class SalesReportSerializer(serializers.Serializer):
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    previous_from = serializers.DateField()
    previous_to = serializers.DateField()
    timezone = serializers.CharField()
    shop = serializers.IntegerField(allow_null=True)
    platform = serializers.CharField(allow_null=True)
    totals = SalesFiguresSerializer()
    previous = SalesFiguresSerializer(help_text="the same figures for the period of equal length just before")
    change_pct = serializers.DictField(child=_rate(), help_text="% change of each total from the previous period "
                                                                "(null when the previous one is zero or empty)")
    days = SalesDaySerializer(many=True)
    by_shop = SalesShopSerializer(many=True)
    by_platform = SalesPlatformSerializer(many=True)
    top_skus_by_units = SalesSkuSerializer(many=True)
    top_skus_by_gmv = SalesSkuSerializer(many=True)
    hours = SalesHourSerializer(many=True)
    provinces = SalesProvinceSerializer(many=True)


PARAMETERS = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="first day (tenant's time zone, by paid time); "
                                                                 "default: 6 days before date_to"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="last day, included; default: today. At most 366 days."),
    OpenApiParameter("shop", int, description="shop id"),
    OpenApiParameter("platform", str, enum=["taobao", "jd", "pdd", "own"]),
]


class SalesReportView(APIView):
    """Sales by day with totals, the previous period and % change, by shop, platform, SKU, hour and province."""

    access_app = "orders"
    permission_classes = [RolePermission]

    @extend_schema(parameters=PARAMETERS, responses={200: SalesReportSerializer,
                                                     400: OpenApiResponse(description="a bad date, from > to, "
                                                                                      "or a range longer than 366 days")})
    def get(self, request):
        params = {k: request.query_params.get(k, "") for k in ("date_from", "date_to", "shop", "platform")}
        try:
            parsed = reports.report_params(params)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        report = reports.sales_report(params=parsed)
        return Response(SalesReportSerializer(report.as_dict()).data)
