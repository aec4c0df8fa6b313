"""Amounts with their currency's digits (offers/currencies.py)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from offers.currencies import amount_display, currency_digits


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("35.0000", "USD", "35.00 USD"),
        ("25", "eur", "25.00 EUR"),
        ("5000.0000", "JPY", "5000 JPY"),
        ("1.2500", "BHD", "1.250 BHD"),
        ("1.2345", "USD", "1.2345 USD"),
        ("0.0000", "USD", "0.00 USD"),
    ],
)
def test_an_amount_is_shown_with_its_currencys_digits(amount, currency, shown):
    assert amount_display(Decimal(amount), currency) == shown


def test_no_amount_is_a_dash_and_an_unknown_currency_has_two_digits():
    assert amount_display(None, "USD") == "-"
    assert currency_digits("USD") == 2 and currency_digits("JPY") == 0
    assert currency_digits("") == 2


@given(
    st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False),
    st.sampled_from(["USD", "EUR", "JPY", "BHD", "KWD", "CLP"]),
)
def test_the_shown_amount_is_the_amount(amount, currency):
    text, code = amount_display(amount, currency).split(" ")
    assert Decimal(text) == amount and code == currency
    assert len(text.partition(".")[2]) >= currency_digits(currency)
