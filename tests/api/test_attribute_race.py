"""Two attributions at the same moment make one (docs/spec.md §10), and the conversion's postback
then reaches the affiliate's receiver once. Real threads against the real PostgreSQL (the guarded
UPDATE ... WHERE affiliate IS NULL arbitrates), real RQ, worker and local HTTP receiver."""

import threading
from typing import Any

import pytest
from django.db import connection

from postbacks.models import Conversion, Delivery
from tests.api.conftest import CONVERSIONS_URL, issue_token, token_client
from tests.conftest import Receiver
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory
from tests.postbacks.test_delivery import run_worker_burst

THREADS = 8


def attribute_all_at_once(key: str, conversion_id: int) -> list[tuple[int, dict[str, Any]]]:
    barrier = threading.Barrier(THREADS)
    answers: list[tuple[int, dict[str, Any]] | BaseException | None] = [None] * THREADS

    def post(index: int) -> None:
        try:
            client = token_client(key)
            barrier.wait(timeout=10)
            response = client.post(
                f"/api/v1/conversions/{conversion_id}/attribute/",
                {"affiliate_id": 1234567, "tracker": "trID_1234567_aff9-tx77-c0ffee_trID"},
                format="json",
            )
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
def test_attributions_at_the_same_moment_make_one_and_fire_once(receiver: Receiver) -> None:
    affiliate = AffiliateFactory.create(
        network_id=1234567, tracker_params=["affid", "TransID", "clickId"]
    )
    offer = OfferFactory.create(network_offer_id=66013)
    PostbackEndpointFactory.create(
        affiliate=affiliate,
        url_template=receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}",
        events=["signup"],
    )
    lost = (
        token_client(issue_token("ingest-bot", "ingest"))
        .post(
            CONVERSIONS_URL,
            {
                "transaction_id": "tx-lost",
                "event": "signup",
                "offer_id": offer.network_offer_id,
                "tracker": "trID_999_aff9-tx77-c0ffee_trID",
            },
            format="json",
        )
        .json()
    )
    assert lost["notes"] == [
        "unattributed: unknown affiliate 999",
        "no amount posted: postbacks carry the payout of offer 66013, 35.00 USD",
    ]

    answers = attribute_all_at_once(issue_token("mender", "manage"), lost["id"])

    assert sorted(status for status, _ in answers) == [200] + [409] * (THREADS - 1)
    assert Delivery.objects.filter(conversion_id=lost["id"]).count() == 1
    assert Conversion.history.filter(id=lost["id"]).count() == 1
    run_worker_burst()
    (request,) = receiver.wait_for(1)
    assert request.path == "/pb?cid=c0ffee&tx=tx-lost"
    run_worker_burst()
    assert len(receiver.received) == 1
