"""Request signing shared by the three simulated platforms (and usable by clients and tests).

All three sign the same way: ``UPPER(HEX(MD5(secret + concat(k + v for k in sorted(params)) + secret)))``
over every parameter except ``sign``, with the values exactly as sent.
"""

import hashlib
import hmac


def sign_params(params: dict, secret: str) -> str:
    body = "".join(f"{k}{'' if params[k] is None else params[k]}" for k in sorted(params) if k != "sign")
    return hashlib.md5(f"{secret}{body}{secret}".encode()).hexdigest().upper()


def signature_ok(params: dict, secret: str) -> bool:
    given = str(params.get("sign") or "")
    return bool(given) and hmac.compare_digest(given.upper(), sign_params(params, secret))


def signed(params: dict, secret: str) -> dict:
    """A copy of ``params`` (values turned into strings) with ``sign`` added."""
    out = {k: ("" if v is None else str(v)) for k, v in params.items() if k != "sign"}
    out["sign"] = sign_params(out, secret)
    return out
