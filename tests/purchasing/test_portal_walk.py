"""The isolation walk of the supplier portal: a supplier user of supplier X sees, in the portal pages and
API, nothing of supplier Y or of another tenant; every internal page, the admin and the internal API
refuse it. Then the whole collaboration through the API and the pages, bad input, both languages."""

import re
from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from erp.tenancy.dates import tenant_today
from erp.tenancy.roles import Role
from erp.tenancy.services import api_token_issue
from purchasing import services
from purchasing.models import POStatus, Supplier, SupplierItem
from tests.inventory.factories import SKUFactory, WarehouseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_after():
    """A request in Chinese leaves the thread's language active: later tests read English messages."""
    from django.utils import translation

    yield
    translation.activate("en")

PORTAL_API = ["/api/v1/purchasing/portal/purchase-orders/", "/api/v1/purchasing/portal/asns/",
              "/api/v1/purchasing/portal/receipts/", "/api/v1/purchasing/portal/items/",
              "/api/v1/purchasing/portal/notifications/"]
PORTAL_PAGES = ["purchasing:portal-home", "purchasing:portal-receipts", "purchasing:portal-items",
                "purchasing:portal-notifications"]


def api(membership) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(membership=membership)}")
    return client


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def walk(pw, tenant_b, django_capture_on_commit_callbacks):
    """Supplier X (pw.supplier) and Y (pw.supplier2) in tenant A, each with a sent, confirmed, shipped and
    received PO; a supplier with a PO in tenant B."""
    pw.x_user = services.supplier_user_invite(supplier=pw.supplier, username="x-user", email="x@example.com")
    pw.y_user = services.supplier_user_invite(supplier=pw.supplier2, username="y-user", email="y@example.com")
    pw.x_po = pw.sent_po([{"sku": pw.sku, "quantity": 10}])
    pw.x_draft = pw.po([{"sku": pw.sku, "quantity": 7}])
    pw.y_po = pw.sent_po([{"sku": pw.sku2, "quantity": 24}], supplier=pw.supplier2)
    for po, supplier, who in ((pw.x_po, pw.supplier, pw.x_user), (pw.y_po, pw.supplier2, pw.y_user)):
        services.po_confirm(po_id=po.pk, supplier_id=supplier.pk, actor=who.user)
        line = po.lines.get()
        asn = services.asn_create(po_id=po.pk, supplier_id=supplier.pk, lines=[{"line": line.pk, "quantity": line.quantity}],
                                  expected_arrival=tenant_today() + timedelta(days=2), tracking_number=f"TRK-{po.number}")
        services.asn_receive(asn_id=asn.pk, reference=f"REF-{po.number}",
                             lines=[{"asn_line": asn.lines.get().pk, "quantity": line.quantity - 1}])
    pw.y_po.refresh_from_db()
    with tenant_b.context():
        wh = WarehouseFactory(tenant=tenant_b.tenant, code="B1")
        sku = SKUFactory(tenant=tenant_b.tenant, code="B-SKU")
        sup = Supplier.objects.create(code="S1", name="B supplier")
        services.supplier_item_save(item=SupplierItem(supplier=sup, sku=sku, unit_price="3.00"))
        b_po = services.po_create(supplier=sup, warehouse=wh, lines=[{"sku": sku, "quantity": 5}])
        services.po_approve(po_id=b_po.pk)
        pw.b_po = services.po_send(po_id=b_po.pk)
        pw.b_user = services.supplier_user_invite(supplier=sup, username="b-user")
    return pw


def test_portal_pages_show_only_the_own_supplier(walk, client):
    client.force_login(walk.x_user.user)
    assert client.get("/").status_code == 302 and client.get("/")["Location"] == reverse("purchasing:portal-home")
    seen = ""
    for name in PORTAL_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        seen += text(response)
    seen += text(client.get(reverse("purchasing:portal-po", args=[walk.x_po.pk])))
    assert walk.x_po.number in seen and walk.sku.code in seen and f"TRK-{walk.x_po.number}" in seen
    for foreign in (walk.y_po.number, walk.x_draft.number, walk.sku2.code, f"TRK-{walk.y_po.number}",
                    "B-SKU", "B supplier", walk.supplier2.name):  # tenant B's numbers repeat A's: its SKU and name
        assert foreign not in seen, foreign
    for pk in (walk.y_po.pk, walk.x_draft.pk, walk.b_po.pk):
        assert client.get(reverse("purchasing:portal-po", args=[pk])).status_code == 404
        assert client.post(reverse("purchasing:portal-po-action", args=[pk]), {"action": "confirm"}).status_code == 404


def test_portal_api_shows_only_the_own_supplier(walk):
    client = api(walk.x_user)
    blob = ""
    for url in PORTAL_API:
        response = client.get(url)
        assert response.status_code == 200, url
        blob += response.content.decode()
    rows = client.get(PORTAL_API[0]).json()["results"]
    assert [r["id"] for r in rows] == [walk.x_po.pk]
    assert walk.sku.code in blob and f"TRK-{walk.x_po.number}" in blob
    for foreign in (walk.y_po.number, walk.x_draft.number, walk.sku2.code, "B-SKU", f"TRK-{walk.y_po.number}"):
        assert foreign not in blob, foreign
    for pk in (walk.y_po.pk, walk.x_draft.pk, walk.b_po.pk):
        assert client.get(f"{PORTAL_API[0]}{pk}/").status_code == 404
        assert client.post(f"{PORTAL_API[0]}{pk}/refuse/", {"why": "x"}, format="json").status_code == 404
    y_asn = walk.y_po.asns.get()
    assert client.get(f"/api/v1/purchasing/portal/asns/{y_asn.pk}/").status_code == 404
    # and the other supplier's user sees its own, not X's
    other = api(walk.y_user).get(PORTAL_API[0]).json()["results"]
    assert [r["id"] for r in other] == [walk.y_po.pk]


def test_staff_get_403_on_the_portal(walk, client):
    client.force_login(walk.user)
    assert client.get(reverse("purchasing:portal-home")).status_code == 403
    assert walk.world.api(Role.OWNER).get(PORTAL_API[0]).status_code == 403


def _internal_pages():
    for resolver in get_resolver().url_patterns:
        if isinstance(resolver, URLResolver) and resolver.namespace not in (None, "admin"):
            for pattern in resolver.url_patterns:
                if isinstance(pattern, URLPattern) and not (pattern.name or "").startswith("portal-"):
                    yield "/" + str(resolver.pattern) + str(pattern.pattern)


def _api_routes():
    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                yield prefix + str(p.pattern)

    for route in walk(get_resolver().url_patterns, "/"):
        route = route.replace("^", "").replace("$", "").replace("\\.(?P<format>[a-z0-9]+)/?", "")
        if route.startswith("/api/v1/") and route.endswith("/") and "portal" not in route and "(?P" not in route and "<" not in route:
            yield route


def test_supplier_user_is_refused_every_internal_page_admin_and_api(walk, client):
    client.raise_request_exception = False
    client.force_login(walk.x_user.user)
    pages = sorted({re.sub(r"<(?:(\w+):)?(\w+)>", "1", url) for url in _internal_pages()})
    assert len(pages) > 20
    for url in pages:
        status = client.get(url).status_code
        assert status in (403, 404, 405), f"GET {url} -> {status}"
    admin = client.get("/admin/")
    assert admin.status_code == 302 and "/admin/login/" in admin["Location"]
    token = api(walk.x_user)
    routes = sorted(set(_api_routes()))
    assert len(routes) > 20
    for url in routes:
        status = token.get(url).status_code
        assert status in (403, 405), f"GET {url} -> {status}"
    assert token.post("/api/v1/purchasing/purchase-orders/", {}, format="json").status_code == 403


def test_collaboration_through_the_api(pw, django_capture_on_commit_callbacks):
    from django.core import mail

    x_user = services.supplier_user_invite(supplier=pw.supplier, username="x-user", email="x@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        po = pw.sent_po([{"sku": pw.sku, "quantity": 100}, {"sku": pw.sku3, "quantity": 20, "unit_price": "8"}])
    supplier = api(x_user)
    base = f"/api/v1/purchasing/portal/purchase-orders/{po.pk}/"
    detail = supplier.get(base).json()
    assert detail["allowed_actions"] == ["confirm", "refuse", "ship"] and len(detail["lines"]) == 2
    l1, l3 = detail["lines"]
    # bad input: 400 with the field named
    for bad, field in (({"expected_date": "2026-02-30"}, "expected_date"), ({"lines": [{"line": l1["id"], "quantity": -1}]}, "lines"),
                       ({"expected_date": "2001-01-01"}, "expected_date"), ({"lines": [{"line": 999999, "quantity": 3}]}, "lines")):
        response = supplier.post(f"{base}confirm/", bad, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], (bad, response.json())
    assert supplier.post(f"{base}refuse/", {"why": ""}, format="json").status_code == 400
    new_date = str(tenant_today() + timedelta(days=21))
    with django_capture_on_commit_callbacks(execute=True):
        response = supplier.post(f"{base}confirm/", {"expected_date": new_date, "note": "ok"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == POStatus.CONFIRMED
    assert response.json()["expected_date"] == new_date
    assert supplier.post(f"{base}confirm/", {}, format="json").status_code == 409
    buyer_mail = [m for m in mail.outbox if po.number in m.subject and "confirmed" in m.subject]
    assert buyer_mail, [m.subject for m in mail.outbox]
    # the buyer sees the answer
    internal = pw.world.api(Role.OPERATOR).get(f"/api/v1/purchasing/purchase-orders/{po.pk}/").json()
    assert internal["status"] == "confirmed" and internal["expected_date"] == new_date and internal["confirmed_at"]
    # ASN: bad then good
    asn_url = f"{base}asn/"
    assert supplier.post(asn_url, {"lines": [], "expected_arrival": new_date}, format="json").status_code == 400
    too_many = supplier.post(asn_url, {"lines": [{"line": l1["id"], "quantity": 101}], "expected_arrival": new_date}, format="json")
    assert too_many.status_code == 400 and "lines" in too_many.json()["errors"]
    response = supplier.post(asn_url, {"lines": [{"line": l1["id"], "quantity": 100}, {"line": l3["id"], "quantity": 20}],
                                       "expected_arrival": new_date, "carrier": "SF", "tracking_number": "SF100"}, format="json")
    assert response.status_code == 201, response.json()
    asn = response.json()
    # the warehouse receives it with one short line
    warehouse = pw.world.api(Role.WAREHOUSE)
    a1, a3 = asn["lines"]
    bad = warehouse.post(f"/api/v1/purchasing/asns/{asn['id']}/receive/", {"reference": "DN-9", "lines": [{"asn_line": a1["id"], "quantity": "x"}]}, format="json")
    assert bad.status_code == 400
    response = warehouse.post(f"/api/v1/purchasing/asns/{asn['id']}/receive/", {
        "reference": "DN-9", "lines": [{"asn_line": a1["id"], "quantity": 100}, {"asn_line": a3["id"], "quantity": 18}]}, format="json")
    assert response.status_code == 200, response.json()
    assert [(d["sku_code"], d["kind"], d["quantity"]) for d in response.json()["differences"]] == [("CAP-B", "short", 2)]
    assert warehouse.post(f"/api/v1/purchasing/asns/{asn['id']}/receive/", {
        "reference": "DN-10", "lines": [{"asn_line": a1["id"], "quantity": 1}]}, format="json").status_code == 409
    # both sides see the difference
    seen = supplier.get(base).json()
    assert seen["asns"][0]["differences"][0]["kind"] == "short" and seen["received_quantity"] == 118
    internal = pw.world.api(Role.OPERATOR).get(f"/api/v1/purchasing/purchase-orders/{po.pk}/").json()
    assert internal["asns"][0]["differences"][0]["quantity"] == 2
    notes = supplier.get("/api/v1/purchasing/portal/notifications/").json()["results"]
    assert {"po_sent", "receipt_differences"} <= {n["code"] for n in notes}
    assert supplier.post("/api/v1/purchasing/portal/notifications/read/", {}, format="json").json()["count"] == len(notes)


def test_invite_supplier_users_through_the_api(pw):
    url = f"/api/v1/purchasing/suppliers/{pw.supplier.pk}/users/"
    assert pw.world.api(Role.OPERATOR).post(url, {"username": "new-s"}, format="json").status_code == 403
    response = pw.world.api(Role.ADMIN).post(url, {"username": "new-s", "email": "n@example.com"}, format="json")
    assert response.status_code == 201 and response.json()["supplier_id"] == pw.supplier.pk
    assert pw.world.api(Role.ADMIN).post(url, {"username": pw.user.username}, format="json").status_code == 400
    assert [u["username"] for u in pw.world.api(Role.OPERATOR).get(url).json()] == ["new-s"]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_portal_pages_flow_in_both_languages(pw, client, language):
    x_user = services.supplier_user_invite(supplier=pw.supplier, username="x-user")
    po = pw.sent_po([{"sku": pw.sku, "quantity": 10}])
    client.force_login(x_user.user)
    client.cookies["django_language"] = language
    page = client.get(reverse("purchasing:portal-po", args=[po.pk]))
    assert page.status_code == 200 and f'<html lang="{language}">' in text(page)
    line = po.lines.get()
    action = reverse("purchasing:portal-po-action", args=[po.pk])
    assert client.post(action, {"action": "refuse", "why": ""}).status_code == 400
    bad = client.post(action, {"action": "confirm", "expected_date": "2026-13-01", f"qty-{line.pk}": "7", "note": "n1"})
    assert bad.status_code == 400
    assert f'name="qty-{line.pk}" value="7"' in text(bad) and 'value="2026-13-01"' in text(bad) and 'value="n1"' in text(bad)
    new_date = tenant_today() + timedelta(days=9)
    response = client.post(action, {"action": "confirm", f"qty-{line.pk}": "8", "expected_date": str(new_date)})
    assert response.status_code == 302
    po.refresh_from_db()
    assert po.status == POStatus.CONFIRMED and po.expected_date == new_date and po.total_quantity == 8
    past = tenant_today() - timedelta(days=1)
    refused = client.post(action, {"action": "asn", f"ship-{line.pk}": "3", "expected_arrival": str(past),
                                   "tracking_number": "YT-0", "carrier": "YTO"})
    assert refused.status_code == 400
    body = text(refused)  # the refusal names the field as the form does and keeps what was typed
    if language == "en":
        assert "Expected arrival: " in body and "expected_arrival:" not in body
    assert f'name="ship-{line.pk}" value="3"' in body and f'value="{past}"' in body and 'value="YT-0"' in body
    response = client.post(action, {"action": "asn", f"ship-{line.pk}": "8", "expected_arrival": str(new_date),
                                    "tracking_number": "YT-1"})
    assert response.status_code == 302
    asn = po.asns.get()
    # the buyer's page shows the ASN and receives it with a short line
    client.force_login(pw.world.members[Role.WAREHOUSE].user)
    page = text(client.get(reverse("purchasing:detail", args=[po.pk])))
    assert asn.number in page and "YT-1" in page and f"asn-receive-{asn.pk}" in page
    a = asn.lines.get()
    response = client.post(reverse("purchasing:asn-receive", args=[asn.pk]), {"reference": "DN-P", f"good_{a.pk}": "6",
                                                                              f"damaged_{a.pk}": "1"})
    assert response.status_code == 302
    kinds = sorted(d.kind for d in asn.differences.all())
    assert kinds == ["damaged", "short"]
    client.force_login(x_user.user)
    page = text(client.get(reverse("purchasing:portal-po", args=[po.pk])))
    assert "asn-differences" in page and page.count('class="badge bad"') >= 2
    if language == "en":
        assert "Short" in page and "Damaged" in page
    assert text(client.get(reverse("purchasing:portal-notifications"))).count("<tr") >= 2


def test_portal_timeline_names_the_status_each_change_went_to(walk, client):
    client.force_login(walk.x_user.user)
    body = client.get(reverse("purchasing:portal-po", args=[walk.x_po.pk])).content.decode()
    timeline = body[body.index('id="po-timeline"'):]
    timeline = timeline[:timeline.index("</ul>")]
    assert "→ Sent to supplier" in timeline, timeline
