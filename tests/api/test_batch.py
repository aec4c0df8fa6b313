"""POST /api/v1/conversions/batch/: one result per item, in order (docs/spec.md §5)."""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from postbacks.models import Conversion, Delivery
from tests.api.conftest import BATCH_URL, World

pytestmark = pytest.mark.django_db


def test_mixed_batch_answers_each_item_in_order(world: World, post_json: Any) -> None:
    post_json(world.payload(transaction_id="old"))
    items = [
        world.payload(transaction_id="b-1"),
        world.payload(transaction_id="b-2", offer_id=4242),
        world.payload(transaction_id="old"),
        "not an object",
        world.payload(transaction_id="b-3", amount="lots", currency="EURO"),
        world.payload(transaction_id="b-1"),
        world.payload(transaction_id="b-4", tracker="garbage"),
        world.payload(transaction_id="b-5", event="chargeback"),
    ]
    response = post_json({"conversions": items}, url=BATCH_URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [202, 400, 200, 400, 400, 200, 202, 400]
    assert results[0]["transaction_id"] == "b-1"
    assert len(results[0]["deliveries"]) == 1
    assert results[1]["errors"] == {"offer_id": ["Unknown offer 4242."]}
    assert results[2]["id"] == Conversion.objects.get(transaction_id="old").pk
    assert list(results[3]["errors"]) == ["non_field_errors"]
    assert set(results[4]["errors"]) == {"amount", "currency"}
    assert results[5] == {**results[0], "status": 200}
    assert results[6]["attribution"] == "unattributed"
    assert "chargeback" in results[7]["errors"]["event"][0]
    assert "errors" not in results[0]
    # The bad items stored nothing; the unattributed one is stored all the same.
    stored = sorted(Conversion.objects.values_list("transaction_id", flat=True))
    assert stored == ["b-1", "b-4", "old"]


def test_a_thousand_items_are_taken(world: World, post_json: Any) -> None:
    items = [world.payload(transaction_id=f"k-{n}") for n in range(1000)]
    response = post_json({"conversions": items}, url=BATCH_URL)
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {202}
    assert Conversion.objects.count() == 1000
    assert Delivery.objects.count() == 1000


def test_more_than_a_thousand_items_is_400(world: World, post_json: Any) -> None:
    items = [world.payload(transaction_id=f"k-{n}") for n in range(1001)]
    response = post_json({"conversions": items}, url=BATCH_URL)
    assert response.status_code == 400
    assert "conversions" in response.json()
    assert Conversion.objects.count() == 0


@pytest.mark.parametrize(
    "body", [{}, {"conversions": "x"}, {"conversions": None}, [], {"conversions": {"a": 1}}]
)
def test_batch_that_is_not_a_list_of_conversions_is_400(
    world: World, post_json: Any, body: Any
) -> None:
    assert post_json(body, url=BATCH_URL).status_code == 400


def test_empty_batch_answers_no_results(world: World, post_json: Any) -> None:
    response = post_json({"conversions": []}, url=BATCH_URL)
    assert (response.status_code, response.json()) == (200, {"results": []})


def test_batch_body_may_exceed_64_kib_but_not_its_own_limit(
    world: World, ingest_client: APIClient, settings: Any
) -> None:
    items = [world.payload(transaction_id=f"big-{n}", tracker="t" * 1000) for n in range(100)]
    body = json.dumps({"conversions": items})
    assert len(body) > 64 * 1024
    ok = ingest_client.post(BATCH_URL, body, content_type="application/json")
    assert ok.status_code == 200

    settings.INGEST_BATCH_MAX_BODY_BYTES = len(body) - 1
    too_big = ingest_client.post(BATCH_URL, body, content_type="application/json")
    assert too_big.status_code == 413
    assert "detail" in too_big.json()


def test_batch_over_two_mib_is_413(world: World, ingest_client: APIClient) -> None:
    body = json.dumps({"conversions": [], "padding": "x" * (2 * 1024 * 1024)})
    response = ingest_client.post(BATCH_URL, body, content_type="application/json")
    assert response.status_code == 413


def test_batch_needs_a_token(world: World) -> None:
    response = APIClient().post(BATCH_URL, {"conversions": []}, format="json")
    assert response.status_code == 401
