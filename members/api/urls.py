from rest_framework.routers import SimpleRouter

from .views import MemberLevelViewSet, MemberSettingsViewSet, MemberViewSet

router = SimpleRouter()
router.register("members", MemberViewSet, basename="members-member")
router.register("levels", MemberLevelViewSet, basename="members-level")
router.register("settings", MemberSettingsViewSet, basename="members-settings")
urlpatterns = router.urls
