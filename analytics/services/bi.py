"""BI access: the read-only ``bi_*`` database views (analytics/migrations/0003_bi_views.py), their
registry, and the tenant-bound login roles a BI tool connects with (``manage.py bi_role``).

A BI role is a Postgres login role named ``erp_bi_t<tenant id>_<name>``: the views admit to it the
rows of that tenant only (the name is what binds it; a role cannot rename itself). It is a member of
the group role ``erp_bi``, which holds SELECT on the views and nothing else: no table, no sequence,
no function of the application. Its sessions are read-only by default
(``default_transaction_read_only``) and carry ``app.tenant_id`` so that the tables' row-level
security, checked as the views' owner, admits the same rows.

Creating roles needs a login user that is a superuser or has CREATEROLE and may grant on the views
(the migrating user does): these functions use their own connection as the login user, never the
application role the request connections switch to.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections

GROUP_ROLE = "erp_bi"
ROLE_PREFIX = "erp_bi_t"
ROLE_RE = re.compile(r"^erp_bi_t(\d+)_([a-z0-9_]+)$")
NAME_RE = re.compile(r"^[a-z0-9_]{1,40}$")


@dataclass(frozen=True)
class Dataset:
    name: str  # API path segment
    view: str  # database view
    key: str  # stable unique id column: the cursor
    changed: str  # timestamp column for incremental pulls (changed_since / changed_before)
    about: str
    app_label: str = ""  # a dataset of this app needs its read roles too (the ledger: finance)


DATASETS: dict[str, Dataset] = {d.name: d for d in [
    Dataset("orders", "bi_orders", "order_id", "updated_at", "orders (one row per order, merged and split ones included)"),
    Dataset("order-lines", "bi_order_lines", "line_id", "order_updated_at", "order lines with their order's status"),
    Dataset("stock-levels", "bi_stock_levels", "stock_level_id", "updated_at", "stock per warehouse and SKU"),
    Dataset("stock-moves", "bi_stock_moves", "move_id", "created_at", "stock moves (append-only)"),
    Dataset("purchase-orders", "bi_purchase_orders", "purchase_order_id", "updated_at", "purchase orders"),
    Dataset("purchase-order-lines", "bi_purchase_order_lines", "po_line_id", "po_updated_at",
            "purchase order lines"),
    Dataset("receipts", "bi_receipts", "receipt_id", "received_at", "goods receipts and supplier returns"),
    Dataset("receipt-lines", "bi_receipt_lines", "receipt_line_id", "received_at", "goods receipt lines"),
    Dataset("aftersales-tickets", "bi_aftersales_tickets", "ticket_id", "updated_at", "after-sales tickets"),
    Dataset("aftersales-ticket-lines", "bi_aftersales_ticket_lines", "ticket_line_id", "ticket_updated_at",
            "after-sales ticket lines"),
    Dataset("members", "bi_members", "member_id", "updated_at", "members with level and RFM scores"),
    Dataset("finance-ledger", "bi_finance_ledger", "line_id", "posted_at", "posted voucher lines",
            app_label="finance"),
]}
BI_VIEWS = tuple(d.view for d in DATASETS.values())


@dataclass(frozen=True)
class BIRole:
    name: str
    tenant_id: int


def bi_role_name(*, tenant_id: int, name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise ValidationError({"name": "Use 1-40 lowercase letters, digits or underscores."})
    return f"{ROLE_PREFIX}{tenant_id}_{name}"


def default_role_suffix(slug: str) -> str:
    return (re.sub(r"[^a-z0-9]+", "_", slug.lower()).strip("_") or "bi")[:40]


def _admin_connection(using: str = DEFAULT_DB_ALIAS):
    """A psycopg connection as the login user (not switched to the application role), autocommit."""
    wrapper = connections[using]
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    raw.autocommit = True
    return raw


def _grant_views(cur) -> None:
    from psycopg import sql

    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [GROUP_ROLE])
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT").format(sql.Identifier(GROUP_ROLE)))
    group = sql.Identifier(GROUP_ROLE)
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(group))
    for view in BI_VIEWS:
        cur.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(view), group))


def bi_roles_grant(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """(Re)create the group role and its SELECT grants on the views (after a migration that replaced one)."""
    with _admin_connection(using) as raw, raw.cursor() as cur:
        _grant_views(cur)


def bi_role_create(*, tenant, name: str | None = None, password: str | None = None,
                   using: str = DEFAULT_DB_ALIAS) -> tuple[str, str]:
    """Create a login role bound to ``tenant``; returns (role name, password). The password is
    stored by Postgres only as its SCRAM hash: show it once."""
    from psycopg import sql

    role = bi_role_name(tenant_id=tenant.pk, name=name or default_role_suffix(tenant.slug))
    password = password or secrets.token_urlsafe(24)
    if len(password) < 12:
        raise ValidationError({"password": "Use at least 12 characters."})
    with _admin_connection(using) as raw, raw.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cur.fetchone() is not None:
            raise ValidationError({"name": f"The role {role} exists already (drop it or rotate its password)."})
        database = raw.info.dbname
        _grant_views(cur)
        ident = sql.Identifier(role)
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS "
                            "NOREPLICATION INHERIT IN ROLE {}").format(ident, sql.Literal(password),
                                                                        sql.Identifier(GROUP_ROLE)))
        for setting, value in (("app.tenant_id", str(tenant.pk)), ("default_transaction_read_only", "on")):
            cur.execute(sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
                ident, sql.Identifier(database), sql.SQL(setting), sql.Literal(value)))
    return role, password


def bi_role_password(*, role: str, password: str | None = None, using: str = DEFAULT_DB_ALIAS) -> str:
    from psycopg import sql

    if not ROLE_RE.match(role):
        raise ValidationError({"role": "Not a BI role name (erp_bi_t<tenant id>_<name>)."})
    password = password or secrets.token_urlsafe(24)
    with _admin_connection(using) as raw, raw.cursor() as cur:
        if not _exists(cur, role):
            raise ValidationError({"role": f"No role {role}."})
        cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
    return password


def bi_role_drop(*, role: str, using: str = DEFAULT_DB_ALIAS) -> None:
    from psycopg import sql

    if not ROLE_RE.match(role):
        raise ValidationError({"role": "Not a BI role name (erp_bi_t<tenant id>_<name>)."})
    with _admin_connection(using) as raw, raw.cursor() as cur:
        if not _exists(cur, role):
            raise ValidationError({"role": f"No role {role}."})
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role])
        cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def bi_roles(*, tenant_id: int | None = None, using: str = DEFAULT_DB_ALIAS) -> list[BIRole]:
    with _admin_connection(using) as raw, raw.cursor() as cur:
        cur.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'erp\_bi\_t%' ORDER BY rolname")
        names = [row[0] for row in cur.fetchall()]
    out = []
    for name in names:
        match = ROLE_RE.match(name)
        if match and (tenant_id is None or int(match.group(1)) == tenant_id):
            out.append(BIRole(name=name, tenant_id=int(match.group(1))))
    return out


def _exists(cur, role: str) -> bool:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cur.fetchone() is not None
