"""Writes of the tenancy core: tenants, memberships, API tokens, the active tenant of a session."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from .models import ApiToken, Membership, Tenant
from .roles import Role

SESSION_TENANT_KEY = "tenant_id"


@transaction.atomic
def tenant_create(*, name: str, slug: str | None = None, owner_username: str, owner_password: str | None = None,
                  owner_email: str = "", timezone_name: str = "Asia/Shanghai") -> Tenant:
    """Create a tenant and its owner (an existing user is made owner; a new one is created)."""
    User = get_user_model()
    tenant = Tenant.objects.create(name=name, slug=slug or slugify(name), timezone=timezone_name)
    user, created = User.objects.get_or_create(username=owner_username, defaults={"email": owner_email})
    if created or owner_password:
        if owner_password:
            user.set_password(owner_password)
        else:
            user.set_unusable_password()
        user.save()
    Membership.objects.create(user=user, tenant=tenant, role=Role.OWNER)
    return tenant


@transaction.atomic
def membership_add(*, tenant: Tenant, username: str, role: str, email: str = "", password: str | None = None) -> Membership:
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"email": email})
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    membership, _ = Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role, "is_active": True})
    return membership


@transaction.atomic
def api_token_issue(*, membership: Membership) -> str:
    """Issue (or rotate) the membership's API token; returns the key, which is never stored."""
    key = ApiToken.generate_key()
    ApiToken.objects.filter(membership=membership).delete()
    ApiToken.objects.create(membership=membership, prefix=key[:8], key_hash=ApiToken.hash_key(key))
    return key


def api_token_touch(*, token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


def session_tenant_switch(*, request, tenant_id: int) -> Membership | None:
    membership = memberships_of(request.user).filter(tenant_id=tenant_id).first()
    if membership is not None:
        request.session[SESSION_TENANT_KEY] = membership.tenant_id
    return membership


def memberships_of(user):
    return Membership.objects.filter(user=user, is_active=True, tenant__is_active=True).select_related("tenant")


def membership_for_session(request) -> Membership | None:
    """The membership of the session's chosen tenant, or the user's first one."""
    user = request.user
    if not user.is_authenticated:
        return None
    memberships = memberships_of(user)
    wanted = request.session.get(SESSION_TENANT_KEY)
    membership = None
    if wanted is not None:
        membership = memberships.filter(tenant_id=wanted).first()
    if membership is None:
        membership = memberships.order_by("created_at", "pk").first()
        if membership is not None:
            request.session[SESSION_TENANT_KEY] = membership.tenant_id
    return membership
