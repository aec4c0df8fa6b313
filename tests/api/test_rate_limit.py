"""The ingest rate limit (issue 6): per token, shared by every process, a batch counts its items."""

from typing import Any

import pytest

from tests.api.conftest import BATCH_URL, CONVERSIONS_URL, World, issue_token, token_client

pytestmark = pytest.mark.django_db


def test_token_over_its_limit_gets_a_clear_429_and_others_do_not(
    world: World, post_json: Any, settings: Any
) -> None:
    settings.INGEST_RATE_LIMIT = 3
    answers = [post_json(world.payload(transaction_id=f"t{n}")).status_code for n in range(4)]
    assert answers == [202, 202, 202, 429]
    refused = post_json(world.payload(transaction_id="t9"))
    assert refused.status_code == 429
    assert "throttled" in refused.json()["detail"].lower()
    assert 0 < int(refused["Retry-After"]) <= 60
    other = token_client(issue_token("other-system", "ingest"))
    assert (
        other.post(CONVERSIONS_URL, world.payload(transaction_id="o1"), format="json").status_code
        == 202
    )


def test_a_batch_counts_its_items(world: World, post_json: Any, settings: Any) -> None:
    settings.INGEST_RATE_LIMIT = 5
    batch = {"conversions": [world.payload(transaction_id=f"b{n}") for n in range(4)]}
    assert post_json(batch, BATCH_URL).status_code == 200
    assert post_json(batch, BATCH_URL).status_code == 429


def test_zero_means_no_limit(world: World, post_json: Any, settings: Any) -> None:
    settings.INGEST_RATE_LIMIT = 0
    for n in range(5):
        assert post_json(world.payload(transaction_id=f"z{n}")).status_code == 202
