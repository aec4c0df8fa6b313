"""Delivery end to end: ingest, RQ, DeliveryWorker, a real local HTTP receiver (docs/spec.md §4,
§6)."""

import time
from decimal import Decimal
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from django.utils import timezone

from postbacks.delivery.queue import get_queue, sweep
from postbacks.delivery.services import deliveries_claim
from postbacks.delivery.worker import DeliveryWorker
from postbacks.mending import deliveries_replay
from postbacks.models import Delivery, DeliveryAttempt, PostbackEndpoint
from postbacks.services import IngestItem, conversions_ingest
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
    result = conversions_ingest(
        items=[
            IngestItem(
                transaction_id="tx-1",
                event="signup",
                offer_id=offer.network_offer_id,
                tracker="trID_1234567_aff9-tx77-c0ffee_trID",
                amount=Decimal("35.00"),
            )
        ]
    )[0]
    run_worker_burst()
    (request,) = receiver.wait_for(1)
    assert request.method == "GET"
    assert parse_qs(urlsplit(request.path).query) == {
        "cid": ["c0ffee"],
        "tx": ["tx-1"],
        "sum": ["35.00"],
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
    conversions_ingest(
        items=[
            IngestItem(
                transaction_id="tx-2",
                event="signup",
                offer_id=offer.network_offer_id,
                affiliate_id=affiliate.network_id,
            )
        ]
    )
    deliver_until_settled()
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.state == State.SUCCEEDED
    assert list(delivery.attempt_log.order_by("number").values_list("status_code", flat=True)) == [
        500,
        200,
    ]
    assert PostbackEndpoint.objects.get(pk=endpoint.pk).status == PostbackEndpoint.Status.LIVE


def _setup(receiver, template: str, *, method: str = "GET", **affiliate_kwargs):
    affiliate = AffiliateFactory(**affiliate_kwargs)
    endpoint = PostbackEndpointFactory(
        affiliate=affiliate,
        url_template=receiver.base_url + template,
        method=method,
        events=["freereg", "trial", "signup", "rebill"],
    )
    return affiliate, endpoint


def sale_for(endpoint, transaction_id: str = "t"):
    """A signup of the endpoint's affiliate on a fresh offer, through the real ingest."""
    return conversions_ingest(
        items=[
            IngestItem(
                transaction_id=transaction_id,
                event="signup",
                offer_id=OfferFactory.create().network_offer_id,
                affiliate_id=endpoint.affiliate.network_id,
            )
        ]
    )[0]


HOSTILE = "a&b=c d+e%f/g#h?i ü€😀"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_values_are_encoded_once_for_their_place(receiver, method):
    _setup(
        receiver,
        "/pb/{clickId}?cid={clickId}&tx={transaction_id}&fixed=1",
        method=method,
        network_id=1234567,
        tracker_params=["affid", "clickId"],
    )
    offer = OfferFactory()
    encoded_tracker = "trID_1234567_aff9-" + quote(HOSTILE, safe="") + "_trID"
    conversions_ingest(
        items=[
            IngestItem(
                transaction_id="tx 1&2",
                event="signup",
                offer_id=offer.network_offer_id,
                tracker=encoded_tracker,
            )
        ]
    )
    run_worker_burst()
    (request,) = receiver.wait_for(1)
    path, _, query = request.path.partition("?")
    assert unquote(path) == "/pb/" + HOSTILE
    assert "/" not in path.removeprefix("/pb/")
    if method == "POST":
        assert query == ""
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        query = request.body.decode()
    fields = parse_qs(query, keep_blank_values=True)
    assert fields == {"cid": [HOSTILE], "tx": ["tx 1&2"], "fixed": ["1"]}
    assert "%2525" not in query


@pytest.mark.parametrize("event", ["freereg", "trial", "signup", "rebill"])
@pytest.mark.parametrize("kind", ["pps", "revshare"])
def test_every_event_and_offer_kind_fires(receiver, event, kind):
    affiliate, _ = _setup(
        receiver,
        "/pb?ev={event}&o={offer_id}&k={offer_kind}&a={affiliate_id}&c={clickId}",
        tracker_params=["affid", "clickId"],
    )
    offer = OfferFactory(revshare=True) if kind == "revshare" else OfferFactory()
    if kind == "pps":
        tracker = f"trID_{affiliate.network_id}_aff9-click1_trID"
        conversions_ingest(
            items=[
                IngestItem(
                    transaction_id="t",
                    event=event,
                    offer_id=offer.network_offer_id,
                    tracker=tracker,
                )
            ]
        )
    else:
        # Revshare links carry the affiliate id as the link's id, outside the tracker.
        conversions_ingest(
            items=[
                IngestItem(
                    transaction_id="t",
                    event=event,
                    offer_id=offer.network_offer_id,
                    tracker="trID_aff9-click1_trID",
                    affiliate_id=affiliate.network_id,
                )
            ]
        )
    run_worker_burst()
    (request,) = receiver.wait_for(1)
    assert parse_qs(urlsplit(request.path).query) == {
        "ev": [event],
        "o": [str(offer.network_offer_id)],
        "k": [kind],
        "a": [str(affiliate.network_id)],
        "c": ["click1"],
    }


def test_offer_level_endpoints_replace_all_offer_ones(receiver):
    affiliate = AffiliateFactory()
    offer, other_offer = OfferFactory(), OfferFactory()
    for path, scope in (("global", None), ("offer-a", offer), ("offer-b", offer)):
        PostbackEndpointFactory(
            affiliate=affiliate,
            offer=scope,
            url_template=f"{receiver.base_url}/{path}?tx={{transaction_id}}",
        )
    for tx, target in (("t1", offer), ("t2", other_offer)):
        conversions_ingest(
            items=[
                IngestItem(
                    transaction_id=tx,
                    event="signup",
                    offer_id=target.network_offer_id,
                    affiliate_id=affiliate.network_id,
                )
            ]
        )
    run_worker_burst()
    received = sorted(r.path for r in receiver.wait_for(3))
    assert received == ["/global?tx=t2", "/offer-a?tx=t1", "/offer-b?tx=t1"]


def test_404_is_dead_at_once(receiver):
    receiver.default = (404, {}, b"no such click")
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    sale_for(endpoint)
    deliver_until_settled()
    delivery = Delivery.objects.get()
    assert delivery.state == State.DEAD
    assert delivery.attempts == 1
    assert delivery.last_status_code == 404
    assert "not retried" in delivery.last_error
    assert delivery.attempt_log.get().response_excerpt == "no such click"


def test_429_retry_after_is_honoured(receiver, settings):
    settings.POSTBACK_RETRY_SCHEDULE = [3600]
    receiver.replies = [(429, {"Retry-After": "1"}, b"slow down")]
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    sale_for(endpoint)
    run_worker_burst()
    delivery = Delivery.objects.get()
    assert delivery.state == State.FAILED
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 0 < wait <= 1.0
    deliver_until_settled()
    assert Delivery.objects.get().state == State.SUCCEEDED
    assert len(receiver.received) == 2


def test_timeout_is_retried(receiver, settings):
    settings.POSTBACK_TOTAL_TIMEOUT = 0.5
    settings.POSTBACK_RETRY_SCHEDULE = [1]

    def slow(_request):
        time.sleep(1.5)
        return 200, {}, b"late"

    receiver.replies = [slow]
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    sale_for(endpoint)
    deliver_until_settled()
    first, second = Delivery.objects.get().attempt_log.order_by("number")
    assert first.status_code is None and "timed out" in first.error
    assert second.status_code == 200
    assert Delivery.objects.get().state == State.SUCCEEDED


def test_schedule_exhausted_is_dead(receiver, settings):
    settings.POSTBACK_RETRY_SCHEDULE = [0, 0]
    receiver.default = (503, {}, b"down")
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    sale_for(endpoint)
    deliver_until_settled()
    delivery = Delivery.objects.get()
    assert delivery.state == State.DEAD
    assert delivery.attempts == 3
    assert "schedule exhausted" in delivery.last_error


def test_redirect_is_not_followed(receiver):
    receiver.default = (302, {"Location": "http://169.254.169.254/latest"}, b"")
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    sale_for(endpoint)
    deliver_until_settled()
    delivery = Delivery.objects.get()
    assert delivery.state == State.DEAD
    assert "not followed" in delivery.last_error
    assert len(receiver.received) == 1


def test_huge_answer_is_cut_to_one_kib(receiver):
    receiver.default = (200, {}, b"x" * 5_000_000)
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    sale_for(endpoint)
    run_worker_burst()
    attempt = DeliveryAttempt.objects.get()
    assert attempt.status_code == 200
    assert attempt.response_excerpt == "x" * 1024


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0"],
)
def test_private_addresses_are_refused_without_the_allow_list(settings, host):
    settings.POSTBACK_ALLOWED_NETWORKS = []
    affiliate = AffiliateFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=f"http://{host}:9/pb?tx={{transaction_id}}"
    )
    conversions_ingest(
        items=[
            IngestItem(
                transaction_id="t",
                event="signup",
                offer_id=OfferFactory().network_offer_id,
                affiliate_id=affiliate.network_id,
            )
        ]
    )
    run_worker_burst()
    delivery = Delivery.objects.get()
    assert delivery.state == State.DEAD
    attempt = delivery.attempt_log.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("address refused:")


def test_a_name_resolving_to_loopback_is_refused(settings):
    settings.POSTBACK_ALLOWED_NETWORKS = []
    affiliate = AffiliateFactory()
    PostbackEndpointFactory(affiliate=affiliate, url_template="http://localhost:9/pb")
    conversions_ingest(
        items=[
            IngestItem(
                transaction_id="t",
                event="signup",
                offer_id=OfferFactory().network_offer_id,
                affiliate_id=affiliate.network_id,
            )
        ]
    )
    run_worker_burst()
    assert Delivery.objects.get().attempt_log.get().error.startswith("address refused:")


def test_two_claims_of_the_same_delivery_never_both_win(receiver):
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    result = sale_for(endpoint)
    first = deliveries_claim(delivery_ids=result.delivery_ids)
    second = deliveries_claim(delivery_ids=result.delivery_ids)
    assert len(first) == 1
    assert second == []


def test_replay_sends_a_succeeded_delivery_again_as_manual(receiver):
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    result = sale_for(endpoint)
    run_worker_burst()
    replay = deliveries_replay(delivery_ids=result.delivery_ids)
    assert (replay.delivery_ids, replay.queued) == (result.delivery_ids, True)
    run_worker_burst()
    first, second = receiver.wait_for(2)
    assert first.path == second.path
    triggers = list(DeliveryAttempt.objects.order_by("number").values_list("trigger", flat=True))
    assert triggers == ["auto", "manual"]


def test_sweep_queues_what_redis_never_got_and_reclaims_abandoned(receiver):
    _, endpoint = _setup(receiver, "/pb?tx={transaction_id}")
    offer = OfferFactory()
    lost = conversions_ingest(
        items=[
            IngestItem(
                transaction_id="lost",
                event="signup",
                offer_id=offer.network_offer_id,
                affiliate_id=endpoint.affiliate.network_id,
            )
        ]
    )[0]
    abandoned = conversions_ingest(
        items=[
            IngestItem(
                transaction_id="abandoned",
                event="signup",
                offer_id=offer.network_offer_id,
                affiliate_id=endpoint.affiliate.network_id,
            )
        ]
    )[0]
    get_queue().empty()
    Delivery.objects.filter(pk__in=lost.delivery_ids).update(enqueued_at=None)
    deliveries_claim(delivery_ids=abandoned.delivery_ids, lease_seconds=1)
    report = sweep()
    assert (report.reclaimed, report.queued) == (0, 1)
    time.sleep(1.1)
    assert sweep().reclaimed == 1
    deliver_until_settled()
    assert sorted(r.path for r in receiver.wait_for(2)) == ["/pb?tx=abandoned", "/pb?tx=lost"]
    assert set(Delivery.objects.values_list("state", flat=True)) == {State.SUCCEEDED}


def test_unattributed_conversion_has_no_delivery(receiver):
    _setup(receiver, "/pb")
    result = conversions_ingest(
        items=[
            IngestItem(
                transaction_id="t",
                event="signup",
                offer_id=OfferFactory().network_offer_id,
                tracker="trID_999_x_trID",
            )
        ]
    )[0]
    assert result.conversion.attribution == "unattributed"
    assert "unknown affiliate 999" in result.conversion.attribution_error
    assert result.delivery_ids == []
