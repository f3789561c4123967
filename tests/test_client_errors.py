"""Oversized or malformed bodies are the client's error (erp/client_errors.py): 413/400, logged at
WARNING without a traceback, nothing at ERROR."""

import json
import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
API = "/api/v1/finance/vouchers/"


def assert_logged_as_client_error(caplog):
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info], "a client error is logged without a traceback"
    assert [r for r in caplog.records if r.levelno == logging.WARNING]


def test_a_10_mb_json_body_is_413_and_a_warning(tenant_a, caplog):
    body = json.dumps({"memo": "x" * (10 * 1024 * 1024)})
    with caplog.at_level(logging.INFO):
        response = tenant_a.api().post(API, body, content_type="application/json")
    assert response.status_code == 413
    assert "too large" in response.json()["detail"]
    assert_logged_as_client_error(caplog)


def test_broken_json_is_400_without_a_traceback(tenant_a, caplog):
    with caplog.at_level(logging.INFO):
        response = tenant_a.api().post(API, '{"lines": [', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=XYZ"])
def test_bad_multipart_on_the_api_is_400(tenant_a, caplog, content_type):
    with caplog.at_level(logging.INFO):
        response = tenant_a.api().generic("POST", API, b"--XYZ\r\nnot a part\r\n", content_type=content_type)
    assert response.status_code == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_bad_multipart_on_a_page_is_400_and_a_warning(db, caplog):
    with caplog.at_level(logging.INFO):
        response = Client().generic("POST", "/accounts/login/", b"garbage", content_type="multipart/form-data")
    assert response.status_code == 400
    assert_logged_as_client_error(caplog)


def test_an_oversized_form_on_a_page_is_413(db, caplog):
    with caplog.at_level(logging.INFO):
        response = Client().post("/accounts/login/", "username=a&password=" + "x" * (3 * 1024 * 1024),
                                 content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert_logged_as_client_error(caplog)


def test_too_many_form_fields_is_400_and_a_warning(db, caplog):
    """Read by a middleware (the NUL check), so Django answers; its ERROR record is lowered."""
    body = "&".join(f"f{n}=1" for n in range(1500))
    with caplog.at_level(logging.INFO):
        response = Client().post("/accounts/login/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert_logged_as_client_error(caplog)


def test_a_broken_content_length_is_400(db, caplog):
    with caplog.at_level(logging.INFO):
        response = Client().generic("POST", "/accounts/login/", b"a=1", content_type="application/x-www-form-urlencoded",
                                    CONTENT_LENGTH="ten")
    assert response.status_code == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
