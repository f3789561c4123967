"""erp.db.compiled: hot queries compiled once and prepared on the server, still bound by RLS."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from erp.db.compiled import CompiledValues
from erp.tenancy.services import api_token_issue
from tests.tenantapp.models import Widget

pytestmark = pytest.mark.django_db

def _by_code():
    return CompiledValues(lambda code: Widget.all_tenants.filter(code=code).order_by("id").values("id", "code", "quantity"),
                          {"code": "\x00code\x00"})


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_rows_equal_the_orms_values(tenant_a):
    with tenant_a.context():
        Widget.objects.create(code="W1", quantity=3)
        Widget.objects.create(code="W2", quantity=4)
        query = _by_code()
        for code in ("W1", "W2", "nope"):
            assert query.rows(code=code) == list(Widget.objects.filter(code=code).order_by("id").values("id", "code", "quantity"))


def test_prepared_statement_is_reused_and_row_level_security_still_applies(tenant_a, tenant_b):
    """The statement is planned once under tenant A; run again under tenant B it must not see A's row
    (the query itself has no tenant filter: only the policy stands between the tenants)."""
    with tenant_a.context():
        Widget.objects.create(code="SHARED", quantity=1)
    with tenant_b.context():
        Widget.objects.create(code="SHARED", quantity=2)
    query = _by_code()
    with tenant_a.context():
        for _ in range(3):
            assert [r["quantity"] for r in query.rows(code="SHARED")] == [1]
        assert any('"tenantapp_widget"."code" = $1' in s for s in _prepared_statements())
    with tenant_b.context():
        assert [r["quantity"] for r in query.rows(code="SHARED")] == [2]
    assert query.rows(code="SHARED") == []  # no tenant set: the policy admits nothing


def test_token_lookup_sees_a_deactivation_at_once(tenant_a):
    """The token lookup caches its SQL, never its answer."""
    member = tenant_a.owner
    key = api_token_issue(membership=member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/me/").status_code == 200
    member.is_active = False
    member.save(update_fields=["is_active"])
    assert client.get("/api/v1/me/").status_code == 401
    member.is_active = True
    member.save(update_fields=["is_active"])
    assert client.get("/api/v1/me/").status_code == 200
    tenant = member.tenant
    tenant.is_active = False
    tenant.save(update_fields=["is_active"])
    assert client.get("/api/v1/me/").status_code == 401


def test_queries_sent_together_answer_as_each_alone_and_under_the_tenant(tenant_a, tenant_b):
    from erp.db.compiled import rows_together

    with tenant_a.context():
        Widget.objects.create(code="P1", quantity=1)
        Widget.objects.create(code="P2", quantity=2)
    by_code = _by_code()
    with tenant_a.context():
        together = rows_together([(by_code, {"code": "P1"}), (by_code, {"code": "P2"}), (by_code, {"code": "none"})])
        assert together == [by_code.rows(code="P1"), by_code.rows(code="P2"), []]
        assert [r[0]["quantity"] for r in together[:2]] == [1, 2]
    with tenant_b.context():
        assert rows_together([(by_code, {"code": "P1"}), (by_code, {"code": "P2"})]) == [[], []]
