"""Read-only API of analytics: the sales summary (rollups), the big screen's figures, the
financial statements, the promotion report and the BI feeds. All read the replica when there is
one (settings.READ_REPLICA_VIEWS)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from erp.tenancy.permissions import RolePermission
from erp.tenancy.roles import app_access

from .. import selectors
from ..services.bi import DATASETS
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


BI_DATASET_NAMES = list(DATASETS)
BI_PARAMETERS = [
    OpenApiParameter("dataset", str, OpenApiParameter.PATH, enum=BI_DATASET_NAMES, description="the BI view (BI.md)"),
    OpenApiParameter("after", OpenApiTypes.INT, description="next_after of the previous page (rows with a greater key)"),
    OpenApiParameter("limit", OpenApiTypes.INT, description="rows per page, 1-1000 (default 500)"),
    OpenApiParameter("changed_since", OpenApiTypes.DATETIME,
                     description="only rows changed at or after this (date or ISO date-time); "
                                 "pass as_of of the previous pull for an incremental one"),
    OpenApiParameter("changed_before", OpenApiTypes.DATETIME, description="only rows changed before this"),
]


class BIDatasetListView(APIView):
    """The BI datasets: each one's view, key (cursor) and change column."""

    access_app = "analytics"
    permission_classes = [RolePermission]

    @extend_schema(responses=s.BIDatasetSerializer(many=True))
    def get(self, request):
        return Response(s.BIDatasetSerializer(list(DATASETS.values()), many=True).data)


class BIDatasetView(APIView):
    """One page of a BI view for the caller's tenant, in key order (the same rows and columns as the
    database view, less tenant_id). Follow ``next`` until it is null."""

    access_app = "analytics"
    permission_classes = [RolePermission]

    @extend_schema(parameters=BI_PARAMETERS, responses={200: s.BIPageSerializer,
                                                        400: OpenApiResponse(description="a bad parameter"),
                                                        403: OpenApiResponse(description="the finance ledger needs a finance "
                                                                                         "or manager role"),
                                                        404: OpenApiResponse(description="no such dataset")})
    def get(self, request, dataset: str):
        if dataset not in DATASETS:
            raise NotFound(_("Unknown dataset."))
        membership = getattr(request._request, "membership", None)
        if DATASETS[dataset].app_label and membership.role not in app_access(DATASETS[dataset].app_label)[0]:
            raise PermissionDenied(_("Your role may not read this dataset."))
        params = _django_errors(selectors.bi_params, dataset, request.query_params)
        page = selectors.bi_page(**params)
        page["next"] = None
        if page["next_after"] is not None:
            query = request.query_params.copy()
            query["after"] = str(page["next_after"])
            page["next"] = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(s.BIPageSerializer(page).data)
