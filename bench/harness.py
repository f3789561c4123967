"""Shared benchmark plumbing: a scratch database, timing, and ratio printing."""

import os
import statistics
import time
from contextlib import contextmanager
from urllib.parse import urlparse, urlunparse

_created: list[str] = []  # the scratch databases this process made (dropped by drop_bench_database)


def use_bench_database() -> None:
    """Point DATABASE_URL at a scratch database (recreated) so a bench never touches real data."""
    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = os.environ.get("BENCH_DATABASE_NAME", "erp_bench")
    admin = psycopg.connect(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password,
                            dbname="postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    _created.append(name)
    os.environ["DATABASE_URL"] = urlunparse(url._replace(path=f"/{name}"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")


def drop_bench_database() -> None:
    """Drop the scratch database ``use_bench_database`` made (the bench's connections closed first)."""
    import psycopg

    if not _created:
        return
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 (Django not set up: nothing to close)
        pass
    url = urlparse(os.environ["DATABASE_URL"])
    admin = psycopg.connect(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password,
                            dbname="postgres", autocommit=True)
    while _created:
        admin.execute(f'DROP DATABASE IF EXISTS "{_created.pop()}" WITH (FORCE)')
    admin.close()


def prepare_database() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


@contextmanager
def timer():
    result = {}
    start = time.perf_counter()
    yield result
    result["seconds"] = time.perf_counter() - start


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return p50, p95


def report(label: str, value: float, baseline_label: str, baseline: float, unit: str = "/s", target: float | None = None):
    ratio = value / baseline if baseline else float("nan")
    verdict = ""
    if target is not None:
        verdict = f"  [meets target >= {target:.2f}x]" if ratio >= target else f"  [BELOW target {target:.2f}x]"
    print(f"{label:<48} {value:>12,.1f}{unit}   {baseline_label}: {baseline:>12,.1f}{unit}   ratio {ratio:5.2f}x{verdict}", flush=True)
