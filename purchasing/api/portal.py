"""The supplier portal API (/api/v1/purchasing/portal/...), for supplier users only (IsSupplierUser):
every queryset is filtered by the caller's supplier, so another supplier's document is a 404 and staff
get 403. Plus the buyer's side of shipping notices (/api/v1/purchasing/asns/: list, receive) and the
invitation of supplier users (/api/v1/purchasing/suppliers/{id}/users/)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from erp.api.viewsets import TenantReadOnlyModelViewSet
from erp.tenancy.supplier_access import IsSupplierUser, supplier_id_of

from .. import selectors, services
from ..access import RECEIVING_ROLES
from ..models import AdvanceShippingNotice, GoodsReceipt, Notification, PurchaseOrder, SupplierItem
from . import serializers as s


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PortalViewSet(TenantReadOnlyModelViewSet):
    permission_classes = [IsSupplierUser]
    access_app = "purchasing"

    @property
    def supplier_id(self) -> int:
        return supplier_id_of(self.request)


class PortalPurchaseOrderViewSet(PortalViewSet):
    """The supplier's purchase orders (sent onwards). ``confirm`` (as is, or with changed quantities or
    delivery date), ``refuse`` (with a reason), ``asn`` (a shipping notice)."""

    model = PurchaseOrder
    serializer_class = s.PortalPurchaseOrderSerializer
    select_related = ("warehouse",)
    filterset_fields = ["status"]
    ordering_fields = ["id", "expected_date"]
    lookup_value_regex = r"\d+"

    def scope_queryset(self, queryset):
        queryset = queryset.filter(pk__in=selectors.supplier_purchase_orders(supplier_id=self.supplier_id).values("pk"))
        if self.action != "list":
            queryset = queryset.prefetch_related("lines__sku", "events")
        return queryset

    def get_serializer_class(self):
        return s.PortalPurchaseOrderSerializer if self.action == "list" else s.PortalPurchaseOrderDetailSerializer

    def _detail(self, pk, code=200):
        po = self.get_queryset().get(pk=pk)
        return Response(s.PortalPurchaseOrderDetailSerializer(po).data, status=code)

    @extend_schema(request=s.POConfirmSerializer, responses=s.PortalPurchaseOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """Confirm a sent order; changed quantities and date are applied and told to the buyer (409 when not sent)."""
        po = self.get_object()
        data = _valid(s.POConfirmSerializer, request)
        services.po_confirm(po_id=po.pk, supplier_id=self.supplier_id, actor=request.user, lines=data.get("lines"),
                            expected_date=data.get("expected_date"), note=data["note"])
        return self._detail(po.pk)

    @extend_schema(request=s.PORefuseSerializer, responses=s.PortalPurchaseOrderDetailSerializer)
    @action(detail=True, methods=["post"])
    def refuse(self, request, pk=None):
        po = self.get_object()
        data = _valid(s.PORefuseSerializer, request)
        services.po_refuse(po_id=po.pk, supplier_id=self.supplier_id, actor=request.user, why=data["why"])
        return self._detail(po.pk)

    @extend_schema(request=s.ASNCreateSerializer, responses={201: s.ASNSerializer})
    @action(detail=True, methods=["post"])
    def asn(self, request, pk=None):
        """Send a shipping notice: lines shipped, expected arrival, carrier and tracking number."""
        po = self.get_object()
        data = _valid(s.ASNCreateSerializer, request)
        asn = services.asn_create(po_id=po.pk, supplier_id=self.supplier_id, actor=request.user, lines=data["lines"],
                                  expected_arrival=data["expected_arrival"], carrier=data["carrier"],
                                  tracking_number=data["tracking_number"], note=data["note"])
        return Response(s.ASNSerializer(asn).data, status=status.HTTP_201_CREATED)


class PortalASNViewSet(PortalViewSet):
    """The supplier's shipping notices with what was received and the differences (short, over, damaged)."""

    model = AdvanceShippingNotice
    serializer_class = s.ASNSerializer
    select_related = ("purchase_order",)
    prefetch_related = ("lines__sku", "differences__sku")
    filterset_fields = ["status", "purchase_order"]

    def scope_queryset(self, queryset):
        return queryset.filter(purchase_order__supplier_id=self.supplier_id)


class PortalReceiptViewSet(PortalViewSet):
    """Goods received from the supplier (kind=receipt) and returned to it (kind=return)."""

    model = GoodsReceipt
    serializer_class = s.PortalReceiptSerializer
    select_related = ("purchase_order",)
    prefetch_related = ("lines__sku",)
    filterset_fields = ["kind", "purchase_order"]

    def scope_queryset(self, queryset):
        return queryset.filter(purchase_order__supplier_id=self.supplier_id)


class PortalItemViewSet(PortalViewSet):
    """What the supplier sells this customer, at which price, MOQ, case pack and lead time."""

    model = SupplierItem
    serializer_class = s.PortalItemSerializer
    select_related = ("sku",)

    def scope_queryset(self, queryset):
        return queryset.filter(supplier_id=self.supplier_id, is_active=True)


class PortalNotificationViewSet(PortalViewSet):
    """The supplier user's own notifications; ``read`` marks them read."""

    model = Notification
    serializer_class = s.NotificationSerializer
    filterset_fields = ["code"]

    def scope_queryset(self, queryset):
        return queryset.filter(membership_id=self.request._request.membership.pk)

    @extend_schema(request=s.NotificationReadSerializer, responses=s.NotificationReadResultSerializer)
    @action(detail=False, methods=["post"])
    def read(self, request):
        data = _valid(s.NotificationReadSerializer, request)
        count = services.notification_mark_read(membership=request._request.membership, notification_ids=data.get("ids"))
        return Response({"count": count})


# --- the buyer's side --------------------------------------------------------------------------------
class ASNViewSet(TenantReadOnlyModelViewSet):
    """Shipping notices from suppliers; ``receive`` takes one in (warehouse and operators), recording
    the differences against what was shipped."""

    model = AdvanceShippingNotice
    serializer_class = s.ASNSerializer
    select_related = ("purchase_order",)
    prefetch_related = ("lines__sku", "differences__sku")
    filterset_fields = ["status", "purchase_order"]

    def check_permissions(self, request):
        if getattr(self, "action", None) == "receive":
            membership = getattr(request._request, "membership", None)
            if request.user.is_authenticated and membership is not None and membership.role in RECEIVING_ROLES:
                return
        super().check_permissions(request)

    @extend_schema(request=s.ASNReceiveSerializer, responses=s.ASNSerializer)
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        asn = self.get_object()
        data = _valid(s.ASNReceiveSerializer, request)
        services.asn_receive(asn_id=asn.pk, reference=data["reference"], lines=data["lines"], actor=request.user,
                             note=data["note"])
        return Response(s.ASNSerializer(self.get_queryset().get(pk=asn.pk)).data)

