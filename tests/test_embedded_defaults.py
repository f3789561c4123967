"""`make run` without DATABASE_URL / REDIS_URL runs on an embedded SQLite file with in-process jobs:
every app's code must work there too, not only on Postgres. This drives the demo seed (shops,
catalogue, stock, orders reviewed, merged, allocated, reserved and shipped through every app's
services) in a subprocess on a fresh SQLite file."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_migrate_and_seed_demo_on_embedded_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "erp.settings", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                "MOCK_PLATFORMS_URL": "http://127.0.0.1:9", "LOG_LEVEL": "ERROR"})

    def manage(*args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    manage("migrate", "--noinput", "-v0")
    out = manage("seed_demo")
    assert "orders:" in out and "shipped" in out and "Demo tenant 'demo' ready" in out
    assert "orders already there" in manage("seed_demo")  # idempotent there too
    manage("verify_stock", "--tenant", "demo")
    # what the stock push job does before it calls a platform: claim the changed (shop, SKU) pairs
    claimed = manage("shell", "-c", (
        "from erp.tenancy.context import tenant_context\n"
        "from erp.tenancy.models import Tenant\n"
        "from integrations.models import Shop\n"
        "from inventory.selectors import dirty_stock_claim, skus_for_platform_lines\n"
        "with tenant_context(Tenant.objects.get(slug='demo')):\n"
        "    shop = Shop.objects.get(code='tb-main')\n"
        "    skus_for_platform_lines(shop=shop, lines=[('1', '2', 'TEE-WHT-M'), ('3', '4', 'NOT-THERE')])\n"
        "    print('claimed', len(dirty_stock_claim(shop=shop)))\n"))
    assert "claimed" in claimed
