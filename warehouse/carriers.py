"""Carrier adapter interface (electronic waybills) and the built-in simulated carrier.

An adapter gets a waybill number and label for a parcel, cancels it, and pulls tracking events.
The simulated carrier (Cainiao / SF style) hands out numbers from the account's range (the caller
passes the number it reserved under a row lock), builds the label data, and reports tracking
events that follow the days since the parcel was shipped; about one parcel in seven stops moving
after it leaves the sorting centre (a stuck parcel)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta


class CarrierError(Exception):
    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class WaybillRequest:
    number: int
    order_no: str
    receiver_name: str
    receiver_phone: str
    receiver_province: str
    receiver_city: str
    sender: str
    weight_g: int


@dataclass(frozen=True)
class Waybill:
    tracking_no: str
    label: dict


@dataclass(frozen=True)
class Tracking:
    occurred_at: datetime
    code: str
    description: str
    location: str = ""


class CarrierAdapter:
    owns_numbers = False  # True: the carrier hands out the numbers from its own range (not our account's)

    def waybill_ship(self, tracking_no: str) -> None:
        """The parcel is handed to the courier (a carrier service starts tracking then)."""

    def waybill_get(self, request: WaybillRequest) -> Waybill:  # pragma: no cover - interface
        raise NotImplementedError

    def waybill_cancel(self, tracking_no: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def tracking_pull(self, tracking_no: str, *, shipped_at: datetime, now: datetime) -> list[Tracking]:
        raise NotImplementedError  # pragma: no cover - interface


def _mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else phone


STAGES = [  # (hours after shipping, code, description)
    (0, "collected", "Collected by the courier"),
    (8, "departed", "Left the sorting centre"),
    (30, "arrived", "Arrived at the destination city"),
    (48, "delivering", "Out for delivery"),
    (56, "delivered", "Delivered, signed by the receiver"),
]


class SimulatedCarrier(CarrierAdapter):
    def __init__(self, carrier_code: str):
        self.prefix = "".join(ch for ch in carrier_code.upper() if ch.isalnum())[:4] or "SIM"

    def tracking_no(self, number: int) -> str:
        body = f"{number:010d}"
        check = sum((i % 2 + 1) * int(d) for i, d in enumerate(body)) % 10
        return f"{self.prefix}{body}{check}"

    def waybill_get(self, request: WaybillRequest) -> Waybill:
        if not request.receiver_province:
            raise CarrierError("the receiver's province is missing")
        tracking = self.tracking_no(request.number)
        route = hashlib.sha1(f"{request.receiver_province}{request.receiver_city}".encode()).hexdigest()[:3].upper()
        label = {"carrier": self.prefix, "tracking_no": tracking, "route_code": f"{route}-{request.number % 100:02d}",
                 "order_no": request.order_no, "receiver": request.receiver_name,
                 "receiver_phone": _mask(request.receiver_phone),
                 "receiver_address": f"{request.receiver_province} {request.receiver_city}".strip(),
                 "sender": request.sender, "weight_g": request.weight_g}
        return Waybill(tracking_no=tracking, label=label)

    def waybill_cancel(self, tracking_no: str) -> bool:
        return tracking_no.startswith(self.prefix)

    def stuck(self, tracking_no: str) -> bool:
        return int(hashlib.sha1(tracking_no.encode()).hexdigest(), 16) % 7 == 0

    def tracking_pull(self, tracking_no: str, *, shipped_at: datetime, now: datetime) -> list[Tracking]:
        stages = STAGES[:2] if self.stuck(tracking_no) else STAGES
        return [Tracking(occurred_at=shipped_at + timedelta(hours=h), code=code, description=text)
                for h, code, text in stages if shipped_at + timedelta(hours=h) <= now]


class HttpCarrier(CarrierAdapter):
    """A Cainiao / SF style e-waybill service over HTTP (integrations.ports.carrier_client): the
    carrier keeps the number range of the account, builds the print data, reports the tracking.
    Transient failures (HTTP 5xx, rate limits, timeouts) are retried by the client; what still
    fails raises CarrierError (``retryable`` when a later try may pass)."""

    owns_numbers = True

    def __init__(self, account, client=None):
        from integrations import ports as integration_ports

        creds = account.credentials or {}
        self.errors = integration_ports.WmsError
        self.client = client or integration_ports.carrier_client(
            base_url=account.api_base_url, app_key=str(creds.get("app_key") or account.code),
            app_secret=str(creds.get("app_secret") or ""))

    def _call(self, fn, **kwargs):
        try:
            return fn(**kwargs)
        except self.errors as exc:
            raise CarrierError(str(exc), retryable=exc.retryable) from exc

    def waybill_get(self, request: WaybillRequest) -> Waybill:
        code, printed = self._call(self.client.waybill_get, order_no=request.order_no, sender=request.sender,
                                   weight_g=request.weight_g,
                                   receiver={"name": request.receiver_name, "phone": request.receiver_phone,
                                             "province": request.receiver_province, "city": request.receiver_city})
        label = {"carrier": printed.get("carrier", ""), "tracking_no": code, "route_code": printed.get("routeCode", ""),
                 "sortation": printed.get("sortation", ""), "order_no": request.order_no,
                 "receiver": printed.get("receiver", request.receiver_name),
                 "receiver_phone": printed.get("receiverPhone", _mask(request.receiver_phone)),
                 "receiver_address": printed.get("receiverAddress", ""), "sender": request.sender,
                 "weight_g": request.weight_g}
        return Waybill(tracking_no=code, label=label)

    def waybill_cancel(self, tracking_no: str) -> bool:
        return bool(self._call(self.client.waybill_cancel, waybill_code=tracking_no))

    def waybill_ship(self, tracking_no: str) -> None:
        self._call(self.client.waybill_ship, waybill_code=tracking_no)

    def tracking_pull(self, tracking_no: str, *, shipped_at: datetime, now: datetime) -> list[Tracking]:
        rows = self._call(self.client.trace, waybill_code=tracking_no)
        out = []
        for row in rows:
            try:
                at = datetime.fromisoformat(str(row.get("time")))
            except ValueError:
                continue
            out.append(Tracking(occurred_at=at, code=str(row.get("action") or "")[:32],
                                description=str(row.get("desc") or "")[:300], location=str(row.get("city") or "")[:100]))
        return out


def adapter_for(account) -> CarrierAdapter:
    """The account's carrier service: over HTTP when it has an API base URL, else the built-in simulation."""
    if account.api_base_url:
        return HttpCarrier(account)
    return SimulatedCarrier(account.carrier_code)
