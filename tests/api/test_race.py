"""Identical posts at the same moment store one conversion and one set of deliveries (docs/spec.md
§5).

Real threads, each with its own client and database connection, released together by a barrier
against the real PostgreSQL: the unique (transaction_id, event) constraint has to arbitrate.
"""

import uuid

import pytest

from postbacks.models import Conversion, Delivery
from tests.api.conftest import CONVERSIONS_URL, World, issue_token, post_all_at_once
from tests.factories import PostbackEndpointFactory

THREADS = 8
ROUNDS = 5


@pytest.mark.django_db(transaction=True)
def test_identical_posts_at_the_same_moment_store_one_conversion(world: World) -> None:
    # Two endpoints at the affiliate level: each conversion fires exactly these two.
    PostbackEndpointFactory.create(affiliate=world.affiliate, events=["signup"])
    key = issue_token("race-bot", "ingest")

    for _ in range(ROUNDS):
        transaction_id = f"race-{uuid.uuid4()}"
        answers = post_all_at_once(
            key,
            CONVERSIONS_URL,
            world.payload(transaction_id=transaction_id),
            threads=THREADS,
            timeout=30,
        )

        statuses = sorted(status for status, _ in answers)
        assert statuses == [200] * (THREADS - 1) + [202]
        bodies = [body for _, body in answers]
        assert all(body == bodies[0] for body in bodies)
        conversion = Conversion.objects.get(transaction_id=transaction_id)
        assert bodies[0]["id"] == conversion.pk
        deliveries = Delivery.objects.filter(conversion=conversion)
        assert deliveries.count() == 2
        assert sorted(bodies[0]["deliveries"]) == sorted(d.pk for d in deliveries)

    assert Conversion.objects.count() == ROUNDS
    assert Delivery.objects.count() == 2 * ROUNDS
