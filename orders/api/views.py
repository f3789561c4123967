from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.reverse import reverse

from erp.api.viewsets import TenantReadOnlyModelViewSet

from .. import selectors, services
from ..models import BulkJob, Order, OrderStatus
from ..services import fulfilment
from . import serializers as s


class OrderCursorPagination(CursorPagination):
    """Keyset pagination on the id: no OFFSET and no COUNT over the tenant's orders."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


FILTERS = [
    OpenApiParameter("status", str, description="our status"),
    OpenApiParameter("hold_reason", str), OpenApiParameter("queue", str, description="out_of_stock"),
    OpenApiParameter("shop", int), OpenApiParameter("platform", str), OpenApiParameter("buyer", str),
    OpenApiParameter("sku", str, description="SKU id, SKU code or merchant code"),
    OpenApiParameter("q", str, description="platform order id or tracking number"),
    OpenApiParameter("created_from", OpenApiTypes.DATETIME), OpenApiParameter("created_to", OpenApiTypes.DATETIME),
    OpenApiParameter("paid_from", OpenApiTypes.DATETIME), OpenApiParameter("paid_to", OpenApiTypes.DATETIME),
]
RESULTS = inline_serializer("OrderBulkResults", {"results": drf_serializers.DictField(child=drf_serializers.CharField())})


class OrderViewSet(TenantReadOnlyModelViewSet):
    """Orders with their lines and timeline. Actions answer 409 with the reason when the order is in
    the wrong state."""

    model = Order
    serializer_class = s.OrderListSerializer
    pagination_class = OrderCursorPagination
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        if self.action == "list":
            queryset, _ = selectors.order_filter(queryset, self.request.query_params)
        return queryset

    def get_serializer_class(self):
        # the serializers document the output (schema); list and detail build it from .values() rows
        return s.OrderDetailSerializer if self.action != "list" else s.OrderListSerializer

    @extend_schema(parameters=FILTERS, responses=s.OrderListSerializer(many=True))
    def list(self, request, *args, **kwargs):
        """One query for the page: the list's columns only, keyset-paginated on the id. The default
        list and the status queues run SQL compiled once per process; other filters build it."""
        params = request.query_params
        status = params.get("status") or ""
        if set(params) <= {"cursor", "page_size", "status"} and (not status or status in OrderStatus.values):
            source = selectors.CompiledListPage(columns=s.ORDER_LIST_COLUMNS, status=status or None)
        else:
            source = self.get_queryset().values(*s.ORDER_LIST_COLUMNS)
        page = self.paginate_queryset(source)
        return self.get_paginated_response(s.order_list_rows(page))

    @extend_schema(responses=s.OrderDetailSerializer)
    def retrieve(self, request, *args, **kwargs):
        return Response(self._detail_data(kwargs[self.lookup_url_kwarg or self.lookup_field]))

    def _detail_data(self, order_id) -> dict:
        """Four queries: the order with its waybill (at most one per order), its lines, its timeline, its benefits."""
        data = selectors.order_detail_rows(order_id=int(order_id))
        if data is None:
            raise Http404("No such order.")
        row, lines, events, benefits = data
        return s.order_detail_data(row, lines, events, waybill=row["waybills__id"] is not None, benefits=benefits)

    def _detail(self, order_id):
        return Response(self._detail_data(order_id))

    def _input(self, serializer_class):
        ser = serializer_class(data=self.request.data)
        ser.is_valid(raise_exception=True)
        return ser.validated_data

    @extend_schema(request=s.WhySerializer, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        data = self._input(s.WhySerializer)
        return self._detail(services.order_approve(order_id=int(pk), actor=request.user, why=data["why"]).pk)

    @extend_schema(request=s.HoldSerializer, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request, pk=None):
        data = self._input(s.HoldSerializer)
        return self._detail(services.order_hold(order_id=int(pk), actor=request.user, why=data["why"],
                                                reason=data["reason"]).pk)

    @extend_schema(request=s.ReleaseSerializer, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        data = self._input(s.ReleaseSerializer)
        return self._detail(services.order_release(order_id=int(pk), actor=request.user, why=data["why"],
                                                   reasons=data.get("reasons")).pk)

    @extend_schema(request=None, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def allocate(self, request, pk=None):
        return self._detail(services.order_allocate(order_id=int(pk), actor=request.user).pk)

    @extend_schema(request=s.WhySerializer, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def deallocate(self, request, pk=None):
        data = self._input(s.WhySerializer)
        return self._detail(services.order_deallocate(order_id=int(pk), actor=request.user, why=data["why"]).pk)

    @extend_schema(request=None, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def pick(self, request, pk=None):
        return self._detail(services.order_pick(order_id=int(pk), actor=request.user).pk)

    @extend_schema(request=s.ShipSerializer, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def ship(self, request, pk=None):
        data = self._input(s.ShipSerializer)
        return self._detail(fulfilment.order_ship_with_waybill(
            order_id=int(pk), actor=request.user, tracking_no=data["tracking_no"], carrier_code=data["carrier_code"]).pk)

    @extend_schema(request=s.WhySerializer, responses=s.OrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = self._input(s.WhySerializer)
        return self._detail(services.order_cancel(order_id=int(pk), actor=request.user, why=data["why"]).pk)

    @extend_schema(request=s.WhySerializer, responses=s.OrderListSerializer(many=True))
    @action(detail=True, methods=["post"])
    def unmerge(self, request, pk=None):
        data = self._input(s.WhySerializer)
        restored = services.order_unmerge(order_id=int(pk), actor=request.user, why=data["why"])
        return Response(s.OrderListSerializer(restored, many=True).data)

    @extend_schema(request=s.SplitSerializer, responses=s.OrderListSerializer(many=True))
    @action(detail=True, methods=["post"])
    def split(self, request, pk=None):
        data = self._input(s.SplitSerializer)
        parts = services.order_split(order_id=int(pk), mode=data["mode"], lines=data["lines"], actor=request.user,
                                     why=data["why"])
        return Response(s.OrderListSerializer(parts, many=True).data, status=201)

    @extend_schema(request=s.MergeSerializer, responses={200: s.MergeVerdictSerializer(many=True),
                                                         201: s.OrderDetailSerializer})
    @action(detail=False, methods=["post"])
    def merge(self, request):
        """Merge orders into one shipment, or with dry_run explain why each would or would not merge."""
        data = self._input(s.MergeSerializer)
        if data["dry_run"]:
            verdicts = services.orders_merge_dry_run(order_ids=data["order_ids"])
            return Response([{"order_id": v.order_id, "mergeable": v.mergeable, "reasons": v.reasons} for v in verdicts])
        target = services.orders_merge(order_ids=data["order_ids"], actor=request.user, why=data["why"])
        response = self._detail(target.pk)
        response.status_code = 201
        return response

    @extend_schema(request=s.BulkJobStartSerializer, responses={
        200: OpenApiResponse(RESULTS, description="Up to 20 orders: done at once, each order's outcome."),
        202: OpenApiResponse(s.BulkJobSerializer, description="More than 20 orders: a queued background job; "
                             "the Location header is its URL (GET /api/v1/orders/bulk-jobs/{id}/).")})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """One action on many orders: each answers "ok" or the reason it was refused (an order of
        another tenant is "not found"). Up to 20 orders run at once and answer 200 with the results;
        more (up to 5,000) answer 202 with a background job; follow its Location
        (GET /api/v1/orders/bulk-jobs/{id}/) until its status is done."""
        data = self._input(s.BulkJobStartSerializer)
        started = services.bulk_job_start(action=data["action"], order_ids=data["order_ids"], actor=request.user,
                                          why=data["why"])
        if started.job is None:
            return Response({"results": {str(k): v for k, v in started.results.items()}})
        job = started.job  # queued: the task starts when this request's transaction commits
        location = reverse("orders-bulk-job-detail", kwargs={"pk": job.pk}, request=request)
        return Response(s.BulkJobSerializer(job).data, status=202, headers={"Location": location})

    @extend_schema(responses=inline_serializer("OrderQueues", {
        "status": drf_serializers.DictField(child=drf_serializers.IntegerField()),
        "hold_reason": drf_serializers.DictField(child=drf_serializers.IntegerField()),
        "out_of_stock": drf_serializers.IntegerField(), "shipped_today": drf_serializers.IntegerField()}))
    @action(detail=False, methods=["get"])
    def queues(self, request):
        """Counts per open status (pending review .. picking) and per hold reason, the out-of-stock
        queue, and orders shipped today. Finished statuses are history and are not counted."""
        return Response({"status": selectors.status_counts(), "hold_reason": selectors.hold_reason_counts(),
                         "out_of_stock": selectors.attention_counts()["out_of_stock"],
                         "shipped_today": selectors.shipped_today()})


class BulkJobViewSet(TenantReadOnlyModelViewSet):
    """Background bulk actions on orders (POST /api/v1/orders/bulk/ with more than 20 orders), newest
    first, with their progress; a job's detail lists every processed order's outcome."""

    model = BulkJob
    serializer_class = s.BulkJobSerializer
    select_related = ("requested_by",)
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        queryset = queryset.order_by("-pk")
        if self.action == "list":
            queryset = queryset.defer("order_ids", "results", "pending")
        return queryset

    def get_serializer_class(self):
        return s.BulkJobListSerializer if self.action == "list" else s.BulkJobSerializer
