"""The baselines our delivery engine is measured against, in the same run, over the same URLs:

(a) one RQ job per postback on RQ's default (forking) Worker, each job sending with `requests`
    and recording what our worker records per postback: one attempt row, one delivery update;
(b) a sequential `requests.Session` loop, with the same writes (and once send-only);
(c) the receiver's own ceiling: wrk, or bench.loadgen where wrk is not installed.

`python -m bench.baselines rq-worker` is the forking RQ worker of (a).
"""

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime

import requests
from django.db import connection, transaction
from django.utils import timezone

from bench.config import PYTHON, TOTAL_TIMEOUT

RQ_QUEUE = "bench-baseline"

_RECORD_ATTEMPT = (
    "INSERT INTO postbacks_deliveryattempt (delivery_id, number, started_at, duration_ms, "
    "status_code, response_excerpt, error, trigger, url) "
    "VALUES (%s, %s, %s, %s, %s, %s, '', 'auto', %s)"
)
_RECORD_DELIVERY = (
    "UPDATE postbacks_delivery SET state = %s, attempts = %s, last_status_code = %s, "
    "completed_at = %s, updated_at = %s, enqueued_at = NULL WHERE id = %s"
)


def _record(
    delivery_id: int, url: str, started: datetime, duration_ms: int, status: int, body: str
) -> None:
    now = timezone.now()
    state = "succeeded" if 200 <= status < 300 else "failed"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_RECORD_ATTEMPT, [delivery_id, 1, started, duration_ms, status, body, url])
        cursor.execute(_RECORD_DELIVERY, [state, 1, status, now, now, delivery_id])


def send_and_record(session: requests.Session | None, delivery_id: int, url: str) -> None:
    """One postback as the naive designs send it: a blocking GET, then the two writes."""
    started = timezone.now()
    clock = time.perf_counter()
    getter = session.get if session is not None else requests.get
    response = getter(url, timeout=(5, TOTAL_TIMEOUT), allow_redirects=False)
    duration = int((time.perf_counter() - clock) * 1000)
    _record(delivery_id, url, started, duration, response.status_code, response.text[:1024])


def rq_send_one(delivery_id: int, url: str) -> None:
    """(a)'s job: one postback per job, in a forked work horse."""
    send_and_record(None, delivery_id, url)


def sequential(pairs: Sequence[tuple[int, str]], *, record: bool) -> float:
    """(b): postbacks/s of one requests.Session sending one after the other."""
    session = requests.Session()
    started = time.perf_counter()
    for delivery_id, url in pairs:
        if record:
            send_and_record(session, delivery_id, url)
        else:
            session.get(url, timeout=(5, TOTAL_TIMEOUT), allow_redirects=False)
    elapsed = time.perf_counter() - started
    session.close()
    return len(pairs) / elapsed


def receiver_ceiling(url: str, seconds: int = 5) -> tuple[float, str]:
    """(c): requests/s one receiver process answers, measured by wrk (-t2 -c64), or by
    bench.loadgen (aiohttp, 64 connections) where wrk is not installed."""
    wrk = shutil.which("wrk")
    if wrk:
        argv = [wrk, "-t2", "-c64", f"-d{seconds}s", url]
        tool = f"wrk -t2 -c64 -d{seconds}s"
    else:
        argv = [
            PYTHON,
            "-m",
            "bench.loadgen",
            url,
            "--connections",
            "64",
            "--seconds",
            str(seconds),
        ]
        tool = f"bench.loadgen (aiohttp, 64 connections, {seconds} s; wrk not installed)"
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"could not read the load tool's output: {out!r}")
    return float(match.group(1)), tool


def _rq_worker() -> None:
    import django

    django.setup()
    from django.conf import settings
    from redis import Redis
    from rq import Queue, Worker

    # The work horses open their own database connections: this parent never touches the
    # database, so no connection is shared across a fork.
    redis = Redis.from_url(settings.REDIS_URL)
    worker = Worker([Queue(RQ_QUEUE, connection=redis)], connection=redis, name=sys.argv[2])
    worker.work(logging_level="WARNING")


if __name__ == "__main__":
    if sys.argv[1:2] == ["rq-worker"]:
        _rq_worker()
    else:
        raise SystemExit("usage: python -m bench.baselines rq-worker NAME")
