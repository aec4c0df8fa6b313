"""`make bench` / `python -m bench`: run every scenario of issues 5 and 17 and print one table.

Options (also as environment variables): --quick (BENCH_QUICK=1) a ~3 minute smoke run with small
sizes and one repeat; --no-big-tables (BENCH_BIG_TABLES=0) skips the million-row admin scenario;
--no-docs leaves docs/benchmarks.md alone; --keep-db keeps the postback_bench database afterwards.
"""

import argparse
import io
import os
import signal
import sys
import time
from types import FrameType

from bench.config import AFTERNOON_DB_NAME, ROOT, Options, process_env
from bench.procs import Procs
from bench.report import TIMES, Figure, machine, render, write


def _parse(argv: list[str] | None) -> tuple[Options, bool]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", default=_flag("BENCH_QUICK", False))
    parser.add_argument(
        "--no-big-tables", action="store_true", default=not _flag("BENCH_BIG_TABLES", True)
    )
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--keep-db", action="store_true", default=_flag("BENCH_KEEP_DB", False))
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {"big_tables": not args.no_big_tables}
    if args.no_docs:
        overrides["write_docs"] = False
    options = Options.quick_run(**overrides) if args.quick else Options(**overrides)  # type: ignore[arg-type]
    return options, args.keep_db


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.lower() not in ("0", "false", "no", "off")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    options, keep_db = _parse(argv)
    info = machine()
    began = time.monotonic()
    os.environ.update(process_env(options, settings="config.settings.local"))
    sys.path.insert(0, str(ROOT))
    signal.signal(signal.SIGTERM, _interrupt)

    import django

    from bench import big_tables, loaders, scenarios, web_scenarios
    from bench.stack import Stack

    scenarios.log(
        f"{'quick' if options.quick else 'full'} run on {info['cpu']}, {info['cores']} cores, "
        f"load {info['load']}; database {options.database_url}, redis {options.redis_url}"
    )
    loaders.recreate_database()
    django.setup()
    loaders.migrate()
    fixture = loaders.load_fixture(options)
    procs = Procs(process_env(options), ROOT)
    stack = Stack(options, procs, fixture)
    figures: list[Figure] = []
    try:
        stack.flush_queue()
        stack.start_receivers()
        ceiling = scenarios.baseline_receiver(stack)
        rq = scenarios.baseline_rq(stack, fixture)
        sequential = scenarios.baseline_sequential(stack, fixture)
        celery = scenarios.baseline_celery(stack, fixture)
        throughput = scenarios.delivery_throughput(stack, fixture)
        backlog = throughput[options.default_workers]
        delivery = list(throughput.values())
        others = [scenarios.slow_receivers(stack, fixture)]
        others += scenarios.isolation(stack, fixture)
        others += scenarios.worker_memory(stack, fixture)
        loaders.clear_records()
        stack.flush_queue()
        token = _token()
        afternoon = web_scenarios.afternoon(stack, fixture, token)
        base = stack.start_web()
        ingest = web_scenarios.ingest(stack, fixture, base, token)
        stack.start_sweeper()
        try:
            stack.start_workers(options.default_workers)
            e2e = web_scenarios.end_to_end(stack, fixture, base, token)
            sweep = web_scenarios.load_sweep(stack, fixture, base, token)
            production, production_ratio = web_scenarios.production_delivery(
                stack, fixture, base, token, backlog=backlog
            )
        finally:
            stack.stop_workers()
            stack.stop_sweeper()
        stack.stop_web()
        figures += [*delivery, production, *others, *ingest, *e2e, *sweep]
        figures += [ceiling, rq, *sequential, afternoon, celery]
        figures += _ratios(throughput, backlog, rq, sequential[0], ceiling, celery)
        figures += [production_ratio, _ratio_afternoon(ingest[0], afternoon)]
        if options.big_tables:
            figures += big_tables.big_tables(stack, fixture)
    except KeyboardInterrupt:
        scenarios.log("interrupted; stopping everything the bench started")
        return 130
    finally:
        procs.stop_all()
        stack.flush_queue()
        from django.db import connections

        connections.close_all()
        if not keep_db:
            loaders.drop_database()
        loaders.drop_database(AFTERNOON_DB_NAME)
    command = "make bench" + (" BENCH_QUICK=1" if options.quick else "")
    if not options.big_tables:
        command += " BENCH_BIG_TABLES=0"
    text = render(figures, info, command=command, took=time.monotonic() - began)
    print("\n" + text)
    write(text, docs=options.write_docs)
    misses = sum(1 for f in figures if f.verdict == "MISS")
    scenarios.log(
        f"{misses} figure(s) missed their target; table written to bench/results/latest.md"
        + ("" if not options.write_docs else " and docs/benchmarks.md")
    )
    return 0


def _token() -> str:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("create_api_token", "bench-ingest", "--scope", "ingest", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def _ratios(
    throughput: dict[int, Figure],
    two: Figure,
    rq: Figure,
    sequential: Figure,
    ceiling: Figure,
    celery: Figure,
) -> list[Figure]:
    one = throughput[min(throughput)]
    best = max(throughput.values(), key=lambda f: f.median)
    return [
        Figure(
            "ratios",
            "ours (1 worker) / (a) RQ job per postback",
            [one.median / rq.median],
            unit=TIMES,
            target=f"≥ 100{TIMES}",
            sense="min",
            goal=100,
        ),
        Figure(
            "ratios",
            "ours (2 workers) / (a) RQ job per postback",
            [two.median / rq.median],
            unit=TIMES,
            target=f"≥ 100{TIMES}",
            sense="min",
            goal=100,
        ),
        Figure(
            "ratios",
            "ours (2 workers) / (e) Celery task per postback",
            [two.median / celery.median],
            unit=TIMES,
            digits=1,
            target=f"≥ 10{TIMES}",
            sense="min",
            goal=10,
        ),
        Figure(
            "ratios",
            "ours (1 worker) / (b) sequential requests.Session with writes",
            [one.median / sequential.median],
            unit=TIMES,
            digits=1,
            target=f"≥ 1.5{TIMES}",
            sense="min",
            goal=1.5,
        ),
        Figure(
            "ratios",
            f"ours (best: {best.label.split(',')[1].split('(')[0].strip()}) / (c) receiver ceiling",
            [best.median / ceiling.median],
            unit=TIMES,
            digits=2,
        ),
    ]


def _ratio_afternoon(single: Figure, afternoon: Figure) -> Figure:
    return Figure(
        "ratios",
        "ours, single ingest / (d) the afternoon view",
        [single.median / afternoon.median],
        unit=TIMES,
        digits=2,
        target=f"≥ 2{TIMES}",
        sense="min",
        goal=2,
    )
