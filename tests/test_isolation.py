"""The generic tenant-isolation test.

It walks every TenantScopedModel (ORM, row-level security, admin) and every API route, with two
tenants, and fails on any row of tenant A that is visible, countable or editable from tenant B, or
readable with no tenant set at all. The change-history models of tenant models (simple-history's
Historical<Model>, built by erp.tenancy.history.TenantHistoricalRecords) are tenant models too and
are walked the same way, plus their ``<Model>.history`` managers. Models and routes that later apps
add are covered without edits; a model the automatic row builder cannot make registers a builder in
``tests/<app>/isolation.py`` (see erp.tenancy.testing).
"""

import importlib
import pkgutil

import pytest
from django.contrib import admin
from django.db import connection
from django.urls import reverse

import tests
from erp.tenancy.apps import tenant_models
from erp.tenancy.context import TenantNotSetError, tenant_context
from erp.tenancy.history import history_models
from erp.tenancy.models import TenantScopedModel
from erp.tenancy.permissions import RolePermission, view_roles
from erp.tenancy.testing import api_routes, build_row, route_url, view_model

for _module in pkgutil.iter_modules(tests.__path__):
    if _module.ispkg:
        try:
            importlib.import_module(f"tests.{_module.name}.isolation")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.{_module.name}.isolation":
                raise

MODELS = sorted(tenant_models(), key=lambda m: m._meta.label)
ROUTES = sorted(api_routes(), key=lambda r: r[0])
HISTORIES = sorted(((m, h) for m, h in history_models() if issubclass(m, TenantScopedModel)),
                   key=lambda pair: pair[1]._meta.label)
DETAIL_METHODS = ["get", "put", "patch", "delete"]


def _row_in(world, model):
    with tenant_context(world.tenant):
        return build_row(model)


def _snapshot(world, model, pk):
    with tenant_context(world.tenant):
        return model.objects.filter(pk=pk).values().first()


def test_there_are_models_and_routes_to_walk():
    assert MODELS, "no TenantScopedModel found"
    assert any(view_model(cb) is not None for _, cb in ROUTES), "no model-backed API route found"
    assert HISTORIES, "no history model of a tenant model found"


@pytest.mark.parametrize("pair", HISTORIES, ids=lambda pair: pair[1]._meta.label)
def test_history_models_are_walked_as_tenant_models(pair):
    from erp.tenancy.rls import tenant_tables

    assert pair[1] in MODELS, f"{pair[1]._meta.label} is not a TenantScopedModel: use TenantHistoricalRecords"
    assert pair[1]._meta.db_table in tenant_tables(), "the history table has no row-level security policy"


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_model_fails_closed_without_tenant(model, tenant_a):
    row = _row_in(tenant_a, model)
    for read in (lambda: model.objects.count(), lambda: model.objects.filter(pk=row.pk).exists(),
                 lambda: list(model.objects.all()), lambda: model.objects.filter(pk=row.pk).update()):
        with pytest.raises(TenantNotSetError):
            read()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(model._meta.db_table)}")
            assert cursor.fetchone()[0] == 0, f"raw SQL with no tenant sees {model._meta.label} rows"


@pytest.mark.django_db
@pytest.mark.parametrize("pair", HISTORIES, ids=lambda pair: pair[1]._meta.label)
def test_history_manager_is_scoped_and_fails_closed(pair, tenant_a, tenant_b):
    model, history_model = pair
    with tenant_context(tenant_a.tenant):
        parent = build_row(model)
        parent.save()  # a second version: two history rows
        assert parent.history.count() == model.history.count() >= 2
        own = set(parent.history.values_list("pk", flat=True))
        assert own <= set(history_model.objects.values_list("pk", flat=True))
    with tenant_context(tenant_b.tenant):
        assert model.history.count() == 0
        assert not model.history.filter(pk__in=own).exists()
        assert parent.history.count() == 0  # even holding tenant A's object
        assert history_model.objects.count() == 0
    with pytest.raises(TenantNotSetError):
        model.history.count()
    with pytest.raises(TenantNotSetError):
        list(parent.history.all())


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_model_rows_are_invisible_to_other_tenant(model, tenant_a, tenant_b):
    row = _row_in(tenant_a, model)
    with tenant_context(tenant_b.tenant):
        assert not model.objects.filter(pk=row.pk).exists()
        assert model.objects.count() == 0
        assert model.objects.filter(pk=row.pk).update() == 0
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(model._meta.db_table)
                cursor.execute(f"SELECT count(*) FROM {table}")
                assert cursor.fetchone()[0] == 0, f"raw SQL under tenant B sees {model._meta.label} rows of A"
                cursor.execute(f"DELETE FROM {table} WHERE id = %s", [row.pk])
                assert cursor.rowcount == 0
    with tenant_context(tenant_a.tenant):
        assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r[0])
def test_api_route_never_shows_other_tenant(route, tenant_a, tenant_b):
    regex, callback = route
    view_class = getattr(callback, "cls", None) or callback.view_class
    public = RolePermission not in view_class.permission_classes  # opted out explicitly (e.g. signed webhooks)
    assert public or view_roles(view_class)[0], f"{regex} declares no read roles"
    model = view_model(callback)
    client = tenant_b.api()
    if public or model is None or not issubclass(model, TenantScopedModel):
        url = route_url(regex, shop_code="x")
        if url is not None:
            response = client.get(url)
            assert response.status_code < 500, f"GET {url} -> {response.status_code}"
        return
    row = _row_in(tenant_a, model)
    before = _snapshot(tenant_a, model, row.pk)
    is_detail = "(?P<pk>" in regex or "(?P<id>" in regex
    actions = getattr(callback, "actions", None) or {}
    if not is_detail:
        url = route_url(regex)
        if url is None:
            return
        if "get" in actions or not actions:
            response = client.get(url)
            assert response.status_code in (200, 405), f"GET {url} -> {response.status_code}"
            if response.status_code == 200:
                body = response.json()
                items = body.get("results", body) if isinstance(body, dict) else body
                if isinstance(items, list):
                    assert row.pk not in {item.get("id") for item in items if isinstance(item, dict)}
                if isinstance(body, dict) and "count" in body:
                    assert body["count"] == 0, f"GET {url} counts tenant A's rows"
    else:
        url = route_url(regex, pk=row.pk, id=row.pk)
        if url is None:
            return
        methods = [m for m in DETAIL_METHODS if not actions or m in actions] + (["post"] if "post" in actions else [])
        for method in methods:
            response = getattr(client, method)(url, data={}, format="json")
            assert response.status_code in (404, 405), f"{method.upper()} {url} -> {response.status_code} (must be 404)"
    assert _snapshot(tenant_a, model, row.pk) == before, f"{regex} changed tenant A's row"


ADMIN_MODELS = [m for m in MODELS if admin.site.is_registered(m)]


@pytest.mark.django_db
@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda m: m._meta.label)
def test_admin_never_shows_other_tenant(model, tenant_a, tenant_b, client):
    row = _row_in(tenant_a, model)
    client.force_login(tenant_b.owner.user)
    info = (model._meta.app_label, model._meta.model_name)
    response = client.get(reverse("admin:{}_{}_changelist".format(*info)))
    assert response.status_code == 200
    assert row.pk not in {obj.pk for obj in response.context["cl"].result_list}
    response = client.get(reverse("admin:{}_{}_change".format(*info), args=[row.pk]))
    assert response.status_code in (302, 404)
    response = client.post(reverse("admin:{}_{}_delete".format(*info), args=[row.pk]), {"post": "yes"})
    assert response.status_code in (302, 403, 404)
    with tenant_context(tenant_a.tenant):
        assert model.objects.filter(pk=row.pk).exists()
