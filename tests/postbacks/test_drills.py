"""Crash and outage drills with real processes: a worker killed mid-batch, Redis gone (docs/spec.md
§6)."""

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import django_rq.settings
import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from redis import Redis
from rq import Callback, Worker

from postbacks.delivery.queue import get_queue
from postbacks.delivery.worker import DeliveryWorker
from postbacks.mending import deliveries_replay
from postbacks.models import Delivery
from postbacks.services import IngestItem, conversions_ingest
from tests.api.conftest import CONVERSIONS_URL, issue_token, token_client
from tests.drills import child_env, free_port, stop, wait_until
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
State = Delivery.State


def start_worker(env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """`run_delivery_worker` in a child process; its output goes to `log` when given."""
    with open(log or os.devnull, "wb") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_delivery_worker"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


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
    env = child_env(
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

    def halt(sig: signal.Signals = signal.SIGTERM) -> None:
        process = state["process"]
        assert isinstance(process, subprocess.Popen)
        if process.poll() is None:
            process.send_signal(sig)
            process.wait(10)

    state["start"], state["stop"] = start, halt
    state["kill"] = lambda: halt(signal.SIGKILL)
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
    worker = start_worker(child_env(str(private_redis["url"])))
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
    worker = start_worker(child_env(str(private_redis["url"])))
    try:
        wait_until(_all_succeeded, 30, "the replayed delivery", _states)
    finally:
        stop(worker)
    assert [r.path for r in receiver.received] == ["/pb?tx=tx-0"]


def _post_conversion(api, affiliate, offer, transaction_id: str) -> int:
    response = api.post(
        CONVERSIONS_URL,
        {
            "transaction_id": transaction_id,
            "event": "signup",
            "offer_id": offer.network_offer_id,
            "affiliate_id": affiliate.network_id,
        },
        format="json",
    )
    return response.status_code


def _registered_pids(url: str) -> list[int | None]:
    return [worker.pid for worker in Worker.all(connection=Redis.from_url(url))]


def test_worker_rides_out_redis_killed_three_times_during_ingest(receiver, private_redis, tmp_path):
    def busy(_request):
        # Postbacks in flight whenever Redis dies: their outcomes must still be written.
        time.sleep(0.1)
        return 200, {}, b"OK"

    receiver.default = busy
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    api = token_client(issue_token("ingest-bot", "ingest"))
    url = str(private_redis["url"])
    log = tmp_path / "worker.log"
    worker = start_worker(child_env(url), log)
    alive_at_each_kill: list[bool] = []
    drill_over = threading.Event()

    def outages() -> None:
        # Outages shorter and longer than the Redis client's own retries (about 2 s), with
        # Redis up in between for longer than the worker's longest pause between probes.
        try:
            for pause in (4.0, 1.0, 6.0):
                time.sleep(DeliveryWorker.max_connection_wait_time + 1)
                alive_at_each_kill.append(worker.poll() is None)
                private_redis["kill"]()
                time.sleep(pause)
                private_redis["start"]()
            time.sleep(3.0)
        finally:
            drill_over.set()

    chaos = threading.Thread(target=outages)
    acknowledged: list[str] = []
    try:
        assert _post_conversion(api, affiliate, offer, "warm-up") == 202
        wait_until(lambda: receiver.received, 20, "the worker to send its first postback")
        chaos.start()
        n = 0
        while not drill_over.is_set():
            if _post_conversion(api, affiliate, offer, f"tx-{n}") == 202:
                acknowledged.append(f"tx-{n}")
            n += 1
            time.sleep(0.05)
        chaos.join()
        expected = {f"/pb?tx={tx}" for tx in acknowledged}

        def missing() -> str:
            got = {r.path for r in receiver.received}
            return f"{len(expected - got)} of {len(expected)} missing; {_states()}"

        wait_until(
            lambda: expected <= {r.path for r in receiver.received},
            30,
            "every acknowledged conversion's postback",
            missing,
        )
        wait_until(_all_succeeded, 10, "every delivery to succeed", _states)
        assert alive_at_each_kill == [True, True, True]
        assert worker.poll() is None, log.read_text()
        # The same process, registered again in the Redis that came back empty.
        wait_until(lambda: _registered_pids(url) == [worker.pid], 10, "the worker's entry")
    finally:
        stop(worker)
    text = log.read_text()
    assert worker.returncode == 0, text
    assert len(acknowledged) >= 50
    # Once per outage at most, however many batches of counters were lost.
    assert text.count("metrics not recorded") <= 3, text
    assert not Delivery.objects.filter(state=State.SENDING).exists()


def test_worker_logs_an_outage_once_when_redis_goes_and_once_when_it_is_back(
    receiver, private_redis, tmp_path
):
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    api = token_client(issue_token("ingest-bot", "ingest"))
    log = tmp_path / "worker.log"
    worker = start_worker(child_env(str(private_redis["url"])), log)
    try:
        assert _post_conversion(api, affiliate, offer, "before") == 202
        assert receiver.wait_for(1, timeout=20), "the worker never sent the first postback"
        private_redis["kill"]()
        # Long enough for the worker's probe to back off several times, and for the sweep
        # and RQ's command channel to have tried too.
        time.sleep(8)
        private_redis["start"]()
        wait_until(lambda: "Redis back after" in log.read_text(), 15, "the worker to see Redis")
        assert _post_conversion(api, affiliate, offer, "after") == 202
        wait_until(lambda: len(receiver.received) >= 2, 20, "the postback after the outage")
    finally:
        stop(worker)
    text = log.read_text()
    assert worker.returncode == 0, text
    assert text.count("Redis unavailable, retrying") == 1, text
    assert text.count("Redis back after") == 1, text
    # RQ's own line for every failed reconnect, which the worker replaces.
    assert "could not connect to Redis instance" not in text, text
    assert [r.path for r in receiver.received] == ["/pb?tx=before", "/pb?tx=after"]


def test_sigterm_stops_the_worker_cleanly_while_redis_is_away(receiver, private_redis, tmp_path):
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    _ingest(affiliate, offer, 1)
    log = tmp_path / "worker.log"
    worker = start_worker(child_env(str(private_redis["url"])), log)
    try:
        assert receiver.wait_for(1, timeout=20), "the worker never sent the postback"
        private_redis["kill"]()
        wait_until(lambda: "Redis unavailable" in log.read_text(), 15, "the worker to notice")
        worker.send_signal(signal.SIGTERM)
        worker.wait(10)
    finally:
        stop(worker)
    assert worker.returncode == 0, log.read_text()


def test_worker_started_while_redis_is_away_waits_for_it(receiver, private_redis, tmp_path):
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    private_redis["stop"]()
    _ingest(affiliate, offer, 1)
    log = tmp_path / "worker.log"
    worker = start_worker(child_env(str(private_redis["url"])), log)
    try:
        wait_until(lambda: "Redis unavailable" in log.read_text(), 20, "the worker to wait")
        assert worker.poll() is None, log.read_text()
        private_redis["start"]()
        assert receiver.wait_for(1, timeout=20), log.read_text()
    finally:
        stop(worker)
    assert worker.returncode == 0, log.read_text()
    assert [r.path for r in receiver.received] == ["/pb?tx=tx-0"]


_redis_to_kill: dict[str, object] = {}


def kill_redis_after_the_job(job, connection, result, *args, **kwargs) -> None:
    """An RQ success callback: Redis dies after the job ran, before RQ records its success."""
    kill = _redis_to_kill["kill"]
    assert callable(kill)
    kill()


def test_redis_lost_in_a_jobs_bookkeeping_does_not_end_the_worker(receiver, private_redis, caplog):
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    _ingest(affiliate, offer, 2)
    first, second = Delivery.objects.order_by("pk").values_list("pk", flat=True)
    queue = get_queue()
    queue.empty()
    queue.enqueue(
        "postbacks.delivery.jobs.send_deliveries",
        [first],
        on_success=Callback(kill_redis_after_the_job),
        result_ttl=0,
    )
    _redis_to_kill.update(private_redis)

    def restart_once_the_worker_noticed() -> None:
        wait_until(
            lambda: any(r.getMessage().startswith("Redis unavailable") for r in caplog.records),
            30,
            "the worker to notice the outage",
        )
        private_redis["start"]()
        queue.enqueue("postbacks.delivery.jobs.send_deliveries", [second], result_ttl=0)

    restarter = threading.Thread(target=restart_once_the_worker_noticed, daemon=True)
    restarter.start()
    with caplog.at_level(logging.INFO):
        DeliveryWorker([queue], connection=queue.connection, sweep=False).work(max_jobs=2)
    restarter.join(30)
    # The second job ran: the worker carried on after the outage instead of quitting.
    assert sorted(r.path for r in receiver.wait_for(2)) == ["/pb?tx=tx-0", "/pb?tx=tx-1"]
    assert "Redis back after" in caplog.text
    assert set(Delivery.objects.values_list("state", flat=True)) == {State.SUCCEEDED}
