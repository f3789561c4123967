"""After-sales API (/api/v1/aftersales/). Reads through the scoped viewset; every change goes
through aftersales.services: a wrong-state action answers 409 with the reason, bad input 400."""

from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from erp.api.viewsets import TenantReadOnlyModelViewSet, TenantSettingsViewSet
from erp.tenancy import roles

from .. import selectors, services
from ..models import AftersalesSettings, Ticket
from . import serializers as s

FILTERS = [
    OpenApiParameter("status", str, description="a ticket status, or `active` (not completed, rejected or cancelled)"),
    OpenApiParameter("kind", str, description="refund_only | return_refund | exchange | reship"),
    OpenApiParameter("source", str, description="platform | manual"),
    OpenApiParameter("shop", int), OpenApiParameter("order", int, description="order id"),
    OpenApiParameter("overdue", bool, description="past the SLA and still open (1) or not (0)"),
    OpenApiParameter("search", str, description="ticket number, platform order / refund id, buyer, return tracking "
                                                "number, or words of the reason"),
]
BULK_RESULTS = inline_serializer("AftersalesBulkResults", {
    "results": drf_serializers.DictField(child=drf_serializers.CharField())})


class TicketViewSet(mixins.CreateModelMixin, TenantReadOnlyModelViewSet):
    """After-sales tickets (售后单) with their lines and timeline. ``POST`` opens a manual ticket for a
    shipped order; the actions move it through open -> approved -> awaiting_return -> goods_received ->
    refunding -> completed (or rejected / cancelled)."""

    model = Ticket
    serializer_class = s.TicketListSerializer
    select_related = ("shop",)
    filter_backends = []
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        if self.action == "list":
            queryset, _ = selectors.ticket_filter(queryset, self.request.query_params)
        elif self.action == "retrieve":
            queryset = queryset.prefetch_related("lines", "events")
        return queryset.order_by("-id")

    def get_serializer_class(self):
        if self.action == "create":
            return s.TicketCreateSerializer
        return s.TicketListSerializer if self.action == "list" else s.TicketDetailSerializer

    @extend_schema(parameters=FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _detail(self, pk, status=200):
        ticket = Ticket.objects.select_related("shop").prefetch_related("lines", "events").get(pk=pk)
        return Response(s.TicketDetailSerializer(ticket).data, status=status)

    def _input(self, serializer_class):
        ser = serializer_class(data=self.request.data)
        ser.is_valid(raise_exception=True)
        return ser.validated_data

    @extend_schema(request=s.TicketCreateSerializer, responses={201: s.TicketDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = self._input(s.TicketCreateSerializer)
        ticket = services.ticket_create(actor=request.user, **data)
        return self._detail(ticket.pk, status=201)

    @extend_schema(request=s.TicketAmountSerializer, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve (optionally a smaller amount than requested)."""
        ticket = self.get_object()
        data = self._input(s.TicketAmountSerializer)
        services.ticket_approve(ticket_id=ticket.pk, actor=request.user, amount=data.get("amount"), why=data["why"])
        return self._detail(ticket.pk)

    @extend_schema(request=s.TicketRejectSerializer, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """Reject, saying why (open, approved or awaiting return)."""
        ticket = self.get_object()
        data = self._input(s.TicketRejectSerializer)
        services.ticket_reject(ticket_id=ticket.pk, actor=request.user, why=data["why"])
        return self._detail(ticket.pk)

    @extend_schema(request=s.TicketAwaitReturnSerializer, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"], url_path="await-return")
    def await_return(self, request, pk=None):
        """The buyer sent the goods back (return and exchange tickets), with the tracking number."""
        ticket = self.get_object()
        data = self._input(s.TicketAwaitReturnSerializer)
        services.ticket_await_return(ticket_id=ticket.pk, actor=request.user, tracking_no=data["tracking_no"],
                                     why=data["why"])
        return self._detail(ticket.pk)

    @extend_schema(request=s.TicketReceiveGoodsSerializer, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"], url_path="receive-goods")
    def receive_goods(self, request, pk=None):
        """The goods came back: each line resellable (sellable stock) or defective (defective stock).
        Stock is returned once per line; publishes aftersales.goods_returned."""
        ticket = self.get_object()
        data = self._input(s.TicketReceiveGoodsSerializer)
        services.ticket_receive_goods(ticket_id=ticket.pk, actor=request.user, lines=data.get("lines"),
                                      warehouse_id=data.get("warehouse_id"), why=data["why"])
        return self._detail(ticket.pk)

    @extend_schema(request=s.TicketAmountSerializer, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def refund(self, request, pk=None):
        """The refund was issued (refund-only once approved; return-and-refund once the goods are back)."""
        ticket = self.get_object()
        data = self._input(s.TicketAmountSerializer)
        services.ticket_refund(ticket_id=ticket.pk, actor=request.user, amount=data.get("amount"), why=data["why"])
        return self._detail(ticket.pk)

    @extend_schema(request=s.TicketWhySerializer, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Refund kinds: the refund went through (publishes aftersales.refunded once). Exchange and
        reship: the replacement order is created (once)."""
        ticket = self.get_object()
        data = self._input(s.TicketWhySerializer)
        services.ticket_complete(ticket_id=ticket.pk, actor=request.user, why=data["why"])
        return self._detail(ticket.pk)

    @extend_schema(request=s.TicketWhySerializer, responses=s.TicketDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel before any goods came back."""
        ticket = self.get_object()
        data = self._input(s.TicketWhySerializer)
        services.ticket_cancel(ticket_id=ticket.pk, actor=request.user, why=data["why"])
        return self._detail(ticket.pk)

    @extend_schema(request=s.TicketBulkApproveSerializer, responses=BULK_RESULTS)
    @action(detail=False, methods=["post"], url_path="bulk-approve")
    def bulk_approve(self, request):
        """Approve many tickets: each answers "ok" or the reason it was refused."""
        data = self._input(s.TicketBulkApproveSerializer)
        results = services.tickets_bulk_approve(ticket_ids=data["ticket_ids"], actor=request.user, why=data["why"])
        return Response({"results": {str(k): str(v) for k, v in results.items()}})

    @extend_schema(responses=inline_serializer("AftersalesQueues", {
        "status": drf_serializers.DictField(child=drf_serializers.IntegerField()),
        "overdue": drf_serializers.IntegerField(), "awaiting_return": drf_serializers.IntegerField()}))
    @action(detail=False, methods=["get"])
    def queues(self, request):
        """Counts per status, overdue and awaiting return."""
        counts = selectors.attention_counts()
        return Response({"status": selectors.status_counts(), "overdue": counts["overdue"],
                         "awaiting_return": counts["awaiting_return"]})

    @extend_schema(parameters=[OpenApiParameter("since", OpenApiTypes.DATE), OpenApiParameter("until", OpenApiTypes.DATE),
                               OpenApiParameter("shop", int)], responses=s.RefundReportSerializer)
    @action(detail=False, methods=["get"])
    def report(self, request):
        """Refund rate and reasons by SKU and by shop (tickets opened in the period; default: 30 days)."""
        params = request.query_params
        dates = {}
        for key in ("since", "until"):
            value = params.get(key) or ""
            if value:
                try:
                    parsed = parse_date(value) if len(value) == 10 else None
                except ValueError:
                    parsed = None
                if parsed is None:
                    raise ValidationError({key: ["A date (YYYY-MM-DD)."]})
                dates[key] = parsed
        if dates.get("since") and dates.get("until") and dates["since"] > dates["until"]:
            raise ValidationError({"since": ["After until."]})
        shop = params.get("shop") or ""
        if shop and not shop.isdigit():
            raise ValidationError({"shop": ["A shop id."]})
        report = selectors.refund_report(shop_id=int(shop) if shop else None, **dates)
        return Response(s.RefundReportSerializer(report).data)


class AftersalesSettingsViewSet(TenantSettingsViewSet):
    """The tenant's after-sales rules: auto-approve refund-only below an amount (buyers without recent
    abuse), auto-complete when the platform reports refunded, SLA hours per kind. ``current`` reads
    or changes the one row (made with the defaults on first use)."""

    model = AftersalesSettings
    serializer_class = s.AftersalesSettingsSerializer
    read_roles = roles.ALL
    write_roles = roles.MANAGERS

    def settings_row(self):
        return services.aftersales_settings()
