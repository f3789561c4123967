import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from erp.logging import ContextFilter, request_id_var

pytestmark = pytest.mark.django_db


def test_log_records_carry_tenant_and_request_id(tenant_a):
    record = logging.LogRecord("erp", logging.INFO, __file__, 1, "stock pushed", None, None)
    token = request_id_var.set("req-123")
    try:
        with tenant_a.context():
            ContextFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter("%(message)s %(tenant)s %(request_id)s").format(record))
    assert line == {"message": "stock pushed", "tenant": "alpha", "request_id": "req-123"}


def test_responses_carry_a_request_id(tenant_a):
    response = tenant_a.api().get("/api/v1/me/", HTTP_X_REQUEST_ID="abc-1")
    assert response["X-Request-ID"] == "abc-1"
    assert len(tenant_a.api().get("/api/v1/me/")["X-Request-ID"]) == 16


def test_admin_changes_are_audited_with_who_and_when(tenant_a, client):
    from tests.tenantapp.models import Widget

    with tenant_a.context():
        widget = Widget.objects.create(code="W1", quantity=1)
    user = tenant_a.members["operator"].user
    client.force_login(user)
    response = client.post(f"/admin/tenantapp/widget/{widget.pk}/change/", {"code": "W1", "quantity": 7})
    assert response.status_code == 302
    with tenant_a.context():
        latest = widget.history.order_by("-history_date").first()
    assert latest.quantity == 7 and latest.history_user == user and latest.history_type == "~"
    history_page = client.get(f"/admin/tenantapp/widget/{widget.pk}/history/")
    assert history_page.status_code == 200 and user.username in history_page.content.decode()
