"""The management API: affiliates, offers, postback endpoints (docs/spec.md §5), validated as the
admin."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from affiliates.models import Affiliate
from config.access import NETWORK_ADMIN_GROUP
from offers.models import Offer
from postbacks.models import PostbackEndpoint
from tests.api.conftest import World
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryFactory,
    OfferFactory,
    PostbackEndpointFactory,
)

pytestmark = pytest.mark.django_db

AFFILIATES = "/api/v1/affiliates/"
OFFERS = "/api/v1/offers/"
ENDPOINTS = "/api/v1/postback-endpoints/"


# ------------------------------------------------------------------------------ scopes


@pytest.mark.parametrize("url", [AFFILIATES, OFFERS, ENDPOINTS])
def test_ingest_token_may_not_use_the_management_api(
    event_types: None, ingest_client: APIClient, url: str
) -> None:
    assert ingest_client.get(url).status_code == 403
    assert ingest_client.post(url, {}, format="json").status_code == 403


@pytest.mark.parametrize("url", [AFFILIATES, OFFERS, ENDPOINTS])
def test_management_api_without_token_is_401(db: Any, url: str) -> None:
    assert APIClient().get(url).status_code == 401


def test_signed_in_network_admins_may_use_the_management_api(db: Any) -> None:
    client = APIClient()
    network_admin = User.objects.create(username="nadia", is_staff=True)
    network_admin.groups.add(Group.objects.get(name=NETWORK_ADMIN_GROUP))
    client.force_login(network_admin)
    assert client.get(AFFILIATES).status_code == 200


# ------------------------------------------------------------------------------ affiliates


def test_affiliate_crud(manage_client: APIClient) -> None:
    manager = User.objects.create(username="alice", is_staff=True)
    created = manage_client.post(
        AFFILIATES,
        {
            "network_id": 1234567,
            "name": "Cam Traffic Ltd",
            "email": "ops@camtraffic.example",
            "account_manager": "alice",
            "tracker_params": ["affid", "TransID", "clickId", "whateverId"],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["network_id"] == 1234567
    assert body["account_manager"] == "alice"
    assert body["tracker_separator"] == "-"
    assert (body["tracker_prefix"], body["tracker_suffix"]) == ("trID_", "_trID")
    url = f"{AFFILIATES}{body['id']}/"

    listed = manage_client.get(AFFILIATES).json()
    assert listed["count"] == 1
    assert listed["results"][0]["network_id"] == 1234567

    patched = manage_client.patch(url, {"status": "paused", "account_manager": None}, format="json")
    assert patched.status_code == 200
    assert patched.json()["status"] == "paused"
    assert patched.json()["account_manager"] is None
    assert patched.json()["name"] == "Cam Traffic Ltd"

    replaced = manage_client.put(url, {"network_id": 7654321, "name": "Renamed"}, format="json")
    assert replaced.status_code == 200
    assert replaced.json()["tracker_params"] == []
    assert replaced.json()["status"] == "active"

    assert manage_client.get(url).json()["name"] == "Renamed"
    assert manage_client.delete(url).status_code == 204
    assert manage_client.get(url).status_code == 404
    assert manager.managed_affiliates.count() == 0


def test_affiliate_list_is_paginated(manage_client: APIClient) -> None:
    AffiliateFactory.create_batch(5)
    page = manage_client.get(AFFILIATES, {"limit": 2, "offset": 2}).json()
    assert page["count"] == 5
    assert len(page["results"]) == 2
    assert page["next"] and page["previous"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"network_id": 0, "name": "x"}, "network_id"),
        ({"network_id": 5, "name": ""}, "name"),
        ({"network_id": 5, "name": "x", "email": "nope"}, "email"),
        ({"network_id": 5, "name": "x", "status": "gone"}, "status"),
        ({"network_id": 5, "name": "x", "account_manager": "nobody"}, "account_manager"),
        ({"network_id": 5, "name": "x", "tracker_params": ["9lives"]}, "tracker_params"),
        ({"network_id": 5, "name": "x", "tracker_params": ["a", "a"]}, "tracker_params"),
        ({"network_id": 5, "name": "x", "tracker_params": ["p1"]}, "tracker_params"),
        ({"network_id": 5, "name": "x", "tracker_params": "affid"}, "tracker_params"),
        ({"network_id": 5, "name": "x", "tracker_separator": ""}, "tracker_separator"),
        ({"network_id": 5, "name": "x", "tracker_suffix": "trID_"}, "tracker_suffix"),
        ({"network_id": 5, "name": "x\x00"}, "name"),
    ],
)
def test_invalid_affiliate_is_400_naming_the_field(
    manage_client: APIClient, payload: dict[str, Any], field: str
) -> None:
    response = manage_client.post(AFFILIATES, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Affiliate.objects.exists()


def test_duplicate_network_id_is_400(manage_client: APIClient) -> None:
    AffiliateFactory.create(network_id=1234567)
    response = manage_client.post(AFFILIATES, {"network_id": 1234567, "name": "x"}, format="json")
    assert response.status_code == 400
    assert "network_id" in response.json()


def test_tracker_param_used_by_an_endpoint_cannot_be_removed(
    event_types: None, manage_client: APIClient
) -> None:
    endpoint = PostbackEndpointFactory.create(url_template="https://t.example/pb?c={clickId}")
    url = f"{AFFILIATES}{endpoint.affiliate.pk}/"

    response = manage_client.patch(url, {"tracker_params": ["affid"]}, format="json")

    assert response.status_code == 400
    assert "clickId" in response.json()["tracker_params"][0]
    endpoint.affiliate.refresh_from_db()
    assert endpoint.affiliate.tracker_params == ["affid", "TransID", "clickId"]


def test_affiliate_with_conversions_cannot_be_deleted(
    event_types: None, manage_client: APIClient
) -> None:
    affiliate = AffiliateFactory.create()
    ConversionFactory.create(affiliate=affiliate)
    response = manage_client.delete(f"{AFFILIATES}{affiliate.pk}/")
    assert response.status_code == 400
    assert "pause" in response.json()["detail"][0]
    assert Affiliate.objects.filter(pk=affiliate.pk).exists()


# ------------------------------------------------------------------------------ offers


def test_offer_crud(manage_client: APIClient) -> None:
    created = manage_client.post(
        OFFERS,
        {
            "network_offer_id": 66013,
            "name": "Live cams PPS",
            "kind": "pps",
            "vertical": "live",
            "landing_url": "https://offers.example/go",
            "payout": "35.00",
            "currency": "eur",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["payout"], body["currency"], body["revshare_percent"]) == ("35.00", "EUR", None)
    url = f"{OFFERS}{body['id']}/"

    assert manage_client.get(OFFERS).json()["results"][0]["network_offer_id"] == 66013
    patched = manage_client.patch(url, {"is_active": False}, format="json")
    assert patched.status_code == 200
    assert patched.json()["is_active"] is False
    to_revshare = manage_client.patch(
        url, {"kind": "revshare", "payout": None, "revshare_percent": "25"}, format="json"
    )
    assert to_revshare.status_code == 200
    assert to_revshare.json()["revshare_percent"] == "25.00"
    assert manage_client.delete(url).status_code == 204
    assert not Offer.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"payout": None}, "payout"),
        ({"kind": "revshare", "payout": None}, "revshare_percent"),
        ({"currency": "EURO"}, "currency"),
        ({"landing_url": "not a url"}, "landing_url"),
        ({"network_offer_id": -1}, "network_offer_id"),
        ({"revshare_percent": "101", "kind": "revshare"}, "revshare_percent"),
        ({"payout": "0.00"}, "payout"),
    ],
)
def test_invalid_offer_is_400_naming_the_field(
    manage_client: APIClient, changes: dict[str, Any], field: str
) -> None:
    payload = {
        "network_offer_id": 66013,
        "name": "PPS",
        "kind": "pps",
        "landing_url": "https://offers.example/go",
        "payout": "35.00",
        **changes,
    }
    response = manage_client.post(OFFERS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_duplicate_offer_id_is_400(manage_client: APIClient) -> None:
    OfferFactory.create(network_offer_id=66013)
    payload = {
        "network_offer_id": 66013,
        "name": "PPS",
        "kind": "pps",
        "landing_url": "https://offers.example/go",
        "payout": "35.00",
    }
    response = manage_client.post(OFFERS, payload, format="json")
    assert response.status_code == 400
    assert "network_offer_id" in response.json()


def test_offer_with_conversions_cannot_be_deleted(
    event_types: None, manage_client: APIClient
) -> None:
    conversion = ConversionFactory.create()
    response = manage_client.delete(f"{OFFERS}{conversion.offer.pk}/")
    assert response.status_code == 400


# ------------------------------------------------------------------------------ endpoints


def test_endpoint_crud(world: World, manage_client: APIClient) -> None:
    created = manage_client.post(
        ENDPOINTS,
        {
            "affiliate_id": 1234567,
            "offer_id": 66013,
            "event_types": ["signup", "freereg"],
            "url_template": "https://track.example/pb?cid={clickId}&o={offer_id}&e={event}",
            "test_link": "https://offers.example/go?id=66013;tracker=trID_1234567_a-b-c_trID",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["affiliate_id"] == 1234567
    assert body["offer_id"] == 66013
    assert sorted(body["event_types"]) == ["freereg", "signup"]
    assert (body["method"], body["status"]) == ("GET", "draft")
    url = f"{ENDPOINTS}{body['id']}/"

    patched = manage_client.patch(
        url, {"status": "live", "offer_id": None, "event_types": ["rebill"]}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["status"], patched.json()["offer_id"]) == ("live", None)
    assert patched.json()["event_types"] == ["rebill"]

    listed = manage_client.get(ENDPOINTS, {"affiliate_id": "1234567", "status": "live"}).json()
    assert [e["id"] for e in listed["results"]] == [world.endpoint.pk, body["id"]]
    assert manage_client.get(ENDPOINTS, {"affiliate_id": "1"}).json()["count"] == 0

    replaced = manage_client.put(
        url,
        {
            "affiliate_id": 1234567,
            "event_types": ["signup"],
            "url_template": "https://track.example/pb?tx={transaction_id}",
            "method": "POST",
        },
        format="json",
    )
    assert replaced.status_code == 200
    assert (replaced.json()["method"], replaced.json()["status"]) == ("POST", "draft")
    assert manage_client.get(url).json()["url_template"].endswith("tx={transaction_id}")
    assert manage_client.delete(url).status_code == 204
    assert not PostbackEndpoint.objects.filter(pk=body["id"]).exists()


def test_template_with_unknown_macro_is_400_naming_the_macro(
    world: World, manage_client: APIClient
) -> None:
    response = manage_client.post(
        ENDPOINTS,
        {
            "affiliate_id": 1234567,
            "event_types": ["signup"],
            "url_template": "https://track.example/pb?cid={clikId}",
        },
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["url_template"][0]
    assert "{clikId}" in message
    assert "{clickId}" in message  # did you mean


@pytest.mark.parametrize(
    ("changes", "field", "named"),
    [
        ({"affiliate_id": 999}, "affiliate_id", "999"),
        ({"offer_id": 4242}, "offer_id", "4242"),
        ({"event_types": ["signup", "chargeback"]}, "event_types", "chargeback"),
        ({"event_types": []}, "event_types", "at least one"),
        ({"url_template": "ftp://track.example/pb"}, "url_template", "http"),
        ({"url_template": "https://{clickId}.example/pb"}, "url_template", "host"),
        ({"method": "PUT"}, "method", "PUT"),
        ({"status": "on"}, "status", "on"),
    ],
)
def test_invalid_endpoint_is_400_naming_the_problem(
    world: World, manage_client: APIClient, changes: dict[str, Any], field: str, named: str
) -> None:
    payload = {
        "affiliate_id": 1234567,
        "event_types": ["signup"],
        "url_template": "https://track.example/pb?cid={clickId}",
        **changes,
    }
    response = manage_client.post(ENDPOINTS, payload, format="json")
    assert response.status_code == 400, response.content
    assert named in str(response.json()[field])


def test_endpoint_moved_to_an_affiliate_without_the_param_is_refused(
    world: World, manage_client: APIClient
) -> None:
    AffiliateFactory.create(network_id=555, tracker_params=["sub"])
    url = f"{ENDPOINTS}{world.endpoint.pk}/"
    response = manage_client.patch(url, {"affiliate_id": 555}, format="json")
    assert response.status_code == 400
    assert "{clickId}" in response.json()["url_template"][0]


def test_endpoint_with_deliveries_cannot_be_deleted(
    event_types: None, manage_client: APIClient
) -> None:
    delivery = DeliveryFactory.create()
    response = manage_client.delete(f"{ENDPOINTS}{delivery.endpoint.pk}/")
    assert response.status_code == 400
    assert "disable" in response.json()["detail"][0]


def test_endpoint_list_has_no_n_plus_one(
    world: World, manage_client: APIClient, django_assert_max_num_queries: Any
) -> None:
    for _ in range(10):
        PostbackEndpointFactory.create(
            affiliate=world.affiliate, offer=world.offer, events=["signup"]
        )
    with django_assert_max_num_queries(8):
        assert manage_client.get(ENDPOINTS).json()["count"] == 11


def test_endpoint_statuses_default_to_approved_and_take_the_receivers_words(
    world: World, manage_client: APIClient
) -> None:
    base = {
        "affiliate_id": 1234567,
        "event_types": ["signup"],
        "url_template": "https://track.example/pb?cid={clickId}&s={status}",
    }
    created = manage_client.post(ENDPOINTS, base, format="json")
    assert created.status_code == 201, created.content
    assert (created.json()["fire_on"], created.json()["status_values"]) == (["approved"], {})

    url = f"{ENDPOINTS}{created.json()['id']}/"
    words = {"approved": "sale", "reversed": "rejected"}
    patched = manage_client.patch(
        url, {"fire_on": ["reversed", "approved"], "status_values": words}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["fire_on"] == ["approved", "reversed"]
    assert patched.json()["status_values"] == words


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("fire_on", []),
        ("fire_on", ["sale"]),
        ("fire_on", ["approved", "approved"]),
        ("status_values", {"chargeback": "cb"}),
        ("status_values", {"approved": ""}),
        ("status_values", ["sale"]),
    ],
)
def test_endpoint_statuses_that_cannot_be_used_are_400_naming_the_field(
    world: World, manage_client: APIClient, field: str, value: Any
) -> None:
    response = manage_client.patch(
        f"{ENDPOINTS}{world.endpoint.pk}/", {field: value}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == [field]
    world.endpoint.refresh_from_db()
    assert (world.endpoint.fire_on, world.endpoint.status_values) == (["approved"], {})
