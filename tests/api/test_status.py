"""The status API: POST /api/v1/conversions/{id}/status/ and /api/v1/conversions/status/, the
optional `status` at ingest, and the status in the conversion's detail."""

import io
import json
import uuid
from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from postbacks.models import Conversion, ConversionStatusChange, Delivery
from tests.api.conftest import (
    BATCH_URL,
    CONVERSIONS_URL,
    World,
    issue_token,
    post_all_at_once,
    token_client,
)
from tests.factories import ConversionFactory

pytestmark = pytest.mark.django_db

STATUS_BATCH_URL = "/api/v1/conversions/status/"


def status_url(pk: int) -> str:
    return f"/api/v1/conversions/{pk}/status/"


def ingested(post_json: Any, world: World, **overrides: Any) -> Conversion:
    response = post_json(world.payload(**overrides))
    assert response.status_code == 202, response.content
    return Conversion.objects.get(pk=response.json()["id"])


# ------------------------------------------------------------------------------
# Ingest and detail
# ------------------------------------------------------------------------------


def test_ingest_stores_approved_unless_told_pending(world: World, post_json: Any) -> None:
    assert ingested(post_json, world).status == "approved"
    assert ingested(post_json, world, transaction_id="tx-2", status="pending").status == "pending"
    assert ingested(post_json, world, transaction_id="tx-3", status=None).status == "approved"


@pytest.mark.parametrize("value", ["rejected", "reversed", "sale", ""])
def test_ingest_refuses_a_status_a_new_sale_cannot_have(
    world: World, post_json: Any, value: str
) -> None:
    response = post_json(world.payload(status=value))

    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    assert not Conversion.objects.exists()


def test_the_ingest_batch_takes_the_status_per_item(world: World, post_json: Any) -> None:
    response = post_json(
        {
            "conversions": [
                world.payload(transaction_id="b-1", status="pending"),
                world.payload(transaction_id="b-2"),
            ]
        },
        url=BATCH_URL,
    )

    assert response.status_code == 200
    assert dict(Conversion.objects.values_list("transaction_id", "status")) == {
        "b-1": "pending",
        "b-2": "approved",
    }


def test_the_detail_shows_the_status_its_reason_and_when_it_changed(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    conversion = ingested(post_json, world, status="pending")
    before = ingest_client.get(f"{CONVERSIONS_URL}{conversion.pk}/").json()
    assert (before["status"], before["status_reason"], before["status_changed_at"]) == (
        "pending",
        "",
        None,
    )

    ingest_client.post(
        status_url(conversion.pk), {"status": "rejected", "reason": "fraud"}, format="json"
    )

    after = ingest_client.get(f"{CONVERSIONS_URL}{conversion.pk}/").json()
    assert (after["status"], after["status_reason"]) == ("rejected", "fraud")
    assert after["status_changed_at"] is not None


def test_a_delivery_shows_the_status_it_tells_of(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    conversion = ingested(post_json, world, status="pending")
    ingest_client.post(status_url(conversion.pk), {"status": "approved"}, format="json")

    detail = ingest_client.get(f"{CONVERSIONS_URL}{conversion.pk}/").json()

    assert [d["status"] for d in detail["deliveries"]] == ["approved"]


# ------------------------------------------------------------------------------
# One conversion
# ------------------------------------------------------------------------------


def test_a_change_answers_200_and_records_the_token_user(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    conversion = ingested(post_json, world, status="pending")

    response = ingest_client.post(
        status_url(conversion.pk), {"status": "approved", "reason": "paid"}, format="json"
    )

    assert response.status_code == 200, response.content
    (delivery,) = Delivery.objects.filter(conversion=conversion)
    assert response.json() == {
        "id": conversion.pk,
        "status": "approved",
        "previous_status": "pending",
        "changed": True,
        "deliveries": [delivery.pk],
    }
    (record,) = ConversionStatusChange.objects.all()
    assert record.changed_by == User.objects.get(username="ingest-bot")
    assert (record.source, record.reason) == ("api", "paid")


def test_the_same_status_again_answers_200_unchanged(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    conversion = ingested(post_json, world)

    response = ingest_client.post(status_url(conversion.pk), {"status": "approved"}, format="json")

    assert response.status_code == 200
    assert response.json()["changed"] is False
    assert response.json()["previous_status"] == "approved"
    assert not ConversionStatusChange.objects.exists()


def test_an_invalid_transition_is_409_naming_the_current_status(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    conversion = ingested(post_json, world, status="pending")

    response = ingest_client.post(status_url(conversion.pk), {"status": "reversed"}, format="json")

    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["id"], body["status"]) == (
        "invalid_transition",
        conversion.pk,
        "pending",
    )
    assert "the conversion is pending" in body["detail"]
    conversion.refresh_from_db()
    assert conversion.status == "pending"
    assert not ConversionStatusChange.objects.exists()


def test_an_unknown_conversion_is_404(db: Any, ingest_client: APIClient) -> None:
    response = ingest_client.post(status_url(999999), {"status": "approved"}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "cancelled"}, "status"),
        ({}, "status"),
        ({"status": "approved", "reason": "x" * 501}, "reason"),
        ({"status": "approved", "reason": "nul\x00byte"}, "reason"),
        ({"status": "approved", "reason": ["a list"]}, "reason"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    world: World, post_json: Any, ingest_client: APIClient, body: dict[str, Any], field: str
) -> None:
    conversion = ingested(post_json, world, status="pending")

    response = ingest_client.post(status_url(conversion.pk), body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [field]
    conversion.refresh_from_db()
    assert conversion.status == "pending"


def test_a_reason_of_500_characters_is_kept_whole(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    conversion = ingested(post_json, world, status="pending")
    reason = "é" * 249 + "\n" + "é" * 250

    response = ingest_client.post(
        status_url(conversion.pk), {"status": "rejected", "reason": reason}, format="json"
    )

    assert response.status_code == 200
    conversion.refresh_from_db()
    assert conversion.status_reason == reason


def test_a_token_is_needed(world: World, post_json: Any) -> None:
    conversion = ingested(post_json, world)

    assert APIClient().post(status_url(conversion.pk), {"status": "reversed"}).status_code == 401
    assert APIClient().post(STATUS_BATCH_URL, {"changes": []}).status_code == 401


# ------------------------------------------------------------------------------
# A batch
# ------------------------------------------------------------------------------


def change(transaction_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "event": "signup", "status": status, **extra}


def test_a_batch_answers_each_change_in_order_and_applies_the_good_ones(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    pending = ingested(post_json, world, transaction_id="p", status="pending")
    approved = ingested(post_json, world, transaction_id="a")

    response = ingest_client.post(
        STATUS_BATCH_URL,
        {
            "changes": [
                change("p", "approved", reason="checked"),
                change("missing", "approved"),
                change("a", "pending"),
                {**change("a", "reversed"), "event": "rebill"},
                change("a", "approved"),
                change("a", "reversed", reason="chargeback"),
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results[0] == {
        "id": pending.pk,
        "status": "approved",
        "previous_status": "pending",
        "changed": True,
        "deliveries": [Delivery.objects.get(conversion=pending).pk],
    }
    assert results[1]["code"] == "not_found"
    assert "'missing'" in results[1]["detail"]
    assert (results[2]["code"], results[2]["id"], results[2]["status"]) == (
        "invalid_transition",
        approved.pk,
        "approved",
    )
    assert results[3]["code"] == "not_found"
    assert results[4]["changed"] is False
    assert (results[5]["previous_status"], results[5]["status"]) == ("approved", "reversed")
    assert dict(Conversion.objects.values_list("transaction_id", "status")) == {
        "p": "approved",
        "a": "reversed",
    }
    assert ConversionStatusChange.objects.count() == 2


@pytest.mark.parametrize(
    "changes",
    [
        [change("p", "cancelled")],
        [change("p", "approved", reason="x" * 501)],
        [change("p", "approved", reason="\x00")],
        [change("p", "approved"), {"transaction_id": "p", "status": "approved"}],
        [],
        "not a list",
    ],
)
def test_a_malformed_batch_is_400_and_applies_nothing(
    world: World, post_json: Any, ingest_client: APIClient, changes: Any
) -> None:
    ingested(post_json, world, transaction_id="p", status="pending")

    response = ingest_client.post(STATUS_BATCH_URL, {"changes": changes}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["changes"]
    assert Conversion.objects.get().status == "pending"


def test_a_batch_of_1000_with_long_reasons_is_taken_and_over_1000_is_refused(
    world: World, ingest_client: APIClient
) -> None:
    ConversionFactory.create_batch(
        1000, status="pending", affiliate=world.affiliate, offer=world.offer
    )
    changes = [
        change(tx, "approved", reason="r" * 500)
        for tx in Conversion.objects.values_list("transaction_id", flat=True)
    ]
    # Over the 64 KiB of a single call: the batch route takes the batch's body limit.
    assert len(json.dumps({"changes": changes})) > 64 * 1024

    response = ingest_client.post(STATUS_BATCH_URL, {"changes": changes}, format="json")

    assert response.status_code == 200
    assert all(r["changed"] for r in response.json()["results"])
    assert not Conversion.objects.exclude(status="approved").exists()
    too_many = ingest_client.post(
        STATUS_BATCH_URL, {"changes": [*changes, changes[0]]}, format="json"
    )
    assert too_many.status_code == 400


# ------------------------------------------------------------------------------
# The schema
# ------------------------------------------------------------------------------


def test_the_schema_documents_both_status_routes() -> None:
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    paths = yaml.safe_load(out.getvalue())["paths"]

    one = paths["/api/v1/conversions/{id}/status/"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(one["responses"])
    batch = paths["/api/v1/conversions/status/"]["post"]
    assert {"200", "400", "401", "403", "413"} <= set(batch["responses"])


# ------------------------------------------------------------------------------
# Races
# ------------------------------------------------------------------------------

THREADS = 20


@pytest.mark.django_db(transaction=True)
def test_the_same_change_posted_20_times_at_once_changes_once(world: World) -> None:
    key = issue_token("race-bot", "ingest")
    client = token_client(key)
    transaction_id = f"race-{uuid.uuid4()}"
    created = client.post(
        CONVERSIONS_URL,
        world.payload(transaction_id=transaction_id, status="pending"),
        format="json",
    )
    assert created.status_code == 202
    pk = created.json()["id"]

    answers = post_all_at_once(
        key, status_url(pk), {"status": "approved", "reason": "race"}, threads=THREADS
    )

    assert [status for status, _ in answers] == [200] * THREADS
    assert sorted(body["changed"] for _, body in answers) == [False] * (THREADS - 1) + [True]
    assert {body["status"] for _, body in answers} == {"approved"}
    assert ConversionStatusChange.objects.filter(conversion_id=pk).count() == 1
    # One set of postbacks: the world's endpoint held the pending sale, and hears of it once.
    (delivery,) = Delivery.objects.filter(conversion_id=pk)
    assert sorted(d for _, body in answers for d in body["deliveries"]) == [delivery.pk]


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_posted_at_once_change_each_conversion_once(world: World) -> None:
    """Batches naming the same conversions in different orders: the rows are locked in id order,
    so they wait for each other instead of deadlocking, and each conversion changes once."""
    key = issue_token("race-bot", "ingest")
    for n in range(10):
        ConversionFactory.create(
            transaction_id=f"o-{n}", status="pending", affiliate=world.affiliate, offer=world.offer
        )
    changes = [change(f"o-{n}", "rejected") for n in range(10)]
    payloads = [{"changes": changes}, {"changes": changes[::-1]}]

    answers = post_all_at_once(
        key, STATUS_BATCH_URL, payloads[0], threads=THREADS
    ) + post_all_at_once(key, STATUS_BATCH_URL, payloads[1], threads=THREADS)

    assert {status for status, _ in answers} == {200}
    changed = sum(r["changed"] for _, body in answers for r in body["results"])
    assert changed == 10
    assert ConversionStatusChange.objects.count() == 10


def test_a_batch_answer_is_the_same_json_byte_for_byte(
    world: World, post_json: Any, ingest_client: APIClient
) -> None:
    """Key order and spelling as the schema's serializers wrote them: refusals put `id` and
    `status` before `code` and `detail`."""
    pending = ingested(post_json, world, transaction_id="p", status="pending")
    approved = ingested(post_json, world, transaction_id="a")

    response = ingest_client.post(
        STATUS_BATCH_URL,
        {
            "changes": [
                change("p", "approved", reason="é checked"),
                change("missing", "approved"),
                change("a", "pending"),
                change("a", "approved"),
            ]
        },
        format="json",
    )

    (delivery,) = Delivery.objects.filter(conversion=pending)
    expected = {
        "results": [
            {
                "id": pending.pk,
                "status": "approved",
                "previous_status": "pending",
                "changed": True,
                "deliveries": [delivery.pk],
            },
            {"code": "not_found", "detail": "No conversion 'missing' for event 'signup'."},
            {
                "id": approved.pk,
                "status": "approved",
                "code": "invalid_transition",
                "detail": "the conversion is approved: it cannot become pending "
                "(it can only become reversed)",
            },
            {
                "id": approved.pk,
                "status": "approved",
                "previous_status": "approved",
                "changed": False,
                "deliveries": [],
            },
        ]
    }
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == json.dumps(expected, separators=(",", ":")).encode()
