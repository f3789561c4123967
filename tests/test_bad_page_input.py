"""The operator pages answer malformed query strings and form posts with a page (an error shown, a
redirect, a 4xx), never a 500 — every page of every app, walked generically."""

import re
from urllib.parse import urlencode

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.test_bad_input import BAD_QUERY

APPS = ("orders", "inventory", "integrations", "purchasing", "finance", "aftersales", "members")
GARBAGE_FORM = {"action": "💥", "why": "x" * 2000, "ids": ["abc", "-1", "99999999999999999999"], "quantity": "lots",
                "amount": "1e999", "date": "2026-02-30", "lines": "[[", "sku": "\x00", "warehouse": "x", "points": "NaN",
                "reason": "", "format": "pdf", "status": "zzz", "source": "abc", "target": "abc", "level": "x"}


def _pages():
    for resolver in get_resolver().url_patterns:
        if isinstance(resolver, URLResolver) and resolver.namespace in APPS:
            for pattern in resolver.url_patterns:
                if isinstance(pattern, URLPattern):
                    yield resolver.namespace, str(resolver.pattern), pattern


PAGES = sorted(_pages(), key=lambda p: (p[0], str(p[2].pattern)))


def _url(prefix: str, pattern) -> str:
    path = "/" + prefix + str(pattern.pattern)
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "999999" if m.group(1) in ("int", None) else "nope", path)


def test_there_are_pages_to_walk():
    assert len(PAGES) > 20


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p[0]}:{p[2].name}")
def test_a_page_never_answers_bad_input_with_500(page, tenant_a, client):
    namespace, prefix, pattern = page
    client.raise_request_exception = False
    client.force_login(tenant_a.owner.user)
    url = _url(prefix, pattern)
    problems = []
    for method, data in (("get", BAD_QUERY), ("post", GARBAGE_FORM), ("post", {})):
        response = getattr(client, method)(url, data)
        if response.status_code >= 500:
            problems.append(f"{method.upper()} {url} -> {response.status_code}")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_a_nul_character_is_a_400_naming_the_field(tenant_a, client):
    client.force_login(tenant_a.owner.user)
    page = client.get("/orders/", {"sku": "A\x00B"})
    assert page.status_code == 400 and b"sku" in page.content
    api = tenant_a.api().get("/api/v1/orders/", {"buyer": "\x00"})
    assert api.status_code == 400 and api.json()["errors"] == {"buyer": ["The NUL character (0x00) is not allowed."]}
    form = urlencode({"why": "\x00", "action": "approve"})  # what a browser sends for a plain form
    assert client.post("/orders/bulk/", form, content_type="application/x-www-form-urlencoded").status_code == 400


LIST_PAGES = [p for p in PAGES if "<" not in str(p[2].pattern)]


@pytest.mark.django_db
@pytest.mark.parametrize("page", LIST_PAGES, ids=lambda p: f"{p[0]}:{p[2].name}")
def test_every_role_gets_the_page_or_a_clear_refusal(page, tenant_a, client):
    """Each role opens each page: it may read it (200, or a redirect for an action-only URL) or is
    refused (403) — consistently with the app's policy, and never with an error."""
    from erp.tenancy.roles import ALL, app_access

    namespace, prefix, pattern = page
    readers = app_access(namespace)[0]
    client.raise_request_exception = False
    url = _url(prefix, pattern)
    for role in sorted(ALL):
        client.force_login(tenant_a.members[role].user)
        status = client.get(url).status_code
        assert status < 500, f"{role} GET {url} -> {status}"
        if role not in readers:
            assert status in (403, 405), f"{role} may not read {namespace} but GET {url} -> {status}"
