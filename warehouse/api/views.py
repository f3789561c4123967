"""/api/v1/warehouse/: pick waves (create, pick list), parcels (scan, weigh and ship, scans)."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response

from erp.api.exceptions import Conflict
from erp.api.viewsets import TenantReadOnlyModelViewSet

from .. import selectors, services
from ..models import Parcel, PickWave, WmsAccount, WmsOrder, WmsStockSnapshot
from .serializers import (
    ParcelSerializer,
    PickRowSerializer,
    ScanOutcomeSerializer,
    ScanRecordSerializer,
    ScanSerializer,
    WaveCreateSerializer,
    WaveSerializer,
    WeighSerializer,
    WmsAccountSerializer,
    WmsEntryCreateSerializer,
    WmsOrderSerializer,
    WmsStockSnapshotSerializer,
    WmsSyncResultSerializer,
)


class WaveViewSet(mixins.CreateModelMixin, TenantReadOnlyModelViewSet):
    model = PickWave
    serializer_class = WaveSerializer

    @extend_schema(request=WaveCreateSerializer, responses={201: WaveSerializer},
                   summary="Make a pick wave of the warehouse's allocated orders")
    def create(self, request, *args, **kwargs):
        data = WaveCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wave = services.wave_create(warehouse_id=data.validated_data["warehouse"], kind=data.validated_data["kind"],
                                    carrier_code=data.validated_data["carrier_code"],
                                    limit=data.validated_data["limit"], actor=request.user)
        return Response(WaveSerializer(wave).data, status=201)

    @extend_schema(responses={200: PickRowSerializer(many=True)}, summary="The wave's pick list in bin order")
    @action(detail=True, methods=["get"], url_path="pick-list", pagination_class=None)
    def pick_list(self, request, pk=None):
        return Response(PickRowSerializer(selectors.pick_list(wave=self.get_object()), many=True).data)


class ParcelViewSet(TenantReadOnlyModelViewSet):
    model = Parcel
    serializer_class = ParcelSerializer
    prefetch_related = ("tracking",)

    @extend_schema(request=ScanSerializer, responses={200: ScanOutcomeSerializer},
                   summary="Scan one item at the packing station (refusals answer ok=false and are recorded)")
    @action(detail=True, methods=["post"])
    def scan(self, request, pk=None):
        parcel = self.get_object()  # another tenant's parcel is a 404 before the body is read
        data = ScanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.pack_scan(parcel_id=parcel.pk, code=data.validated_data["code"],
                                     user=request.user)
        return Response(ScanOutcomeSerializer({"ok": outcome.ok, "message": outcome.message,
                                               "complete": outcome.complete, "counts": outcome.counts,
                                               "parcel": outcome.parcel}).data)

    @extend_schema(request=WeighSerializer, responses={200: ParcelSerializer},
                   summary="Weigh the packed parcel, price the freight and ship it with the carrier's number")
    @action(detail=True, methods=["post"])
    def weigh(self, request, pk=None):
        parcel = self.get_object()
        data = WeighSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parcel = services.parcel_weigh_and_ship(parcel_id=parcel.pk,
                                                weight_g=data.validated_data["weight_g"], actor=request.user)
        return Response(ParcelSerializer(parcel).data)

    @extend_schema(responses={200: ScanRecordSerializer(many=True)}, summary="Every scan of the parcel")
    @action(detail=True, methods=["get"], pagination_class=None)
    def scans(self, request, pk=None):
        return Response(ScanRecordSerializer(self.get_object().scans.order_by("id"), many=True).data)


# --- third-party warehouses ------------------------------------------------------------------------
class WmsAccountViewSet(TenantReadOnlyModelViewSet):
    """Third-party warehouses (configured in admin); sync now, compare stock now, announce inbound."""

    model = WmsAccount

    serializer_class = WmsAccountSerializer

    @extend_schema(request=None, responses={200: WmsSyncResultSerializer},
                   summary="Queue, send and pull confirmations now (what the beat tick does)")
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        return Response({"result": services.wms_sync(account=self.get_object())})

    @extend_schema(request=None, responses={201: WmsStockSnapshotSerializer},
                   summary="Compare the WMS stock snapshot with ours now (differences reported, nothing changed)")
    @action(detail=True, methods=["post"])
    def compare(self, request, pk=None):
        from integrations.ports import WmsError

        account = self.get_object()
        try:
            snapshot = services.wms_stock_compare(account=account)
        except WmsError as exc:
            raise Conflict(str(exc))
        return Response(WmsStockSnapshotSerializer(snapshot).data, status=201)

    @extend_schema(request=WmsEntryCreateSerializer, responses={201: WmsOrderSerializer},
                   summary="Announce an inbound delivery (entry order) to the WMS; booked when it confirms")
    @action(detail=True, methods=["post"])
    def entry(self, request, pk=None):
        account = self.get_object()
        data = WmsEntryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lines: dict[int, int] = {}
        for row in data.validated_data["lines"]:
            lines[row["sku"]] = lines.get(row["sku"], 0) + row["quantity"]
        row = services.wms_entry_create(account_id=account.pk, lines=lines,
                                        reference=data.validated_data["reference"])
        return Response(WmsOrderSerializer(row).data, status=201)


class WmsOrderViewSet(TenantReadOnlyModelViewSet):
    model = WmsOrder

    serializer_class = WmsOrderSerializer
    filterset_fields = ("account", "kind", "status", "order_id")


class WmsStockSnapshotViewSet(TenantReadOnlyModelViewSet):
    model = WmsStockSnapshot

    serializer_class = WmsStockSnapshotSerializer
    prefetch_related = ("lines",)
    filterset_fields = ("account",)
