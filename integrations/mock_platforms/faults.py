"""Fault injection: queued faults ("the next N calls") and random faults at configured rates."""

from __future__ import annotations

import random
import threading
import time

KINDS = ("rate_limit", "server_error", "slow", "bad_signature", "duplicate", "page_shift", "out_of_order")
CALL_KINDS = ("rate_limit", "server_error", "bad_signature")  # the call fails; at most one per call
APPLICABLE = {  # method class -> fault kinds that make sense for it
    "orders": set(KINDS),
    "order": {"rate_limit", "server_error", "slow", "bad_signature", "out_of_order"},
    "list": {"rate_limit", "server_error", "slow", "bad_signature", "duplicate"},
    "read": {"rate_limit", "server_error", "slow", "bad_signature"},
    "write": {"rate_limit", "server_error", "slow", "bad_signature"},
}


class Faults:
    def __init__(self, seed: int):
        self.rng = random.Random(f"{seed}:faults")
        self.queue: list[dict] = []
        self.history: list[dict] = []
        self._buckets: dict[tuple[str, str], list[float]] = {}
        self._bucket_lock = threading.Lock()

    # ------------------------------------------------------------------------------- queueing
    def inject(self, *, kind: str, count: int = 1, platform: str | None = None, shop: str | None = None,
               method: str | None = None) -> dict:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(KINDS)}")
        entry = {"kind": kind, "remaining": max(1, int(count)), "platform": platform or None, "shop": shop or None,
                 "method": method or None}
        self.queue.append(entry)
        return dict(entry)

    def clear(self) -> None:
        self.queue.clear()

    # -------------------------------------------------------------------------------- drawing
    def draw(self, config: dict, *, platform: str, shop: str | None, method: str, method_class: str) -> set[str]:
        applicable = APPLICABLE.get(method_class, APPLICABLE["read"])
        for entry in self.queue:
            if entry["kind"] not in applicable:
                continue
            if entry["platform"] not in (None, platform) or entry["shop"] not in (None, shop) \
                    or entry["method"] not in (None, method):
                continue
            entry["remaining"] -= 1
            if entry["remaining"] <= 0:
                self.queue.remove(entry)
            self._log(entry["kind"], platform, shop, method, "injected")
            return {entry["kind"]}
        rates = self.rates(config, platform, shop, applicable)
        chosen: set[str] = set()
        for kind in KINDS:
            rate = rates.get(kind, 0.0)
            if rate > 0 and self.rng.random() < rate:
                if kind in CALL_KINDS and chosen & set(CALL_KINDS):
                    continue
                chosen.add(kind)
        for kind in chosen:
            self._log(kind, platform, shop, method, "random")
        return chosen

    @staticmethod
    def rates(config: dict, platform: str, shop: str | None, applicable: set[str]) -> dict[str, float]:
        layers = [config, (config.get("platform_faults") or {}).get(platform) or {},
                  (config.get("shop_faults") or {}).get(shop or "") or {}]
        fault_rate, kinds, per_kind = 0.0, list(config.get("fault_kinds") or []), {}
        for layer in layers:
            if "fault_rate" in layer:
                fault_rate = float(layer["fault_rate"] or 0)
            if "fault_kinds" in layer:
                kinds = list(layer["fault_kinds"] or [])
            per_kind.update({k: float(v or 0) for k, v in (layer.get("fault_rates") or {}).items()})
        usable = [k for k in kinds if k in applicable]
        rates = {k: fault_rate / len(usable) for k in usable} if usable and fault_rate else {}
        for kind, rate in per_kind.items():
            if kind in applicable:
                rates[kind] = rates.get(kind, 0.0) + rate
        return rates

    def _log(self, kind, platform, shop, method, source) -> None:
        self.history.append({"kind": kind, "platform": platform, "shop": shop, "method": method, "source": source})
        del self.history[:-500]

    # --------------------------------------------------------------------- real rate limiting
    def over_qps(self, config: dict, platform: str, app_key: str) -> bool:
        limit = float((config.get("qps_limit") or {}).get(platform) or 0)
        if limit <= 0:
            return False
        now = time.monotonic()
        with self._bucket_lock:
            tokens, last = self._buckets.get((platform, app_key), [limit, now])
            tokens = min(limit, tokens + (now - last) * limit)
            if tokens < 1:
                self._buckets[(platform, app_key)] = [tokens, now]
                return True
            self._buckets[(platform, app_key)] = [tokens - 1, now]
            return False
