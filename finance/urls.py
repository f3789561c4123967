from django.urls import path

from . import views

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
]
