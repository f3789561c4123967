from rest_framework.routers import SimpleRouter

from .views import ParcelViewSet, WaveViewSet, WmsAccountViewSet, WmsOrderViewSet, WmsStockSnapshotViewSet

router = SimpleRouter()
router.register("waves", WaveViewSet, basename="warehouse-wave")
router.register("parcels", ParcelViewSet, basename="warehouse-parcel")
router.register("wms-accounts", WmsAccountViewSet, basename="warehouse-wms-account")
router.register("wms-orders", WmsOrderViewSet, basename="warehouse-wms-order")
router.register("wms-snapshots", WmsStockSnapshotViewSet, basename="warehouse-wms-snapshot")

urlpatterns = router.urls
