"""Success is what the receiver says (docs/spec.md §11): an endpoint may require its answer to
contain a
text (e.g. OK); a 2xx without it is a failure, retried, with the answer kept in the attempt."""

import pytest

from postbacks.models import Delivery, PostbackEndpoint
from postbacks.probes import endpoint_test_fire
from postbacks.services import IngestItem, conversions_ingest
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory
from tests.postbacks.test_delivery import deliver_until_settled

pytestmark = pytest.mark.django_db(transaction=True)
State = Delivery.State


def _sale(endpoint: PostbackEndpoint) -> None:
    conversions_ingest(
        items=[
            IngestItem(
                transaction_id="tx-body",
                event="signup",
                offer_id=OfferFactory.create().network_offer_id,
                affiliate_id=endpoint.affiliate.network_id,
            )
        ]
    )


def test_a_2xx_without_the_success_text_is_retried_and_the_answer_kept(receiver, settings):
    settings.POSTBACK_RETRY_SCHEDULE = [1, 1, 1]
    settings.POSTBACK_RETRY_JITTER = 0
    receiver.replies = [(200, {}, b""), (200, {}, b"ERROR: unknown click")]
    receiver.default = (200, {}, b"OK: conversion recorded")
    endpoint = PostbackEndpointFactory(
        affiliate=AffiliateFactory(),
        url_template=receiver.base_url + "/pb?tx={transaction_id}",
        success_body="OK",
    )
    _sale(endpoint)
    deliver_until_settled()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.state == State.SUCCEEDED
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [a.status_code for a in attempts] == [200, 200, 200]
    assert [a.response_excerpt for a in attempts] == [
        "",
        "ERROR: unknown click",
        "OK: conversion recorded",
    ]
    assert "without 'OK' in its body" in attempts[0].error
    assert "without 'OK' in its body" in attempts[1].error
    assert attempts[2].error == ""
    assert len(receiver.wait_for(3)) == 3


def test_without_a_success_text_any_2xx_is_a_success(receiver):
    receiver.default = (204, {}, b"")
    endpoint = PostbackEndpointFactory(
        affiliate=AffiliateFactory(), url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    _sale(endpoint)
    deliver_until_settled()
    assert Delivery.objects.get(endpoint=endpoint).state == State.SUCCEEDED


def test_a_test_postback_without_the_success_text_fails_and_says_why(receiver):
    receiver.default = (200, {}, b"")
    endpoint = PostbackEndpointFactory(
        affiliate=AffiliateFactory(),
        url_template=receiver.base_url + "/pb?tx={transaction_id}",
        success_body="OK",
    )
    result = endpoint_test_fire(endpoint=endpoint)
    assert not result.succeeded
    assert result.status_code == 200
    assert "without 'OK' in its body" in result.error
