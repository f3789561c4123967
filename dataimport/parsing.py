"""Cell parsers: each takes a raw cell (text from a CSV; str, int, float, datetime... from an .xlsx)
and returns the value or raises ``CellError`` with a message for the person who filled the file.

Numbers accept what spreadsheets and people write: "1,234.50", "¥12", "12元", "￥1 234", full-width
digits, "(12.00)" for a negative, "1.234,50" (decimal comma). Floats from an .xlsx cell are turned into
Decimal through their shortest text (never float arithmetic). Dates accept 2024-01-05, 2024/1/5,
2024.1.5, 20240105, 2024年1月5日, an Excel serial day number, and d/m/Y or m/d/Y when the day is
above 12 (otherwise ambiguous: refused with a hint to write YYYY-MM-DD)."""

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _


class CellError(ValueError):
    pass


_CURRENCY = re.compile(r"(?i)(rmb|cny|usd|元|¥|￥|\$|圆)")
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def _norm(value) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip()


def parse_text(value, *, max_length: int = 200) -> str:
    if value.__class__ is str:  # the common case (every CSV cell)
        text = value.strip()
        if len(text) <= max_length and "\x00" not in text:
            return text
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    text = str(value).strip()
    if "\x00" in text:
        raise CellError(_("contains a NUL character"))
    if len(text) > max_length:
        raise CellError(_("is %(n)s characters long; at most %(max)s") % {"n": len(text), "max": max_length})
    return text


_PLAIN_NUMBER = {n: re.compile(rf"-?\d{{1,{14 - n}}}(\.\d{{1,{n}}})?" if n else r"-?\d{1,14}") for n in range(0, 7)}
_QUANTUM = {n: Decimal(1).scaleb(-n) for n in range(0, 7)}
_PLAIN_INT = re.compile(r"-?\d{1,10}")


def parse_decimal(value, *, places: int = 2, minimum: Decimal | None = None, max_digits: int = 14) -> Decimal:
    if value.__class__ is str and max_digits == 14 and places in _PLAIN_NUMBER and _PLAIN_NUMBER[places].fullmatch(value):
        number = Decimal(value).quantize(_QUANTUM[places])  # the common case: "12.50", "3"
        if minimum is not None and number < minimum:
            raise CellError(_("must be at least %(min)s") % {"min": minimum})
        return number
    if isinstance(value, bool):
        raise CellError(_("is not a number"))
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    else:
        text = _norm(value)
        negative = False
        if text.startswith("(") and text.endswith(")"):
            negative, text = True, text[1:-1]
        text = _CURRENCY.sub("", text).replace(" ", "").replace("\u00a0", "").replace("'", "")
        if text.startswith("-"):
            negative, text = not negative, text[1:]
        elif text.startswith("+"):
            text = text[1:]
        if "," in text and "." in text:
            if text.rfind(",") > text.rfind("."):  # 1.234,50
                text = text.replace(".", "").replace(",", ".")
            else:  # 1,234.50
                text = text.replace(",", "")
        elif "," in text:
            head, _sep, tail = text.rpartition(",")
            if len(tail) == 3 and re.fullmatch(r"\d{1,3}(,\d{3})*", text):
                text = text.replace(",", "")  # 1,234 / 12,345,678
            elif text.count(",") == 1:
                text = head + "." + tail  # 12,5 (decimal comma)
            else:
                raise CellError(_("“%(value)s” is not a number") % {"value": _norm(value)})
        if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", text):
            raise CellError(_("“%(value)s” is not a number") % {"value": _norm(value)})
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CellError(_("“%(value)s” is not a number") % {"value": _norm(value)})
        if negative:
            number = -number
    if not number.is_finite():
        raise CellError(_("is not a number"))
    if abs(number) >= Decimal(10) ** (max_digits - places):
        raise CellError(_("is too large"))
    quantum = Decimal(1).scaleb(-places)
    if number.as_tuple().exponent < -places and number != number.quantize(quantum):
        raise CellError(_("has more than %(places)s decimal places") % {"places": places})
    number = number.quantize(quantum)
    if minimum is not None and number < minimum:
        raise CellError(_("must be at least %(min)s") % {"min": minimum})
    return number


def parse_int(value, *, minimum: int | None = None, maximum: int = 2_000_000_000) -> int:
    if value.__class__ is str and _PLAIN_INT.fullmatch(value):
        result = int(value)
        if minimum is not None and result < minimum:
            raise CellError(_("must be at least %(min)s") % {"min": minimum})
        if result > maximum:
            raise CellError(_("must be at most %(max)s") % {"max": maximum})
        return result
    number = parse_decimal(value, places=6, max_digits=20)
    if number != number.to_integral_value():
        raise CellError(_("must be a whole number"))
    result = int(number)
    if minimum is not None and result < minimum:
        raise CellError(_("must be at least %(min)s") % {"min": minimum})
    if result > maximum:
        raise CellError(_("must be at most %(max)s") % {"max": maximum})
    return result


_TRUE = {"1", "y", "yes", "true", "t", "是", "对", "启用", "有效", "on", "√", "✓", "x"}
_FALSE = {"0", "n", "no", "false", "f", "否", "不", "停用", "无效", "禁用", "off", ""}


def parse_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    text = _norm(value if value is not None else "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(_("“%(value)s” is not yes or no (是/否, yes/no, 1/0)") % {"value": text})


_DATE_PATTERNS = [
    (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"), "ymd"),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$"), "xxy"),
]
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")


def _date_from_text(text: str) -> dt.date:
    for pattern, order in _DATE_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        a, b, c = (int(g) for g in match.groups())
        if order == "ymd":
            year, month, day = a, b, c
        else:
            year = c
            if a > 12 and b <= 12:
                day, month = a, b
            elif b > 12 and a <= 12:
                month, day = a, b
            elif a == b:
                day = month = a
            else:
                raise CellError(_("“%(value)s” is ambiguous (day/month or month/day?): write it as YYYY-MM-DD")
                                % {"value": text})
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise CellError(_("“%(value)s” is not a real date") % {"value": text})
    raise CellError(_("“%(value)s” is not a date; write it as YYYY-MM-DD (2024-01-31)") % {"value": text})


def _excel_serial(number: float) -> dt.datetime:
    if not 1 <= number < 2958466:
        raise CellError(_("is not a date"))
    return dt.datetime.combine(_EXCEL_EPOCH, dt.time()) + dt.timedelta(days=number)


def parse_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel_serial(float(value)).date()
    text = _norm(value if value is not None else "")
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        return _excel_serial(float(text)).date()
    text = re.split(r"[ T]", text, maxsplit=1)[0] if re.search(r"\d[ T]\d{1,2}:", text) else text
    return _date_from_text(text)


_PLAIN_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?")


def parse_datetime(value, *, zone) -> dt.datetime:
    """An aware datetime; a time without zone is the tenant's local time (``zone``)."""
    if value.__class__ is str and _PLAIN_STAMP.fullmatch(value):
        try:  # the common case: "2024-01-31 20:15:00" in the tenant's zone
            return dt.datetime.fromisoformat(value).replace(tzinfo=zone)
        except ValueError:
            pass
    if isinstance(value, dt.datetime):
        result = value
    elif isinstance(value, dt.date):
        result = dt.datetime.combine(value, dt.time())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        result = _excel_serial(float(value))
    else:
        text = _norm(value if value is not None else "")
        if re.fullmatch(r"\d{5}(\.\d+)?", text):
            result = _excel_serial(float(text))
        else:
            try:
                result = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                parts = re.split(r"[ T]+", text, maxsplit=1)
                day = _date_from_text(parts[0])
                clock = dt.time()
                if len(parts) > 1:
                    match = _TIME.match(parts[1])
                    if not match:
                        raise CellError(_("“%(value)s” is not a date and time; write YYYY-MM-DD HH:MM")
                                        % {"value": text})
                    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
                    try:
                        clock = dt.time(hour, minute, second)
                    except ValueError:
                        raise CellError(_("“%(value)s” has an impossible time") % {"value": text})
                result = dt.datetime.combine(day, clock)
    if result.tzinfo is None:
        result = result.replace(tzinfo=zone)
    return result.astimezone(dt.UTC)


def parse_choice(value, *, choices: dict[str, str]) -> str:
    """``choices`` maps every accepted spelling (lower case: value, English and Chinese labels) to the value."""
    text = _norm(value if value is not None else "").lower()
    if text in choices:
        return choices[text]
    shown = sorted({v for v in choices.values()})
    raise CellError(_("“%(value)s” is not one of: %(choices)s") % {"value": text, "choices": ", ".join(shown)})
