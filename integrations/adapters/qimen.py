"""QiMen (奇门) style client for third-party warehouses (WMS) and the Cainiao / SF style e-waybill
carrier client: both sign like TOP (md5 over the system parameters plus the JSON ``body``) and
answer ``{"response": {"flag": "success" | "failure", "code", "message", ...}}``.

Transport through adapters.http.HttpClient: HTTP 429/5xx, timeouts, dropped connections and the
services' rate-limit code are retried with backoff; anything else that fails raises WmsError /
the carrier's error with ``retryable`` telling the caller whether a later try may pass. Other apps
reach these through integrations.ports (wms_client, carrier_client)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .base import AdapterError
from .common import signed
from .http import HttpClient

RETRY_CODES = {"isv.rate-limit", "isp.service-unavailable", "isp.top-remote-connection-timeout"}


class WmsError(Exception):
    def __init__(self, message: str, *, code: str = "", retryable: bool = False):
        super().__init__(message)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class WmsLine:
    item_code: str
    quantity: int
    plan: int = 0


@dataclass(frozen=True)
class WmsConfirmation:
    """One confirmation from the WMS (deliveryorder.confirm / entryorder.confirm)."""

    confirm_id: int
    order_code: str
    wms_order_id: str
    status: str
    lines: tuple[WmsLine, ...]
    logistics_code: str = ""
    express_code: str = ""
    raw: dict = field(default_factory=dict, compare=False, hash=False)


class _SignedClient:
    path = ""

    def __init__(self, *, base_url: str, app_key: str, app_secret: str, extra: dict | None = None,
                 http: HttpClient | None = None, sleep=time.sleep):
        self.app_key, self.app_secret, self.extra = app_key, app_secret, dict(extra or {})
        self.http = http or HttpClient(base_url.rstrip("/") + self.path, rate_key=f"{self.path}:{app_key}", sleep=sleep)

    def call(self, method: str, body: dict) -> dict:
        params = {"method": method, "app_key": self.app_key, **self.extra, "format": "json", "v": "2.0",
                  "sign_method": "md5", "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                  "body": json.dumps(body, ensure_ascii=False)}
        try:
            data = self.http.call(signed(params, self.app_secret), json_body=True, retryable=_retry_reason)
        except AdapterError as exc:
            raise WmsError(str(exc), code="transport", retryable=True) from exc
        response = data.get("response") if isinstance(data, dict) else None
        if not isinstance(response, dict):
            raise WmsError(f"{method}: no response object in the answer", retryable=True)
        if response.get("flag") != "success":
            code = str(response.get("code") or "")
            raise WmsError(f"{method}: {code} {response.get('message') or ''}".strip(), code=code,
                           retryable=code in RETRY_CODES)
        return response


def _retry_reason(data: dict) -> str | None:
    response = data.get("response") if isinstance(data, dict) else None
    if isinstance(response, dict) and response.get("flag") != "success" and response.get("code") in RETRY_CODES:
        return f"{response.get('code')}: {response.get('message') or ''}"
    return None


def _confirmation(row: dict, code_key: str, id_key: str) -> WmsConfirmation:
    return WmsConfirmation(
        confirm_id=int(row["confirmId"]), order_code=str(row.get(code_key) or ""), wms_order_id=str(row.get(id_key) or ""),
        status=str(row.get("status") or ""), logistics_code=str(row.get("logisticsCode") or ""),
        express_code=str(row.get("expressCode") or ""), raw=dict(row),
        lines=tuple(WmsLine(item_code=str(ln.get("itemCode") or ""), quantity=int(ln.get("actualQty") or 0),
                            plan=int(ln.get("planQty") or 0)) for ln in row.get("orderLines") or []))


class QimenWmsClient(_SignedClient):
    """One owner (customerId) at one WMS."""

    path = "/qimen"

    def __init__(self, *, base_url: str, app_key: str, app_secret: str, customer_id: str, **kwargs):
        super().__init__(base_url=base_url, app_key=app_key, app_secret=app_secret,
                         extra={"customerId": customer_id}, **kwargs)

    def deliveryorder_create(self, *, code: str, warehouse_code: str, lines: list[WmsLine], receiver: dict,
                             logistics_code: str = "") -> str:
        response = self.call("deliveryorder.create", {
            "deliveryOrder": {"deliveryOrderCode": code, "warehouseCode": warehouse_code, "orderType": "JYCK",
                              "logisticsCode": logistics_code, "receiverInfo": receiver},
            "orderLines": [{"itemCode": ln.item_code, "planQty": ln.quantity} for ln in lines]})
        return str(response.get("deliveryOrderId") or "")

    def deliveryorder_confirm(self, *, since_id: int = 0, ack: list[int] | None = None,
                              page_size: int = 50) -> tuple[list[WmsConfirmation], bool]:
        response = self.call("deliveryorder.confirm", {"sinceId": since_id, "ack": list(ack or []),
                                                       "pageSize": page_size})
        return ([_confirmation(r, "deliveryOrderCode", "deliveryOrderId") for r in response.get("confirms") or []],
                bool(response.get("hasNext")))

    def entryorder_create(self, *, code: str, warehouse_code: str, lines: list[WmsLine]) -> str:
        response = self.call("entryorder.create", {
            "entryOrder": {"entryOrderCode": code, "warehouseCode": warehouse_code, "orderType": "CGRK"},
            "orderLines": [{"itemCode": ln.item_code, "planQty": ln.quantity} for ln in lines]})
        return str(response.get("entryOrderId") or "")

    def entryorder_confirm(self, *, since_id: int = 0, ack: list[int] | None = None,
                           page_size: int = 50) -> tuple[list[WmsConfirmation], bool]:
        response = self.call("entryorder.confirm", {"sinceId": since_id, "ack": list(ack or []),
                                                    "pageSize": page_size})
        return ([_confirmation(r, "entryOrderCode", "entryOrderId") for r in response.get("confirms") or []],
                bool(response.get("hasNext")))

    def inventory_query(self, *, item_codes: list[str] | None = None) -> dict[str, int]:
        response = self.call("inventory.query", {"criteriaList": [{"itemCode": c} for c in item_codes or []]})
        out: dict[str, int] = {}
        for row in response.get("items") or []:
            code = str(row.get("itemCode") or "")
            out[code] = out.get(code, 0) + int(row.get("quantity") or 0)
        return out

    def order_cancel(self, *, code: str) -> None:
        self.call("order.cancel", {"orderCode": code, "orderType": "JYCK"})


class CainiaoCarrierClient(_SignedClient):
    """An e-waybill account at a Cainiao / SF style carrier service."""

    path = "/carrier"

    def waybill_get(self, *, order_no: str, receiver: dict, sender: str, weight_g: int) -> tuple[str, dict]:
        response = self.call("cainiao.waybill.ii.get", {"orderNo": order_no, "receiver": receiver, "sender": sender,
                                                        "weightG": weight_g})
        return str(response["waybillCode"]), dict(response.get("printData") or {})

    def waybill_cancel(self, *, waybill_code: str) -> bool:
        try:
            self.call("cainiao.waybill.ii.cancel", {"waybillCode": waybill_code})
        except WmsError as exc:
            if exc.code in ("WAYBILL_COLLECTED", "WAYBILL_NOT_FOUND"):
                return False
            raise
        return True

    def waybill_ship(self, *, waybill_code: str) -> None:
        self.call("cainiao.waybill.ii.ship", {"waybillCode": waybill_code})

    def trace(self, *, waybill_code: str) -> list[dict]:
        return list(self.call("logistics.trace.search", {"waybillCode": waybill_code}).get("traces") or [])
