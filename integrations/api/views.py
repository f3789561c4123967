"""Shops and sync runs (token/session API), and the inbound channel API (HMAC-signed)."""

from __future__ import annotations

import json
import logging

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from erp.api.exceptions import Conflict
from erp.api.throttling import ChannelRateThrottle
from erp.api.viewsets import TenantReadOnlyModelViewSet, TenantScopedViewSetMixin
from erp.tenancy import roles
from erp.tenancy.context import system_context, tenant_context
from erp.tenancy.permissions import RolePermission

from .. import services
from ..models import InboundMessage, Shop, SyncRun
from .serializers import (
    ChannelAcceptedSerializer,
    RunRequestSerializer,
    ShopCreatedSerializer,
    ShopSerializer,
    SyncRunSerializer,
)

logger = logging.getLogger("integrations.api")

RUN_NOW_BUDGET_SECONDS = 20


class ShopViewSet(TenantScopedViewSetMixin, mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """The tenant's shops. A shop is never deleted (its orders point at it): set ``is_active`` false."""

    model = Shop
    serializer_class = ShopSerializer
    filterset_fields = ["platform", "is_active"]
    search_fields = ["code", "name"]
    ordering_fields = ["name", "code", "created_at"]

    @extend_schema(
        request=ShopSerializer, responses={201: ShopCreatedSerializer},
        description="Create a shop. The answer carries `channel_secret` this once (it signs the shop's inbound "
                    "channel requests); it is stored encrypted and never shown again.",
        examples=[OpenApiExample("own web shop", request_only=True,
                                 value={"code": "web", "name": "Our web shop", "platform": "own"}),
                  OpenApiExample("Taobao shop", request_only=True, value={
                      "code": "tb-main", "name": "Taobao flagship", "platform": "taobao",
                      "api_base_url": "http://127.0.0.1:8100/taobao/router/rest",
                      "credentials": {"app_key": "tb-app-key", "app_secret": "tb-app-secret",
                                      "access_token": "tb-session-main"}})],
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        shop, secret = services.shop_create(code=data.pop("code"), name=data.pop("name"),
                                            platform=data.pop("platform"), **data)
        out = ShopCreatedSerializer(shop, context=self.get_serializer_context()).data
        out["channel_secret"] = secret
        return Response(out, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("code", None)
        data.pop("platform", None)
        if "credentials" in data:  # a partial credentials update keeps the other keys
            data["credentials"] = {**(serializer.instance.credentials or {}), **data["credentials"]}
        services.shop_update(shop=serializer.instance, **data)


class ShopRunView(APIView):
    """POST: run one job of the shop now, in the foreground (a long pull continues in the background)."""

    access_app = "integrations"
    read_roles = roles.MANAGERS | {roles.Role.OPERATOR}
    write_roles = roles.MANAGERS
    permission_classes = [RolePermission]

    @extend_schema(request=RunRequestSerializer, responses={200: SyncRunSerializer, 409: OpenApiTypes.OBJECT},
                   description="Run `job` for this shop now and answer its SyncRun (409 when a run of the same job "
                               "is already going). A pull that needs more than ~20 s answers `partial` and "
                               "continues as a background task.",
                   examples=[OpenApiExample("pull orders", request_only=True, value={"job": "pull_orders"})])
    def post(self, request, pk: int):
        from django.shortcuts import get_object_or_404

        shop = get_object_or_404(Shop.objects.all(), pk=pk)
        serializer = RunRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = serializer.validated_data["job"]
        run = services.sync_run_now(shop=shop, job=job, trigger="manual", budget_seconds=RUN_NOW_BUDGET_SECONDS)
        if run is None:
            raise Conflict("A run of this job is in progress for this shop.")
        if run.status == SyncRun.Status.PARTIAL:
            from ..tasks import SHOP_TASKS

            SHOP_TASKS[job].apply_async(kwargs={"tenant_id": shop.tenant_id, "shop_id": shop.pk, "trigger": "continue"})
        return Response(SyncRunSerializer(run).data)


class SyncRunViewSet(TenantReadOnlyModelViewSet):
    """The sync log: one row per job run per shop, newest first."""

    model = SyncRun
    serializer_class = SyncRunSerializer
    select_related = ("shop",)
    filterset_fields = ["shop", "job", "status", "trigger"]
    ordering_fields = ["started_at", "duration_ms"]
    ordering = ["-started_at"]


# --- inbound channel ------------------------------------------------------------------------------
ORDER_EXAMPLE = {
    "platform_order_id": "WEB-10001",
    "state": "paid",
    "created_at": "2025-01-06T10:00:00+08:00",
    "modified_at": "2025-01-06T10:01:00+08:00",
    "paid_at": "2025-01-06T10:01:00+08:00",
    "buyer_id": "customer-42",
    "buyer_message": "Gift wrap, please",
    "receiver": {"name": "Zhang San", "phone": "13800000000", "province": "浙江省", "city": "杭州市",
                 "district": "西湖区", "address": "文三路 1 号"},
    "goods_amount": "118.00", "discount_amount": "10.00", "freight_amount": "0.00", "paid_amount": "108.00",
    "lines": [{"platform_line_id": "WEB-10001-1", "platform_item_id": "TEE", "platform_sku_id": "TEE-WHT-M",
               "outer_id": "TEE-WHT-M", "title": "T-shirt white M", "quantity": 2, "price": "59.00",
               "discount": "10.00", "paid": "108.00"}],
}
REFUND_EXAMPLE = {
    "platform_refund_id": "WEB-R-1", "platform_order_id": "WEB-10001", "platform_line_id": "WEB-10001-1",
    "status": "requested", "amount": "54.00", "reason": "size too small", "has_goods_return": True,
    "phase": "after_shipment", "modified_at": "2025-01-08T09:00:00+08:00", "version": 1,
}
SIGNATURE = OpenApiParameter(
    "X-ERP-Signature", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="Hex HMAC-SHA256 of the raw request body under the shop's channel secret, e.g. "
                "`printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" -hex`.")
CHANNEL_RESPONSES = {
    201: OpenApiResponse(ChannelAcceptedSerializer, description="Stored (first time); processed in the background."),
    200: OpenApiResponse(ChannelAcceptedSerializer, description="The same body was received before: nothing changes."),
    400: OpenApiResponse(OpenApiTypes.OBJECT, description="The body is not valid JSON or misses fields."),
    401: OpenApiResponse(OpenApiTypes.OBJECT, description="Unknown shop or bad signature: nothing is stored."),
    409: OpenApiResponse(OpenApiTypes.OBJECT, description="This external id and modified time were received with a different body."),
}


class ChannelView(APIView):
    """Inbound messages for one shop: the seller's own web shop posts orders and refunds in the
    normalised JSON form; a platform shop may forward the platform's own push payloads (mapped by
    its adapter). Authenticated by the signature only; the tenant comes from the shop."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ChannelRateThrottle]
    kind = ""

    def post(self, request, shop_code: str):
        body = request.body  # the raw bytes, before any parsing
        signature = request.headers.get("X-ERP-Signature", "")
        shop = _shop_for_signature(shop_code, body, signature)
        if shop is None:
            return Response({"detail": "Unknown shop or bad signature.", "errors": {}}, status=401)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return Response({"detail": "The body is not valid JSON.", "errors": {}}, status=400)
        with tenant_context(shop.tenant):
            try:
                message, created = services.inbound_receive(shop=shop, kind=self.kind, data=data)
            except services.InboundConflict as exc:
                return Response({"detail": str(exc), "errors": {}}, status=409)
            out = {"kind": message.kind, "external_id": message.external_id, "received_at": message.received_at,
                   "duplicate": not created}
            return Response(ChannelAcceptedSerializer(out).data, status=201 if created else 200)


def _shop_for_signature(shop_code: str, body: bytes, signature: str) -> Shop | None:
    """The active shop with this code whose channel secret signs ``body`` (codes are unique per
    tenant only: the signature tells which tenant's shop it is)."""
    if not signature or len(shop_code) > 40:
        return None
    with system_context("integrations: resolve the shop of an inbound channel request"):
        candidates = list(Shop.all_tenants.select_related("tenant").filter(code=shop_code, is_active=True,
                                                                          tenant__is_active=True))
    for shop in candidates:
        if services.channel_signature_valid(shop, body, signature):
            return shop
    return None


class ChannelOrdersView(ChannelView):
    kind = InboundMessage.Kind.ORDER

    @extend_schema(
        operation_id="channel_order_post", tags=["channels"], auth=[], parameters=[SIGNATURE],
        request={"application/json": OpenApiTypes.OBJECT}, responses=CHANNEL_RESPONSES,
        summary="Push an order (own web shop or platform push)",
        description="Idempotent on the external order id (`platform_order_id`) and `modified_at`: 201 the first "
                    "time, 200 for the same body again; a changed order is posted with a newer `modified_at` (201, "
                    "applied; an older one arriving late changes nothing); 409 for a different body under the same "
                    "id and `modified_at`. Amounts are decimal strings "
                    "in yuan, times ISO 8601 with an offset. `state` is one of unpaid, paid, part_shipped, "
                    "shipped, completed, cancelled. A platform shop (taobao/jd/pdd) posts the platform's own "
                    "order JSON instead.",
        examples=[OpenApiExample("own web shop order", value=ORDER_EXAMPLE, request_only=True)],
    )
    def post(self, request, shop_code: str):
        return super().post(request, shop_code)


class ChannelRefundsView(ChannelView):
    kind = InboundMessage.Kind.REFUND

    @extend_schema(
        operation_id="channel_refund_post", tags=["channels"], auth=[], parameters=[SIGNATURE],
        request={"application/json": OpenApiTypes.OBJECT}, responses=CHANNEL_RESPONSES,
        summary="Push a refund (own web shop or platform push)",
        description="Idempotent on `platform_refund_id` like orders. `status`: requested, agreed, wait_return, "
                    "refused, closed, success; `phase`: before_shipment or after_shipment; a higher `version` "
                    "supersedes a lower one.",
        examples=[OpenApiExample("own web shop refund", value=REFUND_EXAMPLE, request_only=True)],
    )
    def post(self, request, shop_code: str):
        return super().post(request, shop_code)
