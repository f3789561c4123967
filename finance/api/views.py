"""Finance API (/api/v1/finance/): chart of accounts, periods (close / reopen), vouchers (manual
drafts, post, reverse), reconciliation queues, settlement lines, posting issues, reports and the
flat ledger for BI. Writes go through finance.services; a wrong state answers 409."""

import datetime

from django.db.models import ProtectedError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from erp.api.exceptions import Conflict
from erp.api.viewsets import (
    TenantCreateListRetrieveViewSet,
    TenantModelViewSet,
    TenantReadOnlyModelViewSet,
    TenantSettingsViewSet,
)
from erp.tenancy.permissions import RolePermission

from .. import selectors, services, statements
from ..models import (
    Account,
    FinanceSettings,
    Period,
    PostingIssue,
    Reconciliation,
    SettlementLine,
    Voucher,
    VoucherLine,
    VoucherStatus,
)
from . import serializers as s


def _valid(serializer_class, request, **kwargs):
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _line_specs(lines) -> list[services.LineSpec]:
    return [services.LineSpec(**line) for line in lines]


class AccountViewSet(TenantModelViewSet):
    """The chart of accounts (科目). An account with postings cannot be deleted (409): deactivate it."""

    model = Account
    serializer_class = s.FinanceAccountSerializer
    filterset_fields = ["type", "is_active", "platform", "parent", "code"]
    search_fields = ["code", "name"]
    ordering_fields = ["code", "name"]
    ordering = ("code",)

    def perform_destroy(self, instance):
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("The account has postings or sub-accounts: deactivate it instead.") from None


class PeriodViewSet(TenantCreateListRetrieveViewSet):
    """Accounting months. Closed periods refuse postings; close and reopen are explicit actions."""

    model = Period
    serializer_class = s.FinancePeriodSerializer
    filterset_fields = ["status", "year", "month"]
    ordering = ("-year", "-month")

    @extend_schema(request=None, responses={200: s.FinancePeriodSerializer, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Close the period (409 when already closed or when it still has drafts)."""
        return Response(s.FinancePeriodSerializer(services.period_close(period=self.get_object(), user=request.user)).data)

    @extend_schema(request=None, responses={200: inline_serializer("FinanceCarryForward", {
        "period": s.FinancePeriodSerializer(),
        "voucher": s.FinanceVoucherSerializer(allow_null=True),
        "vouchers": s.FinanceVoucherSerializer(many=True),
    }), 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="carry-forward")
    def carry_forward(self, request, pk=None):
        """Carry the period's profit and loss to 3103 本年利润 (结转损益): ``voucher`` is the voucher
        posted, null when there was nothing (left) to carry; ``vouchers`` has one per currency.
        409 when the period is closed (closing carries forward first)."""
        period = self.get_object()
        posted = services.period_carry_forward(period=period, user=request.user)
        vouchers = list(Voucher.objects.filter(pk__in=[v.pk for v in posted]).select_related("period")
                        .prefetch_related("lines__account", "reversals").order_by("id"))
        data = s.FinanceVoucherSerializer(vouchers, many=True).data
        period.refresh_from_db()
        return Response({"period": s.FinancePeriodSerializer(period).data, "voucher": data[0] if data else None,
                         "vouchers": data})

    @extend_schema(request=None, responses={200: s.FinancePeriodSerializer, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Reopen a closed period (409 when it is open)."""
        return Response(s.FinancePeriodSerializer(services.period_reopen(period=self.get_object(), user=request.user)).data)


class VoucherViewSet(TenantModelViewSet):
    """Vouchers. Create a manual one (a draft, or ``post: true``); drafts may be edited or deleted;
    posted vouchers never change (409): reverse them."""

    model = Voucher
    serializer_class = s.FinanceVoucherSerializer
    select_related = ("period",)
    prefetch_related = ("lines__account", "reversals")
    filterset_fields = {"status": ["exact"], "source_type": ["exact"], "source_ref": ["exact"], "date": ["gte", "lte"],
                        "period": ["exact"]}
    search_fields = ["memo", "source_ref"]
    ordering_fields = ["date", "id", "number"]

    def _out(self, voucher, code=status.HTTP_200_OK):
        voucher = self.get_queryset().get(pk=voucher.pk)
        return Response(s.FinanceVoucherSerializer(voucher).data, status=code)

    @extend_schema(request=s.FinanceVoucherWriteSerializer, responses={201: s.FinanceVoucherSerializer, 409: OpenApiTypes.OBJECT})
    def create(self, request, *args, **kwargs):
        data = _valid(s.FinanceVoucherWriteSerializer, request)
        voucher = services.voucher_create(date=data["date"], memo=data["memo"], lines=_line_specs(data["lines"]),
                                          user=request.user, post=data["post"])
        return self._out(voucher, status.HTTP_201_CREATED)

    @extend_schema(request=s.FinanceVoucherWriteSerializer, responses={200: s.FinanceVoucherSerializer, 409: OpenApiTypes.OBJECT})
    def update(self, request, *args, **kwargs):
        voucher = self.get_object()
        if voucher.status == VoucherStatus.POSTED:
            raise Conflict("The voucher is posted: it never changes; reverse it instead.")
        partial = kwargs.get("partial", False)
        if not isinstance(request.data, dict):  # a JSON list or scalar: nothing to read fields from
            raise ValidationError({"non_field_errors": ["Expected a JSON object."]})
        payload = request.data.dict() if hasattr(request.data, "dict") else dict(request.data)
        if partial:  # keep what is not given
            payload.setdefault("date", voucher.date.isoformat())
            payload.setdefault("memo", voucher.memo)
            if "lines" not in payload:
                payload["lines"] = [{"account": ln.account_id, "debit": str(ln.debit), "credit": str(ln.credit),
                                     "currency": ln.currency, "memo": ln.memo, "tag": ln.tag, "shop_id": ln.shop_id,
                                     "platform": ln.platform, "order_id": ln.order_id,
                                     "platform_order_id": ln.platform_order_id, "sku_id": ln.sku_id,
                                     "supplier_id": ln.supplier_id} for ln in voucher.lines.all()]
        serializer = s.FinanceVoucherWriteSerializer(data=payload, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        voucher = services.voucher_update(voucher=voucher, date=data["date"], memo=data["memo"],
                                          lines=_line_specs(data["lines"]))
        if data.get("post"):
            voucher = services.voucher_post(voucher=voucher, user=request.user)
        return self._out(voucher)

    def destroy(self, request, *args, **kwargs):
        services.voucher_delete(voucher=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: s.FinanceVoucherSerializer, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="post", url_name="post")
    def post_voucher(self, request, pk=None):
        """Post a draft: 400 when it does not balance, 409 when posted already or its period is closed."""
        return self._out(services.voucher_post(voucher=self.get_object(), user=request.user))

    @extend_schema(request=s.FinanceReverseSerializer, responses={201: s.FinanceVoucherSerializer, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="reverse", url_name="reverse")
    def reverse_voucher(self, request, pk=None):
        """Post the mirror voucher of a posted one (409 for a draft or a voucher reversed already)."""
        voucher = self.get_object()
        data = _valid(s.FinanceReverseSerializer, request)
        reversal = services.voucher_reverse(voucher=voucher, date=data.get("date"), memo=data.get("memo", ""),
                                            user=request.user)
        return self._out(reversal, status.HTTP_201_CREATED)


class FinanceSettingsViewSet(TenantSettingsViewSet):
    """The tenant's finance settings: after how many days a shipped order without a platform bill
    goes to the unsettled queue. ``current`` reads or changes the one row (made on first use)."""

    model = FinanceSettings
    serializer_class = s.FinanceSettingsSerializer

    def settings_row(self):
        return services.settings_get()


class ReconciliationViewSet(TenantReadOnlyModelViewSet):
    """Settlement state per platform order; the exception queues are ``?status=difference``,
    ``no_order`` (bill without order) and ``unsettled`` (shipped, no bill after the due days)."""

    model = Reconciliation
    serializer_class = s.FinanceReconciliationSerializer
    filterset_fields = ["status", "shop_id", "platform", "platform_order_id", "order_id"]
    ordering_fields = ["id", "difference", "shipped_at", "last_bill_at"]

    @extend_schema(request=s.FinanceResolveSerializer, responses={200: s.FinanceReconciliationSerializer, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """Accept an exception with a note (409 when the order is not in an exception queue)."""
        rec = self.get_object()
        data = _valid(s.FinanceResolveSerializer, request)
        rec = services.reconciliation_resolve(reconciliation=rec, note=data["note"], user=request.user)
        return Response(s.FinanceReconciliationSerializer(rec).data)


class SettlementLineViewSet(TenantReadOnlyModelViewSet):
    """Platform bill lines as booked by finance (one per bill id and shop)."""

    model = SettlementLine
    serializer_class = s.FinanceSettlementLineSerializer
    filterset_fields = ["shop_id", "platform", "kind", "platform_order_id", "platform_bill_id"]


class PostingIssueViewSet(TenantReadOnlyModelViewSet):
    """Business events whose posting failed; retry after fixing the cause."""

    model = PostingIssue
    serializer_class = s.FinancePostingIssueSerializer
    filterset_fields = ["source_type"]

    def scope_queryset(self, queryset):
        if getattr(self, "request", None) and self.request.query_params.get("open") in ("1", "true"):
            queryset = queryset.filter(resolved_at__isnull=True)
        return queryset

    @extend_schema(request=None, responses={200: s.FinancePostingIssueSerializer, 409: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        issue = self.get_object()
        services.posting_issue_retry(issue=issue)
        return Response(s.FinancePostingIssueSerializer(PostingIssue.objects.get(pk=issue.pk)).data)


@extend_schema(parameters=[OpenApiParameter("date_from", OpenApiTypes.DATE), OpenApiParameter("date_to", OpenApiTypes.DATE),
                           OpenApiParameter("account_code", str, description="account code prefix")])
class LedgerViewSet(TenantReadOnlyModelViewSet):
    """BI feed: posted voucher lines with voucher, period, account and dimensions in stable columns
    (the same as the finance_ledger_bi database view). Scoped to the caller's tenant."""

    model = VoucherLine
    serializer_class = s.FinanceLedgerLineSerializer
    select_related = ("voucher", "voucher__period", "account")
    ordering = ("id",)

    def scope_queryset(self, queryset):
        queryset = queryset.filter(voucher__status=VoucherStatus.POSTED)
        request = getattr(self, "request", None)
        if request is None:
            return queryset
        params = request.query_params
        date_from, date_to = _date(params, "date_from"), _date(params, "date_to")
        if date_from:
            queryset = queryset.filter(voucher__date__gte=date_from)
        if date_to:
            queryset = queryset.filter(voucher__date__lte=date_to)
        if params.get("account_code"):
            queryset = queryset.filter(account__code__startswith=params["account_code"])
        return queryset


# --- reports ---------------------------------------------------------------------------------------
def _date(params, name):
    value = params.get(name)
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: ["A date as YYYY-MM-DD."]}) from None


def _int(params, name, default=None, lo=None, hi=None):
    value = params.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValidationError({name: ["A whole number."]}) from None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise ValidationError({name: [f"Between {lo} and {hi}."]})
    return number


def period_from_params(params) -> Period:
    value = params.get("period")
    if value:
        try:
            year, month = (int(x) for x in value.split("-"))
        except ValueError:
            raise ValidationError({"period": ["A month as YYYY-MM."]}) from None
        if not (2000 <= year <= 2100 and 1 <= month <= 12):
            raise ValidationError({"period": ["A month as YYYY-MM."]})
        return selectors.period_of(year=year, month=month)
    return selectors.current_period()


class _Report(APIView):
    access_app = "finance"
    permission_classes = [RolePermission]


def _row(obj) -> dict:
    return {k: (str(v) if hasattr(v, "quantize") else v) for k, v in vars(obj).items()}


class TrialBalanceView(_Report):
    @extend_schema(parameters=[OpenApiParameter("period", str, description="YYYY-MM (default: this month)")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request):
        """Per account: opening, period debits and credits, closing; totals agree when the books do."""
        tb = selectors.trial_balance(period=period_from_params(request.query_params))
        return Response({"period": tb.period.key, "status": tb.period.status, "balanced": tb.balanced,
                         "rows": [_row(r) for r in tb.rows], "totals": _row(tb.totals)})


def _profit(p) -> dict:
    return {k: (str(v) if v is not None and hasattr(v, "quantize") else v) for k, v in p.as_dict().items()}


class ProfitAndLossView(_Report):
    @extend_schema(parameters=[OpenApiParameter("year", int, description="default: this year")],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request):
        """Revenue, refunds, cost of goods, platform fees, gross and net profit per month of a year."""
        year = _int(request.query_params, "year", default=selectors.current_period().year, lo=2000, hi=2100)
        months, total = selectors.profit_by_month(year=year)
        return Response({"year": year, "months": [_profit(m) for m in months], "total": _profit(total)})


class ProfitByView(_Report):
    @extend_schema(parameters=[OpenApiParameter("by", str, enum=list(selectors.DIMENSIONS), required=True),
                               OpenApiParameter("date_from", OpenApiTypes.DATE),
                               OpenApiParameter("date_to", OpenApiTypes.DATE)],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request):
        """Profit and margin by shop, platform or SKU (revenue, refunds, COGS, fees, gross profit, margin %)."""
        by = request.query_params.get("by", "shop")
        if by not in selectors.DIMENSIONS:
            raise ValidationError({"by": [f"One of {', '.join(selectors.DIMENSIONS)}."]})
        rows, total = selectors.profit_by(by=by, date_from=_date(request.query_params, "date_from"),
                                          date_to=_date(request.query_params, "date_to"))
        return Response({"by": by, "rows": [_profit(r) for r in rows], "total": _profit(total)})


class ReconciliationSummaryView(_Report):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        """Orders, amounts and differences per reconciliation status."""
        rows = selectors.reconciliation_summary()
        return Response({"rows": [{k: (str(v) if hasattr(v, "quantize") else v) for k, v in r.items()} for r in rows]})


def _statement_params(params) -> tuple[int, int | None]:
    year = _int(params, "year", default=selectors.current_period().year, lo=2000, hi=2100)
    return year, _int(params, "month", default=None, lo=1, hi=12)


_STATEMENT_PARAMS = [OpenApiParameter("year", int, description="default: this year"),
                     OpenApiParameter("month", int, description="1-12; leave out for the whole year")]


class BalanceSheetView(_Report):
    @extend_schema(parameters=_STATEMENT_PARAMS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        """The balance sheet (资产负债表) at the end of a month or a year with the start-of-year
        balances; ``balanced``: assets equal liabilities plus equity (the period's profit included)."""

        year, month = _statement_params(request.query_params)
        return Response(statements.balance_sheet(year=year, month=month).as_dict())


class CashFlowView(_Report):
    @extend_schema(parameters=_STATEMENT_PARAMS, responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def get(self, request):
        """The cash flow statement (现金流量表, direct method) of a month or a year: cash in and out
        per item (settlements, supplier payments, platform fees, ...), opening and closing cash."""

        year, month = _statement_params(request.query_params)
        return Response(statements.cash_flow(year=year, month=month).as_dict())
