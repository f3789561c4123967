from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("suppliers", views.SupplierViewSet, basename="purchasing-supplier")
router.register("supplier-items", views.SupplierItemViewSet, basename="purchasing-supplier-item")
router.register("purchase-orders", views.PurchaseOrderViewSet, basename="purchasing-purchase-order")
router.register("receipts", views.GoodsReceiptViewSet, basename="purchasing-receipt")
router.register("suggestions", views.SuggestionViewSet, basename="purchasing-suggestion")

urlpatterns = router.urls
