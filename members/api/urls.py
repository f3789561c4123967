from rest_framework.routers import SimpleRouter

from .views import (
    CampaignViewSet,
    CouponTemplateViewSet,
    CouponViewSet,
    MemberLevelViewSet,
    MemberSettingsViewSet,
    MemberViewSet,
)

router = SimpleRouter()
router.register("members", MemberViewSet, basename="members-member")
router.register("levels", MemberLevelViewSet, basename="members-level")
router.register("settings", MemberSettingsViewSet, basename="members-settings")
router.register("coupon-templates", CouponTemplateViewSet, basename="members-coupon-template")
router.register("coupons", CouponViewSet, basename="members-coupon")
router.register("campaigns", CampaignViewSet, basename="members-campaign")
urlpatterns = router.urls
