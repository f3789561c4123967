"""docs/ARCHITECTURE.md's events table names every subscription the apps make at start-up, and only those."""

import re
from pathlib import Path

from erp import events

DOC = Path(__file__).resolve().parent.parent / "docs" / "ARCHITECTURE.md"


def _documented() -> dict[str, set[str]]:
    table = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`([a-z_.]+)`", cells[0])
        handlers = set(re.findall(r"`([a-z_]+\.services\.[a-z_]+)`", cells[2]))
        for name in names:
            table[name] = handlers
    return table


def _subscribed() -> dict[str, set[str]]:
    found = {}
    for name, handlers in events._handlers.items():
        if handlers:
            found[name] = {f"{h.__module__.split('.')[0]}.services.{h.__name__}" for h in handlers}
    return found


def test_the_events_table_is_the_subscriptions():
    documented, subscribed = _documented(), _subscribed()
    for name, handlers in subscribed.items():
        assert documented.get(name) is not None, f"event {name!r} is not in the table of docs/ARCHITECTURE.md"
        assert handlers <= documented[name], f"{name}: {sorted(handlers - documented[name])} not documented"
    for name, handlers in documented.items():
        assert handlers <= subscribed.get(name, set()), f"{name}: {sorted(handlers - subscribed.get(name, set()))} documented, not subscribed"
