from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import MembershipViewSet, MeView

router = DefaultRouter()
router.register("memberships", MembershipViewSet, basename="membership")

urlpatterns = [path("me/", MeView.as_view(), name="api-me"), *router.urls]
