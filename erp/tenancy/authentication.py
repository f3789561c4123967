from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .middleware import activate_membership
from .selectors import api_token_for_key
from .services import api_token_touch


class MembershipTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <key>``: the key belongs to one membership, hence one tenant."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header: expected 'Token <key>'."))
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        token = api_token_for_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        membership = token.membership
        if not (membership.is_active and membership.user.is_active and membership.tenant.is_active):
            raise exceptions.AuthenticationFailed(_("Token's user or tenant is inactive."))
        activate_membership(request._request, membership)
        api_token_touch(token=token)
        return membership.user, token

    def authenticate_header(self, request):
        return self.keyword


class TenantSessionAuthentication(authentication.SessionAuthentication):
    """Browser session; the tenant comes from the session (set by TenantMiddleware)."""
