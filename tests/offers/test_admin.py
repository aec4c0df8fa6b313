"""Offer admin: the model's rules for revshare and PPS offers show up as form errors (docs/spec.md
§2)."""

from typing import Any

import pytest
from django.urls import reverse

from offers.models import Offer

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:offers_offer_add")


def offer_form(**fields: Any) -> dict[str, Any]:
    data = {
        "network_offer_id": "66013",
        "name": "Live cams PPS",
        "kind": "pps",
        "vertical": "live",
        "landing_url": "https://offers.example/go",
        "payout": "35.00",
        "currency": "USD",
        "revshare_percent": "",
        "is_active": "on",
    }
    data.update(fields)
    return data


def errors(response: Any) -> dict[str, list[str]]:
    return dict(response.context["adminform"].form.errors)


def test_pps_offer_with_payout_is_created(admin_client):
    response = admin_client.post(ADD_URL, offer_form())
    assert response.status_code == 302
    offer = Offer.objects.get(network_offer_id=66013)
    assert (offer.kind, str(offer.payout), offer.currency) == ("pps", "35.00", "USD")


def test_revshare_offer_with_percent_is_created(admin_client):
    data = offer_form(kind="revshare", payout="", revshare_percent="25")
    assert admin_client.post(ADD_URL, data).status_code == 302
    assert Offer.objects.get().revshare_percent == 25


def test_pps_offer_without_payout_is_refused_on_the_payout_field(admin_client):
    response = admin_client.post(ADD_URL, offer_form(payout=""))
    assert response.status_code == 200
    assert errors(response)["payout"] == ["A pay-per-sale offer needs a payout."]
    assert not Offer.objects.exists()


def test_revshare_offer_without_percent_is_refused_on_the_percent_field(admin_client):
    response = admin_client.post(ADD_URL, offer_form(kind="revshare", payout=""))
    assert response.status_code == 200
    assert errors(response)["revshare_percent"] == ["A revshare offer needs a percentage."]


def test_currency_that_is_not_iso_4217_is_refused(admin_client):
    response = admin_client.post(ADD_URL, offer_form(currency="U$D"))
    assert "three-letter ISO 4217" in errors(response)["currency"][0]


def test_lower_case_currency_is_stored_upper_case(admin_client):
    assert admin_client.post(ADD_URL, offer_form(currency="eur")).status_code == 302
    assert Offer.objects.get().currency == "EUR"


def test_duplicate_network_offer_id_is_refused(admin_client):
    admin_client.post(ADD_URL, offer_form())
    response = admin_client.post(ADD_URL, offer_form(name="Another"))
    assert "already exists" in errors(response)["network_offer_id"][0]


def test_changelist_shows_what_each_offer_pays(admin_client):
    admin_client.post(ADD_URL, offer_form())
    admin_client.post(
        ADD_URL,
        offer_form(network_offer_id="7", kind="revshare", payout="", revshare_percent="25.00"),
    )
    body = admin_client.get(reverse("admin:offers_offer_changelist")).content.decode()
    assert "35.00 USD" in body
    assert "25.00%" in body
