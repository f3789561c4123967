"""Run tests again under shifted clocks: ``pytest -p tests.clock_plugin --clocks=all <tests>``.

Every collected test runs once per clock (its id gains ``[clock-<name>]``); setup, call and teardown
of each run happen with the process clock moved to that instant by time-machine (``tick=True``:
time goes on from there). The database server's own clock (``now()``) is not moved. `make test` runs
the date-bound tests this way (CLOCK_TESTS in the Makefile): around midnight in Asia/Shanghai
(15:59 and 16:01 UTC), at 23:59 UTC (UTC's and Shanghai's dates differ), and on the last day of a
month and of a year after midnight in Shanghai but before it in UTC.
"""

from __future__ import annotations

import datetime as dt

import pytest

UTC = dt.UTC
CLOCKS: dict[str, dt.datetime] = {
    "1559utc": dt.datetime(2026, 11, 18, 15, 59, tzinfo=UTC),  # 23:59 in Shanghai
    "1601utc": dt.datetime(2026, 11, 18, 16, 1, tzinfo=UTC),  # 00:01 the next day in Shanghai
    "2359utc": dt.datetime(2026, 11, 18, 23, 59, tzinfo=UTC),  # 07:59 the next day in Shanghai
    "month-end": dt.datetime(2026, 11, 30, 16, 30, tzinfo=UTC),  # Dec 1 in Shanghai, Nov 30 in UTC
    "year-end": dt.datetime(2026, 12, 31, 16, 30, tzinfo=UTC),  # 2027-01-01 in Shanghai
}
PARAM = "clock_at"


def pytest_addoption(parser):
    parser.addoption("--clocks", default="", help=(
        "comma-separated names from tests.clock_plugin.CLOCKS (or 'all', or ISO datetimes with an offset): "
        "every collected test runs once under each"))


def selected_clocks(config) -> dict[str, dt.datetime]:
    value = (config.getoption("--clocks", default="") or "").strip()
    if not value:
        return {}
    if value == "all":
        return dict(CLOCKS)
    out = {}
    for part in (p.strip() for p in value.split(",") if p.strip()):
        if part in CLOCKS:
            out[part] = CLOCKS[part]
        else:
            when = dt.datetime.fromisoformat(part)
            if when.tzinfo is None:
                raise pytest.UsageError(f"--clocks: {part!r} needs an offset (e.g. +00:00)")
            out[when.isoformat()] = when
    return out


def pytest_generate_tests(metafunc):
    clocks = selected_clocks(metafunc.config)
    if clocks and PARAM not in metafunc.fixturenames:
        metafunc.fixturenames.append(PARAM)
        metafunc.parametrize(PARAM, list(clocks.values()), ids=[f"clock-{n}" for n in clocks], indirect=True)


@pytest.fixture
def clock_at(request):
    """The instant the clock was moved to for this run (None outside the clock pass)."""
    return getattr(request, "param", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    callspec = getattr(item, "callspec", None)
    when = callspec.params.get(PARAM) if callspec else None
    if when is None:
        yield
        return
    import time_machine

    with time_machine.travel(when, tick=True):
        yield
