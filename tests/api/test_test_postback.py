"""POST /api/v1/postback-endpoints/{id}/test/ (docs/spec.md §5): a test postback fired now,
answered with the attempt's result; the same service as the admin's button."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from postbacks.models import Delivery, DeliveryAttempt, PostbackEndpoint
from tests.factories import AffiliateFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db

TEST_LINK = "https://offers.example/go?id=66013;tracker=trID_1234567_aff9-tx77-c0ffee_trID"


def fire_url(endpoint_id: int) -> str:
    return f"/api/v1/postback-endpoints/{endpoint_id}/test/"


@pytest.fixture
def endpoint(event_types: None, receiver: Any) -> PostbackEndpoint:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    return PostbackEndpointFactory.create(
        affiliate=affiliate,
        url_template=receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}&e={event}",
        status=PostbackEndpoint.Status.TESTING,
        test_link=TEST_LINK,
        events=["signup", "trial"],
    )


def test_fires_now_and_answers_with_the_attempts_result(
    manage_client: APIClient, endpoint: PostbackEndpoint, receiver: Any
) -> None:
    receiver.default = (202, {}, b'{"ok": true}')

    response = manage_client.post(fire_url(endpoint.pk), format="json")

    assert response.status_code == 200
    (request,) = receiver.wait_for(1)
    data = response.json()
    attempt = DeliveryAttempt.objects.get(delivery_id=data["delivery_id"])
    assert data == {
        "url": receiver.base_url + request.path,
        "method": "GET",
        "event": "signup",
        "tracker_source": "tracker values from the test link",
        "succeeded": True,
        "status_code": 202,
        "duration_ms": attempt.duration_ms,
        "response_excerpt": '{"ok": true}',
        "error": "",
        "delivery_id": attempt.delivery_id,
        "attempt_id": attempt.pk,
    }
    assert parse_qs(urlsplit(request.path).query)["cid"] == ["c0ffee"]
    assert attempt.trigger == "manual"
    assert Delivery.objects.get(pk=data["delivery_id"]).is_test


def test_an_empty_body_is_fine_and_an_event_may_be_chosen(
    manage_client: APIClient, endpoint: PostbackEndpoint, receiver: Any
) -> None:
    assert manage_client.post(fire_url(endpoint.pk)).status_code == 200
    chosen = manage_client.post(fire_url(endpoint.pk), {"event": "trial"}, format="json")
    assert chosen.status_code == 200
    assert chosen.json()["event"] == "trial"
    assert "e=trial" in chosen.json()["url"]


def test_an_event_the_endpoint_does_not_receive_is_400(
    manage_client: APIClient, endpoint: PostbackEndpoint, receiver: Any
) -> None:
    response = manage_client.post(fire_url(endpoint.pk), {"event": "rebill"}, format="json")
    assert response.status_code == 400
    assert "does not receive event 'rebill'" in response.json()["event"][0]
    assert receiver.received == []


def test_a_failing_receiver_is_still_200_with_the_failure(
    manage_client: APIClient, endpoint: PostbackEndpoint, receiver: Any
) -> None:
    receiver.default = (500, {}, b"<h1>boom</h1>")
    data = manage_client.post(fire_url(endpoint.pk), format="json").json()
    assert (data["succeeded"], data["status_code"]) == (False, 500)
    assert data["response_excerpt"] == "<h1>boom</h1>"
    assert "receiver answered 500" in data["error"]


def test_a_refused_address_is_reported_and_nothing_sent(
    manage_client: APIClient, endpoint: PostbackEndpoint, receiver: Any, settings: Any
) -> None:
    settings.POSTBACK_ALLOWED_NETWORKS = []
    data = manage_client.post(fire_url(endpoint.pk), format="json").json()
    assert data["succeeded"] is False
    assert data["status_code"] is None
    assert data["error"].startswith("address refused")
    assert receiver.received == []


def test_a_template_that_cannot_render_is_400_and_nothing_sent(
    manage_client: APIClient, endpoint: PostbackEndpoint, receiver: Any
) -> None:
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(
        url_template=receiver.base_url + "/pb?x={gone}"
    )
    response = manage_client.post(fire_url(endpoint.pk), format="json")
    assert response.status_code == 400
    assert "unknown macro {gone}" in response.json()["url_template"][0]
    assert not Delivery.objects.exists()
    assert receiver.received == []


def test_an_unknown_endpoint_is_404(manage_client: APIClient, event_types: None) -> None:
    assert manage_client.post(fire_url(999999), format="json").status_code == 404


def test_an_ingest_token_is_403_and_no_token_401(
    ingest_client: APIClient, endpoint: PostbackEndpoint, receiver: Any
) -> None:
    assert ingest_client.post(fire_url(endpoint.pk), format="json").status_code == 403
    assert APIClient().post(fire_url(endpoint.pk), format="json").status_code == 401
    assert receiver.received == []


def test_get_is_405(manage_client: APIClient, endpoint: PostbackEndpoint) -> None:
    assert manage_client.get(fire_url(endpoint.pk)).status_code == 405


def test_a_body_that_is_not_json_is_415(
    manage_client: APIClient, endpoint: PostbackEndpoint, receiver: Any
) -> None:
    response = manage_client.post(fire_url(endpoint.pk), "event=trial", content_type="text/plain")
    assert response.status_code == 415
    assert receiver.received == []


def test_schema_documents_the_test_endpoint(db: Any) -> None:
    schema = Client().get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/postback-endpoints/{id}/test/"]["post"]
    assert operation["operationId"] == "postback_endpoints_test"
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
