"""Helpers shared by the router-style adapters (TOP, JOS, PDD): signing, CST times, amounts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

CST = timezone(timedelta(hours=8), "CST")
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def sign_params(params: dict, secret: str) -> str:
    """UPPER(HEX(MD5(secret + k1v1k2v2... + secret))) over every param but ``sign``, keys sorted."""
    body = "".join(f"{k}{'' if params[k] is None else params[k]}" for k in sorted(params) if k != "sign")
    return hashlib.md5(f"{secret}{body}{secret}".encode()).hexdigest().upper()


def signed(params: dict, secret: str) -> dict:
    out = {k: ("" if v is None else str(v)) for k, v in params.items() if k != "sign"}
    out["sign"] = sign_params(out, secret)
    return out


def cst_text(value: datetime) -> str:
    """An aware datetime as the platforms' 'yyyy-MM-dd HH:mm:ss' China Standard Time text."""
    return value.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


_parse_cache: dict[str, datetime] = {}


def parse_cst(value) -> datetime | None:
    """'yyyy-MM-dd HH:mm:ss' (CST, no offset), ISO with offset, or unix seconds -> aware UTC."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    text = str(value)
    cached = _parse_cache.get(text)
    if cached is not None:
        return cached
    if text.isdigit():
        result = datetime.fromtimestamp(int(text), UTC)
    else:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=CST)
        result = parsed.astimezone(UTC)
    if len(_parse_cache) > 100_000:
        _parse_cache.clear()
    _parse_cache[text] = result
    return result


def unix(value: datetime) -> int:
    return int(value.timestamp())


def money(value, default: Decimal = ZERO) -> Decimal:
    """Yuan as a decimal string or a JSON number (PDD) -> Decimal quantised to cents."""
    if value in (None, ""):
        return default
    if isinstance(value, float):
        value = repr(value)
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def fen(value) -> Decimal:
    """Integer fen -> Decimal yuan."""
    if value in (None, ""):
        return ZERO
    return (Decimal(int(value)) / 100).quantize(CENT)


def to_fen(value: Decimal) -> int:
    """Decimal yuan -> integer fen (cents, half up)."""
    return int((Decimal(value) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def text(value) -> str:
    return "" if value is None else str(value)


def split_evenly(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Share ``total`` over lines in proportion to ``weights`` (cents; the last line takes the rest)."""
    if not weights:
        return []
    whole = sum(weights)
    if not whole:
        return [ZERO] * (len(weights) - 1) + [total]
    shares = [(total * w / whole).quantize(CENT, rounding=ROUND_HALF_UP) for w in weights[:-1]]
    return [*shares, total - sum(shares, ZERO)]
