from rest_framework.routers import SimpleRouter

from .views import (
    CampaignViewSet,
    CouponTemplateViewSet,
    CouponViewSet,
    MemberLevelViewSet,
    MemberSettingsViewSet,
    MemberViewSet,
    RedemptionViewSet,
    RewardViewSet,
)

router = SimpleRouter()
router.register("members", MemberViewSet, basename="members-member")
router.register("levels", MemberLevelViewSet, basename="members-level")
router.register("settings", MemberSettingsViewSet, basename="members-settings")
router.register("coupon-templates", CouponTemplateViewSet, basename="members-coupon-template")
router.register("coupons", CouponViewSet, basename="members-coupon")
router.register("campaigns", CampaignViewSet, basename="members-campaign")
router.register("rewards", RewardViewSet, basename="members-reward")
router.register("redemptions", RedemptionViewSet, basename="members-redemption")
urlpatterns = router.urls
