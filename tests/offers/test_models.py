"""Offers: database constraints, model validation, readable names (docs/spec.md §2)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from offers.models import Offer
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


def test_network_offer_id_is_unique():
    OfferFactory.create(network_offer_id=66013)
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory.create(network_offer_id=66013)


def test_network_offer_id_must_be_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory.create(network_offer_id=0)


@pytest.mark.parametrize("payout", [None, Decimal("0")])
def test_pps_offer_needs_a_payout(payout):
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory.create(kind=Offer.Kind.PPS, payout=payout)


@pytest.mark.parametrize("percent", [None, Decimal("0"), Decimal("100.01")])
def test_revshare_offer_needs_a_percent_up_to_100(percent):
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory.create(revshare=True, revshare_percent=percent)


def test_offer_kind_must_be_known():
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory.create(kind="cpa")


@pytest.mark.parametrize("currency", ["usd", "US", "U1D"])
def test_offer_currency_must_be_upper_case_iso_4217(currency):
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory.create(currency=currency)


def test_clean_refuses_pps_without_payout():
    with pytest.raises(ValidationError) as caught:
        OfferFactory.build(payout=None).full_clean()
    assert caught.value.message_dict["payout"] == ["A pay-per-sale offer needs a payout."]


def test_clean_refuses_revshare_without_percent():
    with pytest.raises(ValidationError) as caught:
        OfferFactory.build(revshare=True, revshare_percent=None).full_clean()
    assert caught.value.message_dict["revshare_percent"] == ["A revshare offer needs a percentage."]


def test_clean_refuses_a_currency_that_is_not_three_letters():
    with pytest.raises(ValidationError) as caught:
        OfferFactory.build(currency="U1").full_clean()
    assert "ISO 4217" in caught.value.message_dict["currency"][0]


def test_clean_upper_cases_the_currency():
    offer = OfferFactory.build(currency="eur")
    offer.full_clean()
    assert offer.currency == "EUR"


def test_clean_accepts_both_kinds_when_complete():
    OfferFactory.build().full_clean()
    OfferFactory.build(revshare=True).full_clean()


def test_offer_str_names_id_and_kind():
    offer = OfferFactory.build(name="Live cams", network_offer_id=66013)
    assert str(offer) == "Live cams (#66013, Pay per sale (fixed))"
    revshare = OfferFactory.build(name="Dating", network_offer_id=7, revshare=True)
    assert str(revshare) == "Dating (#7, Revshare (%))"
