from rest_framework import serializers
from rest_framework.routers import DefaultRouter

from erp.api.viewsets import TenantModelViewSet
from erp.tenancy import roles

from .models import Widget


class WidgetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Widget
        fields = ["id", "code", "quantity", "parent"]


class WidgetViewSet(TenantModelViewSet):
    model = Widget
    serializer_class = WidgetSerializer
    read_roles = roles.ALL
    write_roles = roles.roles(roles.Role.OPERATOR)
    filterset_fields = ["code", "parent"]
    ordering_fields = ["code"]


router = DefaultRouter()
router.register("widgets", WidgetViewSet, basename="test-widget")
urlpatterns = router.urls
