"""Prometheus metrics (issue 7, item 3).

Counters and the latency histogram must add up across every web and worker process, so the
processes that do the work add to hashes in Redis (one pipelined round trip per batch) and
`/metrics` reads them at scrape time. States (dead deliveries, disabled endpoints, queue depth)
are read from the database and RQ when scraped. Metrics never fail the work they count: a Redis
error is logged and the numbers of that batch are lost.
"""

import atexit
import logging
import os
import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from prometheus_client import generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.redis_tools import REDIS_ERRORS, redis_client
from postbacks.delivery.rq_queue import queue_state
from postbacks.delivery.sender import Outcome
from postbacks.models import ATTEMPT_LATENCY_BOUNDS_MS, Delivery, PostbackEndpoint

logger = logging.getLogger(__name__)

ATTEMPTS_KEY = "postbacks:metrics:attempts"
LATENCY_KEY = "postbacks:metrics:latency"
INGEST_KEY = "postbacks:metrics:ingest"
STATUS_CHANGES_KEY = "postbacks:metrics:status_changes"
TEST_EVENT = "test"


class _StoreState:
    """Whether the last write of counters reached Redis: an outage is logged when it starts and
    when it ends, not for every batch lost in between (a worker records many a second)."""

    away = False

    @classmethod
    def failed(cls, what: str, exc: Exception) -> None:
        if isinstance(exc, (RedisConnectionError, RedisTimeoutError)):
            if not cls.away:
                cls.away = True
                logger.warning("%s metrics not recorded until Redis is back: %s", what, exc)
            return
        logger.warning("%s metrics not recorded", what, exc_info=True)

    @classmethod
    def succeeded(cls) -> None:
        if cls.away:
            cls.away = False
            logger.info("metrics recorded again: Redis is back")


def _bucket(duration_ms: int) -> str:
    """The hash field of the smallest bound `duration_ms` is within, or "inf"."""
    index = bisect_left(ATTEMPT_LATENCY_BOUNDS_MS, duration_ms)
    return (
        str(ATTEMPT_LATENCY_BOUNDS_MS[index]) if index < len(ATTEMPT_LATENCY_BOUNDS_MS) else "inf"
    )


def _bucket_counts(latency: dict[bytes, bytes]) -> list[int]:
    """Counts per bound, then the overflow, from the latency hash. A field whose bound is not in
    ATTEMPT_LATENCY_BOUNDS_MS (written before the bounds changed) goes to the bucket holding it,
    so a change of bounds never loses counts."""
    counts = [0] * (len(ATTEMPT_LATENCY_BOUNDS_MS) + 1)
    for raw, value in latency.items():
        field = raw.decode()
        if field == "inf":
            counts[-1] += int(value)
        elif field.isdigit():
            counts[bisect_left(ATTEMPT_LATENCY_BOUNDS_MS, int(field))] += int(value)
    return counts


# ------------------------------------------------------------------------------
# Writers: called by the processes that do the work
# ------------------------------------------------------------------------------
def attempts_observe(*, outcomes: Sequence[Outcome], verdict_states: Sequence[str]) -> None:
    """Count recorded attempts by the state their verdict left their delivery in (one state per
    outcome, in order) and its event, and their latency. Called by delivery_outcomes_record once
    its batch is committed, with the verdicts it recorded."""
    if not outcomes:
        return
    try:
        states: Counter[str] = Counter()
        buckets: Counter[str] = Counter()
        total_ms = 0
        for outcome, state in zip(outcomes, verdict_states, strict=True):
            event = outcome.outgoing.event or TEST_EVENT
            states[f"{state}|{event}"] += 1
            buckets[_bucket(outcome.duration_ms)] += 1
            total_ms += outcome.duration_ms
        pipe = redis_client().pipeline(transaction=False)
        for field, count in states.items():
            pipe.hincrby(ATTEMPTS_KEY, field, count)
        for field, count in buckets.items():
            pipe.hincrby(LATENCY_KEY, field, count)
        pipe.hincrby(LATENCY_KEY, "sum_ms", total_ms)
        pipe.hincrby(LATENCY_KEY, "count", len(outcomes))
        pipe.execute()
    except Exception as exc:
        _StoreState.failed("attempt", exc)
    else:
        _StoreState.succeeded()


def _hash_add(key: str, counts: Mapping[str, int]) -> None:
    """Add counts to the fields of the hash `key`, in one round trip (raises what Redis does)."""
    pipe = redis_client().pipeline(transaction=False)
    for field, count in counts.items():
        pipe.hincrby(key, field, count)
    pipe.execute()


class _IngestCounts:
    """Ingest requests counted in this process and added to Redis by a thread of its own every
    METRICS_FLUSH_SECONDS: a request pays no Redis round trip for its own count (it was one of
    three a single ingest made). Counts a failed flush could not add are kept for the next one,
    so a Redis outage loses none; what a process holds when it dies (at most one interval's
    worth) is lost, as a batch lost to an outage was before. 0 adds each count at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[str] = Counter()
        # The flushing thread, and the process it was started in (a fork has none running).
        self._owner: tuple[int, threading.Thread] | None = None

    def add(self, field: str) -> None:
        interval = float(settings.METRICS_FLUSH_SECONDS)
        with self._lock:
            self._pending[field] += 1
            if interval > 0:
                self._flusher_ensure(interval)
                return
        self.flush()

    def _flusher_ensure(self, interval: float) -> None:
        pid = os.getpid()
        if self._owner is None or self._owner[0] != pid or not self._owner[1].is_alive():
            thread = threading.Thread(
                target=self._flush_every, args=(interval,), name="ingest-metrics", daemon=True
            )
            self._owner = (pid, thread)
            thread.start()

    def _flush_every(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            self.flush()

    def flush(self) -> None:
        with self._lock:
            taken, self._pending = self._pending, Counter()
        if not taken:
            return
        try:
            _hash_add(INGEST_KEY, taken)
        except Exception as exc:
            with self._lock:
                self._pending.update(taken)
            _StoreState.failed("ingest", exc)
        else:
            _StoreState.succeeded()


_ingest_counts = _IngestCounts()
# A process that stops between two intervals (gunicorn's graceful restart) adds what it counted.
atexit.register(_ingest_counts.flush)


def ingest_request_count(*, api: str, status: int) -> None:
    """Count one request to the ingest API (`api`: single or batch) by its answer's status."""
    _ingest_counts.add(f"{api}|{status}")


def ingest_counts_flush() -> None:
    """Add what this process has counted to Redis now (the scrape does, so that it sees its own
    process's counts at once)."""
    _ingest_counts.flush()


def status_changes_count(*, changes: Iterable[tuple[str, str, str]]) -> None:
    """Count conversion status changes by (from, to, source: api or admin). Called by the status
    service once its changes are committed."""
    counted = Counter(f"{old}|{new}|{source}" for old, new, source in changes)
    if not counted:
        return
    try:
        _hash_add(STATUS_CHANGES_KEY, counted)
    except Exception as exc:
        _StoreState.failed("status change", exc)
    else:
        _StoreState.succeeded()


class IngestMetricsMiddleware:
    """Counts every POST to the ingest API by status, refusals included (401, 413, 415, ...).
    Goes first in MIDDLEWARE so that it sees the answers other middleware gives."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._paths: dict[str, str] | None = None

    @property
    def paths(self) -> dict[str, str]:
        if self._paths is None:
            self._paths = {
                reverse("conversion-ingest"): "single",
                reverse("conversion-batch"): "batch",
            }
        return self._paths

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        api = self.paths.get(request.path_info) if request.method == "POST" else None
        if api is not None:
            ingest_request_count(api=api, status=response.status_code)
        return response


# ------------------------------------------------------------------------------
# The scrape
# ------------------------------------------------------------------------------
def _split(raw: dict[bytes, bytes]) -> Iterator[tuple[list[str], int]]:
    for field, value in raw.items():
        yield field.decode().split("|"), int(value)


class PortalCollector(Collector):
    """Reads the counters from Redis and the states from the database, once per scrape."""

    def collect(self) -> Iterable[Metric]:
        ingest_counts_flush()
        yield from self._counters()
        yield from self._states()

    def _counters(self) -> Iterator[Metric]:
        try:
            pipe = redis_client().pipeline(transaction=False)
            pipe.hgetall(ATTEMPTS_KEY)
            pipe.hgetall(LATENCY_KEY)
            pipe.hgetall(INGEST_KEY)
            pipe.hgetall(STATUS_CHANGES_KEY)
            attempts, latency, ingest, status_changes = pipe.execute()
        except REDIS_ERRORS as exc:
            logger.warning("metrics counters unavailable: %s", exc)
            yield GaugeMetricFamily(
                "postbacks_metrics_store_up", "1 when the Redis counters could be read.", value=0
            )
            return
        yield GaugeMetricFamily(
            "postbacks_metrics_store_up", "1 when the Redis counters could be read.", value=1
        )
        family = CounterMetricFamily(
            "postbacks_delivery_attempts",
            "Postback attempts by the state they left their delivery in (succeeded, failed: a "
            "retry is scheduled, dead: no more automatic tries) and the conversion's event "
            "(test: test postbacks).",
            labels=["outcome", "event"],
        )
        for (outcome, event), count in _split(attempts):
            family.add_metric([outcome, event], count)
        yield family

        counts = _bucket_counts(latency)
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip(ATTEMPT_LATENCY_BOUNDS_MS, counts, strict=False):
            cumulative += count
            buckets.append((repr(bound / 1000), cumulative))
        buckets.append(("+Inf", cumulative + counts[-1]))
        yield HistogramMetricFamily(
            "postbacks_attempt_duration_seconds",
            "How long postback attempts took, from connect to the answer's end.",
            buckets=buckets,
            sum_value=int(latency.get(b"sum_ms", 0)) / 1000,
        )

        requests = CounterMetricFamily(
            "postbacks_ingest_requests",
            "Requests to the ingest API (api: single or batch) by response status.",
            labels=["api", "status"],
        )
        for (api, status), count in _split(ingest):
            requests.add_metric([api, status], count)
        yield requests

        changes = CounterMetricFamily(
            "postbacks_conversion_status_changes",
            "Conversion status changes (from, to) by where they were made (api or admin).",
            labels=["from_status", "to_status", "source"],
        )
        for (old, new, source), count in _split(status_changes):
            changes.add_metric([old, new, source], count)
        yield changes

    def _states(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "postbacks_deliveries_dead",
            "Real deliveries that are dead: no more automatic attempts; they wait for a replay.",
            value=Delivery.objects.filter(state=Delivery.State.DEAD, is_test=False).count(),
        )
        endpoints = PostbackEndpoint.objects.aggregate(
            disabled=Count("id", filter=Q(status=PostbackEndpoint.Status.DISABLED)),
            failing=Count(
                "id",
                filter=Q(failure_streak__gt=0) & ~Q(status=PostbackEndpoint.Status.DISABLED),
            ),
        )
        yield GaugeMetricFamily(
            "postbacks_endpoints_disabled",
            "Endpoints disabled (by the circuit breaker or by hand).",
            value=endpoints["disabled"],
        )
        yield GaugeMetricFamily(
            "postbacks_endpoints_failing",
            "Endpoints not disabled whose latest attempts failed.",
            value=endpoints["failing"],
        )
        queue = queue_state()
        if not queue.available:
            return
        yield GaugeMetricFamily(
            "postbacks_queue_depth", "Jobs waiting on the postbacks queue.", value=queue.depth
        )
        yield GaugeMetricFamily(
            "postbacks_workers", "RQ workers listening to the postbacks queue.", value=queue.workers
        )


def metrics_render() -> bytes:
    """The Prometheus text exposition of every metric above."""
    registry = CollectorRegistry()
    registry.register(PortalCollector())
    return generate_latest(registry)
