"""Purchasing API (/api/v1/purchasing/). Reads go through the scoped viewsets; every change of a
purchase order goes through purchasing.services: a wrong-state action answers 409 with the reason,
bad input 400 with field messages."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from erp.api.viewsets import TenantModelViewSet, TenantReadOnlyModelViewSet

from .. import selectors, services
from ..access import RECEIVING_ROLES
from ..models import (
    GoodsReceipt,
    Notification,
    PurchaseOrder,
    ReorderSuggestion,
    SuggestionStatus,
    Supplier,
    SupplierItem,
)
from . import serializers as s

PO_FILTERS = [
    OpenApiParameter("status", str, description="a status, `open` (draft..partially received) or `awaiting` "
                                                "(sent or partially received)"),
    OpenApiParameter("supplier", int), OpenApiParameter("warehouse", int),
    OpenApiParameter("overdue", bool, description="past the expected date and still due"),
    OpenApiParameter("expected_from", str, description="YYYY-MM-DD"), OpenApiParameter("expected_to", str),
    OpenApiParameter("q", str, description="PO number or supplier"),
]


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class SupplierViewSet(TenantModelViewSet):
    """Suppliers (code unique per tenant). A supplier with purchase orders cannot be deleted
    (409): make it inactive instead."""

    model = Supplier
    serializer_class = s.PurchasingSupplierSerializer
    filterset_fields = ["is_active", "code", "currency"]
    search_fields = ["code", "name", "contact_name"]
    ordering_fields = ["code", "name", "created_at"]

    @extend_schema(methods=["GET"], request=None, responses=s.SupplierUserSerializer(many=True))
    @extend_schema(methods=["POST"], request=s.SupplierUserInviteSerializer, responses={201: s.SupplierUserSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None, filter_backends=[])
    def users(self, request, pk=None):
        """The supplier's portal users; POST (owners and administrators) invites one: a login that
        sees only this supplier's documents in the supplier portal."""
        from erp.tenancy.roles import MANAGERS

        supplier = self.get_object()
        if request.method == "POST":
            if request._request.membership.role not in MANAGERS:
                raise PermissionDenied(_("Only owners and administrators invite supplier users."))
            data = _valid(s.SupplierUserInviteSerializer, request)
            membership = services.supplier_user_invite(supplier=supplier, username=data["username"], email=data["email"])
            return Response(s.SupplierUserSerializer(membership).data, status=status.HTTP_201_CREATED)
        return Response(s.SupplierUserSerializer(selectors.supplier_users(supplier_id=supplier.pk), many=True).data)


class SupplierItemViewSet(TenantModelViewSet):
    """What each supplier sells of a SKU: price, minimum order quantity, case pack (order
    multiple), lead time; one preferred supplier per SKU (marking one preferred unmarks the others)."""

    model = SupplierItem
    serializer_class = s.PurchasingSupplierItemSerializer
    select_related = ("sku", "supplier")
    filterset_fields = ["supplier", "sku", "is_preferred", "is_active"]
    search_fields = ["sku__code", "supplier_sku_code", "supplier__name"]
    ordering_fields = ["sku__code", "unit_price", "lead_time_days"]

    def perform_create(self, serializer):
        serializer.instance = services.supplier_item_save(item=SupplierItem(**serializer.validated_data))

    def perform_update(self, serializer):
        item = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(item, field, value)
        serializer.instance = services.supplier_item_save(item=item)


class PurchaseOrderViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, TenantReadOnlyModelViewSet):
    """Purchase orders (采购单) with lines and timeline: draft -> approved -> sent ->
    partially_received -> received -> closed, or cancelled. Lines change only in draft
    (``POST lines``); ``PATCH`` changes the warehouse and note (draft) and the expected date."""

    model = PurchaseOrder
    serializer_class = s.PurchaseOrderSerializer
    select_related = ("supplier",)
    filter_backends = []
    lookup_value_regex = r"\d+"
    receiving_actions = frozenset({"receive", "return_goods"})

    def check_permissions(self, request):
        """Warehouse staff receive goods and send them back, though they may not edit orders."""
        if getattr(self, "action", None) in self.receiving_actions:
            membership = getattr(request._request, "membership", None)
            if request.user.is_authenticated and membership is not None and membership.role in RECEIVING_ROLES:
                return
        super().check_permissions(request)

    def scope_queryset(self, queryset):
        if self.action == "list" and getattr(self, "request", None) is not None:
            try:
                queryset, _ = selectors.po_filter(queryset, self.request.query_params)
            except DjangoValidationError as exc:
                raise ValidationError(exc.message_dict) from None
        elif self.action == "retrieve":
            queryset = queryset.prefetch_related("lines__sku", "events")
        return queryset.order_by("-id")

    def get_serializer_class(self):
        if self.action == "create":
            return s.PurchaseOrderCreateSerializer
        if self.action in ("update", "partial_update"):
            return s.PurchaseOrderUpdateSerializer
        return s.PurchaseOrderSerializer if self.action == "list" else s.PurchaseOrderDetailSerializer

    def _detail(self, pk, code=200):
        po = PurchaseOrder.objects.select_related("supplier").prefetch_related("lines__sku", "events").get(pk=pk)
        return Response(s.PurchaseOrderDetailSerializer(po).data, status=code)

    @extend_schema(parameters=PO_FILTERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=s.PurchaseOrderCreateSerializer, responses={201: s.PurchaseOrderDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(s.PurchaseOrderCreateSerializer, request)
        po = services.po_create(supplier=data["supplier"], warehouse=data["warehouse"], lines=data["lines"],
                                expected_date=data.get("expected_date"), note=data["note"], actor=request.user)
        return self._detail(po.pk, code=status.HTTP_201_CREATED)

    @extend_schema(request=s.PurchaseOrderUpdateSerializer, responses=s.PurchaseOrderDetailSerializer)
    def update(self, request, *args, **kwargs):
        po = self.get_object()
        data = _valid(s.PurchaseOrderUpdateSerializer, request)
        services.po_update(po_id=po.pk, actor=request.user, **data)
        return self._detail(po.pk)

    @extend_schema(request=s.PurchaseOrderUpdateSerializer, responses=s.PurchaseOrderDetailSerializer)
    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, **kwargs)

    @extend_schema(request=s.POLinesSerializer, responses=s.PurchaseOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def lines(self, request, pk=None):
        """Replace the lines (draft only, else 409)."""
        po = self.get_object()
        data = _valid(s.POLinesSerializer, request)
        services.po_lines_set(po_id=po.pk, lines=data["lines"], actor=request.user, why=data["why"])
        return self._detail(po.pk)

    @extend_schema(request=s.POWhySerializer, responses=s.PurchaseOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        po = self.get_object()
        data = _valid(s.POWhySerializer, request)
        services.po_approve(po_id=po.pk, actor=request.user, why=data["why"])
        return self._detail(po.pk)

    @extend_schema(request=s.POSendSerializer, responses=s.PurchaseOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        """Approved -> sent; sets the expected date (given, or today + the longest lead time)."""
        po = self.get_object()
        data = _valid(s.POSendSerializer, request)
        services.po_send(po_id=po.pk, actor=request.user, why=data["why"], expected_date=data.get("expected_date"))
        return self._detail(po.pk)

    @extend_schema(request=s.POReceiveSerializer, responses={201: s.PurchasingGoodsReceiptSerializer, 200: s.PurchasingGoodsReceiptSerializer})
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        """Receive goods (partial receipts allowed; over-receipt beyond the tolerance is a 400). The
        same ``reference`` again answers 200 with the first receipt and receives nothing."""
        po = self.get_object()
        data = _valid(s.POReceiveSerializer, request)
        receipt = services.po_receive(po_id=po.pk, reference=data["reference"], lines=data["lines"], actor=request.user,
                                      note=data["note"])
        replayed = getattr(receipt, "replayed", False)
        return Response(s.PurchasingGoodsReceiptSerializer(receipt).data, status=200 if replayed else 201)

    @extend_schema(request=s.POReturnSerializer, responses={201: s.PurchasingGoodsReceiptSerializer, 200: s.PurchasingGoodsReceiptSerializer})
    @action(detail=True, methods=["post"], url_path="return")
    def return_goods(self, request, pk=None):
        """Send received goods back to the supplier (stock out, ``purchase.returned``); idempotent on
        ``reference``."""
        po = self.get_object()
        data = _valid(s.POReturnSerializer, request)
        receipt = services.po_return(po_id=po.pk, reference=data["reference"], lines=data["lines"], why=data["why"],
                                     defective=data["defective"], actor=request.user)
        replayed = getattr(receipt, "replayed", False)
        return Response(s.PurchasingGoodsReceiptSerializer(receipt).data, status=200 if replayed else 201)

    @extend_schema(request=s.POWhySerializer, responses=s.PurchaseOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel (why required) a draft, approved or sent order with nothing received."""
        po = self.get_object()
        data = _valid(s.POWhySerializer, request)
        services.po_cancel(po_id=po.pk, actor=request.user, why=data["why"])
        return self._detail(po.pk)

    @extend_schema(request=s.POWhySerializer, responses=s.PurchaseOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        """A purchase order the supplier refused back to draft: edit its lines or date, approve and send
        it again (the supplier is told on sending)."""
        po = self.get_object()
        data = _valid(s.POWhySerializer, request)
        services.po_revise(po_id=po.pk, actor=request.user, why=data["why"])
        return self._detail(po.pk)

    @extend_schema(request=s.POWhySerializer, responses=s.PurchaseOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close a received order, or short-close a partially received one (why required)."""
        po = self.get_object()
        data = _valid(s.POWhySerializer, request)
        services.po_close(po_id=po.pk, actor=request.user, why=data["why"])
        return self._detail(po.pk)


class GoodsReceiptViewSet(TenantReadOnlyModelViewSet):
    """Goods receipts (kind=receipt) and returns to the supplier (kind=return), with their lines."""

    model = GoodsReceipt
    serializer_class = s.PurchasingGoodsReceiptSerializer
    select_related = ("purchase_order",)
    prefetch_related = ("lines__sku",)
    filterset_fields = ["kind", "purchase_order", "warehouse", "reference", "number"]
    ordering_fields = ["received_at", "id"]


class SuggestionViewSet(TenantReadOnlyModelViewSet):
    """Reorder suggestions (采购建议), each with the figures that explain it. ``recompute`` replaces
    the open ones; ``create-pos`` turns a selection into draft purchase orders, one per supplier."""

    model = ReorderSuggestion
    serializer_class = s.ReorderSuggestionSerializer
    select_related = ("sku", "supplier", "warehouse")
    filterset_fields = ["status", "supplier", "sku", "warehouse", "urgent"]
    ordering_fields = ["suggested_quantity", "amount", "days_of_cover", "id"]

    def scope_queryset(self, queryset):
        if self.action == "list" and getattr(self, "request", None) is not None \
                and "status" not in self.request.query_params:
            queryset = queryset.filter(status=SuggestionStatus.OPEN)
        return queryset

    @extend_schema(request=None, responses=s.ReorderRecomputeResultSerializer)
    @action(detail=False, methods=["post"])
    def recompute(self, request):
        """Recompute now (the nightly job does the same)."""
        return Response({"count": len(services.suggestions_recompute())})

    @extend_schema(request=s.ReorderCreatePOsSerializer, responses={201: s.PurchaseOrderSerializer(many=True)})
    @action(detail=False, methods=["post"], url_path="create-pos")
    def create_pos(self, request):
        data = _valid(s.ReorderCreatePOsSerializer, request)
        pos = services.suggestions_create_pos(suggestion_ids=data["suggestions"], actor=request.user,
                                              warehouse=data.get("warehouse"), quantities=data.get("quantities"),
                                              expected_date=data.get("expected_date"))
        return Response(s.PurchaseOrderSerializer(pos, many=True).data, status=status.HTTP_201_CREATED)


class BuyerNotificationViewSet(TenantReadOnlyModelViewSet):
    """The calling member's own in-app notifications (suppliers' confirmations, refusals, shipping
    notices; statements), newest first; ``unread`` counts them, ``read`` marks them read (all
    unread ones, or ``ids``)."""

    model = Notification
    serializer_class = s.NotificationSerializer
    filterset_fields = ["code"]

    def scope_queryset(self, queryset):
        return queryset.filter(membership_id=self.request._request.membership.pk)

    @extend_schema(request=None, responses=s.NotificationReadResultSerializer)
    @action(detail=False, methods=["get"])
    def unread(self, request):
        return Response({"count": selectors.unread_notifications(membership=request._request.membership)})

    @extend_schema(request=s.NotificationReadSerializer, responses=s.NotificationReadResultSerializer)
    @action(detail=False, methods=["post"])
    def read(self, request):
        data = _valid(s.NotificationReadSerializer, request)
        count = services.notification_mark_read(membership=request._request.membership, notification_ids=data.get("ids"))
        return Response({"count": count})
