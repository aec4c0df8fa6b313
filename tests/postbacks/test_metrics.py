"""Prometheus /metrics (issue 7, item 3): off until a token is set, refused without it, and its
counters move when conversions are ingested and postbacks delivered, by any process."""

import time
from collections.abc import Iterator

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from config.redis_tools import redis_client
from postbacks import metrics
from postbacks.conversion_status import Source, StatusRequest, conversion_statuses_change
from postbacks.delivery.queue import enqueue_ids, get_queue
from postbacks.delivery.worker import DeliveryWorker
from postbacks.models import AttemptHourly, Delivery, PostbackEndpoint
from tests.api.conftest import CONVERSIONS_URL, issue_token, token_client
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryFactory,
    OfferFactory,
    PostbackEndpointFactory,
)

TOKEN = "scrape-token-for-tests"
State = Delivery.State


@pytest.fixture
def metrics_on(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for s in samples(response.content.decode())
    }


def samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        yield from family.samples


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.django_db
def test_metrics_are_off_when_no_token_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.django_db
def test_metrics_refuse_a_missing_or_wrong_token(client, metrics_on):
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


@pytest.mark.django_db
def test_gauges_equal_the_states_in_the_database_and_the_queue(metrics_on):
    PostbackEndpointFactory(status=PostbackEndpoint.Status.DISABLED)
    PostbackEndpointFactory(failure_streak=2)
    endpoint = PostbackEndpointFactory()
    for state in (State.DEAD, State.DEAD, State.SUCCEEDED):
        DeliveryFactory(endpoint=endpoint, conversion=ConversionFactory(), state=state)
    DeliveryFactory(endpoint=endpoint, conversion=None, is_test=True, state=State.DEAD)
    enqueue_ids([1])
    enqueue_ids([2])
    scraped = scrape()
    assert value(scraped, "postbacks_deliveries_dead") == 2
    assert value(scraped, "postbacks_endpoints_disabled") == 1
    assert value(scraped, "postbacks_endpoints_failing") == 1
    assert value(scraped, "postbacks_queue_depth") == 2
    assert value(scraped, "postbacks_workers") == 0
    assert value(scraped, "postbacks_metrics_store_up") == 1


@pytest.mark.django_db(transaction=True)
def test_counters_move_when_conversions_are_ingested_and_postbacks_delivered(metrics_on, receiver):
    receiver.replies = [(500, {}, b"down")]
    affiliate = AffiliateFactory(network_id=1234567)
    offer = OfferFactory(network_offer_id=66013)
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    ingest = token_client(issue_token("ingest-bot", "ingest"))
    before = scrape()

    for tx in ("tx-1", "tx-2"):
        answer = ingest.post(
            CONVERSIONS_URL,
            {"transaction_id": tx, "event": "signup", "offer_id": 66013, "affiliate_id": 1234567},
            format="json",
        )
        assert answer.status_code == 202
    assert ingest.post(CONVERSIONS_URL, {"event": "signup"}, format="json").status_code == 400
    assert Client().post(CONVERSIONS_URL, {}, content_type="application/json").status_code == 401
    queue = get_queue()
    DeliveryWorker([queue], connection=queue.connection, sweep=False).work(burst=True)
    receiver.wait_for(2)
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("postbacks_ingest_requests_total", api="single", status="202") == 2
    assert moved("postbacks_ingest_requests_total", api="single", status="400") == 1
    assert moved("postbacks_ingest_requests_total", api="single", status="401") == 1
    assert moved("postbacks_delivery_attempts_total", outcome="succeeded", event="signup") == 1
    assert moved("postbacks_delivery_attempts_total", outcome="failed", event="signup") == 1
    assert moved("postbacks_attempt_duration_seconds_count") == 2
    assert moved("postbacks_attempt_duration_seconds_bucket", le="+Inf") == 2
    assert moved("postbacks_attempt_duration_seconds_sum") >= 0
    assert offer.pk


@pytest.mark.django_db
def test_latency_buckets_are_the_dashboard_rollups_buckets(metrics_on):
    bounds = AttemptHourly.LATENCY_BOUNDS
    assert {f"le_{bound}ms" for bound in bounds} <= {f.name for f in AttemptHourly._meta.fields}
    scraped = scrape()
    les = [
        dict(labels)["le"]
        for name, labels in scraped
        if name == "postbacks_attempt_duration_seconds_bucket"
    ]
    assert les == [repr(bound / 1000) for bound in bounds] + ["+Inf"]


@pytest.mark.django_db
def test_counts_under_bounds_no_longer_used_land_in_the_bucket_that_holds_them(metrics_on):
    # The histogram once had 10 ms and 10 s bounds; counts kept under them must not vanish.
    redis_client().hset(
        metrics.LATENCY_KEY, mapping={"10": 2, "25": 1, "10000": 1, "inf": 1, "sum_ms": 40000}
    )
    scraped = scrape()

    def bucket(le: str) -> float:
        return value(scraped, "postbacks_attempt_duration_seconds_bucket", le=le)

    assert (bucket("0.025"), bucket("5.0"), bucket("15.0"), bucket("+Inf")) == (3, 3, 4, 5)
    assert value(scraped, "postbacks_attempt_duration_seconds_count") == 5
    assert value(scraped, "postbacks_attempt_duration_seconds_sum") == 40


def redis_away(settings) -> None:
    settings.RQ_QUEUES = {
        **settings.RQ_QUEUES,
        "postbacks": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 300},
    }


@pytest.mark.django_db
def test_metrics_never_fail_the_work_when_redis_is_away(settings, caplog):
    redis_away(settings)
    metrics.ingest_request_count(api="single", status=202)
    assert "ingest metrics not recorded" in caplog.text


def ingest_hash(field: str) -> int:
    return int(redis_client().hget(metrics.INGEST_KEY, field) or 0)


def test_ingest_counts_reach_redis_once_an_interval_and_survive_an_outage(settings):
    """A request pays no Redis round trip for its own count: a thread adds the process's counts
    every METRICS_FLUSH_SECONDS, and keeps what Redis refused for the next flush."""
    field = "single|299"
    redis_client().hdel(metrics.INGEST_KEY, field)
    settings.METRICS_FLUSH_SECONDS = 0.3
    for _ in range(3):
        metrics.ingest_request_count(api="single", status=299)
    assert ingest_hash(field) == 0  # not yet: counted in process

    assert wait_until(lambda: ingest_hash(field) == 3, seconds=5)

    settings.METRICS_FLUSH_SECONDS = 0
    reachable = settings.RQ_QUEUES
    redis_away(settings)
    metrics.ingest_request_count(api="single", status=299)  # refused: kept
    settings.RQ_QUEUES = reachable
    metrics.ingest_request_count(api="single", status=299)
    assert ingest_hash(field) == 5


def wait_until(check, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.mark.django_db
def test_scrape_still_answers_when_redis_is_away(client, metrics_on, settings):
    redis_away(settings)
    scraped = scrape(client)
    assert value(scraped, "postbacks_metrics_store_up") == 0
    assert ("postbacks_queue_depth", ()) not in scraped
    assert value(scraped, "postbacks_endpoints_disabled") == 0


@pytest.mark.django_db
def test_status_changes_are_counted_by_from_to_and_source(
    metrics_on, django_capture_on_commit_callbacks
):
    waiting = ConversionFactory.create_batch(3, status="pending")
    with django_capture_on_commit_callbacks(execute=True):
        conversion_statuses_change(
            requests=[
                StatusRequest(waiting[0].pk, "approved"),
                StatusRequest(waiting[1].pk, "approved"),
                StatusRequest(waiting[2].pk, "rejected"),
                StatusRequest(waiting[2].pk, "reversed"),  # refused: not counted
            ],
            changed_by=None,
            source=Source.API,
        )

    scraped = scrape()
    name = "postbacks_conversion_status_changes_total"
    assert value(scraped, name, from_status="pending", to_status="approved", source="api") == 2
    assert value(scraped, name, from_status="pending", to_status="rejected", source="api") == 1
    assert value(scraped, name, from_status="rejected", to_status="reversed", source="api") == 0
