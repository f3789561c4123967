from django.db.models import ProtectedError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from erp.api.exceptions import Conflict
from erp.tenancy.context import require_tenant

from .. import roles
from ..models import Membership
from ..roles import Role
from ..services import membership_add, memberships_of
from .serializers import MembershipCreateSerializer, MembershipSerializer, MeSerializer


class MeView(APIView):
    """The authenticated user, their role and tenant, and the other tenants they belong to."""

    read_roles = write_roles = roles.ALL

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        membership = request._request.membership
        data = {
            "username": request.user.username,
            "role": membership.role,
            "tenant": membership.tenant,
            "tenants": [m.tenant for m in memberships_of(request.user)],
        }
        return Response(MeSerializer(data).data)


class MembershipViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Staff of the current tenant and their roles (owners and administrators only)."""

    serializer_class = MembershipSerializer
    read_roles = write_roles = roles.MANAGERS
    filterset_fields = ["role", "is_active"]
    search_fields = ["user__username", "user__email"]
    ordering_fields = ["created_at", "role"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return Membership.objects.filter(tenant=require_tenant()).select_related("user").order_by("pk")

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer})
    def create(self, request):
        serializer = MembershipCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["role"] == Role.OWNER and request._request.membership.role != Role.OWNER:
            raise ValidationError({"role": ["Only an owner may add another owner."]})
        membership = membership_add(
            tenant=require_tenant(), username=data["username"], role=data["role"], email=data["email"], password=data["password"] or None
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        data = serializer.validated_data
        instance = serializer.instance
        if data.get("role") == Role.OWNER and self.request._request.membership.role != Role.OWNER:
            raise ValidationError({"role": ["Only an owner may make another owner."]})
        still_owner = data.get("role", instance.role) == Role.OWNER and data.get("is_active", instance.is_active)
        self._guard_last_owner(instance, still_owner=still_owner)
        serializer.save()

    def perform_destroy(self, instance):
        self._guard_last_owner(instance, still_owner=False)
        try:
            instance.delete()
        except ProtectedError:
            raise Conflict("This membership is referenced by other records.")

    @staticmethod
    def _guard_last_owner(instance, *, still_owner: bool):
        if instance.role != Role.OWNER or still_owner:
            return
        others = Membership.objects.filter(tenant=instance.tenant, role=Role.OWNER, is_active=True).exclude(pk=instance.pk)
        if not others.exists():
            raise Conflict("A tenant must keep at least one active owner.")
