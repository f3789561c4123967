"""A tiny signed client for the mock (and real-shaped) platform routers, for tests, demos and debugging.

    client = PlatformClient(base_url, platform="taobao", app_key=..., app_secret=..., token=...)
    status, body = client.call("taobao.trades.sold.increment.get", start_modified=..., end_modified=...)
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from urllib.parse import urlencode

from .scenario import fmt_cst
from .signing import signed

PATHS = {"taobao": "/taobao/router/rest", "jd": "/jd/routerjson", "pdd": "/pdd/api/router"}


class PlatformClient:
    def __init__(self, base_url: str, *, platform: str, app_key: str, app_secret: str, token: str,
                 timeout: float = 10.0):
        self.url = base_url.rstrip("/") + PATHS[platform]
        self.platform, self.app_key, self.app_secret, self.token, self.timeout = (
            platform, app_key, app_secret, token, timeout)

    @classmethod
    def for_shop(cls, base_url: str, shop: dict, **kwargs) -> PlatformClient:
        return cls(base_url, platform=shop["platform"], app_key=shop["app_key"], app_secret=shop["app_secret"],
                   token=shop["access_token"], **kwargs)

    def params(self, method: str, business: dict) -> dict:
        now = fmt_cst(datetime.now(UTC))
        if self.platform == "taobao":
            base = {"method": method, "app_key": self.app_key, "session": self.token, "timestamp": now,
                    "format": "json", "v": "2.0", "sign_method": "md5", **business}
        elif self.platform == "jd":
            base = {"method": method, "app_key": self.app_key, "access_token": self.token, "timestamp": now,
                    "v": "2.0", "360buy_param_json": json.dumps(business, ensure_ascii=False)}
        else:
            base = {"type": method, "client_id": self.app_key, "access_token": self.token,
                    "timestamp": str(int(time.time())), "data_type": "JSON", **business}
        return signed(base, self.app_secret)

    def call(self, method: str, *, timeout: float | None = None, tamper: bool = False, **business):
        """POST one signed call. Returns (http status, parsed JSON or raw text). ``tamper`` breaks the sign."""
        params = self.params(method, business)
        if tamper:
            params["sign"] = "0" * 32
        return post_form(self.url, params, timeout=timeout or self.timeout)


def post_form(url: str, params: dict, *, timeout: float = 10.0):
    data = urlencode(params).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _decode(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _decode(exc.read())


def control(base_url: str, name: str, body: dict | None = None, *, method: str | None = None, timeout: float = 10.0,
            **query):
    """Call a control endpoint (POST when a body is given, else GET)."""
    url = f"{base_url.rstrip('/')}/_control/{name}"
    if query:
        url += "?" + urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _decode(response.read())
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"control {name} failed: {exc.code} {exc.read()[:300]!r}") from None


def _decode(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")
