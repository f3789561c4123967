import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from erp.tenancy.context import TenantNotSetError, system_context, tenant_context
from tests.tenantapp.models import Widget

pytestmark = pytest.mark.django_db


def test_scoped_manager_raises_without_tenant(tenant_a):
    with pytest.raises(TenantNotSetError):
        list(Widget.objects.all())
    with pytest.raises(TenantNotSetError):
        Widget.objects.count()


def test_scoped_manager_sees_only_current_tenant(tenant_a, tenant_b):
    with tenant_a.context():
        Widget.objects.create(code="A1")
        Widget.objects.create(code="SAME")
    with tenant_b.context():
        Widget.objects.create(code="SAME")
        assert list(Widget.objects.values_list("code", flat=True)) == ["SAME"]
        assert Widget.objects.filter(code="A1").count() == 0
    with tenant_a.context():
        assert sorted(Widget.objects.values_list("code", flat=True)) == ["A1", "SAME"]


def test_save_takes_tenant_from_context_and_refuses_foreign_rows(tenant_a, tenant_b):
    with tenant_a.context():
        widget = Widget.objects.create(code="W")
        assert widget.tenant_id == tenant_a.tenant.pk
    with tenant_b.context():
        widget.quantity = 5
        with pytest.raises(ValidationError):
            widget.save()
    with pytest.raises(ValidationError):
        Widget(code="nobody").save()


def test_unique_constraint_is_per_tenant(tenant_a, tenant_b):
    with tenant_a.context():
        Widget.objects.create(code="X")
    with tenant_b.context():
        Widget.objects.create(code="X")  # same code, other tenant: allowed


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row-level security is a Postgres feature")
def test_rls_hides_other_tenants_rows_from_raw_sql(tenant_a, tenant_b):
    with tenant_a.context():
        Widget.objects.create(code="secret-a")
    with tenant_b.context():
        Widget.objects.create(code="b")
        with connection.cursor() as cursor:
            cursor.execute("SELECT code FROM tenantapp_widget")
            assert [row[0] for row in cursor.fetchall()] == ["b"]
            cursor.execute("UPDATE tenantapp_widget SET quantity = 99 WHERE code = 'secret-a'")
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM tenantapp_widget WHERE code = 'secret-a'")
            assert cursor.rowcount == 0
    with tenant_context(None), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenantapp_widget")
        assert cursor.fetchone()[0] == 0  # no tenant: nothing (fail closed)
    with system_context("test: count all"), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tenantapp_widget")
        assert cursor.fetchone()[0] == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row-level security is a Postgres feature")
def test_rls_rejects_insert_into_other_tenant(tenant_a, tenant_b):
    from django.db import IntegrityError, ProgrammingError, transaction

    with tenant_b.context(), connection.cursor() as cursor:
        with pytest.raises((ProgrammingError, IntegrityError)), transaction.atomic():
            cursor.execute(
                "INSERT INTO tenantapp_widget (tenant_id, code, quantity) VALUES (%s, 'forged', 1)", [tenant_a.tenant.pk]
            )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres only")
def test_connection_runs_as_ordinary_role(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        user, is_super, bypass = cursor.fetchone()
    assert user == "erp_app" and not is_super and not bypass


def test_unscoped_manager_needs_system_context_on_postgres(tenant_a, tenant_b):
    with tenant_a.context():
        Widget.objects.create(code="a")
    with tenant_b.context():
        Widget.objects.create(code="b")
    with system_context("test: fan out"):
        assert Widget.all_tenants.count() == 2
    if connection.vendor == "postgresql":
        with tenant_b.context():
            assert Widget.all_tenants.count() == 1  # the database still hides tenant A


def test_tenant_check_flags_unique_without_tenant():
    from django.db import models

    from erp.tenancy.apps import check_tenant_models

    class Bad(Widget.__base__):
        sku = models.CharField(max_length=10, unique=True)

        class Meta:
            app_label = "tenantapp"
            managed = False

    try:
        ids = {error.id for error in check_tenant_models()}
        assert "tenancy.E001" in ids
    finally:
        from django.apps import apps

        apps.all_models["tenantapp"].pop("bad", None)
        apps.clear_cache()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row-level security is a Postgres feature")
@pytest.mark.django_db(transaction=True)
def test_tenant_setting_never_outlives_its_context(tenant_a):
    """Autocommit sets the session value; a transaction sets a local one that ends with it. Either
    way, once the context is gone raw SQL sees nothing, and a rollback forgets what was in force."""
    from django.db import transaction

    def raw_count():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM tenantapp_widget")
            return cursor.fetchone()[0]

    with tenant_a.context():
        Widget.objects.create(code="auto")  # autocommit: session-level setting
        assert raw_count() == 1
    assert raw_count() == 0
    with transaction.atomic(), tenant_a.context():
        Widget.objects.create(code="in-tx")  # transaction-local setting
        assert raw_count() == 2
    assert raw_count() == 0  # the local setting ended with the transaction
    with transaction.atomic():
        with tenant_a.context():
            assert raw_count() == 2
        assert raw_count() == 0  # within the same transaction, leaving the context resets it
    with pytest.raises(RuntimeError), transaction.atomic(), tenant_a.context():
        assert raw_count() == 2
        raise RuntimeError("roll back")
    assert raw_count() == 0
    with tenant_a.context():
        assert raw_count() == 2
    with system_context("test: clean up"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM tenantapp_widget")


def test_history_of_a_tenant_model_must_be_tenant_scoped(monkeypatch):
    """tenancy.E005: a plain HistoricalRecords() on a tenant model is refused by the system check."""
    from django.db import models
    from django.test.utils import isolate_apps
    from simple_history.models import HistoricalRecords

    from erp.tenancy import history as tenant_history
    from erp.tenancy.apps import check_tenant_history
    from erp.tenancy.models import TenantScopedModel

    assert check_tenant_history() == []
    with isolate_apps("tests.tenantapp"):
        class Gadget(TenantScopedModel):
            code = models.CharField(max_length=10)
            history = HistoricalRecords()

            class Meta:
                app_label = "tenantapp"

        class Gizmo(TenantScopedModel):
            code = models.CharField(max_length=10)
            history = tenant_history.TenantHistoricalRecords()

            class Meta:
                app_label = "tenantapp"

        monkeypatch.setattr(tenant_history, "history_models", lambda: [
            (Gadget, Gadget.history.model), (Gizmo, Gizmo.history.model)])
        errors = check_tenant_history()
    assert [(e.id, e.obj) for e in errors] == [("tenancy.E005", Gadget)]
    with pytest.raises(TypeError):
        tenant_history.TenantHistoricalRecords(bases=(models.Model,))


def test_history_rows_carry_the_tenant_and_stay_in_it(tenant_a, tenant_b):
    from django.utils import timezone

    from erp.tenancy.models import TenantScopedModel

    with tenant_a.context():
        widget = Widget.objects.create(code="w1")
        widget.quantity = 3
        widget.save()
    historical = Widget.history.model
    assert issubclass(historical, TenantScopedModel)
    with tenant_a.context():
        assert [h.quantity for h in widget.history.all()] == [3, 0]
        assert {h.tenant_id for h in historical.objects.all()} == {tenant_a.tenant.pk}
        assert widget.history.as_of(widget.history.earliest().history_date).quantity == 0
    with tenant_b.context():
        assert not historical.objects.exists()
        assert list(Widget.history.as_of(timezone.now())) == []
    with pytest.raises(TenantNotSetError):
        historical.objects.count()
    with pytest.raises(TenantNotSetError):
        Widget.history.count()
