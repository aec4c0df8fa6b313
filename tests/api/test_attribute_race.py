"""Two attributions at the same moment make one (docs/spec.md §10), and the conversion's postback
then reaches the affiliate's receiver once. Real threads against the real PostgreSQL (the guarded
UPDATE ... WHERE affiliate IS NULL arbitrates), real RQ, worker and local HTTP receiver."""

import pytest

from postbacks.models import Conversion, Delivery
from tests.api.conftest import CONVERSIONS_URL, issue_token, post_all_at_once, token_client
from tests.conftest import Receiver
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory
from tests.postbacks.test_delivery import run_worker_burst

THREADS = 8


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

    answers = post_all_at_once(
        issue_token("mender", "manage"),
        f"/api/v1/conversions/{lost['id']}/attribute/",
        {"affiliate_id": 1234567, "tracker": "trID_1234567_aff9-tx77-c0ffee_trID"},
        threads=THREADS,
        timeout=30,
    )

    assert sorted(status for status, _ in answers) == [200] + [409] * (THREADS - 1)
    assert Delivery.objects.filter(conversion_id=lost["id"]).count() == 1
    assert Conversion.history.filter(id=lost["id"]).count() == 1
    run_worker_burst()
    (request,) = receiver.wait_for(1)
    assert request.path == "/pb?cid=c0ffee&tx=tx-lost"
    run_worker_burst()
    assert len(receiver.received) == 1
