from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers

from ..models import Membership, Tenant
from ..roles import INTERNAL_CHOICES


class TenantSerializer(serializers.ModelSerializer):
    # A plain string on output: a ChoiceField would build its ~600 time-zone choices per instance.
    timezone = serializers.CharField(read_only=True)

    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "timezone", "currency"]
        read_only_fields = fields


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField()
    tenant = TenantSerializer()
    tenants = TenantSerializer(many=True)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True, help_text="The user's email (empty if none).")

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "is_active", "created_at"]
        read_only_fields = ["id", "username", "email", "created_at"]
        extra_kwargs = {"role": {"choices": INTERNAL_CHOICES}}


class MembershipCreateSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(required=False, write_only=True, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=INTERNAL_CHOICES)  # supplier users: purchasing.services.supplier_user_invite

    def validate(self, attrs):
        user = get_user_model().objects.filter(username=attrs["username"]).first()
        if user is None and attrs.get("password"):
            validate_password(attrs["password"])
        return attrs
