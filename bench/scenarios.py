"""The scenarios of issue 5. Each returns Figures; the orchestration is in bench/run.py."""

import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import aiohttp

from bench import baselines, loaders
from bench.procs import cpu_seconds, rss_kib
from bench.report import Figure, percentile
from bench.stack import Stack


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _burst(stack: Stack, ids: list[int], *, timeout: float) -> tuple[float, str, str]:
    """Queue every id at once; postbacks/s until the last attempt is logged, a problem if any,
    and where the CPU went meanwhile (in % of one core; PostgreSQL counts every backend on the
    machine, other users' too)."""
    before = {name: cpu_seconds(pids) for name, pids in stack.cpu_groups().items()}
    started = time.time()
    stack.enqueue(ids)
    done, ok, last = stack.wait_delivered(len(ids), timeout=timeout)
    elapsed = time.time() - started
    # Processes that started meanwhile (database connections) count from zero.
    used = {
        name: sum(t - before[name].get(pid, 0.0) for pid, t in cpu_seconds(pids).items())
        for name, pids in stack.cpu_groups().items()
    }
    cpu = ", ".join(f"{name} {100 * seconds / elapsed:.0f}%" for name, seconds in used.items())
    if last is None or done == 0:
        return 0.0, "nothing delivered", cpu
    rate = done / max(1e-3, last - started)
    note = "" if ok == len(ids) else f"{len(ids) - ok} not succeeded"
    if done < len(ids):
        # Capped so that `make bench` keeps to its time budget: the rate is what was logged.
        note = f"only {done:,} of {len(ids):,} logged within {timeout:.0f} s"
    return rate, note, cpu


def _fresh_start(stack: Stack, workers: int) -> None:
    """Every run from the same state: no worker holding anything, an empty queue, every
    delivery pending again (a run cut short by its cap leaves work behind)."""
    stack.stop_workers()
    stack.flush_queue()
    loaders.reset_deliveries()
    stack.start_workers(workers)


# ------------------------------------------------------------------------------
# Delivery throughput, 1/2/4 workers
# ------------------------------------------------------------------------------
def delivery_throughput(stack: Stack, fixture: loaders.Fixture) -> dict[int, Figure]:
    opts = stack.options
    loaders.clear_records()
    rows = loaders.create_deliveries(fixture, opts.delivery_n, tag="tp")
    ids = [pk for pk, _url, _r in rows]
    figures = {}
    stack.start_sweeper()
    try:
        for count in opts.worker_counts:
            samples, notes = [], []
            for rep in range(opts.repeats):
                _fresh_start(stack, count)
                rate, note, cpu = _burst(stack, ids, timeout=opts.run_cap)
                log(f"delivery, {count} worker(s), run {rep + 1}: {rate:,.0f}/s {note} CPU {cpu}")
                samples.append(rate)
                if note:
                    notes.append(note)
            figures[count] = Figure(
                "delivery",
                f"throughput, {count} worker{'s' if count > 1 else ''} (postbacks/s)",
                samples,
                target="≥ 2,000/s",
                sense="min",
                goal=2000,
                note=f"{opts.delivery_n:,} queued at once, receiver answers at once; CPU "
                f"(last run, % of one core): {cpu}" + (f"; {'; '.join(notes)}" if notes else ""),
            )
    finally:
        stack.stop_workers()
        stack.stop_sweeper()
    return figures


# ------------------------------------------------------------------------------
# Slow receivers
# ------------------------------------------------------------------------------
def slow_receivers(stack: Stack, fixture: loaders.Fixture) -> Figure:
    opts = stack.options
    loaders.clear_records()
    rows = loaders.create_deliveries(
        fixture, opts.slow_n, tag="slow", path=lambda r: f"/pb/{opts.slow_ms}"
    )
    ids = [pk for pk, _url, _r in rows]
    samples, notes = [], []
    stack.start_sweeper()
    try:
        for rep in range(opts.long_repeats):
            _fresh_start(stack, opts.default_workers)
            rate, note, cpu = _burst(stack, ids, timeout=opts.run_cap * 1.5)
            log(f"slow receivers, run {rep + 1}: {rate:,.0f}/s {note} CPU {cpu}")
            samples.append(rate)
            if note:
                notes.append(note)
    finally:
        stack.stop_workers()
        stack.stop_sweeper()
    return Figure(
        "slow receivers",
        f"throughput, every answer after {opts.slow_ms} ms (postbacks/s)",
        samples,
        target="≥ 1,000/s",
        sense="min",
        goal=1000,
        note=f"{opts.slow_n:,} queued at once, {opts.default_workers} workers, "
        f"{len(fixture.receivers)} receivers; CPU (last run): {cpu}"
        + (f"; {'; '.join(notes)}" if notes else ""),
    )


# ------------------------------------------------------------------------------
# Isolation: 20 % of receivers hang
# ------------------------------------------------------------------------------
def isolation(stack: Stack, fixture: loaders.Fixture) -> list[Figure]:
    opts = stack.options
    p50s: list[float] = []
    p99s: list[float] = []
    notes = []
    n = int(opts.isolation_rate * opts.isolation_seconds)
    stack.start_sweeper()
    try:
        for rep in range(opts.long_repeats):
            loaders.clear_records()
            stack.flush_queue()
            rows = loaders.create_deliveries(
                fixture, n, tag=f"iso{rep}", path=lambda r: "/hang" if r.hangs else "/pb/0"
            )
            healthy = [pk for pk, _url, r in rows if not r.hangs]
            stack.start_workers(opts.default_workers)
            queued: dict[int, float] = {}
            tick = 0.05
            per_tick = max(1, round(opts.isolation_rate * tick))
            started = time.monotonic()
            for index, start in enumerate(range(0, n, per_tick)):
                delay = started + index * tick - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                chunk = [pk for pk, _url, _r in rows[start : start + per_tick]]
                now = time.time()
                queued.update((pk, now) for pk in chunk)
                stack.enqueue(chunk)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                _done, ok, _last = loaders.delivery_progress()
                if ok >= len(healthy):
                    break
                time.sleep(0.2)
            finished = loaders.attempt_finish_times(healthy)
            latencies = [finished[pk] - queued[pk] for pk in healthy if pk in finished]
            missing = len(healthy) - len(latencies)
            p50s.append(percentile(latencies, 50) * 1000)
            p99s.append(percentile(latencies, 99) * 1000)
            log(f"isolation, run {rep + 1}: p50 {p50s[-1]:.0f} ms, p99 {p99s[-1]:.0f} ms")
            if missing:
                notes.append(f"run {rep + 1}: {missing} healthy postbacks not sent within 60 s")
            stack.stop_workers()
    finally:
        stack.stop_workers()
        stack.stop_sweeper()
    hanging = sum(1 for r in fixture.receivers if r.hangs)
    common = (
        f"{opts.isolation_rate}/s for {opts.isolation_seconds:.0f} s, {hanging} of "
        f"{len(fixture.receivers)} receivers hang (timeout {baselines.TOTAL_TIMEOUT:.0f} s), "
        f"{opts.default_workers} workers; queued → attempt finished"
    )
    if notes:
        common += "; " + "; ".join(notes)
    return [
        Figure("isolation", "healthy p50 latency (ms)", p50s, target="", note=common),
        Figure(
            "isolation",
            "healthy p99 latency (ms)",
            p99s,
            target="≤ 1,000 ms",
            sense="max",
            goal=1000,
        ),
    ]


# ------------------------------------------------------------------------------
# Worker memory over 100,000 deliveries
# ------------------------------------------------------------------------------
def worker_memory(stack: Stack, fixture: loaders.Fixture) -> list[Figure]:
    opts = stack.options
    loaders.clear_records()
    stack.flush_queue()
    rows = loaders.create_deliveries(fixture, opts.memory_n, tag="mem")
    ids = [pk for pk, _url, _r in rows]
    stack.start_sweeper()
    try:
        stack.start_workers(1)
        pid = stack.worker_pids()[0]
        start_rss, _ = rss_kib(pid)
        series: list[tuple[int, int]] = []
        started = time.time()
        stack.enqueue(ids)
        deadline = time.monotonic() + opts.run_cap * 4
        done, last = 0, None
        while time.monotonic() < deadline:
            done, _ok, last = loaders.delivery_progress()
            rss, _hwm = rss_kib(pid)
            series.append((done, rss))
            if done >= len(ids):
                break
            time.sleep(0.5)
        _rss, hwm = rss_kib(pid)
    finally:
        stack.stop_workers()
        stack.stop_sweeper()
    rate = done / max(1e-3, (last or time.time()) - started)

    def at(share: float) -> float:
        """RSS (MiB) once `share` of the deliveries done so far were done."""
        target = share * done
        return next((rss for d, rss in series if d >= target), series[-1][1]) / 1024

    quarter, end = at(0.25), at(1.0)
    growth = end - quarter
    points = "/".join(f"{at(s):.0f}" for s in (0.1, 0.25, 0.5, 0.75, 1.0))
    log(f"memory: peak {hwm / 1024:.0f} MiB, RSS at 10/25/50/75/100 %: {points} MiB")
    return [
        Figure(
            "worker memory",
            f"peak RSS of one worker after {done:,} deliveries (MiB)",
            [hwm / 1024],
            target="≤ 200 MB",
            sense="max",
            goal=200 * 1000 * 1000 / 1024 / 1024,
            note=f"RSS at start {start_rss / 1024:.0f} MiB; at 10/25/50/75/100 % of the run: "
            f"{points} MiB; {rate:,.0f} postbacks/s"
            + ("" if done >= len(ids) else f"; only {done:,} of {len(ids):,} within the cap"),
        ),
        Figure(
            "worker memory",
            "RSS growth from 25 % to 100 % of the run (MiB)",
            [growth],
            target="flat (≤ 10 MiB)",
            sense="max",
            goal=10,
            digits=1,
        ),
    ]


# ------------------------------------------------------------------------------
# Baselines (a) and (b)
# ------------------------------------------------------------------------------
def baseline_rq(stack: Stack, fixture: loaders.Fixture) -> Figure:
    from rq import Queue

    opts = stack.options
    loaders.clear_records()
    stack.flush_queue()
    rows = loaders.create_deliveries(fixture, opts.rq_n, tag="rq", receivers=fixture.healthy)
    name = stack.start_rq_baseline_worker()
    try:
        queue = Queue(baselines.RQ_QUEUE, connection=stack.redis)
        started = time.time()
        queue.enqueue_many(
            [
                Queue.prepare_data(baselines.rq_send_one, args=(pk, url), result_ttl=0)
                for pk, url, _r in rows
            ]
        )
        done, ok, last = stack.wait_delivered(len(rows), timeout=60 + opts.rq_n)
    finally:
        stack.procs.stop(name)
        stack.stop_workers()
    rate = done / max(1e-3, (last or time.time()) - started)
    log(f"baseline (a) RQ forking worker: {rate:,.1f}/s ({ok} of {len(rows)} succeeded)")
    return Figure(
        "baselines",
        "(a) one RQ job per postback, default forking Worker (postbacks/s)",
        [rate],
        digits=1,
        note=f"{opts.rq_n} postbacks, 1 worker; each job: requests.get + attempt insert + "
        "delivery update",
    )


def baseline_sequential(stack: Stack, fixture: loaders.Fixture) -> list[Figure]:
    opts = stack.options
    loaders.clear_records()
    rows = loaders.create_deliveries(
        fixture, opts.sequential_n, tag="seq", receivers=fixture.healthy
    )
    pairs = [(pk, url) for pk, url, _r in rows]
    recorded, send_only = [], []
    for rep in range(opts.repeats):
        loaders.reset_deliveries()
        recorded.append(baselines.sequential(pairs, record=True))
        send_only.append(baselines.sequential(pairs, record=False))
        log(f"baseline (b), run {rep + 1}: {recorded[-1]:,.0f}/s, send-only {send_only[-1]:,.0f}/s")
    return [
        Figure(
            "baselines",
            "(b) sequential requests.Session, with the same writes (postbacks/s)",
            recorded,
            note=f"{opts.sequential_n:,} postbacks; one transaction (attempt insert + delivery "
            "update) per postback",
        ),
        Figure(
            "baselines",
            "(b') sequential requests.Session, send only (postbacks/s)",
            send_only,
        ),
    ]


def baseline_receiver(stack: Stack) -> Figure:
    url = f"{stack.receiver_control_urls()[0]}/pb/0?tx=ceiling"
    samples = []
    tool = ""
    for _ in range(stack.options.repeats):
        rate, tool = baselines.receiver_ceiling(url)
        samples.append(rate)
    stack.receiver_arrivals()
    log(f"baseline (c) receiver ceiling: {statistics.median(samples):,.0f}/s ({tool})")
    return Figure(
        "baselines",
        "(c) receiver ceiling, one receiver process (requests/s)",
        samples,
        note=f"{tool}; the bench runs {stack.options.receiver_procs} receiver processes",
    )


# ------------------------------------------------------------------------------
# Ingest and end to end (through gunicorn)
# ------------------------------------------------------------------------------
def _conversion(fixture: loaders.Fixture, tag: str, i: int) -> dict[str, Any]:
    receiver = fixture.receivers[i % len(fixture.receivers)]
    aff = receiver.affiliate_network_id
    return {
        "transaction_id": f"{tag}-{i}",
        "event": fixture.event_code,
        "offer_id": fixture.offer_network_id,
        "affiliate_id": aff,
        "tracker": f"trID_{aff}_c{i}_trID",
        "amount": str(Decimal("12.50")),
    }


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}", "Content-Type": "application/json"}


async def _ingest_single(
    base: str, token: str, make: Callable[[int], dict[str, Any]], clients: int, seconds: float
) -> tuple[float, int, list[float]]:
    accepted = 0
    errors = 0
    counter = iter(range(10**9))
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, headers=_headers(token)) as session:
        deadline = time.monotonic() + seconds

        async def client() -> None:
            nonlocal accepted, errors
            while time.monotonic() < deadline:
                body = json.dumps(make(next(counter)))
                sent = time.perf_counter()
                async with session.post(f"{base}/api/v1/conversions/", data=body) as response:
                    await response.read()
                    if response.status == 202:
                        accepted += 1
                        latencies.append(time.perf_counter() - sent)
                    else:
                        errors += 1

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return accepted / elapsed, errors, latencies


async def _ingest_batch(
    base: str,
    token: str,
    make: Callable[[int], dict[str, Any]],
    clients: int,
    batches: int,
    size: int,
) -> tuple[float, int]:
    accepted = 0
    errors = 0
    pending = iter(range(batches))
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(headers=_headers(token), timeout=timeout) as session:

        async def client() -> None:
            nonlocal accepted, errors
            for b in pending:
                body = json.dumps({"conversions": [make(b * size + i) for i in range(size)]})
                async with session.post(f"{base}/api/v1/conversions/batch/", data=body) as resp:
                    if resp.status != 200:
                        errors += size
                        await resp.read()
                        continue
                    results = (await resp.json())["results"]
                    ok = sum(1 for r in results if r["status"] == 202)
                    accepted += ok
                    errors += len(results) - ok

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return accepted / elapsed, errors


async def _status_batch(
    base: str, token: str, make: Callable[[int], dict[str, Any]], batches: int, size: int
) -> tuple[float, int]:
    """Store `batches` x `size` pending conversions (untimed), then approve them a batch of `size`
    per request through POST /api/v1/conversions/status/ (timed): changes applied per second."""
    pending = [{**make(i), "status": "pending"} for i in range(batches * size)]
    changed = errors = 0
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(headers=_headers(token), timeout=timeout) as session:
        for start in range(0, len(pending), size):
            body = json.dumps({"conversions": pending[start : start + size]})
            async with session.post(f"{base}/api/v1/conversions/batch/", data=body) as resp:
                await resp.read()
        started = time.monotonic()
        for start in range(0, len(pending), size):
            changes = [
                {"transaction_id": c["transaction_id"], "event": c["event"], "status": "approved"}
                for c in pending[start : start + size]
            ]
            body = json.dumps({"changes": changes})
            async with session.post(f"{base}/api/v1/conversions/status/", data=body) as resp:
                if resp.status != 200:
                    errors += size
                    await resp.read()
                    continue
                results = (await resp.json())["results"]
                ok = sum(1 for r in results if r.get("changed"))
                changed += ok
                errors += len(results) - ok
        elapsed = time.monotonic() - started
    return changed / elapsed, errors


def ingest(stack: Stack, fixture: loaders.Fixture, base: str, token: str) -> list[Figure]:
    opts = stack.options
    single, batch = [], []
    errors_single = errors_batch = 0
    p50s = []
    for rep in range(opts.repeats):
        rate, errors, latencies = asyncio.run(
            _ingest_single(
                base,
                token,
                partial(_conversion, fixture, f"ing{rep}"),
                opts.ingest_clients,
                opts.ingest_seconds,
            )
        )
        single.append(rate)
        errors_single += errors
        p50s.append(percentile(latencies, 50) * 1000)
        log(f"ingest single, run {rep + 1}: {rate:,.0f}/s ({errors} not 202)")
    for rep in range(opts.repeats):
        rate, errors = asyncio.run(
            _ingest_batch(
                base,
                token,
                partial(_conversion, fixture, f"bat{rep}"),
                opts.batch_clients,
                opts.batch_requests,
                opts.batch_size,
            )
        )
        batch.append(rate)
        errors_batch += errors
        log(f"ingest batch, run {rep + 1}: {rate:,.0f}/s ({errors} not 202)")
    statuses = []
    errors_status = 0
    for rep in range(opts.repeats):
        rate, errors = asyncio.run(
            _status_batch(
                base,
                token,
                partial(_conversion, fixture, f"sta{rep}"),
                opts.batch_requests,
                opts.batch_size,
            )
        )
        statuses.append(rate)
        errors_status += errors
        log(f"status batch, run {rep + 1}: {rate:,.0f}/s ({errors} not changed)")
    stack.flush_queue()
    web = (
        f"gunicorn, {opts.web_workers} workers x {opts.web_threads} threads; "
        "no delivery workers running"
    )
    return [
        Figure(
            "ingest",
            "POST /api/v1/conversions/ (conversions/s)",
            single,
            target="≥ 1,000/s",
            sense="min",
            goal=1000,
            note=f"{opts.ingest_clients} concurrent clients for {opts.ingest_seconds:.0f} s, "
            f"request p50 {statistics.median(p50s):.0f} ms; {web}"
            + (f"; {errors_single} answers not 202" if errors_single else ""),
        ),
        Figure(
            "ingest",
            f"POST /api/v1/conversions/batch/, {opts.batch_size} per request (conversions/s)",
            batch,
            target="≥ 10,000/s",
            sense="min",
            goal=10_000,
            note=f"{opts.batch_requests} batches, {opts.batch_clients} concurrent clients"
            + (f"; {errors_batch} items not 202" if errors_batch else ""),
        ),
        Figure(
            "ingest",
            f"POST /api/v1/conversions/status/, {opts.batch_size} approvals per request "
            "(changes/s)",
            statuses,
            target="≥ the batch ingest above",
            sense="min",
            goal=statistics.median(batch),
            note=f"{opts.batch_requests} batches of pending conversions approved, one client; "
            "each approval creates its postback, as a batch ingest does"
            + (f"; {errors_status} items not changed" if errors_status else ""),
        ),
    ]


async def _steady(
    base: str,
    token: str,
    make: Callable[[int], dict[str, Any]],
    rate: int,
    seconds: float,
    grace: float,
) -> tuple[dict[str, float], int]:
    """Post at a steady rate whatever the answers (open loop); requests not answered `grace`
    seconds after the last send are given up and count as failures."""
    sent: dict[str, float] = {}
    failures = 0
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers=_headers(token)) as session:

        async def one(i: int) -> None:
            nonlocal failures
            item = make(i)
            sent[item["transaction_id"]] = time.time()
            async with session.post(
                f"{base}/api/v1/conversions/", data=json.dumps(item)
            ) as response:
                await response.read()
                if response.status != 202:
                    failures += 1

        tasks = []
        started = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        _done, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        failures += len(late)
    return sent, failures


def end_to_end(stack: Stack, fixture: loaders.Fixture, base: str, token: str) -> list[Figure]:
    opts = stack.options
    p50s, p99s, notes = [], [], []
    stack.start_sweeper()
    try:
        stack.start_workers(opts.default_workers)
        for rep in range(opts.long_repeats):
            stack.receiver_arrivals()
            sent, failures = asyncio.run(
                _steady(
                    base,
                    token,
                    partial(_conversion, fixture, f"e2e{rep}"),
                    opts.e2e_rate,
                    opts.e2e_seconds,
                    grace=10.0,
                )
            )
            arrivals: dict[str, float] = {}
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                arrivals.update(stack.receiver_arrivals())
                if all(tx in arrivals for tx in sent):
                    break
                time.sleep(0.5)
            cutoff = time.time()
            # A postback that never arrived counts with the wait it had at the cut-off: a lower
            # bound, so the percentiles are never flattered by what did not arrive.
            latencies = [arrivals.get(tx, cutoff) - t for tx, t in sent.items()]
            p50s.append(percentile(latencies, 50) * 1000)
            p99s.append(percentile(latencies, 99) * 1000)
            lost = sum(1 for tx in sent if tx not in arrivals)
            log(f"end to end, run {rep + 1}: p50 {p50s[-1]:.0f} ms, p99 {p99s[-1]:.0f} ms")
            if lost or failures:
                notes.append(
                    f"run {rep + 1}: {lost:,} of {len(sent):,} not arrived by the cut-off "
                    f"(counted at their wait then), {failures:,} ingest requests not 202 or "
                    "not answered within 10 s of the last send"
                )
    finally:
        stack.stop_workers()
        stack.stop_sweeper()
    note = (
        f"{opts.e2e_rate}/s for {opts.e2e_seconds:.0f} s through gunicorn, "
        f"{opts.default_workers} delivery workers; send of the ingest request → arrival at "
        "the receiver"
    )
    if notes:
        note += "; " + "; ".join(notes)
    return [
        Figure(
            "end to end",
            "p50 latency (ms)",
            p50s,
            target="≤ 50 ms",
            sense="max",
            goal=50,
            note=note,
        ),
        Figure("end to end", "p99 latency (ms)", p99s, target="≤ 250 ms", sense="max", goal=250),
    ]


# ------------------------------------------------------------------------------
# Big tables: admin changelists
# ------------------------------------------------------------------------------
def big_tables(stack: Stack, fixture: loaders.Fixture) -> list[Figure]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    opts = stack.options
    loaders.clear_records()
    took = loaders.load_big_tables(
        fixture,
        conversions=opts.big_conversions,
        attempts_per_delivery=opts.big_attempts_per_delivery,
    )
    counts = loaders.table_counts()
    log(f"big tables loaded in {took:.0f} s: {counts}")
    user = get_user_model().objects.create_superuser("bench-admin", "bench@localhost", "x")
    client = Client()
    client.force_login(user)
    tx = f"big-{opts.big_conversions // 2 + 1}"
    pages = [
        ("conversions", "unfiltered", "/admin/postbacks/conversion/"),
        (
            "conversions",
            "filtered by event",
            f"/admin/postbacks/conversion/?event_type__id__exact={fixture.event_type_id}",
        ),
        (
            "conversions",
            "filtered: unattributed",
            "/admin/postbacks/conversion/?attribution__exact=unattributed",
        ),
        ("conversions", "searched by transaction id", f"/admin/postbacks/conversion/?q={tx}"),
        ("deliveries", "unfiltered", "/admin/postbacks/delivery/"),
        (
            "deliveries",
            "filtered by state=failed",
            "/admin/postbacks/delivery/?state__exact=failed",
        ),
        ("deliveries", "searched by transaction id", f"/admin/postbacks/delivery/?q={tx}"),
        ("attempts", "unfiltered", "/admin/postbacks/deliveryattempt/"),
        (
            "attempts",
            "filtered by trigger=manual",
            "/admin/postbacks/deliveryattempt/?trigger__exact=manual",
        ),
        ("attempts", "searched by transaction id", f"/admin/postbacks/deliveryattempt/?q={tx}"),
    ]
    figures: list[Figure] = []
    size = (
        f"{counts['postbacks_conversion']:,} conversions, {counts['postbacks_delivery']:,} "
        f"deliveries, {counts['postbacks_deliveryattempt']:,} attempts (loaded in {took:.0f} s)"
    )
    for table, what, url in pages:
        timings = []
        status = 0
        for i in range(opts.admin_requests + 1):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            status = response.status_code
            if i:
                timings.append(elapsed)
        log(f"admin {table} {what}: {statistics.median(timings):.0f} ms (HTTP {status})")
        figures.append(
            Figure(
                "big tables",
                f"admin {table}, {what} (ms)",
                timings,
                target="≤ 500 ms",
                sense="max",
                goal=500,
                note=(size if not figures else "") + ("" if status == 200 else f" HTTP {status}!"),
            )
        )
    return figures
