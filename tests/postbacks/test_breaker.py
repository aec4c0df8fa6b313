"""The circuit breaker (docs/spec.md §6): sustained failure disables an endpoint; nothing is
lost."""

import dataclasses
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from postbacks.delivery.breaker import endpoint_streaks_update
from postbacks.delivery.queue import sweep
from postbacks.delivery.sender import Outcome, Outgoing
from postbacks.models import Delivery, PostbackEndpoint
from postbacks.services import IngestItem, conversions_ingest
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory, UserFactory
from tests.postbacks.test_delivery import deliver_until_settled, run_worker_burst

Status = PostbackEndpoint.Status


def outcome(endpoint: PostbackEndpoint, status: int | None, *, ago: timedelta) -> Outcome:
    out = Outgoing(
        delivery_id=1,
        lease_token=uuid.uuid4(),
        number=1,
        url="http://x/",
        method="GET",
        endpoint_id=endpoint.pk,
    )
    return Outcome(
        outgoing=out,
        started_at=timezone.now() - ago,
        duration_ms=1,
        status_code=status,
        error="" if status else "timed out",
    )


@pytest.mark.django_db
def test_endpoint_is_disabled_after_a_day_of_failures_and_twenty_in_a_row():
    endpoint = PostbackEndpointFactory()
    day = timedelta(hours=25)
    assert endpoint_streaks_update(outcomes=[outcome(endpoint, 500, ago=day)]) == []
    endpoint_streaks_update(
        outcomes=[outcome(endpoint, None, ago=timedelta(hours=h)) for h in range(18)]
    )
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.failure_streak) == (Status.LIVE, 19)
    assert endpoint_streaks_update(outcomes=[outcome(endpoint, 503, ago=timedelta(0))]) == [
        endpoint.pk
    ]
    endpoint.refresh_from_db()
    assert endpoint.status == Status.DISABLED
    assert "20 attempts in a row" in endpoint.disabled_reason


@pytest.mark.django_db
def test_twenty_failures_within_the_day_do_not_disable():
    endpoint = PostbackEndpointFactory()
    endpoint_streaks_update(
        outcomes=[outcome(endpoint, 500, ago=timedelta(minutes=m)) for m in range(30)]
    )
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.failure_streak) == (Status.LIVE, 30)


@pytest.mark.django_db
def test_one_success_restarts_the_streak():
    endpoint = PostbackEndpointFactory()
    endpoint_streaks_update(outcomes=[outcome(endpoint, 500, ago=timedelta(hours=2))] * 25)
    endpoint.refresh_from_db()
    assert endpoint.failure_streak == 25
    endpoint_streaks_update(
        outcomes=[
            outcome(endpoint, 200, ago=timedelta(minutes=2)),
            outcome(endpoint, 500, ago=timedelta(minutes=1)),
        ]
    )
    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.failure_streak) == (Status.LIVE, 1)
    assert endpoint.failing_since > timezone.now() - timedelta(minutes=2)


@pytest.mark.django_db
def test_test_postbacks_do_not_count():
    endpoint = PostbackEndpointFactory()
    failed = outcome(endpoint, 500, ago=timedelta(hours=30))
    test = dataclasses.replace(failed, outgoing=dataclasses.replace(failed.outgoing, is_test=True))
    endpoint_streaks_update(outcomes=[test] * 25)
    endpoint.refresh_from_db()
    assert endpoint.failure_streak == 0


@pytest.mark.django_db(transaction=True)
def test_disabled_endpoint_keeps_its_postbacks_and_sends_them_once_live(receiver, settings):
    settings.POSTBACK_BREAKER_WINDOW = 0
    settings.POSTBACK_BREAKER_MIN_FAILURES = 3
    settings.POSTBACK_RETRY_SCHEDULE = [0] * 10
    receiver.default = (500, {}, b"down")
    manager = UserFactory(email="am@network.example")
    affiliate = AffiliateFactory(account_manager=manager)
    endpoint = PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    offer = OfferFactory()
    for n in range(5):
        conversions_ingest(
            items=[
                IngestItem(
                    transaction_id=f"t{n}",
                    event="signup",
                    offer_id=offer.network_offer_id,
                    affiliate_id=affiliate.network_id,
                )
            ]
        )
    for _ in range(3):
        run_worker_burst()
        sweep()
    endpoint.refresh_from_db()
    assert endpoint.status == Status.DISABLED
    (alert,) = mail.outbox
    assert alert.to == ["am@network.example"]
    assert "disabled" in alert.subject
    waiting = Delivery.objects.exclude(state=Delivery.State.SUCCEEDED).count()
    assert waiting == 5
    assert not Delivery.objects.filter(state=Delivery.State.DEAD).exists()
    receiver.default = (200, {}, b"OK")
    PostbackEndpoint.objects.filter(pk=endpoint.pk).update(status=Status.LIVE)
    settings.POSTBACK_REQUEUE_AFTER = 0
    deliver_until_settled()
    assert Delivery.objects.filter(state=Delivery.State.SUCCEEDED).count() == 5
