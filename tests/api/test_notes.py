"""Nothing fires, and the answer says why (docs/spec.md §10): a 202 without deliveries carries
notes; a tracker that left some of the affiliate's params empty carries a warning."""

from typing import Any

import pytest

from affiliates.models import Affiliate
from postbacks.ingest_answers import empty_params_warnings, quiet_notes
from postbacks.models import PostbackEndpoint
from tests.api.conftest import BATCH_URL, World

pytestmark = pytest.mark.django_db


def test_a_conversion_that_fires_carries_no_notes_or_warnings(world: World, post_json: Any) -> None:
    body = post_json(world.payload()).json()
    assert body["deliveries"]
    assert "notes" not in body
    assert "warnings" not in body


def test_paused_affiliate(world: World, post_json: Any) -> None:
    Affiliate.objects.filter(pk=world.affiliate.pk).update(status=Affiliate.Status.PAUSED)
    response = post_json(world.payload())
    assert response.status_code == 202
    assert response.json()["deliveries"] == []
    assert response.json()["notes"] == ["affiliate 1234567 is paused"]


def test_no_live_endpoint_for_the_event(world: World, post_json: Any) -> None:
    body = post_json(world.payload(event="trial")).json()
    assert body["notes"] == ["no live endpoint for trial"]
    PostbackEndpoint.objects.update(status=PostbackEndpoint.Status.TESTING)
    body = post_json(world.payload(transaction_id="tx-2")).json()
    assert body["notes"] == ["no live endpoint for signup"]


def test_unattributed_says_why(world: World, post_json: Any) -> None:
    body = post_json(world.payload(tracker="trID_999_x_trID")).json()
    assert body["attribution"] == "unattributed"
    assert body["notes"] == [f"unattributed: {body['attribution_error']}"]


def test_fewer_tracker_values_than_params_is_attributed_with_a_warning(
    world: World, post_json: Any
) -> None:
    body = post_json(world.payload(tracker="trID_1234567_aff9_trID")).json()
    assert body["attribution"] == "attributed"
    assert body["deliveries"]
    assert body["warnings"] == ["tracker params left empty: TransID, clickId"]


def test_a_repeat_carries_the_first_answer_without_notes(world: World, post_json: Any) -> None:
    first = post_json(world.payload(event="trial")).json()
    again = post_json(world.payload(event="trial")).json()
    assert first["notes"]
    assert again == {key: value for key, value in first.items() if key != "notes"}


def test_batch_items_carry_their_notes_and_warnings(world: World, post_json: Any) -> None:
    results = post_json(
        {
            "conversions": [
                world.payload(transaction_id="a"),
                world.payload(transaction_id="b", event="rebill"),
                world.payload(transaction_id="c", tracker="trID_1234567_aff9-tx77_trID"),
            ]
        },
        url=BATCH_URL,
    ).json()["results"]
    assert "notes" not in results[0]
    assert results[1]["notes"] == ["no live endpoint for rebill"]
    assert results[2]["warnings"] == ["tracker params left empty: clickId"]


def test_quiet_notes_rules() -> None:
    def notes(**facts: Any) -> list[str]:
        base: dict[str, Any] = {
            "event": "signup",
            "unattributed_reason": "",
            "affiliate_id": 42,
            "affiliate_status": "active",
            "firing_endpoint_ids": [],
        }
        return quiet_notes(**{**base, **facts})

    assert notes(affiliate_id=None, unattributed_reason="unknown affiliate 7") == [
        "unattributed: unknown affiliate 7"
    ]
    assert notes(affiliate_status="paused") == ["affiliate 42 is paused"]
    assert notes() == ["no live endpoint for signup"]
    assert notes(firing_endpoint_ids=[5]) == [
        "endpoint #5: its URL cannot be rendered for this conversion"
    ]


def test_empty_params_warnings_rules() -> None:
    assert empty_params_warnings(values={"a": "1", "b": "2"}, params=["a", "b"]) == []
    assert empty_params_warnings(values={"a": "1", "b": ""}, params=["a", "b"]) == [
        "tracker params left empty: b"
    ]
    assert empty_params_warnings(values={}, params=[]) == []


def test_a_pending_sale_held_from_an_approval_only_endpoint_says_so(
    world: World, post_json: Any
) -> None:
    body = post_json(world.payload(status="pending")).json()
    assert body["deliveries"] == []
    assert body["notes"] == ["held until approved"]


def test_an_endpoint_that_fires_on_pending_sends_a_pending_sale_without_a_note(
    world: World, post_json: Any
) -> None:
    PostbackEndpoint.objects.update(fire_on=["pending", "approved"])
    body = post_json(world.payload(status="pending")).json()
    assert len(body["deliveries"]) == 1
    assert "notes" not in body


def test_quiet_notes_for_statuses() -> None:
    base: dict[str, Any] = {
        "event": "signup",
        "unattributed_reason": "",
        "affiliate_id": 42,
        "affiliate_status": "active",
        "firing_endpoint_ids": [],
    }
    assert quiet_notes(**base, status="pending", held_endpoint_ids=[3]) == ["held until approved"]
    assert quiet_notes(**base, status="approved", held_endpoint_ids=[3]) == [
        "no live endpoint for signup fires on approved"
    ]
