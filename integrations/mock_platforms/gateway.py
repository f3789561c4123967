"""The request handling the signed JSON gateways of the mock server share (the QiMen WMS at
``/qimen``, the carrier e-waybill service at ``/carrier``).

System parameters ``method``, ``app_key``, ``timestamp``, ``sign`` (the TOP md5 signature of
signing.py over them plus ``body``, the JSON business body). One answer, in this order: the caller
is looked up (``caller``), the signature checked, the method checked, the body parsed; then the
faults of faults.py are drawn (platform key ``platform``, shop key the caller's key): rate_limit,
server_error (HTTP 5xx), bad_signature, slow; then the method runs (``dispatch``). Answers are
``{"response": {"flag": "success" | "failure", "code", "message", ...}}``; every answer is counted
in ``mock.requests`` under (platform, method, outcome)."""

from __future__ import annotations

import json

from .signing import signature_ok


class GatewayFault(Exception):
    """A failure answer: ``code`` and ``message`` go into the envelope."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code
        self.message = message or code


class Gateway:
    platform = ""  # the key of faults and request counters
    methods: dict[str, str] = {}  # method -> method class (faults.py: read, list, write)
    unavailable = "service unavailable"  # the message of a 5xx answer

    def __init__(self, mock):
        self.mock = mock

    # --- hooks ------------------------------------------------------------------------------------
    def caller(self, params: dict) -> tuple[object, str, str]:  # pragma: no cover - interface
        """(the caller's state, its key for faults, its secret) or raise GatewayFault."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Called once the request is accepted, before the method runs (e.g. advance a clock)."""

    def dispatch(self, caller, method: str, body: dict, kinds: set) -> dict:
        """The method's answer fields; by default ``m_<method with dots as underscores>(caller, body)``."""
        return getattr(self, "m_" + method.replace(".", "_"))(caller, body)

    # --- one request ------------------------------------------------------------------------------
    def answer(self, params: dict) -> tuple[int, dict, float, str]:
        """(HTTP status, JSON answer, delay in seconds, the faults drawn)."""
        method = str(params.get("method") or "")
        fault = ""
        mock = self.mock
        try:
            caller, key, secret = self.caller(params)
            if not signature_ok(params, secret):
                raise GatewayFault("sign-check-failure", "Illegal request: sign check failed")
            if method not in self.methods:
                raise GatewayFault("isv.invalid-method", method)
            try:
                body = json.loads(params.get("body") or "{}")
            except ValueError:
                raise GatewayFault("isv.invalid-parameter", "body is not JSON") from None
            if not isinstance(body, dict):
                raise GatewayFault("isv.invalid-parameter", "body must be an object")
            kinds = mock.faults.draw(mock.world.config, platform=self.platform, shop=key, method=method,
                                     method_class=self.methods[method])
            fault = ",".join(sorted(kinds))
            if "rate_limit" in kinds:
                raise GatewayFault("isv.rate-limit", "call limited, retry later")
            if "server_error" in kinds:
                status = mock.faults.rng.choice([500, 502, 503])
                mock.requests[(self.platform, method, f"http_{status}")] += 1
                return status, {"response": {"flag": "failure", "code": "isp.service-unavailable",
                                             "message": self.unavailable}}, 0.0, fault
            if "bad_signature" in kinds:
                raise GatewayFault("sign-check-failure", "Illegal request: sign check failed")
            delay = float(mock.world.config.get("slow_seconds", 2.0)) if "slow" in kinds else 0.0
            self.prepare()
            result = self.dispatch(caller, method, body, kinds)
            mock.requests[(self.platform, method, "ok")] += 1
            return 200, {"response": {"flag": "success", "code": "0", "message": "", **result}}, delay, fault
        except GatewayFault as err:
            mock.requests[(self.platform, method or "?", f"error_{err.code}")] += 1
            return 200, {"response": {"flag": "failure", "code": err.code, "message": err.message}}, 0.0, fault
