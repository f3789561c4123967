"""A small HTTP client for the platform routers: keep-alive, client-side rate limit, retries.

Retries 429, 5xx, timeouts, dropped connections and non-JSON bodies with exponential backoff and
full jitter (honouring ``Retry-After``), and whatever else the adapter's ``retryable(data)`` says is
transient (a platform's rate-limit code inside an HTTP 200). Stdlib only (http.client), one
connection per client, reused across calls.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from .base import AdapterError

logger = logging.getLogger("integrations.http")


def http_settings() -> dict:
    defaults = {"timeout": 10.0, "max_attempts": 6, "backoff_base": 0.5, "backoff_max": 20.0, "qps": 50.0}
    return {**defaults, **getattr(settings, "INTEGRATIONS_HTTP", {})}


class RateLimiter:
    """Token bucket shared by every client of one key (platform + app) in this process."""

    _buckets: dict[str, RateLimiter] = {}
    _lock = threading.Lock()

    def __init__(self, qps: float):
        self.qps = qps
        self.tokens = qps
        self.updated = time.monotonic()
        self.mutex = threading.Lock()

    @classmethod
    def for_key(cls, key: str, qps: float) -> RateLimiter:
        with cls._lock:
            bucket = cls._buckets.get(key)
            if bucket is None or bucket.qps != qps:
                bucket = cls._buckets[key] = cls(qps)
            return bucket

    def acquire(self, sleep=time.sleep) -> None:
        if not self.qps or self.qps <= 0:
            return
        while True:
            with self.mutex:
                now = time.monotonic()
                self.tokens = min(self.qps, self.tokens + (now - self.updated) * self.qps)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.qps
            sleep(wait)


class Transient(Exception):
    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class HttpClient:
    def __init__(self, url: str, *, rate_key: str = "", timeout: float | None = None, max_attempts: int | None = None,
                 backoff_base: float | None = None, backoff_max: float | None = None, qps: float | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        conf = http_settings()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AdapterError(f"not an http(s) URL: {url!r}")
        self.url = url
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout if timeout is not None else conf["timeout"]
        self.max_attempts = max_attempts or conf["max_attempts"]
        self.backoff_base = backoff_base if backoff_base is not None else conf["backoff_base"]
        self.backoff_max = backoff_max if backoff_max is not None else conf["backoff_max"]
        self.limiter = RateLimiter.for_key(rate_key or url, qps if qps is not None else conf["qps"])
        self.sleep = sleep
        self._conn: http.client.HTTPConnection | None = None
        self.stats = {"requests": 0, "retries": 0}

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self.host, self.port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _once(self, body: bytes, content_type: str) -> dict:
        self.limiter.acquire(self.sleep)
        self.stats["requests"] += 1
        conn = self._connection()
        try:
            conn.request("POST", self.path, body=body, headers={"Content-Type": content_type, "Accept": "application/json"})
            response = conn.getresponse()
            raw = response.read()
        except TimeoutError as exc:
            self.close()
            raise Transient(f"timeout after {self.timeout}s: {exc}")
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            self.close()
            raise Transient(f"connection error: {type(exc).__name__}: {exc}")
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        status = response.status
        retry_after = _retry_after(response.getheader("Retry-After"))
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        if status == 429 or status >= 500:
            raise Transient(f"HTTP {status}: {_snippet(raw)}", status=status, retry_after=retry_after)
        if not isinstance(data, dict):
            if status >= 400:
                raise AdapterError(f"HTTP {status}: {_snippet(raw)}", status=status)
            raise Transient(f"HTTP {status} with a body that is not a JSON object: {_snippet(raw)}", status=status)
        if status >= 400 and status != 200:
            data.setdefault("_http_status", status)
        return data

    def call(self, params: dict, *, json_body: bool = False, retryable: Callable[[dict], str | None] | None = None) -> dict:
        """POST ``params`` (form-encoded, or JSON); returns the decoded JSON object.

        ``retryable(data)`` returns a reason when the answer is a transient platform error."""
        if json_body:
            body, content_type = json.dumps(params).encode(), "application/json"
        else:
            body, content_type = urlencode(params).encode(), "application/x-www-form-urlencoded; charset=utf-8"
        last: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                data = self._once(body, content_type)
                reason = retryable(data) if retryable else None
                if reason is None:
                    return data
                last = Transient(reason)
            except Transient as exc:
                last = exc
            if attempt == self.max_attempts:
                break
            self.stats["retries"] += 1
            delay = random.uniform(0, min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1))))
            if isinstance(last, Transient) and last.retry_after:
                delay = max(delay, min(self.backoff_max, last.retry_after))
            logger.info("platform call retried", extra={"url": self.url, "attempt": attempt, "error": str(last),
                                                        "delay": round(delay, 3)})
            self.sleep(delay)
        raise AdapterError(f"gave up after {self.max_attempts} attempts: {last}", retryable=True,
                           status=getattr(last, "status", None))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _snippet(raw: bytes) -> str:
    return raw[:200].decode("utf-8", "replace").replace("\n", " ")
