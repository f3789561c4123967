import pytest

from erp.tenancy.roles import Role
from orders.models import Order, OrderKind, OrderLine, OrderStatus

from .conftest import address, line, norder

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(world, inv, fake_carrier):
    from orders.services import orders_ingest_normalized

    inv.stock(1, "A", 1000)
    orders_ingest_normalized(shop=world, normalized=[
        norder(f"P{i}", buyer=f"b{i}", receiver=address(address=f"路 {i} 号"), lines=[line("A"), line("A")])
        for i in range(30)] + [norder("HELD", buyer_message="call me")])
    return list(Order.objects.order_by("pk"))


@pytest.fixture
def api(tenant_a):
    return tenant_a.api(Role.OPERATOR)


def test_list_filters_and_cursor_pages(api, orders):
    body = api.get("/api/v1/orders/", {"page_size": 10}).json()
    assert len(body["results"]) == 10 and body["next"]
    assert body["results"][0]["id"] == orders[-1].pk
    second = api.get(body["next"]).json()
    assert second["results"][0]["id"] == orders[-11].pk
    held = api.get("/api/v1/orders/", {"status": "on_hold", "hold_reason": "buyer_message"}).json()["results"]
    assert [o["platform_order_id"] for o in held] == ["HELD"] and held[0]["hold_reasons"] == ["buyer_message"]
    assert api.get("/api/v1/orders/", {"buyer": "b3"}).json()["results"][0]["platform_order_id"] == "P3"
    assert len(api.get("/api/v1/orders/", {"sku": "A"}).json()["results"]) == 31
    assert api.get("/api/v1/orders/", {"sku": "NOPE"}).json()["results"] == []
    assert len(api.get("/api/v1/orders/", {"created_from": "2026-11-01", "paid_to": "2026-11-02"}).json()["results"]) == 31
    assert api.get("/api/v1/orders/", {"created_from": "2026-11-02"}).json()["results"] == []
    assert api.get("/api/v1/orders/", {"shop": orders[0].shop_id, "platform": "taobao"}).status_code == 200


# the request's savepoint and its release (tests run inside a transaction), the token lookup (token,
# membership, tenant and user in one query), then the page query (the list's columns only) / the
# order with its waybill, its lines, its timeline and its benefits (sent together in one pipeline)
LIST_QUERIES = 4
DETAIL_QUERIES = 7


@pytest.mark.parametrize("page_size", [1, 10, 31])
def test_list_query_count_is_pinned(api, orders, page_size, django_assert_num_queries):
    api.get("/api/v1/orders/")
    with django_assert_num_queries(LIST_QUERIES):
        response = api.get("/api/v1/orders/", {"page_size": page_size, "status": "allocated"})
    assert len(response.json()["results"]) == min(page_size, 30)


@pytest.mark.parametrize("index", [0, -1])
def test_detail_query_count_is_pinned(api, orders, index, django_assert_num_queries):
    api.get(f"/api/v1/orders/{orders[0].pk}/")
    with django_assert_num_queries(DETAIL_QUERIES):
        response = api.get(f"/api/v1/orders/{orders[index].pk}/")
    detail = response.json()
    assert detail["timeline"][0]["code"] == "created" and detail["lines"]


def test_actions_and_409s(api, orders):
    held = Order.objects.get(platform_order_id="HELD")
    assert api.post(f"/api/v1/orders/{held.pk}/allocate/").status_code == 409
    r = api.post(f"/api/v1/orders/{held.pk}/release/", {"why": "fine"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == OrderStatus.APPROVED
    r = api.post(f"/api/v1/orders/{held.pk}/allocate/")
    assert r.status_code == 200 and r.json()["status"] == OrderStatus.ALLOCATED
    # without a tracking number the carrier of the warehouse prints the waybill (tests/warehouse/test_order_ship.py)
    r = api.post(f"/api/v1/orders/{held.pk}/ship/", {"tracking_no": "SF1234567890", "carrier_code": "SF"},
                 format="json")
    assert r.status_code == 200 and r.json()["tracking_no"] == "SF1234567890" and r.json()["waybills"]
    again = api.post(f"/api/v1/orders/{held.pk}/ship/")
    assert again.status_code == 409 and "Shipped" in again.json()["detail"]
    assert api.post(f"/api/v1/orders/{held.pk}/cancel/").status_code == 409
    assert api.post(f"/api/v1/orders/{held.pk}/hold/", {"reason": "unpaid"}, format="json").status_code == 400
    assert api.post(f"/api/v1/orders/{held.pk}/split/", {"lines": {"x": "y"}}, format="json").status_code == 400
    assert api.post("/api/v1/orders/999999/approve/").status_code == 404


def test_hold_release_cancel_via_api(api, orders):
    o = orders[0]
    r = api.post(f"/api/v1/orders/{o.pk}/hold/", {"why": "check"}, format="json")
    assert r.json()["status"] == OrderStatus.ON_HOLD and r.json()["timeline"][-1]["actor_label"].endswith("operator")
    assert api.post(f"/api/v1/orders/{o.pk}/cancel/", {"why": "bye"}, format="json").json()["status"] == "cancelled"


def test_merge_dry_run_merge_unmerge_split(api, world, orders):
    s = __import__("orders.services", fromlist=["x"]).order_settings()
    s.auto_merge = False
    s.save()
    from orders.services import orders_ingest_normalized

    orders_ingest_normalized(shop=world, normalized=[norder("M1", buyer="z", lines=[line("A", 3)]),
                                                     norder("M2", buyer="z"), norder("M3", buyer="other")])
    m1, m2, m3 = (Order.objects.get(platform_order_id=p).pk for p in ("M1", "M2", "M3"))
    dry = api.post("/api/v1/orders/merge/", {"order_ids": [m1, m2, m3], "dry_run": True}, format="json").json()
    assert [v["mergeable"] for v in dry] == [True, True, False]
    bad = api.post("/api/v1/orders/merge/", {"order_ids": [m1, m3]}, format="json")
    assert bad.status_code == 409 and "different buyer" in bad.json()["detail"]
    merged = api.post("/api/v1/orders/merge/", {"order_ids": [m1, m2]}, format="json")
    assert merged.status_code == 201 and merged.json()["kind"] == OrderKind.MERGED
    mid = merged.json()["id"]
    line_id = OrderLine.objects.filter(order_id=mid, quantity=3).get().pk
    split = api.post(f"/api/v1/orders/{mid}/split/", {"lines": {str(line_id): 1}}, format="json")
    assert split.status_code == 201 and len(split.json()) == 2
    assert api.post(f"/api/v1/orders/{mid}/unmerge/").status_code == 409  # has a split part


def test_bulk_and_queues(api, orders):
    ids = [o.pk for o in orders[:3]] + [Order.objects.get(platform_order_id="HELD").pk]
    r = api.post("/api/v1/orders/bulk/", {"action": "ship", "order_ids": ids}, format="json").json()["results"]
    assert list(r.values()).count("ok") == 3
    queues = api.get("/api/v1/orders/queues/").json()
    assert queues["shipped_today"] == 3 and queues["hold_reason"]["buyer_message"] == 1
    assert set(queues["status"]) == {"pending_review", "on_hold", "approved", "allocated", "picking"}  # open queues only
    assert queues["status"]["on_hold"] == Order.objects.filter(status=OrderStatus.ON_HOLD).count()


def test_roles_and_tenants(tenant_a, tenant_b, orders):
    assert tenant_a.api(Role.FINANCE).get("/api/v1/orders/").status_code == 200
    assert tenant_a.api(Role.FINANCE).post(f"/api/v1/orders/{orders[0].pk}/cancel/").status_code == 403
    assert tenant_b.api().get(f"/api/v1/orders/{orders[0].pk}/").status_code == 404
    assert tenant_b.api().post(f"/api/v1/orders/{orders[0].pk}/cancel/").status_code == 404
    assert tenant_b.api().get("/api/v1/orders/").json()["results"] == []


def test_schema_documents_the_actions(api, tenant_a):
    r = tenant_a.api().get("/api/schema/")
    assert r.status_code == 200
    text = r.content.decode()
    assert "/api/v1/orders/{id}/approve/" in text and "/api/v1/orders/merge/" in text


def test_lean_output_equals_the_documented_serializers(api, world, orders, tenant_a):
    """List and detail are built from .values() rows; the ModelSerializers that document them in the
    schema must give exactly the same JSON (every kind of order: held, allocated, shipped with a
    waybill, merged, split, with and without an out-of-stock mark)."""
    import json

    from django.utils import timezone
    from rest_framework.renderers import JSONRenderer

    from orders import services
    from orders.api import serializers as s

    held = Order.objects.get(platform_order_id="HELD")
    services.order_ship(order_id=orders[0].pk)
    s_ = services.order_settings()
    s_.auto_merge = False
    s_.save()
    services.orders_ingest_normalized(shop=world, normalized=[
        norder("Q1", buyer="q", receiver=address(address="Q 路")), norder("Q2", buyer="q", receiver=address(address="Q 路")),
        norder("OOS", buyer="o", receiver=address(address="O 路"), lines=[line("B")]),
        norder("SPL", buyer="sp", receiver=address(address="S 路"), buyer_message="two parcels", lines=[line("A"), line("A")])])
    spl = Order.objects.get(platform_order_id="SPL")
    services.order_split(order_id=spl.pk, mode="manual", lines={OrderLine.objects.filter(order=spl).first().pk: 1})
    services.order_hold(order_id=held.pk, why="look")
    services.orders_merge(order_ids=list(Order.objects.filter(platform_order_id__in=["Q1", "Q2"]).values_list("pk", flat=True)))
    assert Order.objects.filter(out_of_stock_since__isnull=False).exists()

    def plain(data):
        return json.loads(JSONRenderer().render(data))

    with timezone.override(tenant_a.tenant.timezone):
        everyone = list(Order.objects.order_by("-pk"))
        expected_list = plain(s.OrderListSerializer(everyone, many=True).data)
        expected = {o.pk: plain(s.OrderDetailSerializer(o).data) for o in everyone}
    body = api.get("/api/v1/orders/", {"page_size": 200}).json()
    assert body["results"] == expected_list
    for o in everyone:
        got = api.get(f"/api/v1/orders/{o.pk}/").json()
        assert got == expected[o.pk]
        assert list(got) == list(expected[o.pk])  # same keys in the same order
    assert any(d["waybills"] for d in expected.values()) and any(d["kind"] == "split" for d in expected.values())
    assert any(d["kind"] == "merged" for d in expected.values()) and any(d["out_of_stock"] for d in expected.values())
    assert api.get("/api/v1/orders/99999999/").status_code == 404


@pytest.mark.parametrize("status", ["", "allocated"])
def test_compiled_list_pages_forward_and_back(api, orders, status):
    """The default list and the status queues run precompiled SQL: the cursor walk forward and back
    gives exactly the ids the queryset path gives, and a bad cursor is a 404, not a 500."""
    expected = [o.pk for o in sorted(orders, key=lambda o: -o.pk) if not status or o.status == status]
    params = {"page_size": 7, **({"status": status} if status else {})}
    body = api.get("/api/v1/orders/", params).json()
    seen, pages = [], []
    while True:
        pages.append(body)
        seen += [r["id"] for r in body["results"]]
        if not body["next"]:
            break
        body = api.get(body["next"]).json()
    assert seen == expected
    back = []
    while body["previous"]:
        body = api.get(body["previous"]).json()
        back = [r["id"] for r in body["results"]] + back
    assert back == expected[:len(back)] and len(back) == len(expected) - len(pages[-1]["results"])
    filtered = api.get("/api/v1/orders/", {**params, "platform": "taobao"}).json()  # the queryset path
    assert [r["id"] for r in filtered["results"]] == expected[:7]
    import base64

    bad = base64.b64encode(b"p=abc").decode()  # a well-formed cursor with a non-numeric position
    assert api.get("/api/v1/orders/", {"cursor": bad, **params}).status_code == 404


@pytest.mark.parametrize("query, field", [("status=shippd", "status"), ("created_from=yesterday", "created_from"),
                                          ("paid_to=2026-13-45", "paid_to"), ("shop=abc", "shop"),
                                          ("hold_reason=whatever", "hold_reason"), ("queue=x", "queue")])
def test_a_malformed_filter_is_400_naming_the_field_not_every_order(tenant_a, query, field):
    response = tenant_a.api().get(f"/api/v1/orders/?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_the_workbench_shows_a_malformed_filter_and_export_refuses_it(tenant_a, client):
    client.force_login(tenant_a.owner.user)
    page = client.get("/orders/?created_from=yesterday&status=shipped")
    assert page.status_code == 200
    assert "created_from" in page.content.decode()
    export = client.get("/orders/export/?created_from=yesterday&format=csv")
    assert export.status_code == 302 and "/orders/?" in export["Location"] and "format" not in export["Location"]


@pytest.mark.parametrize("cap", [2, 5000])
def test_a_bounded_date_range_pages_the_same_pinned_or_not(api, orders, cap, monkeypatch):
    """Up to BOUNDED_RANGE_IDS orders in a range with an end are pinned by id (a fast plan for old
    ranges); more take the plain query. Both answer the same pages."""
    from orders import selectors

    monkeypatch.setattr(selectors, "BOUNDED_RANGE_IDS", cap)
    seen, url, params = [], "/api/v1/orders/", {"created_from": "2026-11-01", "created_to": "2026-11-02", "page_size": 7}
    while url:
        body = api.get(url, params).json()
        seen += [row["id"] for row in body["results"]]
        url, params = body["next"], None
    assert seen == sorted((o.pk for o in orders), reverse=True)[: len(seen)] and len(seen) == 31
