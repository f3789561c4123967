"""Property-based testing of the whole API from its OpenAPI schema (schemathesis, in process).

Every operation of /api/schema/ gets a few generated requests as tenant A (an owner's token):
no answer may be a server error, and every answer must match the schema (status code documented,
content type, body shape). Operations on one object are also called with an id of tenant A's own
row (a real answer to check against the schema) and with an id of tenant B's row, which must never
be answered with a 2xx. Examples per operation are few (SCHEMATHESIS_EXAMPLES, default 3) to keep
the suite fast; the generation is derandomized, so a failure is reproducible.
"""

import json
import os

import pytest
import schemathesis
from django.apps import apps
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.urls import Resolver404, resolve
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from erp.tenancy.context import tenant_context
from erp.tenancy.testing import build_row, register_row_builder, view_model
from tests.test_references import _module  # noqa: F401 - the apps' row builders are registered there


def _period():
    return apps.get_model("finance", "Period").objects.create(year=2026, month=1)


register_row_builder(apps.get_model("finance", "Period"), _period)  # a real year (the generic one is 1)

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _openapi() -> dict:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


schema = schemathesis.openapi.from_dict(_openapi())
schema.app = WSGIHandler()


class Worlds:
    """Tenant A (whose token calls) and B, with one row per served model built on demand."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.headers = {"Authorization": f"Token {a.token()}"}
        self._rows: dict[tuple, int | None] = {}

    def row_id(self, world, model) -> int | None:
        key = (world.tenant.pk, model)
        if key not in self._rows:
            with tenant_context(world.tenant):
                try:
                    self._rows[key] = build_row(model).pk
                except NotImplementedError:
                    self._rows[key] = None
        return self._rows[key]


@pytest.fixture
def worlds(tenant_a, tenant_b):
    # The app is called through WSGI as in production; as Django's test client does, the request
    # signals must not close the test's connection (its transaction holds the fixtures).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield Worlds(tenant_a, tenant_b)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def call(case, worlds, *, validate: bool):
    try:
        if validate:
            return case.call_and_validate(headers=worlds.headers, checks=CHECKS)
        return case.call(headers=worlds.headers)
    finally:
        # Some views are not atomic (a shop's pull commits page by page): in production no transaction
        # encloses them, here the test's does, and DRF's 4xx handling marks it for rollback (no SQL
        # failed). Clear that mark so the next request can run in the test's transaction.
        if connection.in_atomic_block and connection.needs_rollback:
            connection.set_rollback(False)


def _served_model(path: str):
    try:
        match = resolve(path.replace("{id}", "1"))
    except Resolver404:
        return None
    return view_model(match.func)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_request_as_its_schema_says(case, worlds):
    call(case, worlds, validate=True)
    if "id" not in (case.path_parameters or {}) or case.method.upper() == "OPTIONS":
        return
    model = _served_model(case.operation.path)
    if model is None:
        return
    own = worlds.row_id(worlds.a, model) if case.method.upper() == "GET" else None
    if own is not None:  # a real answer to check (writes on a generically built row would test the builder)
        case.path_parameters["id"] = own
        call(case, worlds, validate=True)
    foreign = worlds.row_id(worlds.b, model)
    if foreign is not None:
        case.path_parameters["id"] = foreign
        response = call(case, worlds, validate=False)
        assert response.status_code >= 400, (
            f"{case.method} {case.formatted_path} answered {response.status_code} for tenant B's {model.__name__}")


# Stateful: sequences of calls chained by the links schemathesis infers from the schema (a list's or
# a create's ids feed the detail, update and action operations), as tenant A. Every answer is checked
# as above, and every object a sequence creates is then asked for as tenant B: never a 2xx. Each
# sequence runs in a savepoint rolled back at its end, so every one starts from the same database
# (hypothesis replays a failing sequence and needs it to behave the same).
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "40"))


@pytest.mark.django_db
def test_call_sequences_answer_as_the_schema_says_and_stay_in_their_tenant(worlds):
    from django.db import transaction
    from django.test import Client

    other = Client(headers={"Authorization": f"Token {worlds.b.token()}"})
    seen = {"calls": 0, "created": 0}

    class Sequences(schema.as_state_machine()):
        def setup(self):
            self.created = []
            self.savepoint = transaction.atomic()
            self.savepoint.__enter__()

        def teardown(self):
            try:
                for path in self.created:
                    response = other.get(path)
                    # Django's test client connects these again after its request (see the worlds fixture)
                    request_started.disconnect(close_old_connections)
                    request_finished.disconnect(close_old_connections)
                    assert response.status_code >= 400, (
                        f"tenant B read {path}, created by tenant A ({response.status_code})")
            finally:
                transaction.set_rollback(True)
                self.savepoint.__exit__(None, None, None)

        def get_call_kwargs(self, case):
            return {"headers": worlds.headers}

        def call(self, case, **kwargs):
            return call(case, worlds, validate=False)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

        def after_call(self, response, case):
            seen["calls"] += 1
            if case.method.upper() == "POST" and response.status_code == 201 and "{" not in case.operation.path:
                body = response.json() if response.content else {}
                if isinstance(body, dict) and isinstance(body.get("id"), int):
                    self.created.append(f"{case.formatted_path.rstrip('/')}/{body['id']}/")
                    seen["created"] += 1

    Sequences.run(settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=5, deadline=None,
                                    derandomize=True, database=None, suppress_health_check=list(HealthCheck)))
    assert seen["calls"] >= STATEFUL_EXAMPLES * 2 and seen["created"], seen  # sequences ran, and created rows
