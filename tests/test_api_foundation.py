import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from erp.tenancy.models import ApiToken, Membership
from erp.tenancy.roles import Role
from tests.tenantapp.models import Widget

pytestmark = pytest.mark.django_db


def test_token_auth_and_me(tenant_a):
    response = tenant_a.api(Role.OPERATOR).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == "alpha"
    assert response.json()["role"] == "operator"


def test_missing_or_bad_token_is_401_in_the_error_shape(tenant_a):
    assert APIClient().get("/api/v1/test/widgets/").status_code in (401, 403)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = client.get("/api/v1/test/widgets/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token.", "errors": {}}


def test_token_is_stored_hashed_and_rotates(tenant_a):
    key = tenant_a.token()
    token = ApiToken.objects.get(membership=tenant_a.owner)
    assert token.key_hash != key and token.key_hash == ApiToken.hash_key(key)
    from erp.tenancy.services import api_token_issue

    new_key = api_token_issue(membership=tenant_a.owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {new_key}")
    assert client.get("/api/v1/me/").status_code == 200


def test_validation_errors_are_400_with_field_messages(tenant_a):
    response = tenant_a.api().post("/api/v1/test/widgets/", {"code": "", "quantity": "many"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert "code" in body["errors"] and "quantity" in body["errors"]
    assert all(isinstance(m, str) for m in body["errors"]["quantity"])


def test_database_constraint_is_a_clear_error_not_500(tenant_a):
    client = tenant_a.api()
    assert client.post("/api/v1/test/widgets/", {"code": "W1", "quantity": 1}, format="json").status_code == 201
    duplicate = client.post("/api/v1/test/widgets/", {"code": "W1", "quantity": 1}, format="json")
    assert duplicate.status_code in (400, 409)
    negative = client.post("/api/v1/test/widgets/", {"code": "W2", "quantity": -1}, format="json")
    assert negative.status_code in (400, 409)
    with tenant_a.context():
        assert Widget.objects.count() == 1  # nothing stored by the refused requests


def test_foreign_key_to_other_tenant_is_400(tenant_a, tenant_b):
    with tenant_b.context():
        foreign = Widget.objects.create(code="B")
    response = tenant_a.api().post("/api/v1/test/widgets/", {"code": "child", "parent": foreign.pk}, format="json")
    assert response.status_code == 400
    assert "parent" in response.json()["errors"]


def test_other_tenants_object_is_404(tenant_a, tenant_b):
    with tenant_b.context():
        foreign = Widget.objects.create(code="B")
    client = tenant_a.api()
    for method in ("get", "patch", "put", "delete"):
        assert getattr(client, method)(f"/api/v1/test/widgets/{foreign.pk}/", {}, format="json").status_code == 404
    assert client.get("/api/v1/test/widgets/not-a-number/").status_code == 404


def test_pagination_filtering_and_ordering(tenant_a):
    with tenant_a.context():
        for i in range(7):
            Widget.objects.create(code=f"W{i}", quantity=i)
    client = tenant_a.api()
    page = client.get("/api/v1/test/widgets/?page_size=3&ordering=code").json()
    assert page["count"] == 7 and [w["code"] for w in page["results"]] == ["W0", "W1", "W2"]
    assert client.get("/api/v1/test/widgets/?code=W5").json()["count"] == 1
    assert client.get("/api/v1/test/widgets/?page=99").status_code == 404


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [(Role.OWNER, 200, 201), (Role.OPERATOR, 200, 201), (Role.WAREHOUSE, 200, 403), (Role.FINANCE, 200, 403)],
)
def test_roles_decide_read_and_write(tenant_a, role, read, write):
    client = tenant_a.api(role)
    assert client.get("/api/v1/test/widgets/").status_code == read
    response = client.post("/api/v1/test/widgets/", {"code": f"by-{role}"}, format="json")
    assert response.status_code == write
    if write == 403:
        assert response.json()["detail"]


def test_memberships_are_for_managers_only(tenant_a):
    assert tenant_a.api(Role.OPERATOR).get("/api/v1/memberships/").status_code == 403
    response = tenant_a.api(Role.ADMIN).get("/api/v1/memberships/")
    assert response.status_code == 200 and response.json()["count"] == len(tenant_a.members)


def test_membership_create_and_last_owner_guard(tenant_a):
    client = tenant_a.api()
    response = client.post("/api/v1/memberships/", {"username": "newbie", "role": "warehouse", "password": "Str0ng-pass-9"}, format="json")
    assert response.status_code == 201
    bad = client.post("/api/v1/memberships/", {"username": "x y", "role": "king"}, format="json")
    assert bad.status_code == 400 and {"username", "role"} <= set(bad.json()["errors"])
    owner = tenant_a.owner
    response = client.patch(f"/api/v1/memberships/{owner.pk}/", {"role": "operator"}, format="json")
    assert response.status_code == 409
    owner.refresh_from_db()
    assert owner.role == Role.OWNER
    admin_made_owner = tenant_a.api(Role.ADMIN).post("/api/v1/memberships/", {"username": "sneaky", "role": "owner"}, format="json")
    assert admin_made_owner.status_code == 400


def test_membership_of_other_tenant_is_404(tenant_a, tenant_b):
    other = tenant_b.members[Role.OPERATOR]
    assert tenant_a.api().get(f"/api/v1/memberships/{other.pk}/").status_code == 404
    assert tenant_a.api().delete(f"/api/v1/memberships/{other.pk}/").status_code == 404
    assert Membership.objects.filter(pk=other.pk).exists()


def test_schema_and_docs(tenant_a, client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/me/" in paths and "/api/v1/memberships/" in paths
    client.force_login(tenant_a.owner.user)
    assert client.get("/api/docs/").status_code == 200


def test_healthz_reports_database(db, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_healthz_503_when_redis_is_down(db, client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


def test_throttling_per_token(tenant_a, settings):
    from django.core.cache import cache
    from rest_framework.settings import api_settings

    from erp.api.throttling import TokenRateThrottle

    cache.clear()
    original = TokenRateThrottle.THROTTLE_RATES
    TokenRateThrottle.THROTTLE_RATES = {**api_settings.DEFAULT_THROTTLE_RATES, "token": "3/min"}
    try:
        client = tenant_a.api()
        codes = [client.get("/api/v1/me/").status_code for _ in range(4)]
        other = tenant_a.api(Role.OPERATOR).get("/api/v1/me/").status_code
    finally:
        TokenRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert codes == [200, 200, 200, 429]
    assert other == 200  # another token has its own budget


def test_commands_create_tenant_and_issue_token(db, capsys):
    call_command("create_tenant", "gamma", name="Gamma Ltd", owner="gina", password="Gamma-pass-2026")
    call_command("issue_api_token", "gina", tenant="gamma")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").json()["tenant"]["slug"] == "gamma"


def test_seed_demo_is_idempotent(db):
    from django.contrib.auth import get_user_model

    call_command("seed_demo")
    counts = (get_user_model().objects.count(), Membership.objects.count())
    call_command("seed_demo")
    assert (get_user_model().objects.count(), Membership.objects.count()) == counts
    assert get_user_model().objects.get(username="demo").check_password("demo12345")


def test_admin_action_issues_a_token_shown_once(tenant_a, client):
    client.force_login(tenant_a.owner.user)
    target = tenant_a.members[Role.OPERATOR]
    response = client.post("/admin/tenancy/membership/", {"action": "issue_api_token", "_selected_action": [target.pk]}, follow=True)
    text = [str(m) for m in response.context["messages"]]
    key = text[0].split(": ")[1].split(" ")[0]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/me/").json()["role"] == "operator"
    client.force_login(target.user)  # an operator is not a manager: no staff list for them
    assert client.get("/admin/tenancy/membership/").status_code == 403


def test_nested_validation_errors_keep_the_error_shape():
    from rest_framework.exceptions import ValidationError

    from erp.api.exceptions import exception_handler

    nested = ValidationError({"receiver": {"name": ["required"]}, "lines": [{}, {"quantity": ["must be positive"]}]})
    response = exception_handler(nested, {})
    assert response.status_code == 400
    assert response.data["detail"] == "Invalid input: required"
    assert response.data["errors"]["lines"][1] == {"quantity": ["must be positive"]}
