"""GET conversions and deliveries with their attempts; replaying deliveries (docs/spec.md §5,
§6)."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from postbacks.delivery.queue import get_queue
from postbacks.models import Delivery
from tests.api.conftest import World
from tests.factories import DeliveryAttemptFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db


def test_conversion_detail_shows_tracker_values_deliveries_and_attempts(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    answer = post_json(world.payload(occurred_at="2025-01-31T12:00:00Z")).json()
    delivery = Delivery.objects.get()
    DeliveryAttemptFactory.create(delivery=delivery, number=2, status_code=503, error="boom")
    DeliveryAttemptFactory.create(delivery=delivery, number=1, status_code=500)

    response = ingest_client.get(f"/api/v1/conversions/{answer['id']}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == answer["id"]
    assert body["event"] == "signup"
    assert body["offer_id"] == 66013
    assert body["affiliate_id"] == 1234567
    assert body["tracker"] == "trID_1234567_aff9-tx77-c0ffee_trID"
    assert body["tracker_values"] == {"affid": "aff9", "TransID": "tx77", "clickId": "c0ffee"}
    assert body["amount"] == "35.0000"
    assert body["occurred_at"] == "2025-01-31T12:00:00Z"
    assert body["attribution"] == "attributed"
    (shown,) = body["deliveries"]
    assert shown["id"] == delivery.pk
    assert shown["url"] == "https://track.example/pb?cid=c0ffee&tx=tx-1"
    assert shown["state"] == "pending"
    assert [a["number"] for a in shown["attempt_log"]] == [1, 2]
    assert shown["attempt_log"][1]["error"] == "boom"


def test_unattributed_conversion_detail_has_no_affiliate(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    answer = post_json(world.payload(tracker="nope")).json()
    body = ingest_client.get(f"/api/v1/conversions/{answer['id']}/").json()
    assert body["affiliate_id"] is None
    assert body["attribution"] == "unattributed"
    assert body["attribution_error"]
    assert body["deliveries"] == []


def test_conversion_detail_queries_do_not_grow_with_deliveries(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    one = post_json(world.payload(transaction_id="one")).json()
    for _ in range(3):
        PostbackEndpointFactory.create(affiliate=world.affiliate, events=["signup"])
    many = post_json(world.payload(transaction_id="many")).json()
    assert len(many["deliveries"]) == 4
    for delivery_id in many["deliveries"]:
        for number in (1, 2):
            DeliveryAttemptFactory.create(delivery_id=delivery_id, number=number)

    def queries(conversion_id: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert ingest_client.get(f"/api/v1/conversions/{conversion_id}/").status_code == 200
        return len(captured)

    assert queries(many["id"]) == queries(one["id"])


def test_unknown_conversion_is_404(world: World, ingest_client: APIClient) -> None:
    assert ingest_client.get("/api/v1/conversions/999999/").status_code == 404
    assert ingest_client.get(f"/api/v1/conversions/{'9' * 30}/").status_code == 404


def test_conversion_detail_needs_a_token(world: World, post_json: Any) -> None:
    answer = post_json(world.payload()).json()
    assert APIClient().get(f"/api/v1/conversions/{answer['id']}/").status_code == 401


def test_delivery_detail(world: World, post_json: Any, manage_client: APIClient) -> None:
    answer = post_json(world.payload()).json()
    (delivery_id,) = answer["deliveries"]
    DeliveryAttemptFactory.create(delivery_id=delivery_id, number=1, status_code=200)

    response = manage_client.get(f"/api/v1/deliveries/{delivery_id}/")

    assert response.status_code == 200
    body = response.json()
    assert body["conversion_id"] == answer["id"]
    assert body["endpoint_id"] == world.endpoint.pk
    assert body["attempt_log"][0]["status_code"] == 200
    assert manage_client.get("/api/v1/deliveries/999999/").status_code == 404


def test_ingest_token_may_not_read_a_delivery(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    # Deliveries include test postbacks to any endpoint; an ingest token reads its conversions
    # (with their deliveries), not the management side's records.
    (delivery_id,) = post_json(world.payload()).json()["deliveries"]
    response = ingest_client.get(f"/api/v1/deliveries/{delivery_id}/")
    assert response.status_code == 403
    assert "manage scope" in response.json()["detail"]


def test_replay_queues_deliveries_again(
    world: World, post_json: Any, manage_client: APIClient
) -> None:
    answer = post_json(world.payload()).json()
    (delivery_id,) = answer["deliveries"]
    Delivery.objects.filter(pk=delivery_id).update(state=Delivery.State.DEAD)
    queue = get_queue()
    queued_before = queue.count

    response = manage_client.post(
        "/api/v1/deliveries/replay/", {"ids": [delivery_id, 999999]}, format="json"
    )

    assert response.status_code == 202
    assert response.json() == {"queued": [delivery_id], "queue_available": True}
    assert Delivery.objects.get(pk=delivery_id).state == Delivery.State.PENDING
    assert queue.count == queued_before + 1


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"ids": ["x"]}, {"ids": [0]}, {"ids": 5}])
def test_replay_refuses_bad_ids(world: World, manage_client: APIClient, body: Any) -> None:
    response = manage_client.post("/api/v1/deliveries/replay/", body, format="json")
    assert response.status_code == 400
    assert "ids" in response.json()


def test_ingest_token_may_not_replay(world: World, ingest_client: APIClient) -> None:
    response = ingest_client.post("/api/v1/deliveries/replay/", {"ids": [1]}, format="json")
    assert response.status_code == 403
