"""Re-attribution (docs/spec.md §10): an unattributed conversion is given its affiliate (and a
corrected tracker) once; its deliveries are created once; the change is in its history."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from postbacks.models import Conversion, Delivery
from tests.api.conftest import World

pytestmark = pytest.mark.django_db

WRONG = "trID_999_aff9-tx77-c0ffee_trID"
RIGHT = "trID_1234567_aff9-tx77-c0ffee_trID"


def attribute_url(conversion_id: int) -> str:
    return f"/api/v1/conversions/{conversion_id}/attribute/"


@pytest.fixture
def lost(world: World, post_json: Any) -> dict[str, Any]:
    """A signup whose tracker named an affiliate id that does not exist."""
    answer = post_json(world.payload(tracker=WRONG)).json()
    assert answer["attribution"] == "unattributed"
    return answer


def test_attributing_with_a_corrected_tracker_fires_once_and_is_kept_in_history(
    world: World, lost: dict[str, Any], manage_client: APIClient
) -> None:
    response = manage_client.post(
        attribute_url(lost["id"]), {"affiliate_id": 1234567, "tracker": RIGHT}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert body == manage_client.get(f"/api/v1/conversions/{lost['id']}/").json()
    assert (body["affiliate_id"], body["attribution"], body["attribution_error"]) == (
        1234567,
        "attributed",
        "",
    )
    assert body["tracker"] == RIGHT
    assert body["tracker_values"] == {"affid": "aff9", "TransID": "tx77", "clickId": "c0ffee"}
    (delivery,) = body["deliveries"]
    assert delivery["url"] == "https://track.example/pb?cid=c0ffee&tx=tx-1"
    (record,) = Conversion.history.filter(id=lost["id"])
    assert record.history_user.username == "account-manager-bot"
    assert "attributed to affiliate 1234567 (was unattributed: unknown affiliate 999)" in (
        record.history_change_reason
    )
    assert WRONG in record.history_change_reason

    again = manage_client.post(attribute_url(lost["id"]), {"affiliate_id": 1234567}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "already_attributed"
    assert "already attributed to affiliate 1234567" in again.json()["detail"]
    assert Delivery.objects.count() == 1


def test_without_a_tracker_the_stored_one_is_parsed_again(
    world: World, post_json: Any, manage_client: APIClient
) -> None:
    # A revshare link: the tracker holds only the params and the affiliate id was not sent.
    lost = post_json(world.payload(tracker="trID_aff9-tx77-c0ffee_trID")).json()
    assert lost["attribution"] == "unattributed"
    body = manage_client.post(
        attribute_url(lost["id"]), {"affiliate_id": 1234567}, format="json"
    ).json()
    assert body["tracker_values"] == {"affid": "aff9", "TransID": "tx77", "clickId": "c0ffee"}
    assert len(body["deliveries"]) == 1


def test_an_ingested_attributed_conversion_answers_409(
    world: World, post_json: Any, manage_client: APIClient
) -> None:
    answer = post_json(world.payload()).json()
    response = manage_client.post(attribute_url(answer["id"]), {"affiliate_id": 1}, format="json")
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"affiliate_id": 4242}, "affiliate_id"),
        ({"affiliate_id": 1234567, "tracker": "no markers"}, "tracker"),
        ({}, "affiliate_id"),
        ({"affiliate_id": 0}, "affiliate_id"),
        ({"affiliate_id": 1234567, "tracker": "x" * 1025}, "tracker"),
    ],
)
def test_bad_input_is_400_and_writes_nothing(
    world: World,
    lost: dict[str, Any],
    manage_client: APIClient,
    payload: dict[str, Any],
    field: str,
) -> None:
    response = manage_client.post(attribute_url(lost["id"]), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    conversion = Conversion.objects.get(pk=lost["id"])
    assert (conversion.affiliate_id, conversion.tracker_raw) == (None, WRONG)
    assert not Delivery.objects.exists()


def test_unknown_conversion_is_404(world: World, manage_client: APIClient) -> None:
    response = manage_client.post(attribute_url(999999), {"affiliate_id": 1}, format="json")
    assert response.status_code == 404


def test_an_ingest_token_may_not_attribute(
    world: World, lost: dict[str, Any], ingest_client: APIClient
) -> None:
    response = ingest_client.post(
        attribute_url(lost["id"]), {"affiliate_id": 1234567}, format="json"
    )
    assert response.status_code == 403
