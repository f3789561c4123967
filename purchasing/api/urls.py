from rest_framework.routers import SimpleRouter

from . import portal, views

router = SimpleRouter()
router.register("suppliers", views.SupplierViewSet, basename="purchasing-supplier")
router.register("supplier-items", views.SupplierItemViewSet, basename="purchasing-supplier-item")
router.register("purchase-orders", views.PurchaseOrderViewSet, basename="purchasing-purchase-order")
router.register("receipts", views.GoodsReceiptViewSet, basename="purchasing-receipt")
router.register("suggestions", views.SuggestionViewSet, basename="purchasing-suggestion")
router.register("asns", portal.ASNViewSet, basename="purchasing-asn")
router.register("notifications", views.BuyerNotificationViewSet, basename="purchasing-notification")
# the supplier portal (supplier users only)
router.register("portal/purchase-orders", portal.PortalPurchaseOrderViewSet, basename="purchasing-portal-po")
router.register("portal/asns", portal.PortalASNViewSet, basename="purchasing-portal-asn")
router.register("portal/receipts", portal.PortalReceiptViewSet, basename="purchasing-portal-receipt")
router.register("portal/items", portal.PortalItemViewSet, basename="purchasing-portal-item")
router.register("portal/notifications", portal.PortalNotificationViewSet, basename="purchasing-portal-notification")

urlpatterns = router.urls
