from rest_framework.routers import SimpleRouter

from .views import AftersalesSettingsViewSet, TicketViewSet

router = SimpleRouter()
router.register("tickets", TicketViewSet, basename="aftersales-ticket")
router.register("settings", AftersalesSettingsViewSet, basename="aftersales-settings")
urlpatterns = router.urls
