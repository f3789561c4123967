import pytest
from rest_framework.test import APIClient

from erp.tenancy import roles
from erp.tenancy.context import tenant_context
from erp.tenancy.roles import Role
from erp.tenancy.services import api_token_issue

from .factories import MembershipFactory, TenantFactory, UserFactory


class TenantWorld:
    """A tenant with one member per role and helpers to act as them."""

    def __init__(self, slug: str):
        self.tenant = TenantFactory(slug=slug, name=slug.title())
        self.members = {
            role: MembershipFactory(tenant=self.tenant, user=UserFactory(username=f"{slug}-{role}"), role=role)
            for role in sorted(roles.ALL)  # staff; supplier users need a supplier (tests/purchasing)
        }
        self._tokens: dict[str, str] = {}

    @property
    def owner(self):
        return self.members[Role.OWNER]

    def token(self, role: str = Role.OWNER) -> str:
        if role not in self._tokens:
            self._tokens[role] = api_token_issue(membership=self.members[role])
        return self._tokens[role]

    def api(self, role: str = Role.OWNER) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token(role)}")
        return client

    def context(self):
        return tenant_context(self.tenant)


@pytest.fixture
def tenant_a(db):
    return TenantWorld("alpha")


@pytest.fixture
def tenant_b(db):
    return TenantWorld("beta")


@pytest.fixture
def in_tenant_a(tenant_a):
    with tenant_a.context():
        yield tenant_a
