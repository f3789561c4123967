"""A simulated third-party warehouse (WMS) speaking QiMen (奇门) style, at ``/qimen``.

Requests: form/query system parameters ``method``, ``app_key``, ``customerId``, ``timestamp``,
``format=json``, ``v=2.0``, ``sign_method=md5``, ``sign`` (the TOP md5 signature of signing.py over the
system parameters plus ``body``, the JSON business body). Answers ``{"response": {"flag": "success" |
"failure", "code", "message", ...}}``.

Methods:

* ``deliveryorder.create``: an outbound order (``deliveryOrder`` with ``deliveryOrderCode``,
  ``warehouseCode``, receiver; ``orderLines`` with ``itemCode`` / ``planQty``). Answered with the
  WMS's ``deliveryOrderId``; the same code twice answers the first id (idempotent). The WMS ships it
  after a delay on the mock's clock (``qimen_ship_hours``, default 2..8 h); about ``qimen_short_rate``
  (default 0.1) of the orders are short-shipped (one line one unit short, or what the warehouse has).
* ``deliveryorder.confirm``: the confirmations the WMS would push (``deliveryorder.confirm`` in QiMen is
  WMS -> ERP); here the ERP pulls them: ``{"page": n, "pageSize": m, "sinceId": k}`` answers the
  confirmations with ``confirmId`` > sinceId: ``deliveryOrderCode``, ``logisticsCode``,
  ``expressCode`` (tracking), ``orderLines`` with ``actualQty``. Sent again until acknowledged
  (``ack`` = list of confirm ids): the ERP must apply them idempotently.
* ``entryorder.create`` / ``entryorder.confirm``: inbound, the same way (received after a delay,
  ``actualQty`` may differ from ``planQty``: damaged units are not booked).
* ``inventory.query``: the stock snapshot (``criteriaList`` of item codes, or everything) with
  ``quantity`` (sellable, shipped orders deducted) per item.
* ``order.cancel``: cancel an order not shipped yet (``orderCode``); a shipped one answers failure
  ``ORDER_SHIPPED``.

Faults as the platforms (faults.py): the platform key is ``qimen``, the shop key the customerId.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from .gateway import Gateway, GatewayFault

PATH = "/qimen"
METHOD_CLASS = {"deliveryorder.create": "write", "deliveryorder.confirm": "list", "entryorder.create": "write",
                "entryorder.confirm": "list", "inventory.query": "read", "order.cancel": "write"}
CARRIERS = ("SF", "YTO", "ZTO")


class QimenError(GatewayFault):
    pass


@dataclass
class WmsCustomer:
    customer_id: str
    app_key: str
    app_secret: str
    warehouse_code: str
    stock: dict = field(default_factory=dict)  # item code -> units
    orders: dict = field(default_factory=dict)  # deliveryOrderCode -> dict
    entries: dict = field(default_factory=dict)  # entryOrderCode -> dict
    confirms: list = field(default_factory=list)  # confirmations not acknowledged yet
    acked: set = field(default_factory=set)
    next_id: int = 1

    def public(self) -> dict:
        return {"customer_id": self.customer_id, "app_key": self.app_key, "warehouse_code": self.warehouse_code,
                "stock": dict(self.stock), "orders": {k: dict(v) for k, v in self.orders.items()},
                "entries": {k: dict(v) for k, v in self.entries.items()},
                "pending_confirms": [dict(c) for c in self.confirms]}


class QimenWms(Gateway):
    """State of the simulated WMS; lives on MockPlatforms (``mock.qimen``), reset with it."""

    platform = "qimen"
    methods = METHOD_CLASS
    unavailable = "WMS unavailable"

    def __init__(self, mock):
        super().__init__(mock)
        self.customers: dict[str, WmsCustomer] = {}
        self.tracking_seq = 0

    # ----------------------------------------------------------------------------- control
    def set_customer(self, spec: dict) -> dict:
        customer = WmsCustomer(customer_id=str(spec["customer_id"]), app_key=str(spec.get("app_key") or "wms-key"),
                               app_secret=str(spec.get("app_secret") or "wms-secret"),
                               warehouse_code=str(spec.get("warehouse_code") or "WMS1"),
                               stock={str(k): int(v) for k, v in (spec.get("stock") or {}).items()})
        old = self.customers.get(customer.customer_id)
        if old and not spec.get("replace"):
            old.app_key, old.app_secret, old.warehouse_code = customer.app_key, customer.app_secret, \
                customer.warehouse_code
            old.stock.update(customer.stock)
            return old.public()
        self.customers[customer.customer_id] = customer
        return customer.public()

    def force_short(self, customer_id: str, order_code: str, lines: dict) -> dict:
        """Make the next shipment of this order ship ``{itemCode: actualQty}`` (tests, demos)."""
        order = self.customers[customer_id].orders[order_code]
        order["force_actual"] = {str(k): int(v) for k, v in lines.items()}
        return dict(order)

    # ------------------------------------------------------------------------------ clock
    def tick(self) -> None:
        """Ship / receive whatever is due on the mock's clock (called before each answer)."""
        now = self.mock.world.now
        rng = self.mock.faults.rng
        for customer in self.customers.values():
            for order in customer.orders.values():
                if order["status"] == "ACCEPT" and order["due"] <= now:
                    self._ship(customer, order, rng)
            for entry in customer.entries.values():
                if entry["status"] == "ACCEPT" and entry["due"] <= now:
                    actual = {}
                    for line in entry["lines"]:
                        qty = int(line["planQty"])
                        if rng.random() < float(self.mock.world.config.get("qimen_damage_rate", 0.05)) and qty > 1:
                            qty -= 1
                        actual[line["itemCode"]] = qty
                        customer.stock[line["itemCode"]] = customer.stock.get(line["itemCode"], 0) + qty
                    entry["status"] = "FULFILLED"
                    self._confirm(customer, {"type": "entry", "entryOrderCode": entry["code"],
                                             "entryOrderId": entry["id"], "status": "FULFILLED",
                                             "orderLines": [{"itemCode": k, "planQty": int(ln["planQty"]),
                                                             "actualQty": actual[k]}
                                                            for k, ln in ((ln["itemCode"], ln) for ln in entry["lines"])]})

    def _ship(self, customer: WmsCustomer, order: dict, rng) -> None:
        config = self.mock.world.config
        forced = order.get("force_actual")
        actual = {}
        for line in order["lines"]:
            code, plan = line["itemCode"], int(line["planQty"])
            actual[code] = min(plan, max(0, customer.stock.get(code, 0)))
        if forced is not None:
            actual = {k: min(int(forced.get(k, v)), v) for k, v in actual.items()}
        elif order["lines"] and rng.random() < float(config.get("qimen_short_rate", 0.1)):
            victim = rng.choice(order["lines"])["itemCode"]
            actual[victim] = max(0, actual[victim] - 1)
        for code, qty in actual.items():
            customer.stock[code] = customer.stock.get(code, 0) - qty
        self.tracking_seq += 1
        carrier = order.get("logisticsCode") or CARRIERS[self.tracking_seq % len(CARRIERS)]
        express = f"{carrier}{7_000_000_000 + self.tracking_seq * 7919:010d}"[:16]
        order.update(status="DELIVERED", expressCode=express, logisticsCode=carrier, actual=actual)
        self._confirm(customer, {"type": "delivery", "deliveryOrderCode": order["code"],
                                 "deliveryOrderId": order["id"], "status": "DELIVERED", "logisticsCode": carrier,
                                 "expressCode": express, "orderConfirmTime": self.mock.world.now.isoformat(),
                                 "orderLines": [{"itemCode": ln["itemCode"], "planQty": int(ln["planQty"]),
                                                 "actualQty": actual[ln["itemCode"]]} for ln in order["lines"]]})

    def _confirm(self, customer: WmsCustomer, body: dict) -> None:
        body["confirmId"] = customer.next_id
        customer.next_id += 1
        customer.confirms.append(body)

    def _delay(self, rng) -> timedelta:
        low, high = self.mock.world.config.get("qimen_ship_hours") or (2, 8)
        return timedelta(hours=rng.uniform(float(low), float(high)))

    # ---------------------------------------------------------------------------- methods
    def caller(self, params: dict) -> tuple[WmsCustomer, str, str]:
        customer = self.customers.get(str(params.get("customerId") or ""))
        if customer is None or customer.app_key != str(params.get("app_key") or ""):
            raise QimenError("isv.invalid-customer", "unknown customerId or app_key")
        return customer, customer.customer_id, customer.app_secret

    def prepare(self) -> None:
        self.tick()

    def dispatch(self, caller, method: str, body: dict, kinds: set) -> dict:
        handler = getattr(self, "m_" + method.replace(".", "_"))
        return handler(caller, body, duplicate="duplicate" in kinds)

    def m_deliveryorder_create(self, customer: WmsCustomer, body: dict, **_) -> dict:
        head = body.get("deliveryOrder") or {}
        code = str(head.get("deliveryOrderCode") or "").strip()
        lines = body.get("orderLines") or []
        if not code:
            raise QimenError("isv.missing-parameter", "deliveryOrder.deliveryOrderCode")
        if not lines or not all(str(ln.get("itemCode") or "").strip() and int(ln.get("planQty") or 0) > 0
                                for ln in lines):
            raise QimenError("isv.invalid-parameter", "orderLines need itemCode and planQty > 0")
        if code in customer.orders:
            return {"deliveryOrderId": customer.orders[code]["id"], "createTime": customer.orders[code]["created"]}
        order = {"code": code, "id": f"DO{len(customer.orders) + 1:08d}", "status": "ACCEPT",
                 "created": self.mock.world.now.isoformat(), "due": self.mock.world.now + self._delay(self.mock.faults.rng),
                 "logisticsCode": str(head.get("logisticsCode") or ""),
                 "receiver": head.get("receiverInfo") or {},
                 "lines": [{"itemCode": str(ln["itemCode"]), "planQty": int(ln["planQty"])} for ln in lines]}
        customer.orders[code] = order
        return {"deliveryOrderId": order["id"], "createTime": order["created"]}

    def m_entryorder_create(self, customer: WmsCustomer, body: dict, **_) -> dict:
        head = body.get("entryOrder") or {}
        code = str(head.get("entryOrderCode") or "").strip()
        lines = body.get("orderLines") or []
        if not code:
            raise QimenError("isv.missing-parameter", "entryOrder.entryOrderCode")
        if not lines or not all(str(ln.get("itemCode") or "").strip() and int(ln.get("planQty") or 0) > 0
                                for ln in lines):
            raise QimenError("isv.invalid-parameter", "orderLines need itemCode and planQty > 0")
        if code not in customer.entries:
            customer.entries[code] = {"code": code, "id": f"EO{len(customer.entries) + 1:08d}", "status": "ACCEPT",
                                      "due": self.mock.world.now + self._delay(self.mock.faults.rng),
                                      "lines": [{"itemCode": str(ln["itemCode"]), "planQty": int(ln["planQty"])}
                                                for ln in lines]}
        return {"entryOrderId": customer.entries[code]["id"]}

    def _confirm_page(self, customer: WmsCustomer, body: dict, kind: str, duplicate: bool) -> dict:
        for ack in body.get("ack") or []:
            customer.acked.add(int(ack))
        customer.confirms = [c for c in customer.confirms if c["confirmId"] not in customer.acked]
        since = int(body.get("sinceId") or 0)
        size = max(1, min(100, int(body.get("pageSize") or 50)))
        rows = [dict(c) for c in customer.confirms if c["type"] == kind and c["confirmId"] > since][:size]
        if duplicate and rows:
            rows.append(dict(rows[0]))
        return {"confirms": rows, "hasNext": len([c for c in customer.confirms
                                                   if c["type"] == kind and c["confirmId"] > since]) > size}

    def m_deliveryorder_confirm(self, customer, body, duplicate=False, **_) -> dict:
        return self._confirm_page(customer, body, "delivery", duplicate)

    def m_entryorder_confirm(self, customer, body, duplicate=False, **_) -> dict:
        return self._confirm_page(customer, body, "entry", duplicate)

    def m_inventory_query(self, customer: WmsCustomer, body: dict, **_) -> dict:
        wanted = [str(c.get("itemCode")) for c in body.get("criteriaList") or [] if c.get("itemCode")]
        codes = wanted or sorted(customer.stock)
        return {"items": [{"warehouseCode": customer.warehouse_code, "itemCode": code, "inventoryType": "ZP",
                           "quantity": int(customer.stock.get(code, 0)), "lockQuantity": 0} for code in codes]}

    def m_order_cancel(self, customer: WmsCustomer, body: dict, **_) -> dict:
        code = str(body.get("orderCode") or "").strip()
        order = customer.orders.get(code)
        if order is None:
            raise QimenError("ORDER_NOT_FOUND", code)
        if order["status"] == "DELIVERED":
            raise QimenError("ORDER_SHIPPED", "the order has left the warehouse")
        order["status"] = "CANCELED"
        return {}


def handle(mock, params: dict) -> tuple[int, dict, float, str]:
    with mock.lock:
        return mock.qimen.answer(params)
