"""The simulated Taobao / JD / Pinduoduo open platforms as one HTTP service.

* ``MockPlatforms``: state + scenario + request handling (usable in-process: ``mock.call(shop, method, params)``).
* ``serve(port, seed, ...)``: run it in the foreground (``manage.py run_mock_platforms``).
* ``running_mock_platforms(port=0, seed=...)``: context manager for tests; yields the base URL (a str that
  also carries ``.mock``, the MockPlatforms instance).

No Django here: the module runs standalone (``python -m integrations.mock_platforms``). Protocol: PROTOCOL.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import traceback
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from . import cainiao, jd, pdd, qimen, taobao
from .base import ApiError, Ctx
from .faults import KINDS, Faults
from .scenario import ScenarioError, World, fmt_cst, to_fen
from .signing import signature_ok, signed

log = logging.getLogger("mock_platforms")

PLATFORM_MODULES = {"taobao": taobao, "jd": jd, "pdd": pdd}
BY_PATH = {mod.PATH: name for name, mod in PLATFORM_MODULES.items()}
NO_TOKEN_METHODS = {"taobao.time.get", "pdd.time.get"}
LIST_FLAGS = {"duplicate", "page_shift", "out_of_order"}
REALTIME_DEFAULTS = {"orders_per_hour": 240.0, "durations_scale": 0.02}
# the simulated third-party warehouse (QiMen) and carrier (Cainiao / SF): their own paths and control
SERVICE_MODULES = {qimen.PATH: qimen, cainiao.PATH: cainiao}


class MockPlatforms:
    """All simulated platforms: one World (state + clock), fault injection, request routing."""

    def __init__(self, seed: int = 1, *, start_time=None, shops=None, catalog=None, config=None,
                 realtime: bool = False):
        self.lock = threading.RLock()
        self._realtime_stop: threading.Event | None = None
        self._realtime_thread: threading.Thread | None = None
        config = dict(config or {})
        if realtime:
            config = {**REALTIME_DEFAULTS, **config, "realtime": True}
        self.reset(seed=seed, start_time=start_time, shops=shops, catalog=catalog, config=config)

    # ------------------------------------------------------------------------------ lifecycle
    def reset(self, *, seed: int | None = None, start_time=None, shops=None, catalog=None, config=None) -> dict:
        with self.lock:
            old = getattr(self, "world", None)
            base_config = dict(old.config) if old else {}
            if config:
                base_config.update(config)
            seed = int(seed if seed is not None else base_config.get("seed", 1))
            self.world = World(seed=seed, start_time=start_time, shops=shops, catalog=catalog, config=base_config)
            self.faults = Faults(seed)
            self.requests: Counter = Counter()
            self.qimen = qimen.QimenWms(self)
            self.carrier = cainiao.CarrierService(self)
            self._realtime_clock = time.monotonic()
        if self.world.config.get("realtime"):
            self.start_realtime()
        return {"seed": seed, "now": self.world.now.isoformat()}

    def start_realtime(self) -> None:
        if self._realtime_thread and self._realtime_thread.is_alive():
            return
        self._realtime_stop = threading.Event()
        self._realtime_clock = time.monotonic()

        def loop(stop: threading.Event):
            while not stop.wait(float(self.world.config.get("realtime_tick_seconds", 2.0))):
                with self.lock:
                    now = time.monotonic()
                    elapsed, self._realtime_clock = now - self._realtime_clock, now
                    if self.world.config.get("realtime"):
                        self.world.advance(elapsed)

        self._realtime_thread = threading.Thread(target=loop, args=(self._realtime_stop,), daemon=True,
                                                 name="mock-platforms-realtime")
        self._realtime_thread.start()

    def stop_realtime(self) -> None:
        if self._realtime_stop:
            self._realtime_stop.set()
        if self._realtime_thread:
            self._realtime_thread.join(timeout=5)
        self._realtime_thread = None

    # ------------------------------------------------------------------------ platform calls
    def handle_api(self, platform: str, params: dict) -> tuple[int, dict | str, float, str]:
        """Answer one platform API call. Returns (status, body (dict, or str = raw HTML), delay, fault)."""
        mod = PLATFORM_MODULES[platform]
        method = str(params.get(mod.METHOD_PARAM) or "")
        fault_name = ""
        delay = 0.0
        try:
            mod.check_system(params)
            shop, secret = self._resolve(platform, mod, params)
            if not signature_ok(params, secret):
                raise ApiError("sign", "sign check failed")
            if shop is None and not (method in NO_TOKEN_METHODS and not params.get(mod.TOKEN_PARAM)):
                raise ApiError("token", "invalid token")
            if method not in mod.METHODS:
                raise ApiError("method", method)
            handler, method_class = mod.METHODS[method]
            with self.lock:
                config = self.world.config
                shop_code = shop.code if shop else None
                kinds = self.faults.draw(config, platform=platform, shop=shop_code, method=method,
                                         method_class=method_class)
                if self.faults.over_qps(config, platform, str(params.get(mod.APP_PARAM))):
                    kinds.add("rate_limit")
                fault_name = ",".join(sorted(kinds))
                if "rate_limit" in kinds:
                    raise ApiError("rate_limit")
                if "server_error" in kinds:
                    status = self.faults.rng.choice([500, 502, 503])
                    self.requests[(platform, method, f"http_{status}")] += 1
                    if status == 502:
                        return 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", 0.0, fault_name
                    _, body = mod.error_body(ApiError("server"))
                    return status, body, 0.0, fault_name
                if "bad_signature" in kinds:
                    raise ApiError("sign", "sign check failed")
                if "slow" in kinds:
                    delay = float(config.get("slow_seconds", 2.0))
                business = jd.business_params(params) if platform == "jd" else params
                ctx = Ctx(world=self.world, shop=shop, platform=platform, method=method, rng=self.faults.rng,
                          flags=kinds & LIST_FLAGS)
                body = handler(ctx, business)
                if ctx.applied:
                    fault_name = ",".join([*sorted(kinds - LIST_FLAGS), *ctx.applied])
                self.requests[(platform, method, "ok")] += 1
                return 200, body, delay, fault_name
        except ApiError as err:
            status, body = mod.error_body(err)
            self.requests[(platform, method or "?", f"error_{err.kind}")] += 1
            return status, body, delay, fault_name
        except Exception:  # never let a bug kill the server: answer the platform's system error
            log.error("mock platform %s %s failed:\n%s", platform, method, traceback.format_exc())
            status, body = mod.error_body(ApiError("server"))
            self.requests[(platform, method or "?", "error_internal")] += 1
            return 500, body, 0.0, "internal"

    def _resolve(self, platform: str, mod, params: dict):
        app_key = str(params.get(mod.APP_PARAM) or "")
        token = str(params.get(mod.TOKEN_PARAM) or "")
        with self.lock:
            app_shops = [s for s in self.world.shops.values() if s.platform == platform and s.app_key == app_key]
        if not app_shops:
            raise ApiError("app", app_key)
        shop = next((s for s in app_shops if token and s.access_token == token), None)
        return shop, (shop or app_shops[0]).app_secret

    def call(self, shop_code: str, method: str, params: dict | None = None) -> tuple[int, dict | str]:
        """In-process form: sign ``params`` with the shop's credentials and answer as the HTTP server would."""
        with self.lock:
            shop = self.world.shops[shop_code]
        params = dict(params or {})
        if shop.platform == "taobao":
            system = {"method": method, "app_key": shop.app_key, "session": shop.access_token,
                      "timestamp": fmt_cst(datetime.now(UTC)), "format": "json", "v": "2.0", "sign_method": "md5"}
            full = {**system, **params}
        elif shop.platform == "jd":
            system = {"method": method, "app_key": shop.app_key, "access_token": shop.access_token,
                      "timestamp": fmt_cst(datetime.now(UTC)), "v": "2.0",
                      "360buy_param_json": json.dumps(params, ensure_ascii=False)}
            full = system
        else:
            system = {"type": method, "client_id": shop.app_key, "access_token": shop.access_token,
                      "timestamp": str(int(time.time())), "data_type": "JSON"}
            full = {**system, **params}
        status, body, _, _ = self.handle_api(shop.platform, signed(full, shop.app_secret))
        return status, body

    # -------------------------------------------------------------------------- control plane
    def advance(self, *, seconds: float = 0, minutes: float = 0, hours: float = 0) -> dict:
        with self.lock:
            return self.world.advance(seconds + minutes * 60 + hours * 3600)

    def generate(self, count: int = 1, *, platform: str | None = None, shop: str | None = None,
                 kind: str | None = None, lines: list | None = None) -> list[dict]:
        with self.lock:
            codes = [shop] if shop else sorted(c for c, s in self.world.shops.items()
                                               if platform in (None, s.platform))
            if not codes or any(c not in self.world.shops for c in codes):
                raise ScenarioError("unknown_shop", f"no shop matches platform={platform} shop={shop}")
            created = []
            for n in range(max(0, int(count))):
                code = codes[n % len(codes)]
                order = self.world.create_order(code, kind=None if kind == "random" else (kind or "normal"),
                                                lines=lines)
                created.append({"platform": order.platform, "shop": code, "order_id": order.id,
                                "status": order.status})
            return created

    def configure(self, changes: dict) -> dict:
        with self.lock:
            if "seed" in changes:
                self.world.config["seed"] = int(changes["seed"])
            for key, value in changes.items():
                if key in ("platform_faults", "shop_faults", "qps_limit", "fault_rates") and isinstance(value, dict):
                    merged = dict(self.world.config.get(key) or {})
                    merged.update(value)
                    self.world.config[key] = merged
                elif key != "seed":
                    self.world.config[key] = value
            realtime = bool(self.world.config.get("realtime"))
        if realtime:
            self.start_realtime()
        else:
            self.stop_realtime()
        return dict(self.world.config)

    def inject_fault(self, kind: str, count: int = 1, **filters) -> dict:
        with self.lock:
            return self.faults.inject(kind=kind, count=count, **filters)

    def set_shops(self, shops: list[dict], replace: bool = False) -> list[dict]:
        with self.lock:
            if replace:
                self.world.shops.clear()
                self.world.listings.clear()
            return [self.world.add_shop(spec, catalog=spec.get("catalog")).public() for spec in shops]

    def set_catalog(self, skus: list[dict], shop: str | None = None) -> None:
        with self.lock:
            if shop and shop not in self.world.shops:
                raise ScenarioError("unknown_shop", shop)
            self.world.set_catalog(skus, shop=shop)

    def promo_lock(self, shop: str, outer_id: str, locked: bool = True) -> dict:
        with self.lock:
            listing = self.world.listings.get((shop, outer_id))
            if listing is None:
                raise ScenarioError("unknown_sku", f"{shop}/{outer_id}")
            listing.promo_locked = bool(locked)
            return listing.public()

    def act(self, action: str, *, platform: str | None = None, order_id: str | None = None, **kw) -> dict:
        """Drive one order (see PROTOCOL.md: /_control/act)."""
        w = self.world
        with self.lock:
            if action == "refund_resolve":
                refund = next((r for (p, rid), r in w.refunds.items()
                               if rid == str(kw.get("refund_id")) and platform in (None, p)), None)
                if refund is None:
                    raise ScenarioError("unknown_refund", str(kw.get("refund_id")))
                w.resolve_refund(refund, kw.get("outcome", "success"))
                return {"refund_id": refund.id, "status": refund.status}
            if action == "coupon_use":  # the buyer redeems a delivered coupon now, on a new order
                coupon = next((c for (p, cid), c in w.coupons.items()
                               if cid == str(kw.get("coupon_id")) and platform in (None, p)), None)
                if coupon is None:
                    raise ScenarioError("unknown_coupon", str(kw.get("coupon_id")))
                order = w.use_coupon(coupon)
                return {"coupon_id": coupon.id, "order_id": order.id, "platform": order.platform,
                        "discount": order.coupon_amount}
            order = next((o for (p, oid), o in w.orders.items() if oid == str(order_id) and platform in (None, p)), None)
            if order is None:
                raise ScenarioError("unknown_order", str(order_id))
            result: dict = {"order_id": order.id}
            if action == "pay":
                if order.presale:
                    w._ev_deposit_paid(order.platform, order.id) if order.step == "front_nopaid" else None
                    w._ev_final_paid(order.platform, order.id)
                else:
                    w._ev_pay(order.platform, order.id, bool(kw.get("risk", False)))
            elif action == "presale_pay_final":
                if order.step == "front_nopaid":
                    w._ev_deposit_paid(order.platform, order.id)
                w._ev_final_paid(order.platform, order.id)
            elif action == "cancel":
                if order.status == "unpaid":
                    w._ev_unpaid_close(order.platform, order.id)
                else:
                    refunds = w.cancel_before_shipment(order)
                    result["refund_ids"] = [r.id for r in refunds]
            elif action == "change_address":
                w.change_address(order)
            elif action == "buyer_remark":
                w.touch(order)
                order.buyer_message = str(kw.get("text", "请尽快发货"))
            elif action == "seller_memo":
                w.touch(order)
                order.seller_memo = str(kw.get("text", ""))
                order.seller_flag = int(kw.get("flag", order.seller_flag))
            elif action == "refund":
                line_ref = kw.get("line")
                if line_ref is None:
                    lines = list(order.lines)
                elif isinstance(line_ref, int) or str(line_ref).isdigit() and int(line_ref) < len(order.lines):
                    lines = [order.lines[int(line_ref)]]
                else:
                    lines = [order.line(str(line_ref))]
                    if lines[0] is None:
                        raise ScenarioError("unknown_line", str(line_ref))
                amount = to_fen(kw["amount"]) if kw.get("amount") not in (None, "") else None
                refunds = w.open_refund(order, lines, amount=amount, return_goods=bool(kw.get("return_goods")),
                                        outcome=kw.get("outcome"), auto_resolve=bool(kw.get("auto_resolve", False)))
                result["refund_ids"] = [r.id for r in refunds]
            elif action == "finish":
                if order.status != "shipped":
                    raise ScenarioError("status_not_allow", "only shipped orders can finish")
                w.finish(order)
            elif action == "risk_release":
                w._ev_risk_release(order.platform, order.id)
            elif action == "group_form":
                w._ev_group_form(order.platform, order.id)
            elif action == "group_fail":
                w._ev_group_fail(order.platform, order.id)
            elif action == "lock_cancel":
                w.touch(order)
                order.jd_locked = bool(kw.get("locked", True))
            elif action == "touch":
                w.touch(order)
            else:
                raise ScenarioError("unknown_action", action)
            result.update(status=order.status, modified=order.modified.isoformat(), version=order.version)
            return result

    # ------------------------------------------------------------------------------ inspection
    def platform_status(self, order) -> str:
        if order.platform == "taobao":
            return taobao.trade_status(order)
        if order.platform == "jd":
            return jd.order_state(order) if order.status != "unpaid" else "(unpaid: not visible)"
        return f"order_status={pdd.order_status(order)},refund_status={pdd.refund_status(order)}"

    def render(self, order) -> dict:
        if order.platform == "taobao":
            return taobao.render_trade(order)
        if order.platform == "jd":
            shop = self.world.shops[order.shop]
            return jd._with_vender(shop, jd.render_order(order))
        return pdd.render_order(self.world, order)

    def _match(self, obj, platform, shop) -> bool:
        return platform in (None, "", obj.platform) and shop in (None, "", obj.shop)

    def state(self, platform: str | None = None, shop: str | None = None) -> dict:
        with self.lock:
            w = self.world
            shops = []
            for code in sorted(w.shops):
                s = w.shops[code]
                if platform not in (None, "", s.platform) or shop not in (None, "", code):
                    continue
                counts = Counter(self.platform_status(o) for o in w.orders.values() if o.shop == code)
                shops.append({**s.public(), "listings": [lst.public() for lst in w.shop_listings(code)],
                              "orders": dict(sorted(counts.items())),
                              "refunds": len([r for r in w.refunds.values() if r.shop == code]),
                              "bills": len([b for b in w.bills if b.shop == code])})
            return {"now": w.now.isoformat(), "now_cst": fmt_cst(w.now), "seed": w.seed,
                    "pending_events": len(w._events), "shops": shops,
                    "shipments": [x for x in w.shipments if self._match_rec(x, platform, shop)],
                    "faults_queued": [dict(e) for e in self.faults.queue]}

    @staticmethod
    def _match_rec(rec: dict, platform, shop) -> bool:
        return platform in (None, "", rec["platform"]) and shop in (None, "", rec["shop"])

    def stock(self, platform: str | None = None, shop: str | None = None) -> dict:
        with self.lock:
            w = self.world
            rows = []
            for (code, _), lst in sorted(w.listings.items()):
                s = w.shops[code]
                if platform in (None, "", s.platform) and shop in (None, "", code):
                    rows.append({"platform": s.platform, **lst.public()})
            return {"stock": rows, "updates": [x for x in w.stock_log if self._match_rec(x, platform, shop)]}

    def shipments(self, platform: str | None = None, shop: str | None = None) -> dict:
        with self.lock:
            return {"shipments": [x for x in self.world.shipments if self._match_rec(x, platform, shop)]}

    def refund_decisions(self, platform: str | None = None, shop: str | None = None) -> dict:
        """Every seller refund decision call received, accepted or refused (for tests)."""
        with self.lock:
            return {"refund_decisions": [dict(x) for x in self.world.refund_decisions
                                         if self._match_rec(x, platform, shop)]}

    def coupons(self, platform: str | None = None, shop: str | None = None) -> dict:
        """Every coupon delivered and every coupon API call received (for tests)."""
        with self.lock:
            w = self.world
            return {"coupons": [c.public(w.now) for c in w.coupons.values() if self._match(c, platform, shop)],
                    "calls": [dict(x) for x in w.coupon_log if self._match_rec(x, platform, shop)]}

    def orders(self, platform: str | None = None, shop: str | None = None) -> dict:
        with self.lock:
            rows = [{"platform": o.platform, "shop": o.shop, "order_id": o.id, "internal_status": o.status,
                     "platform_status": self.platform_status(o), "version": o.version, "order": self.render(o)}
                    for o in sorted(self.world.orders.values(), key=lambda o: (o.created, o.id))
                    if self._match(o, platform, shop)]
            return {"orders": rows}

    def refunds(self, platform: str | None = None, shop: str | None = None) -> dict:
        with self.lock:
            return {"refunds": [{"platform": r.platform, "shop": r.shop, "refund_id": r.id, "order_id": r.order_id,
                                 "line_ids": r.line_ids, "amount": r.amount, "status": r.status, "phase": r.phase,
                                 "version": r.version, "modified": r.modified.isoformat()}
                                for r in self.world.refunds.values() if self._match(r, platform, shop)]}

    def request_counts(self) -> dict:
        with self.lock:
            return {"requests": [{"platform": p, "method": m, "outcome": o, "count": n}
                                 for (p, m, o), n in sorted(self.requests.items())],
                    "faults": list(self.faults.history)}

    # ---------------------------------------------------------------------------- HTTP entry
    def handle(self, http_method: str, raw_path: str, body: bytes, content_type: str) -> tuple[int, dict, bytes, float]:
        """Route one HTTP request. Returns (status, headers, body, delay_seconds)."""
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path in BY_PATH:
            params = dict(query)
            params.update(_parse_body(body, content_type))
            status, payload, delay, fault = self.handle_api(BY_PATH[path], params)
            headers = {"X-Mock-Fault": fault} if fault else {}
            if status == 429:
                headers["Retry-After"] = "1"
            if isinstance(payload, str):
                return status, {**headers, "Content-Type": "text/html; charset=utf-8"}, payload.encode(), delay
            return status, {**headers, "Content-Type": "application/json;charset=UTF-8"}, _dump(payload), delay
        if path in SERVICE_MODULES:
            params = dict(query)
            params.update(_parse_body(body, content_type))
            status, payload, delay, fault = SERVICE_MODULES[path].handle(self, params)
            headers = {"X-Mock-Fault": fault} if fault else {}
            return status, {**headers, "Content-Type": "application/json;charset=UTF-8"}, _dump(payload), delay
        if path.startswith("/_control"):
            try:
                data = json.loads(body or b"{}") if body else {}
                if not isinstance(data, dict):
                    raise ValueError("body must be a JSON object")
                status, payload = self._control(http_method, path, query, data)
            except (ScenarioError, ValueError, KeyError, TypeError) as exc:
                status, payload = 400, {"error": type(exc).__name__, "detail": str(getattr(exc, "message", exc))}
            return status, {"Content-Type": "application/json"}, _dump(payload), 0.0
        if path == "/":
            return 200, {"Content-Type": "application/json"}, _dump({
                "service": "mock platforms", "endpoints": {name: mod.PATH for name, mod in PLATFORM_MODULES.items()},
                "control": "/_control/state", "protocol": "integrations/mock_platforms/PROTOCOL.md"}), 0.0
        return 404, {"Content-Type": "application/json"}, _dump({"error": "not found", "path": path}), 0.0

    def _control(self, http_method: str, path: str, query: dict, data: dict) -> tuple[int, dict]:
        name = path[len("/_control"):].strip("/")
        platform = query.get("platform") or data.get("platform")
        shop = query.get("shop") or data.get("shop")
        if name == "reset" and http_method == "POST":
            return 200, self.reset(seed=data.get("seed"), start_time=data.get("start_time"), shops=data.get("shops"),
                                   catalog=data.get("catalog"), config=data.get("config"))
        if name == "config":
            if http_method == "POST":
                return 200, self.configure(data)
            with self.lock:
                return 200, dict(self.world.config)
        if name == "faults":
            if http_method == "POST":
                kind = data.get("kind")
                if kind not in KINDS:
                    raise ValueError(f"kind must be one of {', '.join(KINDS)}")
                return 200, self.inject_fault(kind, int(data.get("count", 1)), platform=platform, shop=shop,
                                              method=data.get("method"))
            if http_method == "DELETE":
                with self.lock:
                    self.faults.clear()
                return 200, {"queued": []}
            with self.lock:
                return 200, {"queued": [dict(e) for e in self.faults.queue], "history": list(self.faults.history)}
        if name == "state":
            return 200, self.state(platform, shop)
        if name == "advance" and http_method == "POST":
            return 200, self.advance(seconds=float(data.get("seconds", 0)), minutes=float(data.get("minutes", 0)),
                                     hours=float(data.get("hours", 0)))
        if name == "generate" and http_method == "POST":
            return 200, {"created": self.generate(int(data.get("count", 1)), platform=platform, shop=shop,
                                                  kind=data.get("kind"), lines=data.get("lines"))}
        if name == "act" and http_method == "POST":
            fields = {k: v for k, v in data.items() if k not in ("action", "platform", "order_id", "shop")}
            return 200, self.act(str(data.get("action")), platform=platform, order_id=data.get("order_id"), **fields)
        if name == "shops":
            if http_method == "POST":
                return 200, {"shops": self.set_shops(list(data.get("shops") or []), bool(data.get("replace")))}
            return 200, {"shops": [s.public() for s in self.world.shops.values()]}
        if name == "catalog" and http_method == "POST":
            self.set_catalog(list(data.get("skus") or []), shop=shop)
            return 200, self.stock(shop=shop)
        if name == "promo_lock" and http_method == "POST":
            return 200, self.promo_lock(str(shop), str(data.get("outer_id")), bool(data.get("locked", True)))
        if name == "stock":
            return 200, self.stock(platform, shop)
        if name == "shipments":
            return 200, self.shipments(platform, shop)
        if name == "refund_decisions":
            return 200, self.refund_decisions(platform, shop)
        if name == "coupons":
            return 200, self.coupons(platform, shop)
        if name == "orders":
            return 200, self.orders(platform, shop)
        if name == "refunds":
            return 200, self.refunds(platform, shop)
        if name == "requests":
            return 200, self.request_counts()
        if name == "qimen":  # POST {"customers": [{customer_id, app_key, app_secret, warehouse_code, stock}]}
            with self.lock:
                if http_method == "POST":
                    for spec in data.get("customers") or []:
                        self.qimen.set_customer(spec)
                    for short in data.get("short") or []:
                        self.qimen.force_short(str(short["customer_id"]), str(short["order_code"]), short["lines"])
                return 200, {"customers": [c.public() for c in self.qimen.customers.values()]}
        if name == "carrier":  # POST {"accounts": [{app_key, app_secret, carrier_code, range_start, range_end}]}
            with self.lock:
                if http_method == "POST":
                    for spec in data.get("accounts") or []:
                        self.carrier.set_account(spec)
                return 200, {"accounts": [a.public() for a in self.carrier.accounts.values()]}
        return 404, {"error": "unknown control endpoint", "path": path}


def _parse_body(body: bytes, content_type: str) -> dict:
    if not body:
        return {}
    text = body.decode("utf-8", errors="replace")
    if "json" in (content_type or "").lower() or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: ("" if v is None else v if isinstance(v, str) else
                    json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else
                    str(v).lower() if isinstance(v, bool) else str(v)) for k, v in data.items()}
    return dict(parse_qsl(text, keep_blank_values=True))


def _dump(payload) -> bytes:
    return json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")


# -------------------------------------------------------------------------------------- HTTP
class _Handler(BaseHTTPRequestHandler):
    server_version = "MockPlatforms/1.0"
    protocol_version = "HTTP/1.1"

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload, delay = self.server.mock.handle(
            self.command, self.path, body, self.headers.get("Content-Type", ""))
        if delay:
            time.sleep(delay)
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout)
            self.close_connection = True

    do_GET = do_POST = do_DELETE = do_PUT = _serve

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        if self.server.verbose:
            log.info("%s - %s", self.address_string(), format % args)


class MockHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, mock: MockPlatforms, verbose: bool = False):
        super().__init__(address, _Handler)
        self.mock = mock
        self.verbose = verbose


class BaseURL(str):
    """The base URL of a running mock; ``.mock`` is its MockPlatforms, ``.server`` the HTTP server."""

    mock: MockPlatforms
    server: MockHTTPServer


def start(port: int = 0, *, host: str = "127.0.0.1", mock: MockPlatforms | None = None, verbose: bool = False,
          **kwargs) -> tuple[MockHTTPServer, threading.Thread]:
    """Start the HTTP server on a daemon thread. Stop with ``server.shutdown(); server.server_close()``."""
    mock = mock or MockPlatforms(**kwargs)
    server = MockHTTPServer((host, port), mock, verbose=verbose)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                              name="mock-platforms-http")
    thread.start()
    return server, thread


@contextlib.contextmanager
def running_mock_platforms(port: int = 0, seed: int = 1, *, host: str = "127.0.0.1", **kwargs):
    """Run the mock platforms on a thread for the duration of the block; yields the base URL."""
    server, thread = start(port, host=host, seed=seed, **kwargs)
    url = BaseURL(f"http://{host}:{server.server_address[1]}")
    url.mock = server.mock
    url.server = server
    try:
        yield url
    finally:
        server.mock.stop_realtime()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve(port: int = 8100, seed: int = 1, *, host: str = "127.0.0.1", realtime: bool = False,
          fault_rate: float = 0.0, verbose: bool = True, config: dict | None = None, **kwargs) -> None:
    """Run the mock platforms in the foreground until interrupted."""
    config = dict(config or {})
    if fault_rate:
        config["fault_rate"] = fault_rate
    mock = MockPlatforms(seed, realtime=realtime, config=config, **kwargs)
    server = MockHTTPServer((host, port), mock, verbose=verbose)
    log.info("mock platforms on http://%s:%s (seed %s, realtime %s)", host, server.server_address[1], seed, realtime)
    try:
        server.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        pass
    finally:
        mock.stop_realtime()
        server.server_close()
