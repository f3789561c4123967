"""Payables API: supplier statements (/api/v1/finance/statements/: generate, adjust, send, post,
pay), the supplier ageing report (/api/v1/finance/reports/supplier-ageing/) and the supplier portal's
statements (/api/v1/finance/portal/statements/: the supplier user's own only, confirm / dispute).
Writes go through finance.services.payables; a wrong state answers 409, bad input 400."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from erp.api.fields import ScopedId
from erp.api.viewsets import TenantReadOnlyModelViewSet
from erp.tenancy.permissions import RolePermission
from erp.tenancy.supplier_access import IsSupplierUser, supplier_id_of

from .. import selectors
from ..models import StatementEvent, SupplierPayment, SupplierStatement, SupplierStatementLine
from ..services import payables

ERRORS = {400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT}


class StatementLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupplierStatementLine
        fields = ["id", "kind", "date", "receipt_id", "receipt_number", "purchase_order_id", "purchase_order_number",
                  "sku_id", "sku_code", "quantity", "unit_price", "amount", "memo", "corrects", "disputed",
                  "dispute_reason"]


class StatementEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = StatementEvent
        fields = ["id", "created_at", "kind", "code", "from_status", "to_status", "actor_label", "message"]


class SupplierPaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = SupplierPayment
        fields = ["id", "amount", "currency", "paid_on", "reference", "voucher", "created_at"]


class StatementSerializer(serializers.ModelSerializer):
    lines = StatementLineSerializer(many=True, read_only=True)
    events = StatementEventSerializer(many=True, read_only=True)
    payments = SupplierPaymentSerializer(many=True, read_only=True)
    outstanding = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = SupplierStatement
        fields = ["id", "number", "supplier_id", "supplier_name", "year", "month", "currency", "status",
                  "total_amount", "paid_amount", "outstanding", "booked_amount", "payment_terms_days", "due_date",
                  "generated_at", "sent_at", "confirmed_at", "posted_at", "paid_at", "voucher", "allowed_actions",
                  "lines", "payments", "events"]
        read_only_fields = fields

    def get_allowed_actions(self, obj) -> list[str]:
        return payables.WORKFLOW.allowed_actions(obj)


class PortalStatementSerializer(StatementSerializer):
    """What the supplier sees: no ledger figures, no internal voucher."""

    class Meta(StatementSerializer.Meta):
        fields = ["id", "number", "supplier_name", "year", "month", "currency", "status", "total_amount",
                  "paid_amount", "outstanding", "due_date", "sent_at", "confirmed_at", "paid_at", "allowed_actions",
                  "lines", "payments", "events"]
        read_only_fields = fields

    def get_allowed_actions(self, obj) -> list[str]:
        return [a for a in payables.WORKFLOW.allowed_actions(obj) if a in ("confirm", "dispute")]


class GenerateSerializer(serializers.Serializer):
    supplier = ScopedId("purchasing.Supplier")
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    month = serializers.IntegerField(min_value=1, max_value=12)


class AdjustSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    memo = serializers.CharField(max_length=300)
    sku = ScopedId("inventory.SKU", required=False, allow_null=True)
    corrects = serializers.IntegerField(required=False, allow_null=True, min_value=1)


class SendSerializer(serializers.Serializer):
    why = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class PaySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    paid_on = serializers.DateField(required=False, allow_null=True)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class DisputeLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1)
    reason = serializers.CharField(max_length=500)


class DisputeSerializer(serializers.Serializer):
    lines = DisputeLineSerializer(many=True, allow_empty=False)


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data, context={"request": request})
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class StatementViewSet(TenantReadOnlyModelViewSet):
    """Supplier statements (对账单). ``generate`` makes (or refreshes, while a draft) the statement
    of a supplier and month; ``adjust`` adds an agreed price change or a correction; ``send`` sends
    it to the supplier; ``post`` posts a confirmed one whose automatic posting was refused; ``pay``
    records a payment (partial allowed). Wrong state: 409."""

    model = SupplierStatement
    serializer_class = StatementSerializer
    prefetch_related = ("lines", "events", "payments")
    filterset_fields = ["status", "supplier_id", "year", "month"]
    search_fields = ["number", "supplier_name"]
    ordering_fields = ["id", "year", "month", "due_date", "total_amount"]
    ordering = ("-year", "-month", "-id")

    def _out(self, statement, code=200):
        return Response(StatementSerializer(self.get_queryset().get(pk=statement.pk)).data, status=code)

    @extend_schema(request=GenerateSerializer, responses={200: StatementSerializer, **ERRORS})
    @action(detail=False, methods=["post"])
    def generate(self, request):
        data = _valid(GenerateSerializer, request)
        return self._out(payables.statement_generate(supplier_id=data["supplier"], year=data["year"],
                                                     month=data["month"], user=request.user))

    @extend_schema(request=AdjustSerializer, responses={200: StatementSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def adjust(self, request, pk=None):
        statement = self.get_object()
        data = _valid(AdjustSerializer, request)
        payables.statement_adjust(statement=statement, amount=data["amount"], memo=data["memo"], sku_id=data.get("sku"),
                                  corrects=data.get("corrects"), user=request.user)
        return self._out(statement)

    @extend_schema(request=SendSerializer, responses={200: StatementSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        statement = self.get_object()
        data = _valid(SendSerializer, request)
        return self._out(payables.statement_send(statement=statement, why=data["why"], user=request.user))

    @extend_schema(request=None, responses={200: StatementSerializer, **ERRORS})
    @action(detail=True, methods=["post"], url_path="post")
    def post_payable(self, request, pk=None):
        """Post a confirmed statement's payable (409 unless confirmed)."""
        return self._out(payables.statement_post(statement=self.get_object(), user=request.user))

    @extend_schema(request=PaySerializer, responses={201: SupplierPaymentSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        statement = self.get_object()
        data = _valid(PaySerializer, request)
        payment = payables.statement_pay(statement=statement, amount=data["amount"], paid_on=data.get("paid_on"),
                                         reference=data["reference"], user=request.user)
        return Response(SupplierPaymentSerializer(payment).data, status=201)


def _money_field():
    return serializers.DecimalField(max_digits=14, decimal_places=2)


class AgeingRowSerializer(serializers.Serializer):
    supplier_id = serializers.IntegerField()
    supplier_name = serializers.CharField()
    not_due, d0_30, d31_60, d61_90, d90_plus = (_money_field() for _ in range(5))
    total = _money_field()
    ledger = _money_field()
    statements = serializers.IntegerField()


class AgeingTotalsSerializer(serializers.Serializer):
    not_due, d0_30, d31_60, d61_90, d90_plus = (_money_field() for _ in range(5))
    total = _money_field()


class AgeingSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    rows = AgeingRowSerializer(many=True)
    totals = AgeingTotalsSerializer()


class SupplierAgeingView(APIView):
    """What is owed to each supplier on posted statements, by days past due (month end + payment
    terms): not_due, d0_30, d31_60, d61_90, d90_plus; ``ledger`` is the supplier's 2202 balance."""

    access_app = "finance"
    permission_classes = [RolePermission]

    @extend_schema(
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE, description="Default: the tenant's today."),
                    OpenApiParameter("supplier", OpenApiTypes.INT)],
        responses={200: AgeingSerializer, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        errors, as_of, supplier = {}, None, None
        raw = request.query_params.get("as_of") or ""
        if raw:
            try:
                as_of = serializers.DateField().to_internal_value(raw)
            except ValidationError as exc:
                errors["as_of"] = exc.detail
        raw = request.query_params.get("supplier") or ""
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                errors["supplier"] = ["A whole number (id)."]
            else:
                supplier = int(raw)
        if errors:
            raise ValidationError(errors)
        return Response(AgeingSerializer(selectors.supplier_ageing(as_of=as_of, supplier_id=supplier)).data)


# --- the supplier portal ---------------------------------------------------------------------------------
class PortalStatementViewSet(TenantReadOnlyModelViewSet):
    """The supplier user's own statements (sent to it or later; never drafts), with ``confirm`` and
    ``dispute`` (lines with reasons). Another supplier's statement is a 404."""

    model = SupplierStatement
    serializer_class = PortalStatementSerializer
    permission_classes = [permissions.IsAuthenticated, IsSupplierUser]
    prefetch_related = ("lines", "payments", "events")
    filterset_fields = ["status", "year", "month"]
    ordering = ("-year", "-month", "-id")

    def scope_queryset(self, queryset):
        supplier_id = supplier_id_of(self.request)
        if supplier_id is None:
            return queryset.none()
        return queryset.filter(supplier_id=supplier_id).exclude(status="draft")

    def _out(self, statement):
        return Response(PortalStatementSerializer(self.get_queryset().get(pk=statement.pk)).data)

    @extend_schema(request=None, responses={200: PortalStatementSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        statement = self.get_object()
        return self._out(payables.statement_confirm(statement=statement, supplier_id=supplier_id_of(request),
                                                    user=request.user))

    @extend_schema(request=DisputeSerializer, responses={200: PortalStatementSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def dispute(self, request, pk=None):
        statement = self.get_object()
        data = _valid(DisputeSerializer, request)
        return self._out(payables.statement_dispute(statement=statement, lines=data["lines"],
                                                    supplier_id=supplier_id_of(request), user=request.user))
