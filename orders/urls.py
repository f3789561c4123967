from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("export/", views.export, name="export"),
    path("bulk/", views.bulk_action, name="bulk"),
    path("reports/", views.sales_report, name="reports"),
    path("reports/export/", views.sales_report_export, name="reports-export"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/action/", views.detail_action, name="detail-action"),
]
