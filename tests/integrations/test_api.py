"""Shops and sync-runs API, and the signed inbound channel."""

import json

import pytest
from django.db import connection

from erp.tenancy.roles import Role
from integrations.models import InboundMessage, PlatformOrder, PlatformRefund, Shop, SyncRun
from integrations.services import channel_signature

pytestmark = pytest.mark.django_db

ORDER = {
    "platform_order_id": "WEB-1", "state": "paid", "created_at": "2025-01-06T10:00:00+08:00",
    "modified_at": "2025-01-06T10:01:00+08:00", "paid_amount": "108.00",
    "lines": [{"platform_line_id": "WEB-1-1", "outer_id": "TEE-WHT-M", "title": "Tee", "quantity": 2,
               "price": "59.00", "paid": "108.00"}],
}


def _post(client, code, kind, body: bytes, secret: str | None):
    headers = {"HTTP_X_ERP_SIGNATURE": channel_signature(secret, body)} if secret else {}
    return client.post(f"/api/v1/channels/{code}/{kind}/", data=body, content_type="application/json", **headers)


@pytest.fixture
def own_shop(tenant_a):
    response = tenant_a.api().post("/api/v1/integrations/shops/", {"code": "web", "name": "Web", "platform": "own"},
                                   format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_shop_shows_the_secret_once_and_never_the_credentials(tenant_a):
    api = tenant_a.api()
    response = api.post("/api/v1/integrations/shops/", {
        "code": "tb", "name": "TB", "platform": "taobao", "api_base_url": "http://127.0.0.1:8100/taobao/router/rest",
        "credentials": {"app_key": "k", "app_secret": "s", "access_token": "t"}}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert len(body["channel_secret"]) == 64 and "credentials" not in body
    assert body["credential_keys"] == ["access_token", "app_key", "app_secret"]
    detail = api.get(f"/api/v1/integrations/shops/{body['id']}/").json()
    assert "channel_secret" not in detail and "credentials" not in detail
    # partial credentials update keeps the rest
    assert api.patch(f"/api/v1/integrations/shops/{body['id']}/", {"credentials": {"access_token": "t2"}},
                     format="json").status_code == 200
    with tenant_a.context():
        assert Shop.objects.get(pk=body["id"]).credentials == {"app_key": "k", "app_secret": "s", "access_token": "t2"}
    assert api.patch(f"/api/v1/integrations/shops/{body['id']}/", {"platform": "jd"}, format="json").status_code == 400
    assert api.delete(f"/api/v1/integrations/shops/{body['id']}/").status_code == 405
    # duplicate code: 400, not 500
    again = api.post("/api/v1/integrations/shops/", {"code": "tb", "name": "x", "platform": "jd"}, format="json")
    assert again.status_code == 400


def test_roles(tenant_a):
    assert tenant_a.api(Role.OPERATOR).get("/api/v1/integrations/shops/").status_code == 200
    assert tenant_a.api(Role.OPERATOR).post("/api/v1/integrations/shops/", {"code": "x", "name": "x", "platform": "own"},
                                            format="json").status_code == 403
    assert tenant_a.api(Role.WAREHOUSE).get("/api/v1/integrations/sync-runs/").status_code == 403


def test_channel_order_is_idempotent_on_the_external_id(tenant_a, own_shop, client):
    secret = own_shop["channel_secret"]
    body = json.dumps(ORDER).encode()
    first = _post(client, "web", "orders", body, secret)
    assert first.status_code == 201, first.json()
    assert first.json()["external_id"] == "WEB-1" and first.json()["duplicate"] is False
    same = _post(client, "web", "orders", json.dumps(ORDER, indent=2).encode(), secret)  # same JSON, other spacing
    assert same.status_code == 200 and same.json()["duplicate"] is True
    conflict = _post(client, "web", "orders", json.dumps({**ORDER, "paid_amount": "1.00"}).encode(), secret)
    assert conflict.status_code == 409  # same modified_at, different body: which one is true?
    with tenant_a.context():
        assert InboundMessage.objects.count() == 1


def test_channel_order_update_with_a_newer_modified_time_is_applied_and_a_late_one_changes_nothing(
        tenant_a, own_shop, client, django_capture_on_commit_callbacks):
    from orders.models import Order, OrderStatus

    secret = own_shop["channel_secret"]
    cancelled = {**ORDER, "state": "cancelled", "modified_at": "2025-01-06T11:00:00+08:00"}
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, "web", "orders", json.dumps(ORDER).encode(), secret).status_code == 201
    with tenant_a.context():
        assert Order.objects.get(platform_order_id="WEB-1").status != OrderStatus.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        update = _post(client, "web", "orders", json.dumps(cancelled).encode(), secret)
    assert update.status_code == 201 and update.json()["duplicate"] is False
    with tenant_a.context():
        assert PlatformOrder.objects.get().state == "cancelled"
        assert Order.objects.get(platform_order_id="WEB-1").status == OrderStatus.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):  # the old version arrives late: stored, changes nothing
        assert _post(client, "web", "orders", json.dumps(ORDER, indent=1).encode(), secret).status_code == 200
    with tenant_a.context():
        assert PlatformOrder.objects.get().state == "cancelled"
        assert Order.objects.get(platform_order_id="WEB-1").status == OrderStatus.CANCELLED
        assert InboundMessage.objects.count() == 2


def test_channel_message_is_processed_into_a_platform_order(tenant_a, own_shop, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, "web", "orders", json.dumps(ORDER).encode(), own_shop["channel_secret"]).status_code == 201
    with tenant_a.context():
        order = PlatformOrder.objects.get()
        assert order.platform_order_id == "WEB-1" and order.state == "paid"
        assert order.normalized["lines"][0]["quantity"] == 2 and order.payload == ORDER
        assert InboundMessage.objects.get().processed_at is not None
    refund = {"platform_refund_id": "R1", "platform_order_id": "WEB-1", "status": "requested", "amount": "54",
              "modified_at": "2025-01-08T09:00:00+08:00"}
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, "web", "refunds", json.dumps(refund).encode(), own_shop["channel_secret"]).status_code == 201
    with tenant_a.context():
        assert PlatformRefund.objects.get().status == "requested"


def test_bad_signature_is_401_and_stores_nothing(tenant_a, own_shop, client):
    body = json.dumps(ORDER).encode()
    assert _post(client, "web", "orders", body, None).status_code == 401
    assert _post(client, "web", "orders", body, "0" * 64).status_code == 401
    tampered = json.dumps({**ORDER, "paid_amount": "0.01"}).encode()
    response = client.post("/api/v1/channels/web/orders/", data=tampered, content_type="application/json",
                           HTTP_X_ERP_SIGNATURE=channel_signature(own_shop["channel_secret"], body))
    assert response.status_code == 401
    assert _post(client, "nope", "orders", body, own_shop["channel_secret"]).status_code == 401
    with tenant_a.context():
        assert InboundMessage.objects.count() == 0 and PlatformOrder.objects.count() == 0


def test_same_shop_code_in_two_tenants_goes_to_the_signing_tenant(tenant_a, tenant_b, own_shop, client):
    other = tenant_b.api().post("/api/v1/integrations/shops/", {"code": "web", "name": "Web B", "platform": "own"},
                                format="json").json()
    body = json.dumps(ORDER).encode()
    assert _post(client, "web", "orders", body, other["channel_secret"]).status_code == 201
    with tenant_b.context():
        assert InboundMessage.objects.count() == 1
    with tenant_a.context():
        assert InboundMessage.objects.count() == 0


def test_channel_validation_errors_are_400(own_shop, client):
    secret = own_shop["channel_secret"]
    assert _post(client, "web", "orders", b"{not json", secret).status_code == 400
    bad = _post(client, "web", "orders", json.dumps({**ORDER, "state": "weird"}).encode(), secret)
    assert bad.status_code == 400 and "state" in bad.json()["errors"]
    bad = _post(client, "web", "orders", json.dumps({**ORDER, "lines": [{"platform_line_id": "x", "quantity": "two",
                                                                          "price": "1"}]}).encode(), secret)
    assert bad.status_code == 400 and "lines[0].quantity" in bad.json()["errors"]


def test_run_now_and_sync_runs(tenant_a, own_shop):
    api = tenant_a.api()
    response = api.post(f"/api/v1/integrations/shops/{own_shop['id']}/run/", {"job": "pull_orders"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == SyncRun.Status.SUCCESS
    runs = api.get("/api/v1/integrations/sync-runs/", {"shop": own_shop["id"]}).json()
    assert runs["count"] == 1 and runs["results"][0]["job"] == "pull_orders"
    assert api.post(f"/api/v1/integrations/shops/{own_shop['id']}/run/", {"job": "dance"},
                    format="json").status_code == 400


def test_schema_documents_the_channel(tenant_a):
    schema = tenant_a.api().get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/channels/{shop_code}/orders/" in paths
    assert connection.vendor == "postgresql"


def test_channel_requests_are_throttled_per_shop_and_client(tenant_a, own_shop, client):
    from django.core.cache import cache

    from erp.api.throttling import ChannelRateThrottle

    cache.clear()
    original = ChannelRateThrottle.THROTTLE_RATES
    ChannelRateThrottle.THROTTLE_RATES = {**original, "channel": "2/min"}
    try:
        body = json.dumps(ORDER).encode()
        codes = [_post(client, "web", "orders", body, own_shop["channel_secret"]).status_code for _ in range(3)]
        other_shop = _post(client, "elsewhere", "orders", body, own_shop["channel_secret"]).status_code
    finally:
        ChannelRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert codes == [201, 200, 429]
    assert other_shop == 401  # another shop code has its own budget (and this one is unknown)
