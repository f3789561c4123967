"""Reads that may lag a moment go to a streaming replica; everything else to the primary.

The replica is optional (``DATABASE_REPLICA_URL`` adds the ``replica`` alias). Nothing reads there
by accident: only code running under ``read_replica()`` — a context manager and a view decorator
— does, and only for its ORM reads (writes always go to the primary). Raw SQL inside it takes its
connection from ``reader()``. Without a replica, ``read_replica()`` changes nothing.

Used by the reports, the BI endpoints and the dashboards: they read committed history, so a
second of replication lag is harmless, and they are the heavy queries the primary should not carry.
A view that writes and then reads its own write must not use it. Row-level security holds on the
replica as on the primary: the same backend switches to the application role and sets the tenant.

Sign-in, sessions, tokens and tenancy rows are read from the primary even under read_replica(): a
token issued a moment ago may not be on the replica yet.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA_ALIAS = "replica"
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions", "contenttypes", "tenancy", "axes", "admin"})
_reading_replica: ContextVar[bool] = ContextVar("erp_read_replica", default=False)


def replica_configured() -> bool:
    return REPLICA_ALIAS in connections.settings


def read_alias() -> str:
    """The alias reads go to now: the replica under read_replica() when there is one."""
    if _reading_replica.get() and replica_configured():
        return REPLICA_ALIAS
    return DEFAULT_DB_ALIAS


def reader():
    """The connection for raw read-only SQL (``with reader().cursor() as cursor``)."""
    return connections[read_alias()]


@contextmanager
def _replica_reads():
    token = _reading_replica.set(True)
    try:
        yield
    finally:
        _reading_replica.reset(token)


def read_replica(view=None):
    """``with read_replica():`` or ``@read_replica`` on a view function or method: the ORM reads
    inside go to the replica (when configured). Put it inside the login/membership decorators
    (closest to the function), so that authentication has read the primary first."""
    if view is None:
        return _replica_reads()

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        with _replica_reads():
            return view(*args, **kwargs)

    wrapped.reads_replica = True  # declared: tests list the views that read the replica
    return wrapped


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return DEFAULT_DB_ALIAS
        return read_alias()

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


class ReadReplicaMiddleware:
    """Runs the views named in ``settings.READ_REPLICA_VIEWS`` (or decorated with read_replica) under
    read_replica(): the reports, BI feeds and dashboards are declared in one list, not in each view.
    Authentication has already read the primary (the routers keep auth/tenancy reads there anyway)."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.views = frozenset(getattr(settings, "READ_REPLICA_VIEWS", ()))

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            token = getattr(request, "_erp_replica_token", None)
            if token is not None:
                _reading_replica.reset(token)
                request._erp_replica_token = None

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        declared = match is not None and (match.view_name in self.views or match.url_name in self.views)
        if declared or getattr(view_func, "reads_replica", False):
            request._erp_replica_token = _reading_replica.set(True)
        return None

