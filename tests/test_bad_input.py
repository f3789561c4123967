"""Bad input is a clear 4xx, never a 500 — on every API route, generically.

Like tests/test_isolation.py this walks every API route (routes later apps add are covered without
edits): each write method gets payloads of the wrong shape (every field a string, a huge negative
number, an object, null; a JSON list; an empty object), each list gets malformed query parameters.
The owner of the tenant sends them, so nothing is refused for want of a role before the input is
read."""

import pytest

from erp.tenancy.models import TenantScopedModel
from erp.tenancy.testing import api_routes, route_url, view_model
from tests.test_isolation import _row_in  # also imports the apps' row builders (tests/<app>/isolation.py)

ROUTES = sorted(api_routes(), key=lambda r: r[0])
WRITE_METHODS = ("post", "put", "patch")
BAD_QUERY = {"page": "x", "page_size": "-5", "cursor": "%%%", "ordering": "no_such_field", "status": "zzz",
             "date_from": "yesterday", "date_to": "2026-13-45", "created_from": "nope", "paid_to": "nope",
             "shop": "abc", "warehouse": "abc", "sku": "\x00", "q": "x" * 500, "period": "2026-99", "by": "nothing",
             "year": "abc", "level": "abc", "segment": "abc", "kind": "abc", "supplier": "abc", "overdue": "maybe"}


def _fields(view_class) -> list[str]:
    serializer_class = getattr(view_class, "serializer_class", None)
    try:
        fields = serializer_class().fields if serializer_class else {}
    except Exception:  # noqa: BLE001 - a serializer that needs context: fall back to a generic payload
        return ["name", "code", "quantity", "amount", "id"]
    return [name for name, field in fields.items() if not field.read_only] or ["name", "code", "quantity"]


def _payloads(fields: list[str]) -> list:
    return [
        {},
        [1, 2, 3],
        {f: "💥" * 3 for f in fields},
        {f: -(10**15) for f in fields},
        {f: {"nested": [1, {"x": None}]} for f in fields},
        {f: None for f in fields},
        {f: ["a", 1] for f in fields},
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r[0])
def test_bad_input_is_4xx_never_500(route, tenant_a):
    regex, callback = route
    view_class = getattr(callback, "cls", None) or callback.view_class
    actions = getattr(callback, "actions", None) or {}
    client = tenant_a.api()
    client.raise_request_exception = False  # collect every 500 of the route, not just the first
    is_detail = "(?P<pk>" in regex or "(?P<id>" in regex
    model = view_model(callback)
    if is_detail:
        if model is None or not issubclass(model, TenantScopedModel):
            return
        row = _row_in(tenant_a, model)
        url = route_url(regex, pk=row.pk, id=row.pk)
    else:
        url = route_url(regex, shop_code="x")
    if url is None:
        return
    problems = []
    if not is_detail and ("get" in actions or not actions):
        response = client.get(url, BAD_QUERY)
        if response.status_code >= 500:
            problems.append(f"GET {url} with malformed parameters -> {response.status_code}")
    methods = [m for m in WRITE_METHODS if (m in actions) or (not actions and m in getattr(view_class, "http_method_names", ()))]
    for method in methods:
        for payload in _payloads(_fields(view_class)):
            response = getattr(client, method)(url, data=payload, format="json")
            if response.status_code >= 500:
                problems.append(f"{method.upper()} {url} {str(payload)[:80]} -> {response.status_code}")
        response = getattr(client, method)(url, data="{not json", content_type="application/json")
        if response.status_code >= 500:
            problems.append(f"{method.upper()} {url} (malformed JSON) -> {response.status_code}")
    assert not problems, "\n".join(problems)


def test_there_are_write_routes_to_walk():
    assert any(set(getattr(cb, "actions", {}) or {}) & set(WRITE_METHODS) for _, cb in ROUTES)

