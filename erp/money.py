"""Money is Decimal with a currency, never float; one rounding rule at the boundary."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import models

CENT = Decimal("0.01")
DEFAULT_CURRENCY = "CNY"


def to_money(value) -> Decimal:
    """Parse a platform or user amount ('12.5', 12.5 as str, Decimal) and round half up to the cent.

    Floats are refused: they have already lost precision."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a string or Decimal")
    try:
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not an amount: {value!r}") from exc


def fen_to_money(fen: int | str) -> Decimal:
    """Integer fen (platform bills) to yuan."""
    return (Decimal(int(fen)) / 100).quantize(CENT)


class MoneyField(models.DecimalField):
    """An amount in the row's currency: 14 digits, 2 decimals."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "erp.money.MoneyField", args, kwargs


class CurrencyField(models.CharField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 3)
        kwargs.setdefault("default", DEFAULT_CURRENCY)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "erp.money.CurrencyField", args, kwargs
