"""A simulated electronic-waybill carrier service (Cainiao / SF Express style), at ``/carrier``.

System parameters, signature, faults and answers as the QiMen mock (gateway.py: ``method``,
``app_key``, ``timestamp``, ``sign`` over them plus ``body``, the JSON business body; answers
``{"response": {"flag", "code", "message", ...}}``). Each carrier account (``app_key``) has its carrier code and its own
waybill number range; numbers are handed out in order and the range runs out.

Methods:

* ``cainiao.waybill.ii.get``: ``{"orderNo", "receiver": {name, phone, province, city}, "sender",
  "weightG"}`` -> ``waybillCode`` and ``printData`` (route / sorting code, masked phone, addresses).
  The same orderNo twice answers the same waybill (idempotent).
* ``cainiao.waybill.ii.cancel``: ``{"waybillCode"}``; a waybill the courier collected cannot be
  cancelled (``WAYBILL_COLLECTED``).
* ``cainiao.waybill.ii.ship``: ``{"waybillCode"}`` the parcel is handed to the courier now.
* ``logistics.trace.search``: ``{"waybillCode"}`` -> the tracking events so far on the mock's clock:
  collected, departed (+8 h), arrived (+30 h), out for delivery (+48 h), delivered (+56 h); about
  one parcel in seven stops after leaving the sorting centre (stuck).

Faults as the platforms (faults.py): the platform key is ``carrier``, the shop key the app_key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from .gateway import Gateway, GatewayFault

PATH = "/carrier"
METHOD_CLASS = {"cainiao.waybill.ii.get": "write", "cainiao.waybill.ii.cancel": "write",
                "cainiao.waybill.ii.ship": "write", "logistics.trace.search": "read"}
STAGES = [(0, "collected", "Collected by the courier", "pickup station"),
          (8, "departed", "Left the sorting centre", "sorting centre"),
          (30, "arrived", "Arrived at the destination city", "destination hub"),
          (48, "delivering", "Out for delivery", "delivery station"),
          (56, "delivered", "Delivered, signed by the receiver", "")]


class CarrierFault(GatewayFault):
    pass


@dataclass
class CarrierAccountSim:
    app_key: str
    app_secret: str
    carrier_code: str
    range_start: int
    range_end: int
    next_number: int = 0
    waybills: dict = field(default_factory=dict)  # waybillCode -> dict
    by_order: dict = field(default_factory=dict)  # orderNo -> waybillCode

    def public(self) -> dict:
        return {"app_key": self.app_key, "carrier_code": self.carrier_code, "range_start": self.range_start,
                "range_end": self.range_end, "next_number": self.next_number,
                "waybills": {k: {**v, "shipped_at": v["shipped_at"].isoformat() if v["shipped_at"] else None}
                             for k, v in self.waybills.items()}}


def waybill_code(prefix: str, number: int) -> str:
    body = f"{number:010d}"
    check = sum((i % 2 + 1) * int(d) for i, d in enumerate(body)) % 10
    return f"{prefix}{body}{check}"


class CarrierService(Gateway):
    """State of the simulated carrier; lives on MockPlatforms (``mock.carrier``), reset with it."""

    platform = "carrier"
    methods = METHOD_CLASS
    unavailable = "carrier unavailable"

    def __init__(self, mock):
        super().__init__(mock)
        self.accounts: dict[str, CarrierAccountSim] = {}

    def set_account(self, spec: dict) -> dict:
        start = int(spec.get("range_start") or 1)
        account = CarrierAccountSim(app_key=str(spec["app_key"]), app_secret=str(spec.get("app_secret") or "secret"),
                                    carrier_code=str(spec.get("carrier_code") or "SF").upper(), range_start=start,
                                    range_end=int(spec.get("range_end") or start + 999_999), next_number=start)
        self.accounts[account.app_key] = account
        return account.public()

    def caller(self, params: dict) -> tuple[CarrierAccountSim, str, str]:
        account = self.accounts.get(str(params.get("app_key") or ""))
        if account is None:
            raise CarrierFault("isv.invalid-app-key", "unknown app_key")
        return account, account.app_key, account.app_secret

    @staticmethod
    def _waybill(account: CarrierAccountSim, body: dict) -> dict:
        code = str(body.get("waybillCode") or "").strip()
        waybill = account.waybills.get(code)
        if waybill is None:
            raise CarrierFault("WAYBILL_NOT_FOUND", code or "waybillCode")
        return waybill

    def m_cainiao_waybill_ii_get(self, account: CarrierAccountSim, body: dict) -> dict:
        order_no = str(body.get("orderNo") or "").strip()
        receiver = body.get("receiver") or {}
        if not order_no:
            raise CarrierFault("isv.missing-parameter", "orderNo")
        if not str(receiver.get("province") or "").strip():
            raise CarrierFault("isv.invalid-parameter", "the receiver's province is missing")
        if order_no in account.by_order:
            old = account.waybills[account.by_order[order_no]]
            if not old["cancelled"]:
                return {"waybillCode": old["code"], "printData": old["print"]}
        if account.next_number > account.range_end:
            raise CarrierFault("WAYBILL_RANGE_EXHAUSTED", f"the number range of {account.app_key} is used up")
        number, account.next_number = account.next_number, account.next_number + 1
        code = waybill_code(account.carrier_code, number)
        place = f"{receiver.get('province', '')}{receiver.get('city', '')}"
        route = hashlib.sha1(place.encode()).hexdigest()[:3].upper()
        phone = str(receiver.get("phone") or "")
        printed = {"carrier": account.carrier_code, "waybillCode": code, "routeCode": f"{route}-{number % 100:02d}",
                   "sortation": f"{route[:2]}{number % 7}", "orderNo": order_no,
                   "receiver": str(receiver.get("name") or ""),
                   "receiverPhone": phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else phone,
                   "receiverAddress": f"{receiver.get('province', '')} {receiver.get('city', '')}".strip(),
                   "sender": str(body.get("sender") or ""), "weightG": int(body.get("weightG") or 0)}
        account.waybills[code] = {"code": code, "order_no": order_no, "print": printed, "cancelled": False,
                                  "issued_at": self.mock.world.now.isoformat(), "shipped_at": None}
        account.by_order[order_no] = code
        return {"waybillCode": code, "printData": printed}

    def m_cainiao_waybill_ii_cancel(self, account, body) -> dict:
        waybill = self._waybill(account, body)
        if waybill["shipped_at"] is not None:
            raise CarrierFault("WAYBILL_COLLECTED", "the courier has collected the parcel")
        waybill["cancelled"] = True
        return {"cancelResult": True}

    def m_cainiao_waybill_ii_ship(self, account, body) -> dict:
        waybill = self._waybill(account, body)
        if waybill["cancelled"]:
            raise CarrierFault("WAYBILL_CANCELLED", "the waybill was cancelled")
        waybill["shipped_at"] = waybill["shipped_at"] or self.mock.world.now
        return {"shipTime": waybill["shipped_at"].isoformat()}

    def m_logistics_trace_search(self, account, body) -> dict:
        waybill = self._waybill(account, body)
        shipped = waybill["shipped_at"]
        if shipped is None:
            return {"traces": []}
        stuck = int(hashlib.sha1(waybill["code"].encode()).hexdigest(), 16) % 7 == 0
        stages = STAGES[:2] if stuck else STAGES
        now = self.mock.world.now
        return {"traces": [{"time": (shipped + timedelta(hours=h)).isoformat(), "action": code, "desc": text,
                            "city": where} for h, code, text, where in stages if shipped + timedelta(hours=h) <= now]}


def handle(mock, params: dict) -> tuple[int, dict, float, str]:
    with mock.lock:
        return mock.carrier.answer(params)
