"""BI access: the bi_* views, the tenant-bound BI login role (connects with psycopg) and the paged API."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from analytics.services import bi
from erp.tenancy.context import tenant_context
from erp.tenancy.roles import Role
from integrations.models import Shop
from inventory.models import SKU, StockLevel, Warehouse
from members.models import Member
from orders.models import Order

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the BI views are Postgres")


def _fill(world, n_orders: int, prefix: str):
    with tenant_context(world.tenant):
        shop = Shop.objects.create(code=f"{prefix}-shop", name=f"{prefix} shop", platform="taobao")
        orders = [Order.objects.create(shop=shop, platform="taobao", platform_order_id=f"{prefix}{i}",
                                       buyer_id=f"buyer{i}", receiver_phone="13800000000", paid_amount="10.50",
                                       goods_amount="10.50")
                  for i in range(n_orders)]
        warehouse = Warehouse.objects.create(code="W", name="W")
        sku = SKU.objects.create(code=f"{prefix}-S", name="sku", unit_cost="2.50")
        StockLevel.objects.create(warehouse=warehouse, sku=sku, on_hand=10, reserved=3)
        Member.objects.create(display_name=f"{prefix} member")
    return [o.pk for o in orders]


def _count(view: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {view}")
        return cursor.fetchone()[0]


def test_views_follow_the_session_tenant(tenant_a, tenant_b):
    _fill(tenant_a, 3, "A")
    _fill(tenant_b, 2, "B")
    with tenant_context(tenant_a.tenant):
        assert _count("bi_orders") == 3
        assert _count("bi_members") == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT on_hand, reserved, available, stock_value FROM bi_stock_levels")
            assert [tuple(map(str, r)) for r in cursor.fetchall()] == [("10", "3", "7", "25.00")]
    with tenant_context(tenant_b.tenant):
        assert _count("bi_orders") == 2
    assert _count("bi_orders") == 0  # no tenant, no rows
    for view in bi.BI_VIEWS:  # every registered view exists and reads
        _count(view)


def test_views_leave_out_personal_data(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_name LIKE 'bi\\_%%'")
        columns = {c for _, c in cursor.fetchall()}
    assert columns and not columns & {"receiver_phone", "receiver_name", "receiver_address", "phone_hash", "note"}


@pytest.fixture
def bi_role(transactional_db, tenant_a):
    role, password = bi.bi_role_create(tenant=tenant_a.tenant, name=f"test_{connection.settings_dict['NAME'][-20:]}")
    yield role, password
    bi.bi_role_drop(role=role)


def _connect(role: str, password: str):
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, dbname=s["NAME"], user=role,
                           password=password, autocommit=True)


def test_bi_role_reads_only_its_tenant_and_only_the_views(tenant_a, tenant_b, bi_role):
    role, password = bi_role
    a_ids = _fill(tenant_a, 3, "A")
    _fill(tenant_b, 2, "B")
    with _connect(role, password) as raw:
        ids = [r[0] for r in raw.execute("SELECT order_id FROM bi_orders ORDER BY order_id").fetchall()]
        assert ids == a_ids
        for view in bi.BI_VIEWS:
            raw.execute(f"SELECT * FROM {view} LIMIT 1")
        # the session's settings cannot widen what the role sees
        raw.execute("SELECT set_config('app.tenant_id', %s, false)", [str(tenant_b.tenant.pk)])
        assert raw.execute("SELECT count(*) FROM bi_orders").fetchone()[0] == 0
        raw.execute("SET app.bypass_rls = 'on'")
        assert [r[0] for r in raw.execute("SELECT order_id FROM bi_orders ORDER BY 1").fetchall()] == a_ids
        assert raw.execute("SELECT count(*) FROM bi_members").fetchone()[0] == 1
        # no table, no write
        for table in ("orders_order", "members_member", "finance_voucherline", "finance_ledger_bi",
                      "tenancy_tenant", "auth_user"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                raw.execute(f"SELECT 1 FROM {table} LIMIT 1")
        assert raw.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
        raw.execute("SET default_transaction_read_only = off")
        # bi_aftersales_tickets reads one table: Postgres could write through it, the grant does not
        for statement in ("UPDATE bi_aftersales_tickets SET status = 'closed'", "DELETE FROM bi_aftersales_tickets",
                          "INSERT INTO bi_aftersales_tickets (ticket_id) VALUES (1)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                raw.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute("CREATE TABLE bi_sneak (id int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute("SET ROLE erp_app")


def test_bi_role_command(transactional_db, tenant_a, capsys):
    name = f"cmd_{connection.settings_dict['NAME'][-20:]}"
    role = bi.bi_role_name(tenant_id=tenant_a.tenant.pk, name=name)
    call_command("bi_role", "create", "--tenant", tenant_a.tenant.slug, "--name", name)
    try:
        out = capsys.readouterr().out
        password = out.split("password: ")[1].split()[0]
        with _connect(role, password) as raw:
            assert raw.execute("SELECT count(*) FROM bi_orders").fetchone()[0] == 0
        call_command("bi_role", "list", "--tenant", tenant_a.tenant.slug)
        assert role in capsys.readouterr().out
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="exists already"):
            call_command("bi_role", "create", "--tenant", tenant_a.tenant.slug, "--name", name)
        call_command("bi_role", "password", role, "--password", "another-long-secret")
        with _connect(role, "another-long-secret") as raw:
            raw.execute("SELECT 1 FROM bi_members")
    finally:
        call_command("bi_role", "drop", role)
    assert role not in [r.name for r in bi.bi_roles()]


def test_api_pages_by_key_and_filters(tenant_a, tenant_b):
    a_ids = _fill(tenant_a, 5, "A")
    _fill(tenant_b, 4, "B")
    api = tenant_a.api(Role.OPERATOR)
    seen, url = [], "/api/v1/analytics/bi/orders/?limit=2"
    while url:
        res = api.get(url)
        assert res.status_code == 200, res.content
        body = res.json()
        seen += [r["order_id"] for r in body["rows"]]
        assert all("tenant_id" not in r and "receiver_phone" not in r for r in body["rows"])
        url = body["next"]
    assert seen == a_ids
    first = api.get("/api/v1/analytics/bi/orders/?limit=1").json()
    assert first["rows"][0]["paid_amount"] == "10.50" and first["next_after"] == a_ids[0]
    with tenant_context(tenant_a.tenant):
        changed = Order.objects.get(pk=a_ids[3])
        changed.operator_note = "checked"
        changed.save(update_fields=["operator_note", "updated_at"])
    since = api.get(f"/api/v1/analytics/bi/orders/?changed_since={first['as_of']}".replace("+", "%2B")).json()
    assert [r["order_id"] for r in since["rows"]] == [a_ids[3]]
    assert api.get("/api/v1/analytics/bi/orders/?changed_before=2000-01-01").json()["rows"] == []
    assert api.get("/api/v1/analytics/bi/stock-levels/").json()["rows"][0]["available"] == 7
    assert len(api.get("/api/v1/analytics/bi/").json()) == len(bi.DATASETS)


def test_api_refuses_bad_input_and_roles(tenant_a):
    api = tenant_a.api(Role.FINANCE)
    for query in ("limit=0", "limit=5000", "after=x", "changed_since=yesterday"):
        res = api.get(f"/api/v1/analytics/bi/orders/?{query}")
        assert res.status_code == 400, query
        assert query.split("=")[0] in res.json()["errors"]
    assert api.get("/api/v1/analytics/bi/nothing/").status_code == 404
    assert api.get("/api/v1/analytics/bi/finance-ledger/").status_code == 200
    assert tenant_a.api(Role.OPERATOR).get("/api/v1/analytics/bi/finance-ledger/").status_code == 403
    assert tenant_a.api(Role.WAREHOUSE).get("/api/v1/analytics/bi/orders/").status_code == 403
    assert tenant_a.api(Role.OWNER).get("/api/v1/analytics/bi/members/").status_code == 200
