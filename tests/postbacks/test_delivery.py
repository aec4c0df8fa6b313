"""Delivery end to end: ingest -> RQ -> DeliveryWorker -> a real local HTTP receiver (SPEC §4, §6)."""

import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from postbacks.delivery.queue import get_queue, sweep
from postbacks.delivery.worker import DeliveryWorker
from postbacks.models import Delivery, DeliveryAttempt, PostbackEndpoint
from postbacks.services import conversion_ingest
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db(transaction=True)

State = Delivery.State


def run_worker_burst() -> None:
    queue = get_queue()
    DeliveryWorker([queue], connection=queue.connection, sweep=False).work(burst=True)


def deliver_until_settled(timeout: float = 15.0) -> None:
    """Sweep and run burst workers until no delivery is waiting for a due attempt."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sweep()
        run_worker_burst()
        open_states = [State.PENDING, State.SENDING, State.FAILED]
        waiting = Delivery.objects.filter(state__in=open_states)
        if not waiting.exists():
            return
        soonest = waiting.order_by("next_attempt_at").first()
        if soonest and soonest.next_attempt_at and soonest.next_attempt_at > timezone.now():
            time.sleep(min(0.2, (soonest.next_attempt_at - timezone.now()).total_seconds()))
    raise AssertionError("deliveries did not settle in time")


def test_signup_postback_arrives_with_tracker_values(receiver):
    affiliate = AffiliateFactory(network_id=1234567, tracker_params=["affid", "TransID", "clickId"])
    offer = OfferFactory(network_offer_id=66013)
    PostbackEndpointFactory(
        affiliate=affiliate,
        url_template=receiver.base_url + "/pb?cid={clickId}&tx={transaction_id}&sum={amount}",
    )
    result = conversion_ingest(
        transaction_id="tx-1",
        event="signup",
        offer_id=offer.network_offer_id,
        tracker="trID_1234567_aff9-tx77-c0ffee_trID",
        amount=Decimal("35.00"),
    )
    run_worker_burst()
    (request,) = receiver.wait_for(1)
    assert request.method == "GET"
    assert parse_qs(urlsplit(request.path).query) == {
        "cid": ["c0ffee"],
        "tx": ["tx-1"],
        "sum": ["35"],
    }
    delivery = Delivery.objects.get(pk=result.delivery_ids[0])
    assert delivery.state == State.SUCCEEDED
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.number, attempt.status_code, attempt.response_excerpt) == (1, 200, "OK")


def test_retry_after_500_then_success(receiver, settings):
    settings.POSTBACK_RETRY_SCHEDULE = [1, 1, 1]
    receiver.replies = [(500, {}, b"boom")]
    affiliate = AffiliateFactory()
    endpoint = PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    offer = OfferFactory()
    conversion_ingest(
        transaction_id="tx-2", event="signup", offer_id=offer.network_offer_id,
        affiliate_id=affiliate.network_id,
    )
    deliver_until_settled()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.state == State.SUCCEEDED
    assert list(delivery.attempt_log.order_by("number").values_list("status_code", flat=True)) == [
        500,
        200,
    ]
    assert PostbackEndpoint.objects.get(pk=endpoint.pk).status == PostbackEndpoint.Status.LIVE
