"""Say in one line what is missing (and how to start it) when Postgres or Redis does not answer."""

import os
import sys
from urllib.parse import urlparse


def _check_postgres(url: str) -> str | None:
    import psycopg

    parsed = urlparse(url)
    try:
        psycopg.connect(host=parsed.hostname or "127.0.0.1", port=parsed.port or 5432, user=parsed.username or "postgres",
                        password=parsed.password, dbname="postgres", connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {parsed.hostname}:{parsed.port or 5432} does not answer ({exc.__class__.__name__})"
    return None


def _check_redis(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis at {url} does not answer ({exc.__class__.__name__})"
    return None


def main() -> int:
    problems = []
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        problems.append(_check_postgres(os.environ["DATABASE_URL"]))
    if os.environ.get("REDIS_URL"):
        problems.append(_check_redis(os.environ["REDIS_URL"]))
    problems = [p for p in problems if p]
    if problems:
        print("; ".join(problems) + ". Start them with: docker compose up -d postgres redis", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
