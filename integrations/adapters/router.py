"""Base of the router-style open-platform adapters (one URL, ``method`` param, signed)."""

from __future__ import annotations

import logging

from .base import AdapterError, Page, PlatformAdapter
from .http import HttpClient

logger = logging.getLogger("integrations.adapters")


class RouterAdapter(PlatformAdapter):
    default_url = ""
    json_body = False

    @classmethod
    def for_shop(cls, shop, **client_options):
        url = shop.api_base_url or cls.default_url
        creds = shop.credentials or {}
        app_key = creds.get("app_key") or creds.get("client_id") or ""
        client = HttpClient(url, rate_key=f"{cls.platform}:{app_key}:{url}", **client_options)
        return cls(shop, client=client)

    def __init__(self, shop, *, client=None):
        super().__init__(shop, client=client)
        creds = (shop.credentials or {}) if shop is not None else {}
        self.app_key = str(creds.get("app_key") or creds.get("client_id") or "")
        self.app_secret = str(creds.get("app_secret") or creds.get("client_secret") or "")
        self.access_token = str(creds.get("access_token") or creds.get("session") or "")

    # -- subclasses ----------------------------------------------------------------------------
    def system_params(self, method: str) -> dict:
        raise NotImplementedError

    def error_of(self, data: dict) -> tuple[str, str, bool] | None:
        """(code, message, retryable) when ``data`` is an error answer, else None."""
        raise NotImplementedError

    # -- calling -------------------------------------------------------------------------------
    def call(self, method: str, params: dict | None = None) -> dict:
        if self.client is None:
            raise AdapterError(f"{self.platform}: no HTTP client (adapter built without a shop URL)")
        if not (self.app_key and self.app_secret and self.access_token):
            raise AdapterError(f"{self.platform}: shop {self.shop.code} has incomplete credentials", code="credentials")
        payload = self.build_params(method, params or {})

        def retryable(data):
            error = self.error_of(data)
            return f"{error[0]} {error[1]}" if error and error[2] else None

        data = self.client.call(payload, json_body=self.json_body, retryable=retryable)
        error = self.error_of(data)
        if error:
            code, message, transient = error
            raise AdapterError(f"{self.platform} {method}: {code} {message}", code=str(code), retryable=transient)
        return data

    def build_params(self, method: str, params: dict) -> dict:
        from .common import signed

        return signed({**self.system_params(method), **params}, self.app_secret)

    def page_of(self, items: list, total: int, page: int, malformed: int = 0) -> Page:
        return Page(items=items, total=int(total or 0), page=page, page_size=self.page_size, malformed=malformed)

    def map_many(self, mapper, raws: list) -> tuple[list, int]:
        items, bad = [], 0
        for raw in raws:
            try:
                items.append(mapper(raw))
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                bad += 1
                logger.warning("unmappable platform record", extra={"platform": self.platform, "error": str(exc),
                                                                    "record": str(raw)[:500]})
        return items, bad
