"""The worker's engine: a slow receiver holds its own slots and nobody else's."""

import threading
import time
import uuid

import pytest
from django.utils import timezone

from postbacks.delivery.engine import DeliveryEngine
from postbacks.delivery.guard import AddressGuard
from postbacks.delivery.sender import Outcome, Outgoing, SenderConfig, parse_retry_after
from postbacks.delivery.services import judge, retry_delay

CONFIG = SenderConfig(
    guard=AddressGuard.from_cidrs(["127.0.0.0/8"]),
    connect_timeout=2,
    total_timeout=5,
    user_agent="test",
)


def outgoing(url: str, n: int) -> Outgoing:
    return Outgoing(delivery_id=n, lease_token=uuid.uuid4(), number=1, url=url, method="GET")


class Collector:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.released: list[Outgoing] = []
        self.lock = threading.Lock()

    def record(self, batch: list[Outcome]) -> None:
        with self.lock:
            self.outcomes.extend(batch)

    def release(self, batch: list[Outgoing]) -> None:
        with self.lock:
            self.released.extend(batch)


def start_engine(collector: Collector, **limits: float) -> DeliveryEngine:
    """An engine that writes each outcome at once into the collector."""
    return DeliveryEngine(
        config=CONFIG,
        record=collector.record,
        release=collector.release,
        batch_size=1,
        batch_wait=0.01,
        **limits,  # type: ignore[arg-type]
    ).start()


def poll(done, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done():
        time.sleep(0.02)


def test_slow_receiver_does_not_delay_healthy_ones(receiver):
    gate = threading.Event()

    def hang(request):
        if request.path.startswith("/slow"):
            gate.wait(5)
        return 200, {}, b"OK"

    receiver.default = hang
    collector = Collector()
    engine = start_engine(collector, max_in_flight=64, max_per_host=64)
    try:
        engine.submit(outgoing(f"{receiver.base_url}/slow/{n}", n) for n in range(10))
        engine.submit(outgoing(f"{receiver.base_url}/fast/{n}", 100 + n) for n in range(30))
        poll(lambda: len(collector.outcomes) >= 30)
        assert sorted(o.outgoing.delivery_id for o in collector.outcomes) == list(range(100, 130))
        gate.set()
    finally:
        gate.set()
        engine.close(10)
    assert len(collector.outcomes) == 40


def test_delivery_waiting_too_long_for_a_saturated_host_goes_back_without_an_attempt(receiver):
    gate = threading.Event()

    def hang(_request):
        gate.wait(5)
        return 200, {}, b"OK"

    receiver.default = hang
    collector = Collector()
    engine = start_engine(collector, max_in_flight=64, max_per_host=2, host_wait=0.5)
    try:
        engine.submit(outgoing(f"{receiver.base_url}/x/{n}", n) for n in range(20))
        poll(lambda: len(collector.released) >= 18)
        gate.set()
    finally:
        gate.set()
        engine.close(10)
    # 2 hold the receiver's slots; the other 18 wait in the database instead of in memory.
    assert len(collector.released) == 18
    assert len(collector.outcomes) == 2


@pytest.mark.parametrize(
    ("status", "error", "state"),
    [
        (200, "", "succeeded"),
        (204, "", "succeeded"),
        (500, "", "failed"),
        (503, "", "failed"),
        (408, "", "failed"),
        (429, "", "failed"),
        (None, "timed out", "failed"),
        (404, "", "dead"),
        (400, "", "dead"),
        (410, "", "dead"),
        (301, "redirect not followed", "dead"),
    ],
)
def test_judge_follows_the_delivery_rules(status, error, state, settings):
    settings.POSTBACK_RETRY_SCHEDULE = [60]
    o = Outcome(
        outgoing=outgoing("http://x/", 1),
        started_at=timezone.now(),
        duration_ms=1,
        status_code=status,
        error=error,
    )
    assert judge(o, now=timezone.now()).state == state


def test_retry_schedule_with_jitter_stays_near_the_step(settings):
    settings.POSTBACK_RETRY_SCHEDULE = [60, 300]
    settings.POSTBACK_RETRY_JITTER = 0.1
    delays = [retry_delay(attempts=2) for _ in range(50)]
    assert all(d is not None and 270 <= d <= 330 for d in delays)
    assert len(set(delays)) > 1
    assert retry_delay(attempts=3) is None
    assert retry_delay(attempts=1, retry_after=7) == 7


def test_retry_after_accepts_seconds_and_http_dates():
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
