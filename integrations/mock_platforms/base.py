"""Shared pieces of the three platform routers: errors, parameter parsing, paging with faults."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .scenario import Order, World, parse_cst


class ApiError(Exception):
    """An error answer. ``kind``: missing, invalid, business, app, sign, token, method, rate_limit, server."""

    def __init__(self, kind: str, detail: str = "", sub_code: str = ""):
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail
        self.sub_code = sub_code


@dataclass
class Ctx:
    world: World
    shop: object
    platform: str
    method: str
    rng: random.Random
    flags: set = field(default_factory=set)
    applied: list = field(default_factory=list)


# ------------------------------------------------------------------------------ parameter parsing
def error_envelope(body: dict, sub_code: str, sub_msg: str) -> dict:
    """The TOP-style ``error_response`` both Taobao and Pinduoduo answer with (sub fields only when set)."""
    return {"error_response": {**body, **({"sub_code": sub_code} if sub_code else {}),
                               **({"sub_msg": sub_msg} if sub_msg else {})}}


def required(params: dict, name: str) -> str:
    value = params.get(name)
    if value is None or str(value).strip() == "":
        raise ApiError("missing", name)
    return str(value).strip()


def opt_int(params: dict, name: str, default: int | None = None, *, lo: int | None = None,
            hi: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or str(value).strip() == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ApiError("invalid", name) from None
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise ApiError("invalid", name)
    return number


def opt_bool(params: dict, name: str) -> bool:
    return str(params.get(name, "")).strip().lower() in ("true", "1", "yes")


def cst_time(params: dict, name: str, *, needed: bool = False) -> datetime | None:
    value = params.get(name)
    if value is None or str(value).strip() == "":
        if needed:
            raise ApiError("missing", name)
        return None
    try:
        return parse_cst(value)
    except ValueError:
        raise ApiError("invalid", name) from None


def unix_time(params: dict, name: str, *, needed: bool = False) -> datetime | None:
    from datetime import UTC

    value = params.get(name)
    if value is None or str(value).strip() == "":
        if needed:
            raise ApiError("missing", name)
        return None
    try:
        return datetime.fromtimestamp(int(str(value).strip()), UTC)
    except (ValueError, OverflowError, OSError):
        raise ApiError("invalid", name) from None


def check_window(start: datetime | None, end: datetime | None, max_span: timedelta, name: str) -> None:
    if start is None or end is None:
        return
    if end < start:
        raise ApiError("invalid", f"{name}: end before start")
    if end - start > max_span:
        raise ApiError("invalid", f"{name}: time span exceeds {int(max_span.total_seconds())} seconds")


def page_args(params: dict, page_name: str, size_name: str, default_size: int) -> tuple[int, int]:
    page = opt_int(params, page_name, 1, lo=1)
    size = opt_int(params, size_name, default_size, lo=1, hi=100)
    return page, size


def in_window(dt: datetime | None, start: datetime | None, end: datetime | None) -> bool:
    if dt is None:
        return False
    return (start is None or dt >= start) and (end is None or dt <= end)


def newest_first(orders, key=lambda o: o.modified):
    return sorted(orders, key=lambda o: (key(o), o.id), reverse=True)


# ---------------------------------------------------------------------------------------- paging
def page_of_orders(ctx: Ctx, select, page: int, size: int, render) -> tuple[list, int, bool]:
    """Cut one page of ``select()`` (sorted orders), applying the list faults flagged on ``ctx``."""
    items = select()
    if "page_shift" in ctx.flags:
        # records the client has not received yet get modified now: they jump to the top (or leave the
        # window), so the page boundaries move under the client's feet (repeats and misses across pages)
        pending = items[(page - 1) * size:]
        victims = ctx.rng.sample(pending, min(2, len(pending))) if pending else []
        for order in victims:
            ctx.world.touch(order)
        ctx.applied.append(f"page_shift:{len(victims)}")
        items = select()
    total = len(items)
    chunk = items[(page - 1) * size: page * size]
    stale_target = None
    if "out_of_order" in ctx.flags:
        # Only an order whose newer version this client has already been served may come back stale:
        # a stale version nobody has seen the newer one of would be indistinguishable from the truth.
        pool = [o for o in chunk if o.prev is not None and o.served_version >= o.version]
        if pool:
            stale_target = ctx.rng.choice(pool)
            ctx.applied.append(f"out_of_order:{stale_target.id}")
    rendered = []
    for order in chunk:
        if order is stale_target:
            rendered.append(render(order.prev))
        else:
            rendered.append(render(order))
            order.served_version = max(order.served_version, order.version)
    rendered = duplicate_one(ctx, rendered)
    return rendered, total, page * size < total


def page_of(ctx: Ctx, items: list, page: int, size: int, render) -> tuple[list, int, bool]:
    total = len(items)
    chunk = [render(item) for item in items[(page - 1) * size: page * size]]
    return duplicate_one(ctx, chunk), total, page * size < total


def duplicate_one(ctx: Ctx, rendered: list) -> list:
    if "duplicate" in ctx.flags and rendered:
        k = ctx.rng.randrange(len(rendered))
        rendered = [*rendered[: k + 1], copy.deepcopy(rendered[k]), *rendered[k + 1:]]
        ctx.applied.append("duplicate")
    return rendered


def render_single(ctx: Ctx, order: Order, render):
    """Render one order for a get-by-id call, honouring an out_of_order fault."""
    if "out_of_order" in ctx.flags and order.prev is not None:
        ctx.applied.append(f"out_of_order:{order.id}")
        return render(order.prev)
    order.served_version = max(order.served_version, order.version)
    return render(order)
