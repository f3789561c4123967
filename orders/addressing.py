"""Receiver normalisation and the hashes used to match orders (merge, risk, blacklist)."""

import hashlib
import re
import unicodedata

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[\s,，.。;；:：#＃\-—_()（）\[\]【】]+")


def normalize_text(value: str) -> str:
    """Full-width to half-width, lower case, no spaces or punctuation."""
    text = unicodedata.normalize("NFKC", value or "").lower()
    return _PUNCT.sub("", text)


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def is_masked(*values: str) -> bool:
    return any("*" in (v or "") for v in values)


def place_hash(*, province: str, city: str, district: str, address: str) -> str:
    """The delivery place, whoever receives there (risk rule, address blacklist)."""
    return _digest("place", normalize_text(province), normalize_text(city), normalize_text(district), normalize_text(address))


def address_hash(*, platform: str, name: str, phone: str, province: str, city: str, district: str, address: str,
                 merge_key: str = "", unique_fallback: str = "") -> str:
    """Same hash = same receiver at the same place: orders may share one parcel.

    The platform's merge key (Taobao OAID...) wins when given. Masked receivers without a merge key
    never match anything (``unique_fallback``, the order's own id, is hashed instead): two masked
    addresses that look alike may be different addresses, and merging must never cross addresses."""
    if merge_key:
        return _digest("mk", platform, merge_key)
    if is_masked(name, phone, address) and unique_fallback:
        return _digest("unique", platform, unique_fallback)
    digits = re.sub(r"\D", "", phone or "")
    return _digest("addr", normalize_text(name), digits, normalize_text(province), normalize_text(city),
                   normalize_text(district), normalize_text(address))


def blacklist_key(kind: str, value: str) -> str:
    if kind == "address":
        # an address entry is one line "province city district street"; matched on the place hash of
        # the concatenated, normalised text, compared with the order's full normalised address text
        return _digest("bl-address", normalize_text(value))
    if kind == "phone":
        return re.sub(r"\D", "", value or "")[:128]
    return (value or "").strip()[:128]


def address_blacklist_key(*, province: str, city: str, district: str, address: str) -> str:
    return _digest("bl-address", normalize_text(f"{province}{city}{district}{address}"))


def address_complete(*, name: str, phone: str, province: str, city: str, address: str) -> list[str]:
    """The receiver fields that are missing (empty list: complete)."""
    missing = []
    for field, value in (("name", name), ("phone", phone), ("province", province), ("city", city), ("address", address)):
        if not (value or "").strip():
            missing.append(field)
    return missing
