"""Reads of the tenancy core."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from erp.db.compiled import CompiledValues, instance_from_row, value_paths

from .models import ApiToken, Membership, Tenant

_KEY_SENTINEL = "\x00key-hash\x00"
_TOKEN_QUERY = CompiledValues(
    lambda h: ApiToken.objects.filter(key_hash=h).values(
        *value_paths(ApiToken), *value_paths(Membership, "membership__"),
        *value_paths(Tenant, "membership__tenant__"), *value_paths(get_user_model(), "membership__user__"))[:1],
    {"h": _KEY_SENTINEL},
)


def api_token_for_key(key: str) -> ApiToken | None:
    """The token with this key, its membership, tenant and user loaded, in one query compiled once
    per process (every API request runs it: the ORM's select_related compile alone cost more than
    the rest of a typical request). Nothing is cached between requests: a revoked token or a
    deactivated user, membership or tenant is refused on the next request."""
    rows = _TOKEN_QUERY.rows(h=ApiToken.hash_key(key))
    if not rows:
        return None
    row = rows[0]
    token = instance_from_row(ApiToken, row)
    membership = instance_from_row(Membership, row, "membership__")
    membership.tenant = instance_from_row(Tenant, row, "membership__tenant__")
    membership.user = instance_from_row(get_user_model(), row, "membership__user__")
    token.membership = membership
    return token
