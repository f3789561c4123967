"""Helpers for tests that drive the mock platforms (no Django needed).

    with mock_harness(seed=7) as h:
        h.mock.generate(3, shop="tb-main")
        status, body = h.client("tb-main").call("taobao.trades.sold.increment.get", **h.tb_window(hours=1))
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from .client import PlatformClient, control
from .scenario import DEFAULT_CONFIG, fmt_cst
from .server import running_mock_platforms

START = "2025-01-06T02:00:00Z"  # 10:00 in China
QUIET = {"orders_per_hour": 0, "promotions": False}  # nothing happens unless a test makes it happen


class Harness:
    def __init__(self, url):
        self.url = url
        self.mock = url.mock

    def reset(self, seed: int = 1, *, start_time: str = START, **config) -> Harness:
        self.mock.stop_realtime()
        self.mock.reset(seed=seed, start_time=start_time, config={**DEFAULT_CONFIG, **QUIET, **config})
        return self

    def client(self, shop: str, **kwargs) -> PlatformClient:
        return PlatformClient.for_shop(self.url, self.mock.world.shops[shop].public(), **kwargs)

    def control(self, name: str, body: dict | None = None, **query):
        return control(self.url, name, body, **query)

    @property
    def now(self):
        return self.mock.world.now

    def tb_window(self, *, minutes: float = 0, hours: float = 0, end_offset_minutes: float = 0) -> dict:
        end = self.now + timedelta(minutes=end_offset_minutes)
        start = end - timedelta(minutes=minutes, hours=hours)
        return {"start_modified": fmt_cst(start), "end_modified": fmt_cst(end)}

    def pdd_window(self, *, minutes: float = 30) -> dict:
        end = self.now
        return {"start_updated_at": int((end - timedelta(minutes=minutes)).timestamp()),
                "end_updated_at": int(end.timestamp())}

    def jd_window(self, *, hours: float = 1) -> dict:
        return {"start_date": fmt_cst(self.now - timedelta(hours=hours)), "end_date": fmt_cst(self.now)}


@contextlib.contextmanager
def mock_harness(seed: int = 1, **config):
    with running_mock_platforms(seed=seed, start_time=START, config={**QUIET, **config}) as url:
        yield Harness(url)
