"""The app's routes live under /api/v1/imports/ (``root_urlpatterns``), not /api/v1/dataimport/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .views import ImportJobViewSet, ImportTypeViewSet

router = SimpleRouter()
router.register("types", ImportTypeViewSet, basename="dataimport-type")
router.register("jobs", ImportJobViewSet, basename="dataimport-job")

urlpatterns = []
root_urlpatterns = [path("imports/", include(router.urls))]
