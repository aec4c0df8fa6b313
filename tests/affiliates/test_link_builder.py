"""The offer link builder (docs/spec.md §1): the link to hand out, in the shape of the offer's
kind."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from affiliates.offer_links import offer_link_build
from tests.factories import AffiliateFactory, OfferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def affiliate():
    return AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId", "whateverId"]
    )


def test_a_revshare_link_carries_the_affiliate_id_and_only_params(affiliate):
    offer = OfferFactory.create(revshare=True, landing_url="https://cams.example/join")
    assert offer_link_build(affiliate=affiliate, offer=offer) == (
        "https://cams.example/join?id=1234567;"
        "tracker=trID_#affid#-#TransID#-#clickId#-#whateverId#_trID"
    )


def test_a_pps_link_carries_the_offer_id_and_the_affiliate_first_in_the_tracker(affiliate):
    offer = OfferFactory.create(network_offer_id=66013, landing_url="https://cams.example/join")
    assert offer_link_build(affiliate=affiliate, offer=offer) == (
        "https://cams.example/join?id=66013;"
        "tracker=trID_1234567_#affid#-#TransID#-#clickId#-#whateverId#_trID"
    )


def test_the_affiliates_own_prefix_suffix_and_separator_are_used():
    affiliate = AffiliateFactory.create(
        network_id=42,
        tracker_params=["a", "b"],
        tracker_prefix="T[",
        tracker_suffix="]T",
        tracker_separator="|",
    )
    offer = OfferFactory.create(network_offer_id=7, landing_url="https://x.example/go?lang=en")
    assert offer_link_build(affiliate=affiliate, offer=offer) == (
        "https://x.example/go?lang=en;id=7;tracker=T[42_#a#|#b#]T"
    )


def test_an_affiliate_without_params_is_told_to_set_them(affiliate):
    affiliate.tracker_params = []
    with pytest.raises(ValidationError, match="has no tracker params yet"):
        offer_link_build(affiliate=affiliate, offer=OfferFactory.create())


def test_the_affiliate_page_builds_the_link_for_the_chosen_offer(admin_client, affiliate):
    offer = OfferFactory.create(network_offer_id=66013, name="Cams PPS")
    OfferFactory.create(name="Retired", is_active=False)
    url = reverse("admin:affiliates_affiliate_change", args=[affiliate.pk])
    page = admin_client.get(url).content.decode()
    assert "Offer link builder" in page
    assert "Cams PPS" in page
    assert "Retired" not in page
    body = admin_client.get(url, {"offer": offer.pk}).content.decode()
    assert "?id=66013;tracker=trID_1234567_#affid#-#TransID#-#clickId#-#whateverId#_trID" in body
    assert 'data-copy="offer-link"' in body
