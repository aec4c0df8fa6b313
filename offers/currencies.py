"""ISO 4217 currency codes, from pycountry's copy of the ISO list (kept up to date by its
maintainers with Debian's iso-codes), so a made-up code like QQQ is refused."""

from functools import cache

import pycountry
from django.core.exceptions import ValidationError

CURRENCY_HELP = "Use a three-letter ISO 4217 currency code, e.g. USD or EUR."


@cache
def iso4217_codes() -> frozenset[str]:
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def validate_currency(value: str) -> None:
    """Refuse anything but an upper- or lower-case ISO 4217 code."""
    if not isinstance(value, str) or value.upper() not in iso4217_codes():
        raise ValidationError(f"{value!r:.20} is not a currency code. {CURRENCY_HELP}")
