from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("export/", views.export, name="export"),
    path("bulk/", views.bulk_action, name="bulk"),
    path("bulk-jobs/<int:pk>/", views.bulk_job, name="bulk-job"),
    path("bulk-jobs/<int:pk>/status/", views.bulk_job_status, name="bulk-job-status"),
    path("reports/", views.sales_report, name="reports"),
    path("reports/export/", views.sales_report_export, name="reports-export"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/action/", views.detail_action, name="detail-action"),
]
