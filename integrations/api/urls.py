from django.db import transaction
from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import ChannelOrdersView, ChannelRefundsView, ShopRunView, ShopViewSet, SyncRunViewSet

router = DefaultRouter()
router.register("shops", ShopViewSet, basename="integrations-shop")
router.register("sync-runs", SyncRunViewSet, basename="integrations-syncrun")

urlpatterns = [
    # "run now" commits page by page: not inside the request's transaction
    path("shops/<int:pk>/run/", transaction.non_atomic_requests(ShopRunView.as_view()), name="integrations-shop-run"),
    *router.urls,
]

# Mounted at /api/v1/ (not under /integrations/): the signed inbound channel.
root_urlpatterns = [
    path("channels/<slug:shop_code>/orders/", ChannelOrdersView.as_view(), name="channels-orders"),
    path("channels/<slug:shop_code>/refunds/", ChannelRefundsView.as_view(), name="channels-refunds"),
]
