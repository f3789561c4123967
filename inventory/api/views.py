"""Inventory API (/api/v1/inventory/). Reads go through the scoped viewsets; every stock change
goes through inventory.services (which refuse bad input with a 400)."""

from django.db.models import F
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from erp.api.viewsets import (
    TenantCreateListRetrieveViewSet,
    TenantModelViewSet,
    TenantReadOnlyModelViewSet,
)
from erp.tenancy import roles
from integrations.selectors import shop_find

from .. import selectors, services
from ..models import (
    SKU,
    MoveKind,
    PlatformSkuMapping,
    Product,
    Promotion,
    Reservation,
    StockLevel,
    StockLock,
    StockMove,
    Stocktake,
    SyncRule,
    Transfer,
    Warehouse,
)
from . import serializers as s

MOVE_FILTERS = {
    "warehouse": ["exact"], "sku": ["exact"], "sku__code": ["exact"], "kind": ["exact", "in"], "source_doc": ["exact"],
    "created_at": ["gte", "lte"],
}


class ProductViewSet(TenantModelViewSet):
    """Products (SPU)."""

    model = Product
    serializer_class = s.ProductSerializer
    filterset_fields = ["status", "category", "brand", "code"]
    search_fields = ["code", "name", "brand"]
    ordering_fields = ["code", "name", "created_at"]


class SKUViewSet(TenantModelViewSet):
    """SKUs with their merchant code (unique per tenant); a SKU with ``components`` is a bundle."""

    model = SKU
    serializer_class = s.SKUSerializer
    select_related = ("product",)
    filterset_fields = ["status", "product", "is_bundle", "code", "barcode"]
    search_fields = ["code", "name", "barcode"]
    ordering_fields = ["code", "name", "created_at"]

    def perform_create(self, serializer):
        components = serializer.validated_data.pop("components", None)
        sku = serializer.save()
        if components:
            serializer.instance = services.sku_set_components(bundle=sku, components=[(c["sku"], c["quantity"]) for c in components])
        services.sku_mappings_automatch()

    def perform_update(self, serializer):
        components = serializer.validated_data.pop("components", None)
        sku = serializer.save()
        if components:
            serializer.instance = services.sku_set_components(bundle=sku, components=[(c["sku"], c["quantity"]) for c in components])
        services.sku_mappings_automatch()

    @extend_schema(responses=s.AvailabilitySerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None)  # one list per warehouse, not paged
    def availability(self, request, pk=None):
        """Per-warehouse figures; for a bundle the whole bundles its components allow."""
        sku = self.get_object()
        if sku.is_bundle:
            avail = selectors.available_by_warehouse(sku_ids=[sku.pk])
            warehouses = {w.pk: w for w in Warehouse.objects.filter(pk__in=[w for w, _ in avail])}
            rows = [{"warehouse": w, "warehouse_code": warehouses[w].code, "on_hand": 0, "reserved": 0, "locked": 0,
                     "available": n, "in_transit": 0, "defective": 0} for (w, _), n in sorted(avail.items())]
        else:
            rows = [{**row, "warehouse": row["warehouse"].pk, "warehouse_code": row["warehouse"].code}
                    for row in selectors.sku_stock(sku=sku)]
        return Response(s.AvailabilitySerializer(rows, many=True).data)


class WarehouseViewSet(TenantModelViewSet):
    model = Warehouse
    serializer_class = s.WarehouseSerializer
    filterset_fields = ["kind", "is_active", "code"]
    search_fields = ["code", "name"]
    ordering_fields = ["priority", "code"]


@extend_schema(parameters=[OpenApiParameter("low", int, description="only levels with available <= this")])
class StockLevelViewSet(TenantReadOnlyModelViewSet):
    """Stock per (warehouse, SKU): on hand, reserved, promotion-locked, available, in transit, defective."""

    model = StockLevel
    serializer_class = s.StockLevelSerializer
    select_related = ("sku", "warehouse")
    filterset_fields = {"warehouse": ["exact"], "sku": ["exact", "in"], "sku__code": ["exact"], "on_hand": ["gte", "lte"]}
    search_fields = ["sku__code", "sku__name", "sku__barcode"]
    ordering_fields = ["on_hand", "reserved", "available_units", "updated_at", "sku__code"]

    def scope_queryset(self, queryset):
        queryset = queryset.annotate(available_units=F("on_hand") - F("reserved") - F("locked"))
        low = self.request.query_params.get("low") if getattr(self, "request", None) else None
        if low not in (None, ""):
            try:
                queryset = queryset.filter(available_units__lte=int(low))
            except ValueError:
                raise ValidationError({"low": ["A whole number."]})
        return queryset.order_by("sku__code", "warehouse__priority")


class StockMoveViewSet(TenantReadOnlyModelViewSet):
    """The append-only stock ledger."""

    model = StockMove
    serializer_class = s.StockMoveSerializer
    select_related = ("sku",)
    filterset_fields = MOVE_FILTERS
    search_fields = ["source_doc", "reason", "sku__code"]
    ordering_fields = ["created_at", "id"]


class _MoveCreateViewSet(TenantCreateListRetrieveViewSet):
    model = StockMove
    serializer_class = s.StockMoveSerializer
    select_related = ("sku",)
    filterset_fields = MOVE_FILTERS
    kind = ""

    def scope_queryset(self, queryset):
        return queryset.filter(kind=self.kind)


class AdjustmentViewSet(_MoveCreateViewSet):
    """Stock adjustments: a signed change of on hand with a reason (refused below reserved + locked)."""

    kind = MoveKind.ADJUSTMENT

    @extend_schema(request=s.AdjustmentCreateSerializer, responses={201: s.StockMoveSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(s.AdjustmentCreateSerializer, request)
        move = services.stock_adjust(**data, user=request.user)
        return Response(s.StockMoveSerializer(move).data, status=status.HTTP_201_CREATED)


class ReceiptViewSet(_MoveCreateViewSet):
    """Goods received into a warehouse."""

    kind = MoveKind.RECEIPT

    @extend_schema(request=s.ReceiptCreateSerializer, responses={201: s.StockMoveSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(s.ReceiptCreateSerializer, request)
        move = services.stock_receive(**data, user=request.user)
        return Response(s.StockMoveSerializer(move).data, status=status.HTTP_201_CREATED)


def _valid(serializer_class, request, **kwargs):
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TransferViewSet(TenantCreateListRetrieveViewSet):
    """Transfers between warehouses: draft -> ship (in transit) -> receive."""

    model = Transfer
    serializer_class = s.TransferSerializer
    prefetch_related = ("lines",)
    filterset_fields = ["status", "from_warehouse", "to_warehouse", "number"]
    search_fields = ["number", "note"]

    @extend_schema(request=s.TransferCreateSerializer, responses={201: s.TransferSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(s.TransferCreateSerializer, request)
        transfer = services.transfer_create(from_warehouse=data["from_warehouse"], to_warehouse=data["to_warehouse"],
                                            note=data["note"], lines=[(ln["sku"], ln["quantity"]) for ln in data["lines"]])
        return Response(s.TransferSerializer(transfer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.TransferSerializer)
    @action(detail=True, methods=["post"])
    def ship(self, request, pk=None):
        transfer = services.transfer_ship(transfer=self.get_object(), user=request.user)
        return Response(s.TransferSerializer(Transfer.objects.get(pk=transfer.pk)).data)

    @extend_schema(request=s.TransferReceiveSerializer, responses=s.TransferSerializer)
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        transfer = self.get_object()
        data = _valid(s.TransferReceiveSerializer, request)
        received = {ln["sku"].pk: ln["quantity"] for ln in data.get("lines") or []}
        transfer = services.transfer_receive(transfer=transfer, received=received, user=request.user)
        return Response(s.TransferSerializer(Transfer.objects.get(pk=transfer.pk)).data)

    @extend_schema(request=None, responses=s.TransferSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        transfer = services.transfer_cancel(transfer=self.get_object())
        return Response(s.TransferSerializer(transfer).data)


class StocktakeViewSet(TenantCreateListRetrieveViewSet):
    """Stocktakes: a count sheet, counts, then post (adjustment moves for each variance)."""

    model = Stocktake
    serializer_class = s.StocktakeSerializer
    prefetch_related = ("lines",)
    filterset_fields = ["status", "warehouse", "number"]

    @extend_schema(request=s.StocktakeCreateSerializer, responses={201: s.StocktakeSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(s.StocktakeCreateSerializer, request)
        skus = data.get("skus")
        take = services.stocktake_create(warehouse=data["warehouse"], note=data["note"],
                                         sku_ids=[x.pk for x in skus] if skus is not None else None)
        return Response(s.StocktakeSerializer(take).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.StocktakeCountSerializer, responses=s.StocktakeSerializer)
    @action(detail=True, methods=["post"])
    def count(self, request, pk=None):
        take = self.get_object()
        data = _valid(s.StocktakeCountSerializer, request)
        services.stocktake_count(stocktake=take, counts={c["sku"].pk: c["counted"] for c in data["counts"]})
        return Response(s.StocktakeSerializer(Stocktake.objects.get(pk=take.pk)).data)

    @extend_schema(request=None, responses=s.StocktakeSerializer)
    @action(detail=True, methods=["post"])
    def post(self, request, pk=None):
        """Post the counts; the answer's lines carry the variance report."""
        take = self.get_object()
        services.stocktake_post(stocktake=take, user=request.user)
        return Response(s.StocktakeSerializer(Stocktake.objects.get(pk=take.pk)).data)

    @extend_schema(request=None, responses=s.StocktakeSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        take = services.stocktake_cancel(stocktake=self.get_object())
        return Response(s.StocktakeSerializer(take).data)


class StockLockViewSet(TenantCreateListRetrieveViewSet):
    """Promotion stock locks (活动锁库存) with their audit trail."""

    model = StockLock
    serializer_class = s.StockLockSerializer
    prefetch_related = ("events",)
    filterset_fields = ["status", "shop", "sku", "warehouse"]
    search_fields = ["name", "sku__code"]
    ordering_fields = ["starts_at", "ends_at"]

    @extend_schema(request=s.StockLockCreateSerializer, responses={201: s.StockLockSerializer})
    def create(self, request, *args, **kwargs):
        data = _valid(s.StockLockCreateSerializer, request)
        lock = services.stock_lock_create(**data, user=request.user)
        return Response(s.StockLockSerializer(StockLock.objects.get(pk=lock.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=s.StockLockSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        lock = services.stock_lock_cancel(lock=self.get_object())
        return Response(s.StockLockSerializer(lock).data)


class SyncRuleViewSet(TenantModelViewSet):
    """Per-shop channel stock rules."""

    model = SyncRule
    serializer_class = s.SyncRuleSerializer
    prefetch_related = ("rule_warehouses",)
    filterset_fields = ["shop", "is_active"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        shop = data.pop("shop")
        if SyncRule.objects.filter(shop=shop).exists():
            raise ValidationError({"shop": ["This shop already has a rule; change it instead."]})
        serializer.instance = services.sync_rule_save(shop=shop, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        shop = data.pop("shop", None)
        if shop is not None and shop.pk != serializer.instance.shop_id:
            raise ValidationError({"shop": ["A rule stays with its shop."]})
        serializer.instance = services.sync_rule_save(shop=serializer.instance.shop, **data)


@extend_schema(parameters=[OpenApiParameter("matched", bool, description="true: mapped to a SKU; false: the queue")])
class PlatformSkuMappingViewSet(TenantModelViewSet):
    """Platform SKU -> our SKU. Unmatched rows (sku empty) are the operators' queue."""

    model = PlatformSkuMapping
    serializer_class = s.PlatformSkuMappingSerializer
    select_related = ("sku",)
    filterset_fields = ["shop", "sku", "match_method", "platform_item_id", "outer_id"]
    search_fields = ["platform_item_id", "platform_sku_id", "outer_id", "title", "sku__code"]
    ordering_fields = ["last_seen_at", "created_at"]

    def scope_queryset(self, queryset):
        matched = self.request.query_params.get("matched") if getattr(self, "request", None) else None
        if matched in ("true", "1"):
            queryset = queryset.filter(sku__isnull=False)
        elif matched in ("false", "0"):
            queryset = queryset.filter(sku__isnull=True)
        return queryset

    def perform_create(self, serializer):
        serializer.instance = services.sku_mapping_create(**serializer.validated_data)

    def perform_update(self, serializer):
        mapping = serializer.instance
        data = serializer.validated_data
        if "shop" in data and data["shop"].pk != mapping.shop_id:
            raise ValidationError({"shop": ["A mapping stays with its shop."]})
        for field in ("platform_item_id", "platform_sku_id", "outer_id", "title"):
            if field in data:
                setattr(mapping, field, data[field])
        mapping.save()
        if "sku" in data:
            serializer.instance = services.sku_mapping_set(mapping=mapping, sku=data["sku"])

    @extend_schema(request=None, responses={200: {"type": "object", "properties": {"matched": {"type": "integer"}}}})
    @action(detail=False, methods=["post"])
    def automatch(self, request):
        """Match every unmatched platform SKU whose outer id equals a merchant code."""
        return Response({"matched": services.sku_mappings_automatch()})


class ReservationViewSet(TenantReadOnlyModelViewSet):
    """Reservations held for order lines (read only; orders reserve through the services)."""

    model = Reservation
    serializer_class = s.ReservationSerializer
    filterset_fields = ["status", "ref_type", "ref_id", "warehouse", "sku"]


class StockHealthViewSet(viewsets.ViewSet):
    """Stock health: days of cover from recent shipments, stock-out risk, slow movers."""

    access_app = "inventory"
    read_roles = roles.ALL
    write_roles = frozenset()

    @extend_schema(
        parameters=[
            OpenApiParameter("days", int, description="sales window in days (default 30)"),
            OpenApiParameter("risk_days", int, description="less cover than this is a risk (default 7)"),
            OpenApiParameter("status", str, enum=["out", "risk", "slow", "ok"]),
            OpenApiParameter("warehouse", int),
        ],
        responses=s.StockHealthLineSerializer(many=True),
    )
    def list(self, request):
        params = request.query_params
        try:
            days = int(params.get("days", 30))
            risk_days = int(params.get("risk_days", 7))
            warehouse = int(params["warehouse"]) if params.get("warehouse") else None
        except ValueError:
            raise ValidationError({"days": ["Whole numbers only."]})
        if not 1 <= days <= 365:
            raise ValidationError({"days": ["Between 1 and 365."]})
        if warehouse is not None and not Warehouse.objects.filter(pk=warehouse).exists():
            raise ValidationError({"warehouse": ["Unknown warehouse."]})
        lines = selectors.stock_health(days=days, risk_days=risk_days, warehouse=warehouse, status=params.get("status") or None)
        return Response(s.StockHealthLineSerializer(lines, many=True).data)


class ShopStockViewSet(viewsets.ViewSet):
    """What a shop should show now per platform SKU (after sync rule and promotion locks)."""

    access_app = "inventory"
    read_roles = roles.ALL
    write_roles = frozenset()

    @extend_schema(parameters=[OpenApiParameter("shop", int, required=True)], responses=s.ShopStockLineSerializer(many=True))
    def list(self, request):
        shop_id = request.query_params.get("shop")
        shop = shop_find(shop_id=shop_id)
        if shop is None:
            raise ValidationError({"shop": ["Give the id of one of your shops."]})
        return Response(s.ShopStockLineSerializer(selectors.sellable_stock_for_shop(shop=shop), many=True).data)


def _report_params(request) -> dict:
    query = s.PromotionReportQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    return dict(query.validated_data)


_REPORT_PARAMS = [OpenApiParameter("margin_below", float), OpenApiParameter("uplift", float),
                  OpenApiParameter("min_units", int)]


class PromotionViewSet(TenantCreateListRetrieveViewSet, mixins.DestroyModelMixin):
    """Promotions (活动): shops, SKUs, a time window and the stock locks they own; ``analysis``:
    units, GMV, discounts, fees, cost of goods, gross profit and margin against the same SKUs in an
    equal window before, and ROI; ``report``: every started promotion, naming those whose SKUs sold
    well at a margin below ``margin_below``."""

    model = Promotion
    serializer_class = s.PromotionSerializer
    prefetch_related = ("promotion_shops", "promotion_skus", "locks")
    filterset_fields = {"starts_at": ["gte", "lte"], "ends_at": ["gte", "lte"]}
    search_fields = ["name"]
    ordering_fields = ["starts_at", "ends_at", "id"]
    ordering = ("-starts_at", "-id")

    def _out(self, promotion, code=status.HTTP_200_OK):
        fresh = Promotion.objects.prefetch_related(*self.prefetch_related).get(pk=promotion.pk)
        return Response(s.PromotionSerializer(fresh).data, status=code)

    @extend_schema(request=s.PromotionCreateSerializer, responses={201: s.PromotionSerializer, 400: OpenApiTypes.OBJECT})
    def create(self, request, *args, **kwargs):
        data = _valid(s.PromotionCreateSerializer, request)
        return self._out(services.promotion_create(**data, user=request.user), status.HTTP_201_CREATED)

    @extend_schema(responses={204: None, 409: OpenApiTypes.OBJECT})
    def destroy(self, request, *args, **kwargs):
        """Delete a promotion that never locked stock (409 when it has locks)."""
        services.promotion_delete(promotion=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.PromotionLockSerializer, responses={201: s.StockLockSerializer, 400: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def lock(self, request, pk=None):
        """Lock stock for the promotion: units of one of its SKUs for one of its shops over its window."""
        promotion = self.get_object()  # another tenant's promotion is a 404 before the body is read
        data = _valid(s.PromotionLockSerializer, request)
        lock = services.promotion_lock_stock(promotion=promotion, **data, user=request.user)
        return Response(s.StockLockSerializer(StockLock.objects.get(pk=lock.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="end-locks")
    def end_locks(self, request, pk=None):
        """Cancel the promotion's scheduled and active locks; their units return to stock."""
        return Response({"cancelled": services.promotion_end_locks(promotion=self.get_object())})

    @extend_schema(parameters=_REPORT_PARAMS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def analysis(self, request, pk=None):
        """One promotion's figures, its baseline, ROI and per-SKU rows."""
        from ..promotion_analysis import promotion_analyse

        return Response(promotion_analyse(promotion=self.get_object(), **_report_params(request)).as_dict())

    @extend_schema(parameters=_REPORT_PARAMS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["get"])
    def report(self, request):
        """The latest 50 started promotions analysed; ``flagged`` names those selling well at a low margin."""
        from ..promotion_analysis import promotions_report

        rows = promotions_report(**_report_params(request))
        return Response({"results": [r.as_dict() for r in rows], "flagged": [r.promotion.name for r in rows if r.flagged_skus]})
