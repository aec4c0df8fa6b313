"""Outages and bursts at the ingest API: clear answers, exact counts, nothing half-written."""

import socket
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from postbacks.models import Conversion, Delivery
from tests.api.conftest import BATCH_URL, World

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_unreachable_answers_503_and_stores_nothing(world: World, post_json: Any) -> None:
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = _closed_port()
    try:
        response = post_json(world.payload(transaction_id="during-outage"))
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
    assert response.status_code == 503
    assert "database is unavailable" in response.json()["detail"]
    assert response["Retry-After"]
    assert not Conversion.objects.filter(transaction_id="during-outage").exists()
    assert post_json(world.payload(transaction_id="during-outage")).status_code == 202


def test_burst_of_10000_with_duplicates_and_malformed_items_gives_exact_counts(
    world: World, post_json: Any
) -> None:
    items: list[Any] = []
    for n in range(10_000):
        if n % 20 == 7:  # 5 % malformed
            items.append({"transaction_id": "", "event": "signup", "offer_id": "x"})
        elif n % 20 == 13:  # 5 % duplicates of an earlier item
            items.append(world.payload(transaction_id=f"burst-{n - 13}"))
        else:
            items.append(world.payload(transaction_id=f"burst-{n}"))
    statuses: Counter[int] = Counter()
    for start in range(0, len(items), 1000):
        response = post_json({"conversions": items[start : start + 1000]}, BATCH_URL)
        assert response.status_code == 200
        statuses.update(result["status"] for result in response.json()["results"])
    assert statuses == {202: 9000, 200: 500, 400: 500}
    assert Conversion.objects.count() == 9000
    # One live signup endpoint: one delivery per stored conversion, none for a duplicate.
    assert Delivery.objects.count() == 9000
