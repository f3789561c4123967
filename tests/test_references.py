"""Every reference in an API request body is checked against the tenant's rows.

Walks the request serializer of every write operation in the OpenAPI schema (so new routes and
fields are covered without edits), every writable field that names another object (a related
field, erp.api.fields.ScopedPK / ScopedId / ScopedIds), nested lines included, and sends it an id
of another tenant's row and an id of no row: both must be refused naming the field. A plain
integer field called ``*_id`` / ``*_ids`` is an unchecked reference and fails the walk.
"""

import importlib
import pkgutil

import pytest
from django.test import RequestFactory
from drf_spectacular.generators import SchemaGenerator
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers
from rest_framework.request import Request

import tests
from erp.api.fields import ScopedId, ScopedIds
from erp.tenancy.context import tenant_context
from erp.tenancy.testing import build_row

pytestmark = pytest.mark.django_db

for _module in pkgutil.iter_modules(tests.__path__):  # the apps' row builders (as the isolation test)
    if _module.ispkg:
        try:
            importlib.import_module(f"tests.{_module.name}.isolation")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.{_module.name}.isolation":
                raise

MISSING_ID = 2_000_000_000
WRITE_METHODS = {"POST", "PUT", "PATCH"}


def _request_serializers():
    """(operation, view, serializer instance) for every write operation with a serializer body."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    found = []
    for path, path_regex, method, view in generator._get_paths_and_endpoints():
        if method not in WRITE_METHODS:
            continue
        schema = view.schema
        schema.path, schema.path_regex, schema.path_prefix, schema.method = path, path_regex, "", method
        schema.registry = generator.registry
        serializer = schema.get_request_serializer()
        if isinstance(serializer, type) and issubclass(serializer, serializers.BaseSerializer):
            serializer = serializer()
        if isinstance(serializer, serializers.ListSerializer):
            serializer = serializer.child
        if isinstance(serializer, serializers.Serializer):
            found.append((f"{method} {path}", view, serializer))
    return found


def _is_reference(field) -> bool:
    return isinstance(field, (relations.RelatedField, relations.ManyRelatedField, ScopedId, ScopedIds))


def _looks_like_an_id(name, field) -> bool:
    if _is_reference(field):
        return False
    if isinstance(field, drf_fields.IntegerField) and name.endswith("_id"):
        return True
    return (isinstance(field, drf_fields.ListField) and isinstance(field.child, drf_fields.IntegerField)
            and name.endswith("_ids"))


def _walk(serializer, path=()):
    """(path, field) of every writable field, through nested serializers and lists of them."""
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.ListSerializer):
            yield from _walk(field.child, (*path, name, 0))
        elif isinstance(field, serializers.Serializer):
            yield from _walk(field, (*path, name))
        else:
            yield (*path, name), field


def _many(field) -> bool:
    return isinstance(field, (relations.ManyRelatedField, ScopedIds))


def _model_of(field):
    if isinstance(field, relations.ManyRelatedField):
        field = field.child_relation
    return field.get_queryset().model


def _payload(path, value):
    data = value
    for part in reversed(path):
        data = [data] if isinstance(part, int) else {part: data}
    return data


def _error_at(errors, path):
    node = errors
    for part in path:
        if isinstance(part, int):  # a list of errors, or (DRF's ListSerializer) a dict by index
            if isinstance(node, list) and node:
                node = node[part]
            elif isinstance(node, dict) and (part in node or str(part) in node):
                node = node.get(part, node.get(str(part)))
            else:
                return None
        else:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
    return node


def _context(view, world):
    request = RequestFactory().post("/")
    request.user = world.owner.user
    request.membership = world.owner
    return {"request": Request(request), "view": view, "format": None}


OPERATIONS = _request_serializers()


def test_there_are_write_operations_with_references():
    refs = [(op, path) for op, _, ser in OPERATIONS for path, field in _walk(ser) if _is_reference(field)]
    assert len(OPERATIONS) > 30 and len(refs) > 20, (len(OPERATIONS), len(refs))


def test_no_plain_integer_names_another_object():
    plain = sorted({f"{op}: {'.'.join(map(str, path))}" for op, _, ser in OPERATIONS
                    for path, field in _walk(ser) if _looks_like_an_id(str(path[-1]), field)})
    assert not plain, "use erp.api.fields.ScopedId / ScopedIds (checked against the tenant's rows): " + "; ".join(plain)


def test_every_reference_refuses_another_tenants_id_and_a_missing_id(tenant_a, tenant_b):
    checked, failures, foreign_rows = set(), [], {}
    for op, view, serializer in OPERATIONS:
        for path, field in _walk(serializer):
            if not _is_reference(field):
                continue
            key = (type(serializer), path)
            if key in checked:
                continue
            checked.add(key)
            with tenant_context(tenant_a.tenant):
                model = _model_of(field)
            if model not in foreign_rows:
                with tenant_context(tenant_b.tenant):
                    foreign_rows[model] = build_row(model).pk
            label = f"{op} {'.'.join(map(str, path))} ({model._meta.label})"
            for kind, value in (("another tenant's id", foreign_rows[model]), ("a missing id", MISSING_ID)):
                data = _payload(path, [value] if _many(field) else value)
                with tenant_context(tenant_a.tenant):
                    bound = type(serializer)(data=data, context=_context(view, tenant_a))
                    valid = bound.is_valid()
                    errors = bound.errors
                if valid or not _error_at(errors, path):
                    failures.append(f"{label}: {kind} is not refused (errors: {dict(errors) if not valid else 'none'})")
    assert checked
    assert not failures, "\n".join(failures)


def test_the_voucher_line_references_answer_400_naming_the_field(tenant_a, tenant_b):
    """The case that was found: a finance voucher line took any integer as sku/order/supplier/shop."""
    from django.apps import apps

    foreign = {}
    for name, label in (("sku_id", "inventory.SKU"), ("order_id", "orders.Order"),
                        ("supplier_id", "purchasing.Supplier"), ("shop_id", "integrations.Shop")):
        with tenant_context(tenant_b.tenant):
            foreign[name] = build_row(apps.get_model(label)).pk
    client = tenant_a.api()
    for name, value in [*foreign.items(), *((n, MISSING_ID) for n in foreign)]:
        line = {"account_code": "1001", "debit": "10.00", name: value}
        body = {"date": "2026-01-15", "lines": [line, {"account_code": "6001", "credit": "10.00"}], "post": True}
        response = client.post("/api/v1/finance/vouchers/", body, format="json")
        assert response.status_code == 400, (name, value, response.status_code, response.content[:300])
        assert _error_at(response.json()["errors"], ("lines", 0, name)), response.json()
