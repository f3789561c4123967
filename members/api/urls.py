from rest_framework.routers import SimpleRouter

from .views import MemberLevelViewSet, MemberViewSet

router = SimpleRouter()
router.register("members", MemberViewSet, basename="members-member")
router.register("levels", MemberLevelViewSet, basename="members-level")
urlpatterns = router.urls
