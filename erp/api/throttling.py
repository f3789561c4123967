from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """Rate limit per API token (per user for session requests, per IP when anonymous)."""

    scope = "token"

    def get_cache_key(self, request, view):
        auth = request.auth
        if auth is not None and getattr(auth, "pk", None) is not None:
            ident = f"token-{auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ChannelRateThrottle(SimpleRateThrottle):
    """Signed inbound channel requests (no token): per shop code and client address."""

    scope = "channel"

    def get_cache_key(self, request, view):
        shop_code = (view.kwargs or {}).get("shop_code", "")
        return self.cache_format % {"scope": self.scope, "ident": f"{shop_code}:{self.get_ident(request)}"}
