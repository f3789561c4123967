from rest_framework.routers import SimpleRouter

from .views import ParcelViewSet, WaveViewSet

router = SimpleRouter()
router.register("waves", WaveViewSet, basename="warehouse-wave")
router.register("parcels", ParcelViewSet, basename="warehouse-parcel")

urlpatterns = router.urls
