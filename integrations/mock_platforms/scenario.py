"""Platform-neutral state of the simulated platforms and the seeded scenario that moves it.

Everything here is plain Python (no Django). Amounts are integer fen, times aware UTC datetimes.
The platform modules (taobao.py, jd.py, pdd.py) render this state in each platform's own shape.

Determinism: arrivals use one RNG per shop and every order's content and lifecycle use an RNG
derived from (seed, platform, order id), so the same seed and the same sequence of calls
(advance/generate/API writes) give the same platform state.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from . import catalog as cat

CST = timezone(timedelta(hours=8))
ORDER_STATES = ("unpaid", "paid", "shipped", "finished", "closed")
REFUND_OPEN = ("requested", "wait_return", "wait_confirm")


# --------------------------------------------------------------------------------------- helpers
def fmt_cst(dt: datetime | None) -> str | None:
    return dt.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S") if dt else None


def parse_cst(value: str) -> datetime:
    return datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST).astimezone(UTC)


def parse_iso(value) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip().replace("Z", "+00:00")
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            dt = parse_cst(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def to_fen(value) -> int:
    if isinstance(value, int):
        return value
    return int((Decimal(str(value)) * 100).quantize(Decimal("1")))


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def yuan_num(fen: int) -> float:
    return round(fen / 100, 2)


def unix(dt: datetime | None) -> int | None:
    return int(dt.timestamp()) if dt else None


def whole_seconds(dt: datetime) -> datetime:
    return dt.replace(microsecond=0)


# ------------------------------------------------------------------------------------- the model
@dataclass
class Shop:
    code: str
    platform: str
    platform_shop_id: str
    app_key: str
    app_secret: str
    access_token: str
    orders_per_hour: float | None = None
    index: int = 0
    seq: int = 0
    promo_until: datetime | None = None

    def public(self) -> dict:
        return {"code": self.code, "platform": self.platform, "platform_shop_id": self.platform_shop_id,
                "app_key": self.app_key, "app_secret": self.app_secret, "access_token": self.access_token,
                "orders_per_hour": self.orders_per_hour,
                "in_promotion_until": self.promo_until.isoformat() if self.promo_until else None}


@dataclass
class Listing:
    """One catalogue SKU as one shop lists it on its platform."""

    shop: str
    outer_id: str
    item_outer_id: str
    title: str
    props: str
    price: int
    item_id: int
    sku_id: int  # 0 = the item has no SKU variants
    quantity: int
    promo_locked: bool = False
    last_pushed: int | None = None
    modified: datetime | None = None

    def public(self) -> dict:
        return {"shop": self.shop, "outer_id": self.outer_id, "item_outer_id": self.item_outer_id,
                "title": self.title, "props": self.props, "price": yuan(self.price), "item_id": self.item_id,
                "sku_id": self.sku_id, "quantity": self.quantity, "promo_locked": self.promo_locked,
                "last_pushed": self.last_pushed}


@dataclass
class Line:
    line_id: str
    outer_id: str
    item_outer_id: str
    item_id: int
    sku_id: int
    title: str
    props: str
    qty: int
    price: int
    discount: int = 0
    refund_status: str = ""  # "", requested, wait_return, wait_confirm, refused, closed, success
    refund_id: str = ""
    shipped: bool = False
    carrier: str = ""
    tracking_no: str = ""
    consign_time: datetime | None = None
    oversold: bool = False
    estimate_ship: str = ""  # a presale line in an ordinary trade: Taobao's estimate_con_time text
    coupon_share: int = 0  # the part of ``discount`` a redeemed seller coupon gave (fen)

    @property
    def total(self) -> int:
        return self.price * self.qty

    @property
    def payment(self) -> int:
        return self.total - self.discount


@dataclass
class Order:
    id: str
    platform: str
    shop: str
    created: datetime
    modified: datetime
    lines: list[Line]
    status: str = "paid"  # ORDER_STATES
    closed_reason: str = ""  # unpaid_timeout, cancelled, refunded, group_failed
    post_fee: int = 0
    platform_discount: int = 0  # PDD: paid by the platform, not by the buyer
    pay_time: datetime | None = None
    confirm_time: datetime | None = None  # PDD 成交/成团 time
    consign_time: datetime | None = None
    end_time: datetime | None = None
    presale: bool = False
    deposit: int = 0
    step: str = ""  # "", front_nopaid, front_paid, final_paid
    risk_hold: bool = False
    group_status: int = 1
    jd_locked: bool = False
    buyer_nick: str = ""
    buyer_id: str = ""
    buyer_message: str = ""
    seller_memo: str = ""
    seller_flag: int = 0
    receiver: dict = field(default_factory=dict)
    merge_key: str = ""
    stock_deducted: bool = False
    version: int = 1
    served_version: int = 0
    prev: Order | None = None
    buyer_open_uid: str = ""  # Taobao: the open uid a coupon was sent to (else derived from buyer_id)
    coupon_id: str = ""  # a seller coupon the buyer redeemed on this order (platform coupon id)
    coupon_amount: int = 0  # its discount (fen), shared over the lines' discounts

    @property
    def goods_amount(self) -> int:
        return sum(line.total for line in self.lines)

    @property
    def discount(self) -> int:
        return sum(line.discount for line in self.lines)

    @property
    def payment(self) -> int:
        return sum(line.payment for line in self.lines) + self.post_fee

    @property
    def fully_paid(self) -> bool:
        return self.status != "unpaid" and (not self.presale or self.step == "final_paid")

    def line(self, line_id: str) -> Line | None:
        return next((line for line in self.lines if line.line_id == str(line_id)), None)


@dataclass
class Refund:
    id: str
    platform: str
    shop: str
    order_id: str
    line_ids: list[str]
    amount: int
    reason: str
    phase: str  # "before" (not shipped) or "after"
    return_goods: bool
    status: str  # requested, wait_return, wait_confirm, success, closed, refused
    created: datetime
    modified: datetime
    version: int = 1
    checked: datetime | None = None
    seller_decided: bool = False  # the seller answered through the API: the scenario's own resolution stops


@dataclass
class Bill:
    id: str
    platform: str
    shop: str
    order_id: str
    line_id: str
    kind: str  # sale, commission, service_fee, refund, freight
    amount: int  # signed fen
    booked_at: datetime
    biz_time: datetime
    item_id: int = 0
    sku_id: int = 0
    description: str = ""


@dataclass
class PlatformCoupon:
    """A seller coupon the platform delivered to one buyer (sent by the ERP through the coupon API)."""

    id: str
    platform: str
    shop: str
    request_id: str  # the sender's idempotency key: the same key answers the same coupon
    buyer: str  # Taobao buyer_open_uid / nick, JD pin, PDD buyer id, as sent
    amount: int  # fen off
    threshold: int  # fen: the order's goods must reach this
    start: datetime
    end: datetime
    title: str
    created: datetime
    status: str = "unused"  # unused, used, cancelled (expired is derived from ``end``)
    order_id: str = ""
    used_at: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.status == "unused" and self.end <= now:
            return "expired"
        return self.status

    def public(self, now: datetime) -> dict:
        return {"id": self.id, "platform": self.platform, "shop": self.shop, "request_id": self.request_id,
                "buyer": self.buyer, "amount": self.amount, "threshold": self.threshold,
                "start": self.start.isoformat(), "end": self.end.isoformat(), "title": self.title,
                "status": self.state(now), "order_id": self.order_id,
                "used_at": self.used_at.isoformat() if self.used_at else None}


class ScenarioError(Exception):
    """A business rule refused the operation. ``code`` is a short machine-readable reason."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code
        self.message = message or code


DEFAULT_CONFIG = {
    "seed": 1,
    "fault_rate": 0.0,
    "fault_kinds": ["rate_limit", "server_error", "slow", "duplicate", "page_shift", "out_of_order"],
    "fault_rates": {},
    "platform_faults": {},
    "shop_faults": {},
    "slow_seconds": 2.0,
    "qps_limit": {"taobao": 0, "jd": 0, "pdd": 0},
    "orders_per_hour": 12.0,
    "promotions": True,
    "durations_scale": 1.0,
    "realtime": False,
    "realtime_tick_seconds": 2.0,
    "deduct_stock_on_order": True,
    "coupon_redeem_rate": 0.5,  # share of delivered coupons the buyer redeems on a later order
    "coupon_redeem_within_hours": 72,  # ... within this many (scaled) hours of delivery
}


# ------------------------------------------------------------------------------------- the world
class World:
    """The state of all simulated shops plus the scenario clock and its scheduled events."""

    def __init__(self, *, seed: int = 1, start_time=None, shops=None, catalog=None, config=None):
        self.config = copy.deepcopy(DEFAULT_CONFIG)
        if config:
            self.config.update(copy.deepcopy(config))
        self.config["seed"] = seed
        self.seed = seed
        start = parse_iso(start_time) if start_time else datetime.now(UTC)
        self.now = whole_seconds(start)
        self.start_time = self.now
        self.shops: dict[str, Shop] = {}
        self.listings: dict[tuple[str, str], Listing] = {}
        self.orders: dict[tuple[str, str], Order] = {}
        self.refunds: dict[tuple[str, str], Refund] = {}
        self.bills: list[Bill] = []
        self.stock_log: list[dict] = []
        self.shipments: list[dict] = []
        self.refund_decisions: list[dict] = []
        self.coupons: dict[tuple[str, str], PlatformCoupon] = {}
        self.coupon_requests: dict[tuple[str, str], tuple[str, str]] = {}  # (shop, request id) -> coupon key
        self.coupon_log: list[dict] = []
        self._events: list = []
        self._event_seq = itertools.count()
        self._id_seq = itertools.count(1)
        self._order_rngs: dict[tuple[str, str], random.Random] = {}
        self._shop_rngs: dict[str, random.Random] = {}
        self._recent_receivers: dict[str, list[tuple[dict, str, str, str]]] = {}
        self._catalog_spec = list(catalog if catalog is not None else cat.DEFAULT_CATALOG)
        for spec in shops if shops is not None else cat.DEFAULT_SHOPS:
            self.add_shop(spec)

    # ---------------------------------------------------------------------------- shops, catalogue
    def add_shop(self, spec: dict, catalog: list | None = None) -> Shop:
        code = spec["code"]
        existing = self.shops.get(code)
        index = existing.index if existing else (max((s.index for s in self.shops.values()), default=0) + 1)
        shop = Shop(code=code, platform=spec["platform"], platform_shop_id=str(spec.get("platform_shop_id") or code),
                    app_key=spec["app_key"], app_secret=spec["app_secret"], access_token=spec["access_token"],
                    orders_per_hour=spec.get("orders_per_hour"), index=index,
                    seq=existing.seq if existing else 0)
        if shop.platform not in ("taobao", "jd", "pdd"):
            raise ScenarioError("invalid_platform", f"unknown platform {shop.platform!r}")
        self.shops[code] = shop
        self._shop_rngs[code] = random.Random(f"{self.seed}:arrivals:{code}")
        if not existing or catalog is not None:
            self.set_catalog(catalog if catalog is not None else self._catalog_spec, shop=code)
        return shop

    def set_catalog(self, specs: list[dict], shop: str | None = None) -> None:
        codes = [shop] if shop else list(self.shops)
        if not shop:
            self._catalog_spec = list(specs)
        for code in codes:
            s = self.shops[code]
            for key in [k for k in self.listings if k[0] == code]:
                del self.listings[key]
            items: dict[str, int] = {}
            for j, spec in enumerate(specs):
                outer_id = str(spec["outer_id"])
                item_outer = str(spec.get("item_outer_id") or outer_id)
                if item_outer not in items:
                    items[item_outer] = len(items)
                i = items[item_outer]
                item_id, sku_id = self._platform_ids(s, i, j)
                if spec.get("no_sku"):
                    sku_id = 0
                self.listings[(code, outer_id)] = Listing(
                    shop=code, outer_id=outer_id, item_outer_id=item_outer, title=str(spec.get("title") or outer_id),
                    props=str(spec.get("props") or ""), price=to_fen(spec.get("price", "50.00")), item_id=item_id,
                    sku_id=sku_id, quantity=int(spec.get("quantity", 100)),
                    promo_locked=bool(spec.get("promo_locked", False)), modified=self.now)

    @staticmethod
    def _platform_ids(shop: Shop, item_index: int, sku_index: int) -> tuple[int, int]:
        if shop.platform == "taobao":
            return 600000000000 + shop.index * 10000 + item_index + 1, 4000000000000 + shop.index * 100000 + sku_index + 1
        if shop.platform == "jd":
            return 100000000 + shop.index * 10000 + item_index + 1, 10000000000 + shop.index * 100000 + sku_index + 1
        return 300000000000 + shop.index * 10000 + item_index + 1, 1000000000000 + shop.index * 100000 + sku_index + 1

    def shop_listings(self, code: str) -> list[Listing]:
        return [lst for (c, _), lst in self.listings.items() if c == code]

    def find_listing(self, code: str, *, item_id=None, sku_id=None, outer_id=None) -> Listing | None:
        candidates = self.shop_listings(code)
        if item_id not in (None, ""):
            candidates = [lst for lst in candidates if str(lst.item_id) == str(item_id)]
        if sku_id not in (None, "", "0", 0):
            return next((lst for lst in candidates if str(lst.sku_id) == str(sku_id)), None)
        if outer_id not in (None, ""):
            return next((lst for lst in candidates if lst.outer_id == str(outer_id)), None)
        if item_id not in (None, "") and len(candidates) == 1 and candidates[0].sku_id == 0:
            return candidates[0]
        return None

    # ------------------------------------------------------------------------------------- clock
    def scaled(self, minutes: float) -> timedelta:
        return timedelta(seconds=max(1, round(minutes * 60 * float(self.config.get("durations_scale", 1.0)))))

    def schedule(self, when: datetime, kind: str, *args) -> None:
        heapq.heappush(self._events, (whole_seconds(when), next(self._event_seq), kind, args))

    def advance(self, seconds: float) -> dict:
        """Move the clock forward, creating arrivals and running due events. Returns what happened."""
        created: list[str] = []
        target = self.now + timedelta(seconds=max(0.0, float(seconds)))
        while self.now < target:
            step_end = min(target, self.now + timedelta(seconds=60))
            step = (step_end - self.now).total_seconds()
            arrivals = []
            for code in sorted(self.shops):
                shop = self.shops[code]
                rng = self._shop_rngs[code]
                rate = self._rate_per_second(shop, rng, step)
                for _ in range(_poisson(rng, rate * step)):
                    offset = rng.random() * step
                    arrivals.append((self.now + timedelta(seconds=offset), code))
            arrivals.sort()
            for when, code in arrivals:
                self._run_events_until(when)
                self.now = max(self.now, when)
                created.append(self.create_order(code).id)
            self._run_events_until(step_end)
            self.now = max(self.now, step_end)
        return {"now": self.now.isoformat(), "created": created}

    def _rate_per_second(self, shop: Shop, rng: random.Random, step: float) -> float:
        per_hour = shop.orders_per_hour if shop.orders_per_hour is not None else float(self.config["orders_per_hour"])
        rate = max(0.0, float(per_hour)) / 3600.0
        if self.config.get("promotions", True):
            if shop.promo_until and shop.promo_until <= self.now:
                shop.promo_until = None
            if shop.promo_until is None and rng.random() < step / (6 * 3600.0):
                shop.promo_until = self.now + timedelta(minutes=rng.randint(30, 90))
            if shop.promo_until:
                rate *= 6
        return rate

    def _run_events_until(self, when: datetime) -> None:
        while self._events and self._events[0][0] <= when:
            at, _, kind, args = heapq.heappop(self._events)
            self.now = max(self.now, at)
            handler = getattr(self, f"_ev_{kind}")
            handler(*args)

    # ------------------------------------------------------------------------------ mutations
    def stamp(self) -> datetime:
        return whole_seconds(self.now)

    def touch(self, order: Order) -> None:
        """Record that ``order`` is about to change: keep its previous version, bump modified/version."""
        snapshot = copy.copy(order)
        snapshot.prev = None
        snapshot.lines = [copy.copy(line) for line in order.lines]
        snapshot.receiver = dict(order.receiver)
        order.prev = snapshot
        order.version += 1
        order.modified = self._later_than(order.modified)

    def touch_refund(self, refund: Refund) -> None:
        refund.version += 1
        refund.modified = self._later_than(refund.modified)

    def _later_than(self, previous: datetime) -> datetime:
        """A modification stamp after ``previous`` that is never in the platform's future: a second change
        within the same second moves the simulated clock on by a second."""
        if self.stamp() <= previous:
            self.now = previous + timedelta(seconds=1)
        return self.stamp()

    def order_rng(self, order: Order) -> random.Random:
        key = (order.platform, order.id)
        if key not in self._order_rngs:
            self._order_rngs[key] = random.Random(f"{self.seed}:{order.platform}:{order.id}")
        return self._order_rngs[key]

    def get_order(self, platform: str, order_id) -> Order | None:
        return self.orders.get((platform, str(order_id)))

    # ---------------------------------------------------------------------------- order creation
    def _new_order_id(self, shop: Shop) -> str:
        shop.seq += 1
        if shop.platform == "taobao":
            return str(2100000000000000000 + shop.index * 10**13 + shop.seq * 10)
        if shop.platform == "jd":
            return str(300000000000 + shop.index * 10**9 + shop.seq)
        return f"{self.now.astimezone(CST):%y%m%d}-{500000000000000 + shop.index * 10**11 + shop.seq:015d}"

    def create_order(self, code: str, kind: str | None = None, lines: list[dict] | None = None) -> Order:
        """Create one order in shop ``code`` at the current time. ``kind`` forces a flavour (see PROTOCOL.md)."""
        shop = self.shops[code]
        order_id = self._new_order_id(shop)
        now = self.stamp()
        order = Order(id=order_id, platform=shop.platform, shop=code, created=now, modified=now, lines=[])
        rng = self.order_rng(order)
        listings = self.shop_listings(code)
        if not listings:
            raise ScenarioError("empty_catalog", f"shop {code} has no catalogue")
        # lines
        if lines:
            picked = []
            for spec in lines:
                lst = self.listings.get((code, str(spec["outer_id"])))
                if lst is None:
                    raise ScenarioError("unknown_sku", f"unknown outer_id {spec['outer_id']!r}")
                picked.append((lst, int(spec.get("qty", 1))))
        else:
            n_lines = 1 if kind != "multi_line" else rng.choice([2, 3])
            if kind is None:
                n_lines = rng.choices([1, 2, 3], weights=[65, 25, 10])[0]
            chosen = rng.sample(listings, min(n_lines, len(listings)))
            picked = [(lst, rng.choices([1, 2, 3], weights=[75, 18, 7])[0]) for lst in chosen]
        for n, (lst, qty) in enumerate(picked, start=1):
            line_id = (str(int(order_id) + n) if len(picked) > 1 else order_id) if shop.platform == "taobao" \
                else f"{order_id}-{n}"
            order.lines.append(Line(line_id=line_id, outer_id=lst.outer_id, item_outer_id=lst.item_outer_id,
                                    item_id=lst.item_id, sku_id=lst.sku_id, title=lst.title, props=lst.props,
                                    qty=qty, price=lst.price))
        # money
        goods = order.goods_amount
        in_promo = bool(shop.promo_until)
        if rng.random() < (0.7 if in_promo else 0.4) and goods >= 2000:
            coupon = min(rng.choice([300, 500, 1000, 2000]), goods // 5)
            self._spread_discount(order, coupon)
        if rng.random() < 0.3:
            order.post_fee = rng.choice([600, 800, 1000])
        if shop.platform == "pdd" and rng.random() < 0.3:
            order.platform_discount = min(rng.choice([100, 200, 300]), order.payment - 1)
        # buyer and receiver
        self._assign_receiver(order, rng, force_merge=(kind == "merge"))
        if rng.random() < 0.3:
            order.buyer_message = rng.choice(cat.BUYER_MESSAGES)
        # flavour
        presale = kind == "presale" or (kind is None and shop.platform != "jd" and rng.random() < 0.08)
        risk = kind == "risk" or (kind is None and rng.random() < 0.05)
        forming = shop.platform == "pdd" and (kind == "group_forming" or (kind is None and rng.random() < 0.10))
        unpaid = shop.platform == "taobao" and (kind == "unpaid" or (kind is None and rng.random() < 0.3))
        self.orders[(order.platform, order.id)] = order
        if presale:
            order.presale = True
            order.deposit = max(100, (order.payment // 5) // 100 * 100)
            if shop.platform == "taobao":
                order.status, order.step = "unpaid", "front_nopaid"
                self.schedule(now + self.scaled(rng.uniform(1, 5)), "deposit_paid", order.platform, order.id)
            else:
                order.status, order.step = "paid", "front_paid"
                order.pay_time = order.confirm_time = now
                self._deduct_stock(order)
            if rng.random() < 0.9:
                self.schedule(now + self.scaled(rng.uniform(60, 180)), "final_paid", order.platform, order.id)
            else:
                self.schedule(now + self.scaled(240), "unpaid_close", order.platform, order.id)
        elif unpaid:
            order.status = "unpaid"
            if kind != "unpaid" and rng.random() < 0.85:
                self.schedule(now + self.scaled(rng.uniform(1, 15)), "pay", order.platform, order.id, risk)
            else:
                self.schedule(now + self.scaled(30), "unpaid_close", order.platform, order.id)
        else:
            self._mark_paid(order, risk=risk)
        if forming:
            order.group_status = 0
            order.confirm_time = None
            if rng.random() < 0.9 or kind == "group_forming":
                self.schedule(now + self.scaled(rng.uniform(1, 20)), "group_form", order.platform, order.id)
            else:
                self.schedule(now + self.scaled(20), "group_fail", order.platform, order.id)
        if kind is None:
            if rng.random() < 0.05:
                self.schedule(now + self.scaled(rng.uniform(2, 60)), "address_change", order.platform, order.id)
            if rng.random() < 0.05:
                self.schedule(now + self.scaled(rng.uniform(3, 90)), "cancel_request", order.platform, order.id)
        return order

    @staticmethod
    def _spread_discount(order: Order, amount: int) -> None:
        goods = order.goods_amount
        left = amount
        for n, line in enumerate(order.lines):
            share = left if n == len(order.lines) - 1 else amount * line.total // goods
            line.discount += share
            left -= share

    def _assign_receiver(self, order: Order, rng: random.Random, force_merge: bool = False) -> None:
        recent = self._recent_receivers.setdefault(order.shop, [])
        if recent and (force_merge or rng.random() < 0.10):
            receiver, merge_key, nick, buyer_id = recent[-1] if force_merge else rng.choice(recent)
            order.receiver, order.merge_key, order.buyer_nick, order.buyer_id = dict(receiver), merge_key, nick, buyer_id
            return
        order.receiver = self._random_receiver(rng)
        order.buyer_id = f"{order.platform}-buyer-{rng.randrange(10**8):08d}"
        order.buyer_nick = f"{order.receiver['name'][0]}**{rng.randrange(100):02d}"
        order.merge_key = self._merge_key(order)
        recent.append((dict(order.receiver), order.merge_key, order.buyer_nick, order.buyer_id))
        del recent[:-20]

    @staticmethod
    def _random_receiver(rng: random.Random) -> dict:
        province, city, districts = rng.choice(cat.REGIONS)
        return {"name": rng.choice(cat.SURNAMES) + rng.choice(cat.GIVEN),
                "phone": f"1{rng.choice('35789')}{rng.randrange(10**9):09d}",
                "province": province, "city": city, "district": rng.choice(districts),
                "address": f"{rng.choice(cat.STREETS)}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2808)}室",
                "zip": f"{rng.randint(100000, 850000)}"}

    def _merge_key(self, order: Order) -> str:
        r = order.receiver
        raw = "|".join([order.shop, order.buyer_id, r["name"], r["phone"], r["province"], r["city"], r["district"],
                        r["address"]])
        return hashlib.sha1(raw.encode()).hexdigest()[:32]

    def _mark_paid(self, order: Order, risk: bool = False) -> None:
        order.status = "paid"
        order.pay_time = self.stamp()
        if order.group_status == 1:
            order.confirm_time = order.pay_time
        self._deduct_stock(order)
        if risk:
            order.risk_hold = True
            rng = self.order_rng(order)
            self.schedule(self.now + self.scaled(rng.uniform(5, 30)), "risk_release", order.platform, order.id)

    def _deduct_stock(self, order: Order) -> None:
        if order.stock_deducted or not self.config.get("deduct_stock_on_order", True):
            return
        order.stock_deducted = True
        for line in order.lines:
            lst = self.listings.get((order.shop, line.outer_id))
            if lst is None:
                continue
            if lst.quantity < line.qty:
                line.oversold = True
            lst.quantity = max(0, lst.quantity - line.qty)

    def _restore_stock(self, order: Order) -> None:
        if not order.stock_deducted:
            return
        order.stock_deducted = False
        for line in order.lines:
            if line.shipped:
                continue
            lst = self.listings.get((order.shop, line.outer_id))
            if lst is not None:
                lst.quantity += line.qty

    # ---------------------------------------------------------------------------------- events
    def _order_for_event(self, platform, order_id) -> Order | None:
        return self.orders.get((platform, order_id))

    def _ev_pay(self, platform, order_id, risk=False):
        order = self._order_for_event(platform, order_id)
        if order and order.status == "unpaid" and not order.presale:
            self.touch(order)
            self._mark_paid(order, risk=risk)

    def _ev_deposit_paid(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if order and order.status == "unpaid" and order.step == "front_nopaid":
            self.touch(order)
            order.step = "front_paid"
            self._deduct_stock(order)

    def _ev_final_paid(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if not order or order.step != "front_paid" or order.status == "closed":
            return
        self.touch(order)
        order.step = "final_paid"
        if order.platform == "taobao":
            self._mark_paid(order)
        else:
            order.pay_time = self.stamp()

    def _ev_unpaid_close(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if not order or order.status == "closed":
            return
        if order.status == "unpaid" or (order.presale and order.step != "final_paid" and not any(
                line.shipped for line in order.lines)):
            self.touch(order)
            order.status = "closed"
            order.closed_reason = "unpaid_timeout" if order.step in ("", "front_nopaid") else "cancelled"
            order.end_time = self.stamp()
            self._restore_stock(order)

    def _ev_risk_release(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if order and order.risk_hold:
            self.touch(order)
            order.risk_hold = False

    def _ev_group_form(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if order and order.group_status == 0 and order.status != "closed":
            self.touch(order)
            order.group_status = 1
            order.confirm_time = self.stamp()

    def _ev_group_fail(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if order and order.group_status == 0 and order.status != "closed":
            self.touch(order)
            order.group_status = 2
            refund = self._new_refund(order, order.lines, order.payment, "拼团失败", return_goods=False)
            refund.status = "success"
            refund.checked = self.stamp()
            for line in order.lines:
                line.refund_status, line.refund_id = "success", refund.id
            order.status, order.closed_reason, order.end_time = "closed", "group_failed", self.stamp()
            self._restore_stock(order)

    def _ev_address_change(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if order:
            try:
                self.change_address(order)
            except ScenarioError:
                pass

    def _ev_cancel_request(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if order and order.status == "paid" and not any(line.shipped for line in order.lines):
            self.cancel_before_shipment(order)

    def _ev_refund_step(self, platform, refund_id, outcome, origin="scenario"):
        refund = self.refunds.get((platform, refund_id))
        if refund is None or refund.status not in REFUND_OPEN:
            return
        if refund.seller_decided and origin != "seller":
            return  # the seller decided through the API: the scenario's own resolution no longer applies
        self.resolve_refund(refund, outcome, follow_up=origin != "seller")

    def _ev_finish(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if order and order.status == "shipped":
            self.finish(order)

    def _ev_after_refund(self, platform, order_id):
        order = self._order_for_event(platform, order_id)
        if not order or order.status not in ("shipped", "finished"):
            return
        rng = self.order_rng(order)
        open_lines = [line for line in order.lines if line.refund_status in ("", "closed", "refused")]
        if not open_lines:
            return
        if rng.random() < 0.6:
            line = rng.choice(open_lines)
            amount = line.payment if rng.random() < 0.5 else max(1, line.payment * rng.randint(30, 70) // 100)
            self.open_refund(order, [line], amount=amount, return_goods=rng.random() < 0.5)
        else:
            self.open_refund(order, open_lines, amount=None, return_goods=rng.random() < 0.5)

    # ---------------------------------------------------------------------- business operations
    def _new_refund(self, order: Order, lines: list[Line], amount: int, reason: str, *, return_goods: bool) -> Refund:
        n = next(self._id_seq)
        if order.platform == "taobao":
            refund_id = str(120000000000000000 + n)
        elif order.platform == "jd":
            refund_id = str(70000000 + n)
        else:
            refund_id = str(9000000000 + n)
        shipped = any(line.shipped for line in lines) or order.status in ("shipped", "finished")
        now = self.stamp()
        refund = Refund(id=refund_id, platform=order.platform, shop=order.shop, order_id=order.id,
                        line_ids=[line.line_id for line in lines], amount=amount, reason=reason,
                        phase="after" if shipped else "before", return_goods=return_goods and shipped,
                        status="requested", created=now, modified=now)
        self.refunds[(order.platform, refund_id)] = refund
        return refund

    def open_refund(self, order: Order, lines: list[Line], *, amount: int | None = None, return_goods: bool = False,
                    reason: str | None = None, outcome: str | None = None, auto_resolve: bool = True) -> list[Refund]:
        """Buyer asks for a refund of ``lines`` (``amount`` None = each line's full payment)."""
        if order.status in ("unpaid",) or (order.status == "closed"):
            raise ScenarioError("status_not_allow", "order is not paid or already closed")
        for line in lines:
            if line.refund_status in REFUND_OPEN or line.refund_status == "success":
                raise ScenarioError("refund_exists", f"line {line.line_id} already has a refund")
        rng = self.order_rng(order)
        reason = reason or rng.choice(cat.REFUND_REASONS)
        self.touch(order)
        if order.platform == "taobao" or amount is not None:
            groups = [[line] for line in lines] if order.platform == "taobao" else [lines]
        else:
            groups = [lines]
        refunds = []
        for group in groups:
            share = amount if amount is not None and len(groups) == 1 else sum(line.payment for line in group)
            if amount is not None and len(groups) > 1:
                share = amount * sum(line.payment for line in group) // max(1, sum(line.payment for line in lines))
            if order.platform != "taobao" and amount is None and all(line.refund_status == "" for line in order.lines) \
                    and len(group) == len(order.lines):
                share += order.post_fee if not any(line.shipped for line in order.lines) else 0
            refund = self._new_refund(order, group, share, reason, return_goods=return_goods)
            for line in group:
                line.refund_status, line.refund_id = "requested", refund.id
            refunds.append(refund)
            if auto_resolve:
                result = outcome or rng.choices(["success", "closed", "refused"], weights=[75, 15, 10])[0]
                if refund.return_goods and result == "success":
                    self.schedule(self.now + self.scaled(rng.uniform(10, 60)), "refund_step", refund.platform,
                                  refund.id, "wait_return")
                else:
                    self.schedule(self.now + self.scaled(rng.uniform(10, 120)), "refund_step", refund.platform,
                                  refund.id, result)
        return refunds

    def cancel_before_shipment(self, order: Order) -> list[Refund]:
        """The buyer cancels a paid, unshipped order (a refund before shipment)."""
        rng = self.order_rng(order)
        outcome = "success" if rng.random() < 0.9 else "closed"
        refunds = self.open_refund(order, list(order.lines), reason="不想要了", outcome=outcome, auto_resolve=False)
        if order.platform == "jd":
            order.jd_locked = True
        for refund in refunds:
            self.schedule(self.now + self.scaled(rng.uniform(5, 30)), "refund_step", refund.platform, refund.id, outcome)
        return refunds

    def resolve_refund(self, refund: Refund, outcome: str, *, follow_up: bool = True) -> None:
        """Move a refund to ``outcome``. ``follow_up`` schedules the scenario's next step of a return
        (the buyer ships back, then the platform completes); a seller-driven return waits for the seller."""
        order = self.orders[(refund.platform, refund.order_id)]
        rng = self.order_rng(order)
        self.touch_refund(refund)
        self.touch(order)
        lines = [order.line(line_id) for line_id in refund.line_ids]
        if outcome == "wait_return":
            refund.status = "wait_return"
            for line in lines:
                line.refund_status = "wait_return"
            if follow_up:
                self.schedule(self.now + self.scaled(rng.uniform(60, 24 * 60)), "refund_step", refund.platform,
                              refund.id, "wait_confirm")
            return
        if outcome == "wait_confirm":
            refund.status = "wait_confirm"
            for line in lines:
                line.refund_status = "wait_confirm"
            if follow_up:
                self.schedule(self.now + self.scaled(rng.uniform(60, 24 * 60)), "refund_step", refund.platform,
                              refund.id, "success")
            return
        refund.status = outcome
        refund.checked = self.stamp()
        for line in lines:
            line.refund_status = outcome
        if order.platform == "jd" and order.jd_locked and outcome != "success":
            order.jd_locked = False
        if outcome != "success":
            return
        if refund.phase == "after":
            line = lines[0]
            self._bill(order, line.line_id, "refund", -refund.amount, line=line, description=refund.reason)
        if all(line.refund_status == "success" for line in order.lines):
            if not any(line.shipped for line in order.lines):
                self._restore_stock(order)
            order.jd_locked = False
            order.status = "closed"
            order.closed_reason = "refunded"
            order.end_time = self.stamp()

    # -------------------------------------------------------------------- seller refund decisions
    # decision -> (states it may be taken in, states that mean it was already applied)
    DECISIONS = {
        "agree_refund": (("requested",), ("success",)),
        "agree_return": (("requested",), ("wait_return", "wait_confirm")),
        "confirm_receipt": (("wait_confirm",), ("success",)),
        "refuse": (("requested", "wait_confirm"), ("refused",)),
    }

    def seller_decide(self, shop: Shop, *, method: str, refund_id, decision: str, params: dict | None = None) -> Refund:
        """A seller's refund decision as a platform API receives it: recorded, validated against the
        refund's state, applied. Raises ScenarioError: REFUND_NOT_FOUND, ALREADY_DONE (the same decision
        was applied before: the platform answers so, a retry must not apply it twice), STATUS_NOT_ALLOW
        (any other state; the message names it), NOT_RETURN (agree_return on a refund without goods to
        return)."""
        refund = self.refunds.get((shop.platform, str(refund_id)))
        record = {"seq": len(self.refund_decisions) + 1, "at": self.now.isoformat(), "platform": shop.platform,
                  "shop": shop.code, "method": method, "refund_id": str(refund_id),
                  "order_id": refund.order_id if refund else "", "decision": decision,
                  "params": {k: v for k, v in (params or {}).items()},
                  "status_before": refund.status if refund else "", "status_after": refund.status if refund else "",
                  "accepted": False, "error": ""}
        self.refund_decisions.append(record)
        if refund is None or refund.shop != shop.code:
            record["error"] = "REFUND_NOT_FOUND"
            raise ScenarioError("REFUND_NOT_FOUND", f"refund {refund_id} not found")
        allowed, done = self.DECISIONS[decision]
        if decision == "agree_return" and refund.status == "success" and refund.return_goods:
            done = (*done, "success")
        if refund.status in done:
            record["error"] = "ALREADY_DONE"
            raise ScenarioError("ALREADY_DONE", f"refund {refund.id} is already {refund.status}")
        if refund.status not in allowed:
            record["error"] = "STATUS_NOT_ALLOW"
            raise ScenarioError("STATUS_NOT_ALLOW", f"refund {refund.id} is {refund.status}: cannot {decision}")
        if decision == "agree_return" and not refund.return_goods:
            record["error"] = "NOT_RETURN"
            raise ScenarioError("NOT_RETURN", f"refund {refund.id} has no goods to return")
        refund.seller_decided = True
        if decision in ("agree_refund", "confirm_receipt"):
            self.resolve_refund(refund, "success")
        elif decision == "refuse":
            self.resolve_refund(refund, "refused")
        else:
            self.resolve_refund(refund, "wait_return", follow_up=False)
            rng = self.order_rng(self.orders[(refund.platform, refund.order_id)])
            self.schedule(self.now + self.scaled(rng.uniform(60, 6 * 60)), "refund_step", refund.platform, refund.id,
                          "wait_confirm", "seller")  # the buyer ships the goods back
        record.update(status_after=refund.status, accepted=True)
        return refund

    def change_address(self, order: Order) -> None:
        if order.status not in ("unpaid", "paid") or any(line.shipped for line in order.lines):
            raise ScenarioError("status_not_allow", "address can only change before shipment")
        rng = self.order_rng(order)
        self.touch(order)
        order.receiver = self._random_receiver(rng)
        order.merge_key = self._merge_key(order)

    def finish(self, order: Order) -> None:
        self.touch(order)
        order.status = "finished"
        order.end_time = self.stamp()
        rng = self.order_rng(order)
        rate = rng.choice([2, 3, 5])
        for line in order.lines:
            if line.refund_status == "success" and line.payment <= 0:
                continue
            sale = line.payment
            if rng.random() < 0.15:  # a platform subsidy or a rounding difference: bills need not match orders
                sale += rng.choice([-1, 100, 200, 500])
            self._bill(order, line.line_id, "sale", sale, line=line)
            self._bill(order, line.line_id, "commission", -(line.payment * rate // 100), line=line)
            if rng.random() < 0.9:
                self._bill(order, line.line_id, "service_fee", -max(1, line.payment * 6 // 1000), line=line)
        if order.platform_discount:
            self._bill(order, order.lines[0].line_id, "sale", order.platform_discount, line=order.lines[0],
                       description="平台补贴")
        if order.post_fee:
            self._bill(order, order.id, "freight", order.post_fee)

    def _bill(self, order: Order, line_id: str, kind: str, amount: int, *, line: Line | None = None,
              description: str = "") -> None:
        n = next(self._id_seq)
        self.bills.append(Bill(id=str(80000000000 + n), platform=order.platform, shop=order.shop, order_id=order.id,
                               line_id=str(line_id), kind=kind, amount=amount, booked_at=self.stamp(),
                               biz_time=order.end_time or self.stamp(), item_id=line.item_id if line else 0,
                               sku_id=line.sku_id if line else 0, description=description))

    def ship(self, order: Order, *, carrier: str, tracking_no: str, line_ids: list[str] | None = None,
             redelivery: bool = False) -> None:
        """The seller ships (all unshipped lines, or ``line_ids``). Raises ScenarioError with a reason code."""
        if redelivery:
            if not any(line.shipped for line in order.lines):
                raise ScenarioError("STATUS_NOT_ALLOW", "order not shipped yet")
            self.touch(order)
            for line in order.lines:
                if line.shipped:
                    line.carrier, line.tracking_no = carrier, tracking_no
            return
        if order.status == "unpaid" or not order.fully_paid:
            raise ScenarioError("PRESALE_NOT_PAID" if order.presale else "STATUS_NOT_ALLOW", "order not fully paid")
        if order.status == "closed":
            raise ScenarioError("REFUNDED" if order.closed_reason in ("refunded", "group_failed") else "STATUS_NOT_ALLOW",
                                "order closed")
        if order.status in ("shipped", "finished"):
            raise ScenarioError("ALREADY_SENT", "order already shipped")
        if order.group_status != 1:
            raise ScenarioError("GROUP_NOT_FORMED", "group not formed")
        if order.risk_hold:
            raise ScenarioError("RISK_CONTROL", "platform forbids shipping (risk review)")
        if order.jd_locked:
            raise ScenarioError("LOCKED", "order locked by a cancellation request")
        if line_ids:
            lines = []
            for line_id in line_ids:
                line = order.line(line_id)
                if line is None:
                    raise ScenarioError("LINE_NOT_FOUND", f"unknown line {line_id}")
                lines.append(line)
        else:
            lines = [line for line in order.lines if not line.shipped and line.refund_status != "success"]
        if lines and all(line.shipped for line in lines):
            raise ScenarioError("ALREADY_SENT", "lines already shipped")
        lines = [line for line in lines if not line.shipped]
        for line in lines:
            if line.refund_status == "success":
                raise ScenarioError("REFUND_SUCCESS", f"line {line.line_id} refunded")
            if line.refund_status in REFUND_OPEN:
                raise ScenarioError("REFUND_IN_PROCESS", f"line {line.line_id} has a refund in process")
        if not lines:
            raise ScenarioError("ALREADY_SENT", "nothing left to ship")
        self.touch(order)
        now = self.stamp()
        for line in lines:
            line.shipped, line.carrier, line.tracking_no, line.consign_time = True, carrier, tracking_no, now
        remaining = [line for line in order.lines if not line.shipped and line.refund_status != "success"]
        if not remaining:
            order.status = "shipped"
            order.consign_time = now
            rng = self.order_rng(order)
            finish_at = self.now + self.scaled(rng.uniform(24 * 60, 4 * 24 * 60))
            self.schedule(finish_at, "finish", order.platform, order.id)
            if rng.random() < 0.10:
                self.schedule(self.now + self.scaled(rng.uniform(60, 2 * 24 * 60)), "after_refund", order.platform,
                              order.id)

    # ------------------------------------------------------------------------ stock, shipments
    def update_stock(self, shop: Shop, *, method: str, listing: Listing | None, mode: str, quantity: int,
                     ids: dict, locked_refuses_decrease: bool = False) -> dict:
        """Apply a stock push (``mode`` "full" or "incremental"), record it, raise ScenarioError if refused."""
        record = {"seq": len(self.stock_log) + 1, "at": self.now.isoformat(), "platform": shop.platform,
                  "shop": shop.code, "method": method, "item_id": ids.get("item_id"), "sku_id": ids.get("sku_id"),
                  "outer_id": listing.outer_id if listing else ids.get("outer_id"), "update_type": mode,
                  "quantity": quantity, "before": listing.quantity if listing else None, "after": None,
                  "accepted": False, "error": ""}
        self.stock_log.append(record)
        if listing is None:
            record["error"] = "SKU_NOT_FOUND"
            raise ScenarioError("SKU_NOT_FOUND", "item or sku not found")
        new = quantity if mode == "full" else listing.quantity + quantity
        if mode == "full" and quantity < 0:
            record["error"] = "INVALID_QUANTITY"
            raise ScenarioError("INVALID_QUANTITY", "full update needs quantity >= 0")
        if new < 0:
            record["error"] = "QUANTITY_BELOW_ZERO"
            raise ScenarioError("QUANTITY_BELOW_ZERO", "stock would drop below zero")
        if locked_refuses_decrease and listing.promo_locked and new < listing.quantity:
            record["error"] = "PROMO_LOCKED"
            raise ScenarioError("PROMO_LOCKED", "商品在资源位上，不能减少库存")
        listing.quantity = new
        listing.last_pushed = new
        listing.modified = self.stamp()
        record.update(after=new, accepted=True)
        return record

    def record_shipment(self, shop: Shop, *, order_id, carrier: str, tracking_no: str, lines=None,
                        accepted: bool, error: str = "") -> dict:
        record = {"seq": len(self.shipments) + 1, "at": self.now.isoformat(), "platform": shop.platform,
                  "shop": shop.code, "order_id": str(order_id), "carrier": carrier, "tracking_no": tracking_no,
                  "lines": list(lines or []), "accepted": accepted, "error": error}
        self.shipments.append(record)
        return record

    def ship_via_api(self, shop: Shop, order_id: str, *, carrier: str, tracking_no: str, line_ids=None,
                     redelivery: bool = False) -> None:
        """Shipment as a platform API receives it: recorded, then applied (ScenarioError = refused)."""
        order = self.get_order(shop.platform, order_id)
        if order is None or order.shop != shop.code:
            self.record_shipment(shop, order_id=order_id, carrier=carrier, tracking_no=tracking_no, lines=line_ids,
                                 accepted=False, error="ORDER_NOT_FOUND")
            raise ScenarioError("ORDER_NOT_FOUND", "order not found")
        try:
            self.ship(order, carrier=carrier, tracking_no=tracking_no, line_ids=line_ids, redelivery=redelivery)
        except ScenarioError as exc:
            if exc.code == "ALREADY_SENT":
                wanted = [order.line(x) for x in line_ids] if line_ids else order.lines
                same = all(line is None or not line.shipped or line.tracking_no == tracking_no for line in wanted)
                exc.message += " (same tracking number)" if same else " (different tracking number)"
            self.record_shipment(shop, order_id=order_id, carrier=carrier, tracking_no=tracking_no, lines=line_ids,
                                 accepted=False, error=exc.code)
            raise
        self.record_shipment(shop, order_id=order_id, carrier=carrier, tracking_no=tracking_no, lines=line_ids,
                             accepted=True)

    # ---------------------------------------------------------------------------------- coupons
    COUPON_BASE = {"taobao": 51000000000, "jd": 7100000000, "pdd": 91000000000}

    def send_coupon(self, shop: Shop, *, method: str, request_id: str, buyer: str, amount: int, threshold: int,
                    end: datetime, start: datetime | None = None, title: str = "") -> tuple[PlatformCoupon, bool]:
        """Deliver a seller coupon to a buyer as a platform's coupon API receives it: recorded, checked,
        applied. Idempotent on ``request_id`` per shop: a repeated request answers the coupon it made
        (``already`` True) and sends nothing. Raises ScenarioError: INVALID_AMOUNT, INVALID_TIME
        (ends before it starts or already ended), REQUEST_CONFLICT (the request id was used for
        another buyer). A delivered coupon may be redeemed by the buyer later (``coupon_redeem_rate``)."""
        record = {"seq": len(self.coupon_log) + 1, "at": self.now.isoformat(), "platform": shop.platform,
                  "shop": shop.code, "method": method, "request_id": request_id, "buyer": buyer, "amount": amount,
                  "threshold": threshold, "coupon_id": "", "accepted": False, "already": False, "error": ""}
        self.coupon_log.append(record)
        known = self.coupon_requests.get((shop.code, request_id))
        if known is not None:
            coupon = self.coupons[known]
            if coupon.buyer != buyer:
                record["error"] = "REQUEST_CONFLICT"
                raise ScenarioError("REQUEST_CONFLICT", f"request {request_id} was sent to another buyer")
            record.update(coupon_id=coupon.id, accepted=True, already=True)
            return coupon, True
        start = start or self.stamp()
        if amount <= 0 or threshold < 0:
            record["error"] = "INVALID_AMOUNT"
            raise ScenarioError("INVALID_AMOUNT", "the amount must be positive and the threshold not negative")
        if end <= start or end <= self.now:
            record["error"] = "INVALID_TIME"
            raise ScenarioError("INVALID_TIME", "the coupon ends before it starts or has ended")
        n = next(self._id_seq)
        coupon = PlatformCoupon(id=str(self.COUPON_BASE[shop.platform] + n), platform=shop.platform, shop=shop.code,
                                request_id=request_id, buyer=buyer, amount=amount, threshold=threshold,
                                start=whole_seconds(start), end=whole_seconds(end), title=title or "店铺优惠券",
                                created=self.stamp())
        self.coupons[(shop.platform, coupon.id)] = coupon
        self.coupon_requests[(shop.code, request_id)] = (shop.platform, coupon.id)
        record.update(coupon_id=coupon.id, accepted=True)
        rng = random.Random(f"{self.seed}:coupon:{shop.platform}:{coupon.id}")
        if rng.random() < float(self.config.get("coupon_redeem_rate", 0.5)):
            hours = float(self.config.get("coupon_redeem_within_hours", 72))
            when = max(self.now, coupon.start) + self.scaled(rng.uniform(1, max(1.0, hours * 60)))
            if when < coupon.end:
                self.schedule(when, "coupon_use", shop.platform, coupon.id)
        return coupon, False

    def get_coupon(self, shop: Shop, coupon_id) -> PlatformCoupon:
        coupon = self.coupons.get((shop.platform, str(coupon_id)))
        if coupon is None or coupon.shop != shop.code:
            raise ScenarioError("COUPON_NOT_FOUND", f"coupon {coupon_id} not found")
        return coupon

    def cancel_coupon(self, shop: Shop, coupon_id) -> PlatformCoupon:
        """Withdraw an unused coupon. Raises COUPON_NOT_FOUND, COUPON_USED, ALREADY_DONE (cancelled before)."""
        coupon = self.get_coupon(shop, coupon_id)
        if coupon.status == "used":
            raise ScenarioError("COUPON_USED", f"coupon {coupon.id} was used on order {coupon.order_id}")
        if coupon.status == "cancelled":
            raise ScenarioError("ALREADY_DONE", f"coupon {coupon.id} is already cancelled")
        coupon.status = "cancelled"
        return coupon

    def _ev_coupon_use(self, platform, coupon_id):
        coupon = self.coupons.get((platform, coupon_id))
        if coupon is not None and coupon.state(self.now) == "unused" and coupon.shop in self.shops:
            self.use_coupon(coupon)

    def use_coupon(self, coupon: PlatformCoupon) -> Order:
        """The buyer places an order that redeems the coupon: paid at once, its goods reach the
        threshold, the coupon's amount is shared over the lines' discounts. Raises ScenarioError
        COUPON_NOT_USABLE unless the coupon is unused and valid now."""
        if coupon.state(self.now) != "unused" or coupon.start > self.now:
            raise ScenarioError("COUPON_NOT_USABLE", f"coupon {coupon.id} is {coupon.state(self.now)}")
        rng = random.Random(f"{self.seed}:coupon-order:{coupon.platform}:{coupon.id}")
        listings = sorted(self.shop_listings(coupon.shop), key=lambda x: x.outer_id)
        if not listings:
            raise ScenarioError("empty_catalog", f"shop {coupon.shop} has no catalogue")
        listing = rng.choice(listings)
        qty = max(1, -(-(coupon.threshold + 1) // max(1, listing.price)))
        order = self.create_order(coupon.shop, kind="normal", lines=[{"outer_id": listing.outer_id, "qty": min(qty, 99)}])
        if coupon.platform == "taobao":
            order.buyer_open_uid = coupon.buyer
            order.buyer_id = f"taobao-buyer-{coupon.buyer}"
        elif coupon.platform == "jd":
            order.buyer_nick = coupon.buyer
            order.buyer_id = coupon.buyer
        else:
            order.buyer_id = coupon.buyer
        order.merge_key = self._merge_key(order)
        room = sum(line.payment for line in order.lines) - len(order.lines)
        amount = max(0, min(coupon.amount, room))
        before = [line.discount for line in order.lines]
        self._spread_discount(order, amount)
        for line, was in zip(order.lines, before, strict=True):
            line.coupon_share = line.discount - was
        order.coupon_id, order.coupon_amount = coupon.id, amount
        coupon.status, coupon.order_id, coupon.used_at = "used", order.id, self.stamp()
        return order

    # ------------------------------------------------------------------------------- inspection
    def state_counts(self) -> dict:
        counts: dict = {}
        for order in self.orders.values():
            per = counts.setdefault(order.shop, {})
            per[order.status] = per.get(order.status, 0) + 1
        return counts


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
