from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("products", views.ProductViewSet, basename="inventory-product")
router.register("skus", views.SKUViewSet, basename="inventory-sku")
router.register("warehouses", views.WarehouseViewSet, basename="inventory-warehouse")
router.register("stock-levels", views.StockLevelViewSet, basename="inventory-stock-level")
router.register("stock-moves", views.StockMoveViewSet, basename="inventory-stock-move")
router.register("adjustments", views.AdjustmentViewSet, basename="inventory-adjustment")
router.register("receipts", views.ReceiptViewSet, basename="inventory-receipt")
router.register("transfers", views.TransferViewSet, basename="inventory-transfer")
router.register("stocktakes", views.StocktakeViewSet, basename="inventory-stocktake")
router.register("stock-locks", views.StockLockViewSet, basename="inventory-stock-lock")
router.register("promotions", views.PromotionViewSet, basename="inventory-promotion")
router.register("sync-rules", views.SyncRuleViewSet, basename="inventory-sync-rule")
router.register("sku-mappings", views.PlatformSkuMappingViewSet, basename="inventory-sku-mapping")
router.register("reservations", views.ReservationViewSet, basename="inventory-reservation")
router.register("stock-health", views.StockHealthViewSet, basename="inventory-stock-health")
router.register("shop-stock", views.ShopStockViewSet, basename="inventory-shop-stock")

urlpatterns = router.urls
