"""Locks held across many transactions, safe behind a transaction pooler.

A session advisory lock (``pg_advisory_lock``) belongs to a server session; behind PgBouncer in
transaction mode each transaction of ours may run on another one, so the lock would be taken on
one session, "released" on another (a no-op with a warning) and stay held for good. Here the lock
is a transaction lock (``pg_try_advisory_xact_lock``) taken by a transaction of a connection of
its own, kept open for the duration of the block: the pooler keeps a transaction on one server
session, so the lock holds exactly as long as the block, and ends when the block ends, when the
process dies (the connection closes and the transaction aborts) or when the server kills it.
The work inside the block uses the ordinary connection and commits as often as it likes.

It conflicts with session advisory locks of the same key, so older holders are still excluded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger("erp.db")


@contextmanager
def advisory_lock(key: int, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[bool]:
    """Yield True while this block holds the advisory lock ``key`` (a signed 64-bit integer),
    False at once when another session holds it."""
    holder = connections.create_connection(using)  # same settings, a connection of its own
    try:
        holder.ensure_connection()
        raw = holder.connection
        raw.autocommit = False  # the first statement opens the transaction that holds the lock
        got = bool(raw.execute("SELECT pg_try_advisory_xact_lock(%s)", [key]).fetchone()[0])
        yield got
    finally:
        try:
            if holder.connection is not None:
                holder.connection.rollback()  # ends the transaction: the lock goes with it
        except Exception:  # noqa: BLE001 - a dead connection released it already
            logger.warning("could not end the lock transaction", exc_info=True)
        holder.close()
