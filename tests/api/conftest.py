"""API test fixtures: tokens made the way operators make them, through create_api_token."""

import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from rest_framework.test import APIClient

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks.models import EventType, PostbackEndpoint
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

CONVERSIONS_URL = "/api/v1/conversions/"
BATCH_URL = "/api/v1/conversions/batch/"


def issue_token(username: str, scope: str) -> str:
    out = io.StringIO()
    call_command("create_api_token", username, "--scope", scope, stdout=out)
    return out.getvalue().strip()


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def post_all_at_once(
    key: str, url: str, payload: Any, *, threads: int, timeout: float = 60
) -> list[tuple[int, Any]]:
    """`threads` clients with the token `key` post `payload` to `url` at the same moment (a
    barrier releases them together); their (status, body) answers, in thread order. An exception
    in a thread fails the calling test."""
    barrier = threading.Barrier(threads)
    answers: list[tuple[int, Any] | BaseException | None] = [None] * threads

    def post(index: int) -> None:
        try:
            client = token_client(key)
            barrier.wait(timeout=10)
            response = client.post(url, payload, format="json")
            answers[index] = (response.status_code, response.json())
        except BaseException as exc:  # handed to the main thread, which fails the test
            answers[index] = exc
        finally:
            connection.close()

    workers = [threading.Thread(target=post, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=timeout)
    assert not any(worker.is_alive() for worker in workers)
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return [answer for answer in answers if isinstance(answer, tuple)]


@pytest.fixture
def ingest_token(db: Any) -> str:
    return issue_token("ingest-bot", "ingest")


@pytest.fixture
def manage_token(db: Any) -> str:
    return issue_token("account-manager-bot", "manage")


@pytest.fixture
def ingest_client(ingest_token: str) -> APIClient:
    return token_client(ingest_token)


@pytest.fixture
def manage_client(manage_token: str) -> APIClient:
    return token_client(manage_token)


@pytest.fixture
def event_types(db: Any) -> None:
    """The four codes of docs/spec.md §1 (a transactional test elsewhere may have flushed them)."""
    for code, name in [
        ("freereg", "Free registration"),
        ("trial", "Trial"),
        ("signup", "Signup (sale)"),
        ("rebill", "Rebill"),
    ]:
        EventType.objects.get_or_create(code=code, defaults={"name": name})


class World:
    """Affiliate 1234567 (PPS-style trackers) on offer 66013, with a live signup endpoint."""

    def __init__(self) -> None:
        self.affiliate: Affiliate = AffiliateFactory.create(
            network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
        )
        self.offer: Offer = OfferFactory.create(network_offer_id=66013)
        self.endpoint: PostbackEndpoint = PostbackEndpointFactory.create(
            affiliate=self.affiliate,
            url_template="https://track.example/pb?cid={clickId}&tx={transaction_id}",
            events=["signup"],
        )

    def payload(self, **overrides: Any) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "transaction_id": "tx-1",
            "event": "signup",
            "offer_id": self.offer.network_offer_id,
            "tracker": "trID_1234567_aff9-tx77-c0ffee_trID",
            "amount": "35.00",
        }
        payload.update(overrides)
        return payload


@pytest.fixture
def world(event_types: None) -> World:
    return World()


@pytest.fixture
def post_json(ingest_client: APIClient) -> Callable[..., Any]:
    def post(payload: Any, url: str = CONVERSIONS_URL) -> Any:
        return ingest_client.post(url, payload, format="json")

    return post
