"""Identical posts at the same moment store one conversion and one set of deliveries (docs/spec.md
§5).

Real threads, each with its own client and database connection, released together by a barrier
against the real PostgreSQL: the unique (transaction_id, event) constraint has to arbitrate.
"""

import threading
import uuid
from typing import Any

import pytest
from django.db import connection

from postbacks.models import Conversion, Delivery
from tests.api.conftest import CONVERSIONS_URL, World, issue_token, token_client
from tests.factories import PostbackEndpointFactory

THREADS = 8
ROUNDS = 5


def post_all_at_once(key: str, payload: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    barrier = threading.Barrier(THREADS)
    answers: list[tuple[int, dict[str, Any]] | BaseException | None] = [None] * THREADS

    def post(index: int) -> None:
        try:
            client = token_client(key)
            barrier.wait(timeout=10)
            response = client.post(CONVERSIONS_URL, payload, format="json")
            answers[index] = (response.status_code, response.json())
        except BaseException as exc:  # handed to the main thread, which fails the test
            answers[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return [answer for answer in answers if isinstance(answer, tuple)]


@pytest.mark.django_db(transaction=True)
def test_identical_posts_at_the_same_moment_store_one_conversion(world: World) -> None:
    # Two endpoints at the affiliate level: each conversion fires exactly these two.
    PostbackEndpointFactory.create(affiliate=world.affiliate, events=["signup"])
    key = issue_token("race-bot", "ingest")

    for _ in range(ROUNDS):
        transaction_id = f"race-{uuid.uuid4()}"
        answers = post_all_at_once(key, world.payload(transaction_id=transaction_id))

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
