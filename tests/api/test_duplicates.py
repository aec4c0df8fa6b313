"""Duplicates that differ (docs/spec.md §10): a repeat of (transaction_id, event) changes nothing;
when it sent some field differently the answer says which, as [stored, sent]."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postbacks.models import Conversion
from tests.api.conftest import BATCH_URL, World
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


def test_an_identical_repeat_answers_exactly_the_first_answer(world: World, post_json: Any) -> None:
    first = post_json(world.payload()).json()
    again = post_json(world.payload())
    assert again.status_code == 200
    assert again.json() == first
    assert "duplicate" not in again.json()


def test_a_differing_repeat_names_every_field_it_sent_differently(
    world: World, post_json: Any
) -> None:
    post_json(world.payload(occurred_at="2025-01-31T12:00:00Z", currency="EUR"))
    other_offer = OfferFactory.create(network_offer_id=77)
    again = post_json(
        world.payload(
            amount="35.0",
            offer_id=other_offer.network_offer_id,
            affiliate_id=7654321,
            currency="usd",
            occurred_at="2025-01-31T14:00:00+02:00",
        )
    )
    assert again.status_code == 200
    body = again.json()
    assert body["duplicate"] is True
    # 35.0 is 35.00, and 14:00+02:00 is 12:00Z: the same values, not reported.
    assert body["ignored"] == {
        "offer_id": [66013, 77],
        "affiliate_id": [1234567, 7654321],
        "currency": ["EUR", "USD"],
    }
    stored = Conversion.objects.get()
    assert (stored.offer_id, stored.currency) == (world.offer.pk, "EUR")


def test_fields_a_repeat_leaves_out_are_not_compared(world: World, post_json: Any) -> None:
    first = post_json(world.payload()).json()
    again = post_json({"transaction_id": "tx-1", "event": "signup", "offer_id": 66013}).json()
    assert again == first


def test_a_repeat_of_a_conversion_without_amount_reports_the_new_one(
    world: World, post_json: Any
) -> None:
    post_json(world.payload(amount=None))
    again = post_json(world.payload(amount="99.00")).json()
    assert again["ignored"] == {"amount": [None, "99.00"]}


def test_batch_repeats_stored_and_within_the_batch_carry_what_they_ignored(
    world: World, post_json: Any
) -> None:
    post_json(world.payload(transaction_id="old"))
    results = post_json(
        {
            "conversions": [
                world.payload(transaction_id="old", amount="1.00"),
                world.payload(transaction_id="new"),
                world.payload(transaction_id="new", amount="2.50"),
                world.payload(transaction_id="new"),
            ]
        },
        url=BATCH_URL,
    ).json()["results"]
    assert [r["status"] for r in results] == [200, 202, 200, 200]
    assert results[0]["ignored"] == {"amount": ["35.00", "1.00"]}
    assert "duplicate" not in results[1]
    assert (results[2]["duplicate"], results[2]["ignored"]) == (
        True,
        {"amount": ["35.00", "2.50"]},
    )
    assert "duplicate" not in results[3]


def test_a_first_time_conversion_never_reads_stored_conversions(
    world: World, post_json: Any
) -> None:
    with CaptureQueriesContext(connection) as captured:
        assert post_json(world.payload(transaction_id="fresh")).status_code == 202
    reads = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "postbacks_conversion"' in q["sql"]
    ]
    assert reads == []
