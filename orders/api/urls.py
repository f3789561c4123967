from django.urls import path
from rest_framework.routers import SimpleRouter

from .reports import SalesReportView
from .views import BulkJobViewSet, OrderViewSet

router = SimpleRouter()
router.register("bulk-jobs", BulkJobViewSet, basename="orders-bulk-job")
router.register("", OrderViewSet, basename="orders-order")
urlpatterns = [
    path("reports/sales/", SalesReportView.as_view(), name="orders-report-sales"),
    *router.urls,
]
