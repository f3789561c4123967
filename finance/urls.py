from django.urls import path

from . import payables_views, views

app_name = "finance"

urlpatterns = [
    path("", views.vouchers, name="vouchers"),
    path("vouchers/new/", views.voucher_new, name="voucher-new"),
    path("vouchers/<int:pk>/", views.voucher_detail, name="voucher"),
    path("trial-balance/", views.trial_balance, name="trial-balance"),
    path("accounts/<int:pk>/", views.account_ledger, name="account-ledger"),
    path("profit/", views.profit, name="profit"),
    path("balance-sheet/", views.balance_sheet, name="balance-sheet"),
    path("cash-flow/", views.cash_flow, name="cash-flow"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("reconciliation/<int:pk>/", views.reconciliation_detail, name="reconciliation-detail"),
    # payables: supplier statements, ageing, and the supplier portal's statements (supplier users only)
    path("payables/", payables_views.statements, name="statements"),
    path("payables/statements/<int:pk>/", payables_views.statement_detail, name="statement"),
    path("payables/ageing/", payables_views.ageing, name="supplier-ageing"),
    path("portal/statements/", payables_views.portal_statements, name="portal-statements"),
    path("portal/statements/<int:pk>/", payables_views.portal_statement, name="portal-statement"),
]
