"""The import-linter contracts in pyproject.toml stay complete: every top-level module of a domain
app is either public (services, selectors, ports, events) or protected by its app's contract, so a
module added later is private until someone decides otherwise. `lint-imports` checks the imports."""

import pkgutil
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"services", "selectors", "ports", "events"}
DOMAIN_APPS = ["orders", "inventory", "purchasing", "finance", "aftersales", "members", "integrations", "dataimport", "warehouse", "analytics"]


def _config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _contract(contract_id):
    return next(c for c in _config()["contracts"] if c["id"] == contract_id)


def test_every_app_and_the_core_are_analysed():
    assert set(_config()["root_packages"]) == {"erp", *DOMAIN_APPS}
    assert set(_contract("core")["forbidden_modules"]) == set(DOMAIN_APPS)


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_every_private_module_is_protected(app):
    contract = _contract(app)
    assert contract["type"] == "protected"
    assert contract["allowed_importers"] == [app]
    modules = {m.name for m in pkgutil.iter_modules([str(ROOT / app)])}
    private = {f"{app}.{name}" for name in modules - PUBLIC}
    protected = set(contract["protected_modules"])
    assert private - protected == set(), f"add to the {app!r} contract in pyproject.toml (or make it public)"
    assert protected - private == set(), f"the {app!r} contract lists modules that no longer exist"
