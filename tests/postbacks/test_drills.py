"""Crash and outage drills with real processes: a worker killed mid-batch, Redis gone (SPEC §6)."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import django_rq.settings
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from postbacks.models import Delivery
from postbacks.services import IngestItem, conversions_ingest, deliveries_replay
from tests.api.conftest import CONVERSIONS_URL, issue_token, token_client
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
State = Delivery.State


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_env(redis_url: str, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=redis_url,
        **extra,
    )
    return env


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_delivery_worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_until(predicate, timeout: float, what: str, explain=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"; {explain()}" if explain else ""))


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ingest(affiliate, offer, count: int) -> None:
    for n in range(count):
        conversions_ingest(
            items=[
                IngestItem(
                    transaction_id=f"tx-{n}",
                    event="signup",
                    offer_id=offer.network_offer_id,
                    affiliate_id=affiliate.network_id,
                )
            ]
        )


def _all_succeeded() -> bool:
    return not Delivery.objects.exclude(state=State.SUCCEEDED).exists()


def _states() -> str:
    rows = Delivery.objects.exclude(state=State.SUCCEEDED).values_list(
        "state", "last_error", "attempts", "enqueued_at", "next_attempt_at", "updated_at"
    )[:5]
    return f"now {timezone.now()}, not succeeded: {list(rows)}"


def test_worker_killed_mid_batch_loses_nothing(receiver):
    def slow(_request):
        time.sleep(0.3)
        return 200, {}, b"OK"

    receiver.default = slow
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    _ingest(affiliate, offer, 60)
    # A job the killed worker had taken is lost with it: its deliveries are queued again once
    # their queue entry is POSTBACK_REQUEUE_AFTER old, claims of sent ones are harmless no-ops.
    env = worker_env(
        django_settings.RQ_QUEUES["postbacks"]["URL"],
        POSTBACK_LEASE_SECONDS="2",
        POSTBACK_REQUEUE_AFTER="3",
    )
    first = start_worker(env)
    try:
        wait_until(lambda: len(receiver.received) >= 5, 20, "the first postbacks")
    finally:
        first.kill()
        first.wait()
    assert Delivery.objects.filter(state=State.SENDING).exists(), "kill came too late to test"
    second = start_worker(env)
    try:
        wait_until(_all_succeeded, 60, "every delivery to succeed after the restart", _states)
    finally:
        stop(second)
    assert not Delivery.objects.filter(state=State.SENDING).exists()
    delivered = {r.path for r in receiver.received}
    assert delivered == {f"/pb?tx=tx-{n}" for n in range(60)}


@pytest.fixture
def private_redis() -> Iterator[dict[str, object]]:
    """A redis-server of this test's own, which the test may stop and start again."""
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="redis-drill-")
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        workdir,
    ]
    state: dict[str, object] = {"url": f"redis://127.0.0.1:{port}/0"}

    def start() -> None:
        state["process"] = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until(lambda: _answers(port), 10, "the private redis-server")

    def halt() -> None:
        process = state["process"]
        assert isinstance(process, subprocess.Popen)
        process.terminate()
        process.wait(10)

    state["start"], state["stop"] = start, halt
    queues = django_rq.settings.QUEUES
    saved = {name: dict(config) for name, config in queues.items()}
    for config in queues.values():
        config["URL"] = state["url"]
    start()
    yield state
    halt()
    for name, config in saved.items():
        queues[name].clear()
        queues[name].update(config)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def test_redis_outage_delays_postbacks_but_loses_none(receiver, private_redis, client):
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    api = token_client(issue_token("ingest-bot", "ingest"))
    private_redis["stop"]()
    assert client.get("/healthz").status_code == 503
    for n in range(20):
        response = api.post(
            CONVERSIONS_URL,
            {
                "transaction_id": f"tx-{n}",
                "event": "signup",
                "offer_id": offer.network_offer_id,
                "affiliate_id": affiliate.network_id,
            },
            format="json",
        )
        assert response.status_code == 202, response.content
    assert Delivery.objects.filter(state=State.PENDING, enqueued_at__isnull=True).count() == 20
    private_redis["start"]()
    assert client.get("/healthz").status_code == 200
    worker = start_worker(worker_env(str(private_redis["url"])))
    try:
        wait_until(_all_succeeded, 30, "every delivery after Redis came back", _states)
    finally:
        stop(worker)
    paths = sorted(r.path for r in receiver.received)
    assert paths == sorted(f"/pb?tx=tx-{n}" for n in range(20))


def test_replay_while_redis_is_down_is_kept_and_sent_later(receiver, private_redis):
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    _ingest(affiliate, offer, 1)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(state=State.DEAD)
    private_redis["stop"]()
    replay = deliveries_replay(delivery_ids=[delivery.pk])
    assert (replay.delivery_ids, replay.queued) == ([delivery.pk], False)
    assert Delivery.objects.get().state == State.PENDING
    private_redis["start"]()
    worker = start_worker(worker_env(str(private_redis["url"])))
    try:
        wait_until(_all_succeeded, 30, "the replayed delivery", _states)
    finally:
        stop(worker)
    assert [r.path for r in receiver.received] == ["/pb?tx=tx-0"]
