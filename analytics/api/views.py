"""Read-only API of analytics: the sales summary (rollups), the big screen's figures, the
financial statements, the promotion report and the BI feeds. All read the replica when there is
one (settings.READ_REPLICA_VIEWS)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from erp.tenancy.permissions import RolePermission

from .. import selectors
from . import serializers as s

SUMMARY_PARAMETERS = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="first day (tenant's time zone, by paid time); "
                                                                 "default: 6 days before today"),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="last day, included; default: today. At most 366 days."),
    OpenApiParameter("shop", int, description="shop id"),
    OpenApiParameter("platform", str, enum=["taobao", "jd", "pdd", "own"]),
]


def _django_errors(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}) from None


class SalesSummaryView(APIView):
    """The sales report's figures from the rollup tables (the same rules as
    /api/v1/orders/reports/sales/, less the median hours to ship), in constant time per day."""

    access_app = "analytics"
    permission_classes = [RolePermission]

    @extend_schema(parameters=SUMMARY_PARAMETERS, responses={200: s.SalesSummarySerializer,
                                                             400: OpenApiResponse(description="a bad parameter")})
    def get(self, request):
        params = {k: request.query_params.get(k, "") for k in ("date_from", "date_to", "shop", "platform")}
        parsed = _django_errors(selectors.summary_params, params)
        return Response(s.SalesSummarySerializer(selectors.sales_summary(params=parsed)).data)


class BigScreenView(APIView):
    """Everything the wall display shows (polled every few seconds by /analytics/bigscreen/)."""

    access_app = "analytics"
    permission_classes = [RolePermission]

    @extend_schema(responses=s.BigScreenSerializer)
    def get(self, request):
        return Response(s.BigScreenSerializer(selectors.bigscreen()).data)
