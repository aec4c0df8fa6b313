"""ISO 4217 currency codes, from pycountry's copy of the ISO list (kept up to date by its
maintainers with Debian's iso-codes), so a made-up code like QQQ is refused; and each currency's
digits, from Babel's copy of CLDR (pycountry does not carry ISO 4217's minor units)."""

from decimal import Decimal
from functools import cache

import pycountry
from babel.numbers import get_currency_precision
from django.core.exceptions import ValidationError

CURRENCY_HELP = "Use a three-letter ISO 4217 currency code, e.g. USD or EUR."


@cache
def iso4217_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def validate_currency(value: str) -> None:
    """Refuse anything but an upper- or lower-case ISO 4217 code."""
    if not isinstance(value, str) or value.upper() not in iso4217_codes():
        raise ValidationError(f"{value!r:.20} is not a currency code. {CURRENCY_HELP}")


def currency_digits(code: str) -> int:
    """How many decimals the currency is written with: USD 2, JPY 0, BHD 3 (2 when unknown)."""
    return get_currency_precision(code.upper()) if code else 2


def amount_display(amount: Decimal | None, currency: str) -> str:
    """An amount with its currency's digits, "35.00 USD" for a stored 35.0000 and "5000 JPY";
    digits beyond them are kept when they carry a value ("1.2345 USD"), never rounded away."""
    if amount is None:
        return "-"
    own = amount.normalize().as_tuple().exponent
    exponent = min(-currency_digits(currency), own if isinstance(own, int) else 0)
    text = format(amount.quantize(Decimal(1).scaleb(exponent)), "f")
    return f"{text} {currency.upper()}".strip()
