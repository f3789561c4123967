from django.urls import path
from rest_framework.routers import DefaultRouter

from . import payables, views

router = DefaultRouter()
router.register("accounts", views.AccountViewSet, basename="finance-account")
router.register("periods", views.PeriodViewSet, basename="finance-period")
router.register("vouchers", views.VoucherViewSet, basename="finance-voucher")
router.register("reconciliations", views.ReconciliationViewSet, basename="finance-reconciliation")
router.register("settlement-lines", views.SettlementLineViewSet, basename="finance-settlement-line")
router.register("posting-issues", views.PostingIssueViewSet, basename="finance-posting-issue")
router.register("ledger", views.LedgerViewSet, basename="finance-ledger")
router.register("settings", views.FinanceSettingsViewSet, basename="finance-settings")
router.register("statements", payables.StatementViewSet, basename="finance-statement")
router.register("portal/statements", payables.PortalStatementViewSet, basename="finance-portal-statement")

urlpatterns = [
    path("reports/trial-balance/", views.TrialBalanceView.as_view(), name="finance-report-trial-balance"),
    path("reports/profit-and-loss/", views.ProfitAndLossView.as_view(), name="finance-report-profit-and-loss"),
    path("reports/profit-by/", views.ProfitByView.as_view(), name="finance-report-profit-by"),
    path("reports/balance-sheet/", views.BalanceSheetView.as_view(), name="finance-report-balance-sheet"),
    path("reports/cash-flow/", views.CashFlowView.as_view(), name="finance-report-cash-flow"),
    path("reports/reconciliation/", views.ReconciliationSummaryView.as_view(), name="finance-report-reconciliation"),
    path("reports/supplier-ageing/", payables.SupplierAgeingView.as_view(), name="finance-report-supplier-ageing"),
    *router.urls,
]
