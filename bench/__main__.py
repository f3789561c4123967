"""Run every benchmark module (or the ones named): ``python -m bench [inventory integrations ...]``.

Benchmarks need Postgres (DATABASE_URL). Each runs against a scratch database it creates and drops
(BENCH_DATABASE_NAME, default erp_bench), never the one you work in.
"""

import argparse
import importlib
import os
import pkgutil
import sys

import django


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="benchmark modules to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke run")
    parser.add_argument("--api-only", action="store_true", help="orders: skip the ingestion part")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("make bench needs PostgreSQL: set DATABASE_URL (docker compose up -d postgres)", file=sys.stderr)
        return 1
    from bench.harness import drop_bench_database, use_bench_database

    use_bench_database()
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erp.settings")
        django.setup()
        from bench.harness import prepare_database

        prepare_database()
        import bench

        names = args.names or sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in ("harness",))
        for name in names:
            module = importlib.import_module(f"bench.{name}")
            print(f"\n== {name} ==", flush=True)
            module.run(args)
    finally:
        if not os.environ.get("BENCH_KEEP_DATABASE"):
            drop_bench_database()  # the scratch database goes with the run (BENCH_KEEP_DATABASE=1 keeps it)
    return 0


if __name__ == "__main__":
    sys.exit(main())
