"""The scenarios through HTTP: ingest (issue 5), baseline (d) the afternoon view, end to end, the
load sweep and deliveries as production creates them (issue 17).

They talk to the API only as its clients do (POST /api/v1/conversions/, its batch and status
endpoints) and read what arrived at the receivers: nothing here reaches into the ingest path.
"""

import asyncio
import json
import statistics
import subprocess
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import aiohttp

from bench import loaders
from bench.config import AFTERNOON_DB_NAME, PYTHON, ROOT
from bench.report import TIMES, Figure, percentile
from bench.scenarios import log
from bench.stack import Stack

Make = Callable[[int], dict[str, Any]]


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


def _healthy_conversion(fixture: loaders.Fixture, tag: str, i: int) -> dict[str, Any]:
    """As _conversion, to the receivers that answer: a postback to one that hangs never arrives,
    and would be counted as lost."""
    receiver = fixture.healthy[i % len(fixture.healthy)]
    aff = receiver.affiliate_network_id
    return {**_conversion(fixture, tag, i), "affiliate_id": aff, "tracker": f"trID_{aff}_c{i}_trID"}


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}", "Content-Type": "application/json"}


# ------------------------------------------------------------------------------
# Ingest: single, batch, status batch; and baseline (d)
# ------------------------------------------------------------------------------
async def _ingest_single(
    base: str, token: str, make: Make, clients: int, seconds: float
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
    base: str, token: str, make: Make, clients: int, batches: int, size: int
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
    base: str, token: str, make: Make, clients: int, batches: int, size: int
) -> tuple[float, int]:
    """Store `batches` x `size` pending conversions (untimed), then approve them a batch of `size`
    per request through POST /api/v1/conversions/status/, `clients` requests at a time, as the
    batch ingest is measured (timed): changes applied per second."""
    pending = [{**make(i), "status": "pending"} for i in range(batches * size)]
    changed = errors = 0
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(headers=_headers(token), timeout=timeout) as session:
        for start in range(0, len(pending), size):
            body = json.dumps({"conversions": pending[start : start + size]})
            async with session.post(f"{base}/api/v1/conversions/batch/", data=body) as resp:
                await resp.read()
        starts = iter(range(0, len(pending), size))

        async def client() -> None:
            nonlocal changed, errors
            for start in starts:
                changes = [
                    {
                        "transaction_id": c["transaction_id"],
                        "event": c["event"],
                        "status": "approved",
                    }
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

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.monotonic() - started
    return changed / elapsed, errors


def ingest(stack: Stack, fixture: loaders.Fixture, base: str, token: str) -> list[Figure]:
    """Single, batch and status batch; the first Figure is the single ingest."""
    opts = stack.options
    single, batch, statuses, p50s = [], [], [], []
    errors_single = errors_batch = errors_status = 0
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
    for rep in range(opts.repeats):
        rate, errors = asyncio.run(
            _status_batch(
                base,
                token,
                partial(_conversion, fixture, f"sta{rep}"),
                opts.batch_clients,
                opts.batch_requests,
                opts.batch_size,
            )
        )
        statuses.append(rate)
        errors_status += errors
        log(f"status batch, run {rep + 1}: {rate:,.0f}/s ({errors} not changed)")
    # No worker ran: these postbacks are not the next scenarios' to send (they took the CPU
    # of the first end-to-end run before).
    loaders.set_aside_open_deliveries()
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
            target="≥ 1,500/s",
            sense="min",
            goal=1500,
            note=f"{opts.ingest_clients} concurrent clients for {opts.ingest_seconds:.0f} s, "
            f"request p50 {statistics.median(p50s):.0f} ms; {web}"
            + (f"; {errors_single} answers not 202" if errors_single else ""),
        ),
        Figure(
            "ingest",
            f"POST /api/v1/conversions/batch/, {opts.batch_size} per request (conversions/s)",
            batch,
            target="≥ 15,000/s",
            sense="min",
            goal=15_000,
            note=f"{opts.batch_requests} batches, {opts.batch_clients} concurrent clients"
            + (f"; {errors_batch} items not 202" if errors_batch else ""),
        ),
        Figure(
            "ingest",
            f"POST /api/v1/conversions/status/, {opts.batch_size} approvals per request "
            "(changes/s)",
            statuses,
            target="≥ 15,000/s",
            sense="min",
            goal=15_000,
            note=f"{opts.batch_requests} batches of pending conversions approved, "
            f"{opts.batch_clients} concurrent clients (as the batch ingest); each approval "
            "creates its postback, as a batch ingest does"
            + (f"; {errors_status} items not changed" if errors_status else ""),
        ),
    ]


def afternoon(stack: Stack, fixture: loaders.Fixture, token: str) -> Figure:
    """(d): bench/afternoon/ on its own database, under gunicorn with our API's flags, measured
    as our single ingest is (same load generator, clients, duration and bodies)."""
    opts = stack.options
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.afternoon.settings",
        "DATABASE_URL": opts.afternoon_database_url,
    }
    loaders.recreate_database(AFTERNOON_DB_NAME)
    samples, p50s = [], []
    errors_total = 0
    try:
        subprocess.run(
            [PYTHON, "-m", "django", "migrate", "--run-syncdb", "--verbosity", "0"],
            cwd=ROOT,
            env={**stack.procs.env, **env},
            check=True,
            timeout=120,
        )
        base = stack.start_web(
            name="afternoon", app="bench.afternoon.wsgi", port=opts.afternoon_port, env=env
        )
        for rep in range(opts.repeats):
            rate, errors, latencies = asyncio.run(
                _ingest_single(
                    base,
                    token,
                    partial(_conversion, fixture, f"aft{rep}"),
                    opts.ingest_clients,
                    opts.ingest_seconds,
                )
            )
            samples.append(rate)
            errors_total += errors
            p50s.append(percentile(latencies, 50) * 1000)
            log(f"baseline (d) afternoon view, run {rep + 1}: {rate:,.0f}/s ({errors} not 202)")
    finally:
        stack.stop_web("afternoon")
        loaders.drop_database(AFTERNOON_DB_NAME)
    return Figure(
        "baselines",
        "(d) the afternoon Django view: json.loads + get_or_create (conversions/s)",
        samples,
        note=f"bench/afternoon/ on its own database, gunicorn with the API's flags; "
        f"{opts.ingest_clients} concurrent clients for {opts.ingest_seconds:.0f} s, request p50 "
        f"{statistics.median(p50s):.0f} ms"
        + (f"; {errors_total} answers not 202" if errors_total else ""),
    )


# ------------------------------------------------------------------------------
# Open loop: end to end, the sweep, deliveries as production creates them
# ------------------------------------------------------------------------------
@dataclass
class Steady:
    """One open-loop run: when each request was sent and when each 202 came back (unix time)."""

    sent: dict[str, float]
    accepted: dict[str, float]
    failures: int
    started: float
    # The rate the sends kept (the bench's own event loop can fall behind the schedule).
    offered: float

    @property
    def accepted_share(self) -> float:
        return len(self.accepted) / len(self.sent) if self.sent else 0.0

    @property
    def accepted_rate(self) -> float:
        if not self.accepted:
            return 0.0
        return len(self.accepted) / max(1e-3, max(self.accepted.values()) - self.started)


async def _steady(base: str, token: str, make: Make, rate: int, seconds: float) -> Steady:
    """Post at a steady rate whatever the answers (open loop); requests not answered 10 s after
    the last send are given up and count as failures."""
    sent: dict[str, float] = {}
    accepted: dict[str, float] = {}
    failures = 0
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers=_headers(token)) as session:

        async def one(i: int) -> None:
            nonlocal failures
            item = make(i)
            tx = item["transaction_id"]
            sent[tx] = time.time()
            try:
                async with session.post(
                    f"{base}/api/v1/conversions/", data=json.dumps(item)
                ) as response:
                    await response.read()
                    if response.status == 202:
                        accepted[tx] = time.time()
                    else:
                        failures += 1
            except aiohttp.ClientError:
                failures += 1

        tasks = []
        started, first = time.monotonic(), time.time()
        for i in range(int(rate * seconds)):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        sending = time.monotonic() - started + 1 / rate
        _done, late = await asyncio.wait(tasks, timeout=10.0)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        failures += len(late)
    return Steady(sent, accepted, failures, first, len(tasks) / sending)


def _arrivals(
    stack: Stack, expected: Collection[str], wait: float
) -> tuple[dict[str, float], float]:
    """What arrived at the receivers, polled until every expected postback has or `wait` seconds
    have passed; and the time of the cut-off."""
    arrivals: dict[str, float] = {}
    deadline = time.monotonic() + wait
    while True:
        arrivals.update(stack.receiver_arrivals())
        if all(tx in arrivals for tx in expected) or time.monotonic() > deadline:
            return arrivals, time.time()
        time.sleep(0.5)


def _open_loop(
    stack: Stack, base: str, token: str, make: Make, rate: int, seconds: float, wait: float
) -> tuple[Steady, dict[str, float], list[float]]:
    """One open-loop run and what arrived; latencies from the send of each ingest request to the
    arrival of its postback. A postback that never arrived (its request refused, unanswered or
    its delivery late) counts with the wait it had at the cut-off: a lower bound, so the
    percentiles are never flattered by what did not arrive."""
    aside = stack.settle()
    if aside:
        log(f"{aside:,} deliveries of the previous run set aside, not sent within 30 s")
    stack.receiver_arrivals()
    steady = asyncio.run(_steady(base, token, make, rate, seconds))
    arrivals, cutoff = _arrivals(stack, steady.accepted, wait)
    latencies = [arrivals.get(tx, cutoff) - t for tx, t in steady.sent.items()]
    return steady, arrivals, latencies


def _legs(steady: Steady, arrivals: dict[str, float]) -> str:
    """Where a run's latency went: the ingest request (send → 202) and delivery (202 → arrival),
    p50/p99 in ms, over the postbacks that arrived."""
    ingest = [steady.accepted[tx] - steady.sent[tx] for tx in steady.accepted if tx in arrivals]
    delivery = [arrivals[tx] - steady.accepted[tx] for tx in steady.accepted if tx in arrivals]
    if not ingest:
        return "nothing arrived"

    def spread(values: list[float]) -> str:
        return f"{percentile(values, 50) * 1000:,.0f}/{percentile(values, 99) * 1000:,.0f} ms"

    return f"ingest {spread(ingest)}, delivery {spread(delivery)} (p50/p99)"


def end_to_end(stack: Stack, fixture: loaders.Fixture, base: str, token: str) -> list[Figure]:
    opts = stack.options
    p50s, p99s, lost, notes, legs = [], [], [], [], []
    for rep in range(opts.long_repeats):
        make = partial(_healthy_conversion, fixture, f"e2e{rep}")
        steady, arrivals, latencies = _open_loop(
            stack, base, token, make, opts.e2e_rate, opts.e2e_seconds, wait=15.0
        )
        p50s.append(percentile(latencies, 50) * 1000)
        p99s.append(percentile(latencies, 99) * 1000)
        missing = sum(1 for tx in steady.sent if tx not in arrivals)
        lost.append(missing)
        legs.append(f"run {rep + 1}: {_legs(steady, arrivals)}")
        log(f"end to end, run {rep + 1}: p50 {p50s[-1]:.0f} ms, p99 {p99s[-1]:.0f} ms; {legs[-1]}")
        if missing or steady.failures:
            notes.append(
                f"run {rep + 1}: {missing:,} of {len(steady.sent):,} not arrived within 15 s "
                f"(counted at their wait then), {steady.failures:,} ingest requests not 202 or "
                "not answered within 10 s of the last send"
            )
        if steady.failures:
            base = stack.restart_web()
    note = (
        f"{opts.e2e_rate}/s for {opts.e2e_seconds:.0f} s through gunicorn, "
        f"{opts.default_workers} delivery workers; send of the ingest request → arrival at "
        "the receiver; " + "; ".join(legs)
    )
    if notes:
        note += "; " + "; ".join(notes)
    return [
        Figure(
            "end to end",
            "p50 latency (ms)",
            p50s,
            target="≤ 30 ms",
            sense="max",
            goal=30,
            note=note,
        ),
        Figure("end to end", "p99 latency (ms)", p99s, target="≤ 150 ms", sense="max", goal=150),
        Figure(
            "end to end",
            "postbacks lost (sent, not arrived)",
            [float(n) for n in lost],
            target="0",
            sense="max",
            goal=0,
            note="a conversion whose request was refused or unanswered counts as lost",
        ),
    ]


def load_sweep(stack: Stack, fixture: loaders.Fixture, base: str, token: str) -> list[Figure]:
    """Offered load doubling until it breaks: fewer than 90 % accepted, or p99 over 5 s."""
    opts = stack.options
    figures = []
    for rate in opts.sweep_rates:
        make = partial(_healthy_conversion, fixture, f"sw{rate}")
        steady, arrivals, latencies = _open_loop(
            stack, base, token, make, rate, opts.sweep_seconds, wait=10.0
        )
        p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
        missing = sum(1 for tx in steady.accepted if tx not in arrivals)
        broke = steady.accepted_share < 0.9 or p99 > 5000
        log(
            f"sweep {rate}/s: {steady.accepted_rate:,.0f}/s accepted "
            f"({steady.accepted_share:.0%}), p50 {p50:,.0f} ms, p99 {p99:,.0f} ms"
        )
        figures.append(
            Figure(
                "load sweep",
                f"{rate:,}/s offered: accepted (conversions/s)",
                [steady.accepted_rate],
                note=f"{steady.accepted_share:.0%} accepted; p50 {p50:,.0f} ms, p99 {p99:,.0f} ms "
                f"(send → arrival; {_legs(steady, arrivals)})"
                + (f"; {missing:,} accepted not arrived within 10 s" if missing else "")
                + (
                    f"; the sends kept {steady.offered:,.0f}/s"
                    if steady.offered < 0.95 * rate
                    else ""
                )
                + ("; broke here: the sweep stops" if broke else ""),
            )
        )
        if steady.failures:
            stack.restart_web()
        if broke:
            break
    return figures


def production_delivery(
    stack: Stack, fixture: loaders.Fixture, base: str, token: str, *, backlog: Figure
) -> list[Figure]:
    """Deliveries made one ingest request at a time (each request enqueues its own job, as the
    API does), offered at the rate the backlog figure delivered: enough to saturate delivery
    if the API can accept it. Postbacks/s from the first send to the last arrival."""
    opts = stack.options
    rate = max(100, round(backlog.median / 100) * 100)
    samples, accepted_rates, notes = [], [], []
    kept_up = 0
    for rep in range(opts.repeats):
        make = partial(_healthy_conversion, fixture, f"prod{rep}")
        steady, arrivals, _latencies = _open_loop(
            stack, base, token, make, rate, opts.production_seconds, wait=30.0
        )
        got = [arrivals[tx] for tx in steady.accepted if tx in arrivals]
        delivered = len(got) / max(1e-3, max(got) - steady.started) if got else 0.0
        samples.append(delivered)
        accepted_rates.append(steady.accepted_rate)
        # Delivery kept up when every accepted postback arrived at (nearly) the rate the API
        # accepted them: the API, not delivery, set the pace.
        kept_up += len(got) == len(steady.accepted) and delivered >= 0.9 * steady.accepted_rate
        log(
            f"delivery as production creates it, run {rep + 1}: {delivered:,.0f}/s delivered, "
            f"{steady.accepted_rate:,.0f}/s accepted of {rate:,}/s offered"
        )
        if len(got) < len(steady.accepted):
            notes.append(f"run {rep + 1}: {len(steady.accepted) - len(got):,} not arrived in 30 s")
        if steady.failures:
            base = stack.restart_web()
    accepted = statistics.median(accepted_rates)
    bound = (
        f"delivery kept up with what the API accepted in {kept_up} of {opts.repeats} runs "
        f"(accepted / offered = {accepted / rate:.2f}): the figure is bound by ingest"
        if kept_up
        else "delivery fell behind what the API accepted"
    )
    figure = Figure(
        "delivery",
        f"as production creates it, {opts.default_workers} workers (postbacks/s)",
        samples,
        target=f"≥ ½ backlog ({backlog.median / 2:,.0f}/s)",
        sense="min",
        goal=backlog.median / 2,
        note=f"single POST /api/v1/conversions/ offered at {rate:,}/s for "
        f"{opts.production_seconds:.0f} s (the backlog figure's rate), each request enqueueing "
        f"its own job; the API accepted {accepted:,.0f}/s; first send → last arrival; {bound}"
        + (f"; {'; '.join(notes)}" if notes else ""),
    )
    ratio = Figure(
        "ratios",
        f"delivery as production creates it / backlog queued at once ({opts.default_workers} "
        "workers)",
        [figure.median / backlog.median],
        unit=TIMES,
        digits=2,
        target=f"≥ 0.5{TIMES}",
        sense="min",
        goal=0.5,
    )
    return [figure, ratio]
