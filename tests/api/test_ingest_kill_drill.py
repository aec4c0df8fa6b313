"""Durability drill for single ingest (issue 17, item 4): gunicorn, master and workers, SIGKILLed
in the middle of a load of POST /api/v1/conversions/ and started again; clients retry what got no
answer, with the same transaction id, as a real network system would. A 202 (or the 200 of a
retry) means the conversion and its deliveries are committed, and nothing is stored twice."""

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count

from postbacks.models import Conversion, Delivery
from tests.api.conftest import CONVERSIONS_URL, issue_token
from tests.drills import child_env, free_port, wait_until
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 4
# Each phase of load: before the kill, and after the restart.
LOAD_SECONDS = 3.0
REQUEST_TIMEOUT = 5.0


def _gunicorn() -> str | None:
    beside = Path(sys.executable).with_name("gunicorn")
    return str(beside) if beside.exists() else shutil.which("gunicorn")


def _start_gunicorn(
    gunicorn: str, port: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """gunicorn as `make web` runs it, in a process group of its own (the master's pid is the
    group's id): the group is what the drill kills, workers included."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [
                gunicorn,
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "4",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_until(
        lambda: _healthy(port) or process.poll() is not None,
        30,
        "gunicorn to answer /healthz",
        log.read_text,
    )
    assert process.poll() is None, log.read_text()
    return process


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _group_members(group: int) -> list[int]:
    """Live processes of a process group (a worker orphaned by the kill is a zombie until PID 1
    reaps it, and a zombie is dead)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ")".
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == group and state != "Z":
            members.append(int(entry.name))
    return members


def _kill_group(master: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the master and its workers at once; the master reaped, the workers gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(master.pid, signal.SIGKILL)
    master.wait(10)
    wait_until(lambda: not _group_members(master.pid), 10, "gunicorn's workers to die")


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    acknowledged: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    # Requests that got no answer: refused (nobody listening) or cut (connection lost mid-way).
    refused: int = 0
    cut: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _post(port: int, token: str, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(
            "POST",
            CONVERSIONS_URL,
            body=body,
            headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        )
        return connection.getresponse().status
    finally:
        connection.close()


def _client(
    number: int,
    port: int,
    token: str,
    payload: dict[str, object],
    tally: Tally,
    done: threading.Event,
) -> None:
    sent = 0
    while not done.is_set():
        transaction_id = f"c{number}-{sent}"
        body = json.dumps({**payload, "transaction_id": transaction_id}).encode()
        # The same transaction id until it gets an answer, or the drill ends.
        while not done.is_set():
            try:
                status = _post(port, token, body)
            except ConnectionRefusedError:
                with tally.lock:
                    tally.refused += 1
                time.sleep(0.05)
                continue
            except (OSError, http.client.HTTPException):
                with tally.lock:
                    tally.cut += 1
                continue
            with tally.lock:
                tally.statuses[status] += 1
                if status in (200, 202):
                    tally.acknowledged.add(transaction_id)
            break
        sent += 1


def test_gunicorn_killed_mid_load_loses_no_acknowledged_conversion_and_stores_none_twice(tmp_path):
    gunicorn = _gunicorn()
    if gunicorn is None:
        pytest.skip("gunicorn is not installed (make install puts it in .venv/bin)")
    affiliate, offer = AffiliateFactory(), OfferFactory()
    # Two endpoints fire on a signup, a third does not: each conversion calls for exactly two.
    firing = sorted(
        PostbackEndpointFactory(
            affiliate=affiliate, url_template=f"http://127.0.0.1:9/pb{n}?tx={{transaction_id}}"
        ).pk
        for n in range(2)
    )
    PostbackEndpointFactory(
        affiliate=affiliate,
        url_template="http://127.0.0.1:9/rebill?tx={transaction_id}",
        events=["rebill"],
    )
    token = issue_token("ingest-bot", "ingest")
    payload = {
        "event": "signup",
        "offer_id": offer.network_offer_id,
        "affiliate_id": affiliate.network_id,
    }
    port = free_port()
    env = child_env(str(settings.RQ_QUEUES["postbacks"]["URL"]))
    log = tmp_path / "gunicorn.log"
    tally = Tally()
    done = threading.Event()
    clients = [
        threading.Thread(target=_client, args=(n, port, token, payload, tally, done), daemon=True)
        for n in range(CLIENTS)
    ]
    masters = [_start_gunicorn(gunicorn, port, env, log)]
    try:
        for client in clients:
            client.start()
        time.sleep(LOAD_SECONDS)
        before_kill = len(tally.acknowledged)
        _kill_group(masters[0])
        masters.append(_start_gunicorn(gunicorn, port, env, log))
        after_restart = len(tally.acknowledged)
        time.sleep(LOAD_SECONDS)
        done.set()
        for client in clients:
            client.join(REQUEST_TIMEOUT + 5)
        assert not any(client.is_alive() for client in clients)
    finally:
        done.set()
        for master in masters:
            _kill_group(master)

    assert before_kill >= 20, (before_kill, log.read_text())
    assert len(tally.acknowledged) - after_restart >= 20, "no load after the restart"
    assert tally.cut >= 1, "no request was in flight when gunicorn died: the drill proved nothing"
    assert tally.refused >= 1, "no client found gunicorn down"
    assert set(tally.statuses) <= {200, 202}, tally.statuses

    # The unique constraint says (transaction id, event) once; every conversion here is a signup.
    stored = list(Conversion.objects.values("transaction_id").annotate(n=Count("pk")))
    assert [row for row in stored if row["n"] != 1] == []
    assert tally.acknowledged <= {row["transaction_id"] for row in stored}
    deliveries: dict[str, list[int]] = {}
    for transaction_id, endpoint_id in Delivery.objects.values_list(
        "conversion__transaction_id", "endpoint_id"
    ):
        deliveries.setdefault(transaction_id, []).append(endpoint_id)
    wrong = {
        row["transaction_id"]: sorted(deliveries.get(row["transaction_id"], []))
        for row in stored
        if sorted(deliveries.get(row["transaction_id"], [])) != firing
    }
    assert not wrong, f"conversions without exactly their deliveries {firing}: {wrong}"
