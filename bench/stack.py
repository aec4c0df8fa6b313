"""What the scenarios run against: receivers, delivery workers, the API under gunicorn, the queue,
and the sweep (run here, once a second, in place of the workers' own, which are started with
--no-sweep so that every worker does the same work)."""

import json
import os
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence

from django.db import DatabaseError, close_old_connections, connection
from redis import Redis
from rq import Worker

from bench.config import CELERY_REDIS_URL, PYTHON, ROOT, Options
from bench.loaders import (
    Fixture,
    delivery_progress,
    open_deliveries,
    set_aside_open_deliveries,
)
from bench.procs import Procs, pids_named


class Stack:
    def __init__(self, options: Options, procs: Procs, fixture: Fixture | None = None) -> None:
        self.options = options
        self.procs = procs
        self.fixture = fixture
        self.redis = Redis.from_url(options.redis_url)
        self.workers: list[str] = []
        self._sweeper: threading.Thread | None = None
        self._sweeping = threading.Event()
        self._generation = 0

    # -- receivers ----------------------------------------------------------------------------
    def start_receivers(self) -> None:
        opts = self.options
        for index in range(opts.receiver_procs):
            ports = opts.receiver_ports[index :: opts.receiver_procs]
            listen = [f"{host}:{port}" for port in ports for host in opts.receiver_hosts_list()]
            self.procs.start(
                f"receiver-{index}", [PYTHON, "-m", "bench.receiver", "--listen", *listen]
            )
        for port in opts.receiver_ports:
            _wait_http(f"http://127.0.0.1:{port}/_count", timeout=20)

    def receiver_control_urls(self) -> list[str]:
        """One address per receiver process."""
        ports = self.options.receiver_ports[: self.options.receiver_procs]
        return [f"http://127.0.0.1:{port}" for port in ports]

    def receiver_arrivals(self) -> dict[str, float]:
        arrivals: dict[str, float] = {}
        for base in self.receiver_control_urls():
            with urllib.request.urlopen(f"{base}/_arrivals", timeout=30) as response:
                arrivals.update(json.loads(response.read()))
        return arrivals

    # -- delivery workers ---------------------------------------------------------------------
    def start_workers(self, count: int, *, extra_env: dict[str, str] | None = None) -> None:
        self.stop_workers()
        self._generation += 1
        for index in range(count):
            name = f"worker-{self._generation}-{index}"
            self.procs.start(
                name,
                [
                    PYTHON,
                    str(ROOT / "manage.py"),
                    "run_delivery_worker",
                    "--no-sweep",
                    "--name",
                    f"bench-{name}",
                ],
                env=extra_env,
            )
            self.workers.append(name)
        deadline = time.monotonic() + 60
        while Worker.count(connection=self.redis) < count:
            dead = [w for w in self.workers if not self.procs.alive(w)]
            if dead:
                raise RuntimeError(f"delivery worker {dead[0]} died; see bench/results/logs/")
            if time.monotonic() > deadline:
                raise RuntimeError("delivery workers did not register with RQ within 60 s")
            time.sleep(0.1)

    def cpu_groups(self) -> dict[str, list[int]]:
        receivers = [n for n in self.procs.running if n.startswith("receiver-")]
        return {
            "workers": self.worker_pids(),
            "postgres": pids_named("postgres"),
            "receivers": [self.procs.pid(n) for n in receivers],
            "redis": pids_named("redis-server"),
            "bench": [os.getpid()],
        }

    def worker_pids(self) -> list[int]:
        return [self.procs.pid(w) for w in self.workers]

    def stop_workers(self) -> None:
        if self.workers:
            self.procs.stop(*self.workers, grace=3.0)
            self.workers = []
        self._clean_registry()

    def _clean_registry(self) -> None:
        for worker in Worker.all(connection=self.redis):
            worker.register_death()

    def start_rq_baseline_worker(self) -> str:
        self._generation += 1
        name = f"rq-baseline-{self._generation}"
        self.procs.start(name, [PYTHON, "-m", "bench.baselines", "rq-worker", name])
        deadline = time.monotonic() + 60
        while Worker.count(connection=self.redis) < 1:
            if time.monotonic() > deadline or not self.procs.alive(name):
                raise RuntimeError("the RQ baseline worker did not start; see bench/results/logs/")
            time.sleep(0.1)
        return name

    # -- the API, and baseline (d)'s afternoon project -----------------------------------------
    def start_web(
        self,
        *,
        name: str = "gunicorn",
        app: str = "config.wsgi",
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """gunicorn with the flags of `make web`; the afternoon baseline is served with the same
        ones (only the application, its port and its environment differ)."""
        opts = self.options
        port = port or opts.web_port
        gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
        self.procs.start(
            name,
            [
                str(gunicorn) if gunicorn.exists() else "gunicorn",
                app,
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(opts.web_workers),
                # As `make web`: threads overlap the time requests wait on PostgreSQL.
                "--worker-class",
                "gthread",
                "--threads",
                str(opts.web_threads),
                "--backlog",
                "2048",
                "--graceful-timeout",
                "5",
            ],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/healthz", timeout=60)
        return base

    def stop_web(self, name: str = "gunicorn") -> None:
        self.procs.stop(name)

    def restart_web(self) -> str:
        """Our API afresh: requests an open-loop run gave up on leave its backlog with it."""
        self.stop_web()
        return self.start_web()

    # -- baseline (e): Celery's default worker -------------------------------------------------
    def start_celery_worker(self) -> str:
        from bench.celery_baseline import app

        Redis.from_url(CELERY_REDIS_URL).flushdb()
        self._generation += 1
        name = f"celery-baseline-{self._generation}"
        self.procs.start(
            name,
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "bench.celery_baseline",
                "worker",
                "--loglevel",
                "WARNING",
                "--hostname",
                f"{name}@bench",
            ],
        )
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or not self.procs.alive(name):
                raise RuntimeError(
                    "the Celery baseline worker did not start; see bench/results/logs/"
                )
        return name

    def stop_celery_worker(self, name: str) -> None:
        # A warm shutdown would finish the prefetched tasks first: what is left is not measured.
        self.procs.stop(name, grace=3.0)
        Redis.from_url(CELERY_REDIS_URL).flushdb()

    # -- the queue and the sweep --------------------------------------------------------------
    def enqueue(self, ids: Sequence[int]) -> None:
        from postbacks.delivery.queue import enqueue_ids

        if not enqueue_ids(list(ids)):
            raise RuntimeError("the bench could not queue deliveries (Redis)")

    def flush_queue(self) -> None:
        from postbacks.delivery.queue import mark_queue_intact

        self.redis.flushdb()
        # Emptied on purpose: the sweep must not take it for a Redis that lost its data.
        mark_queue_intact()

    def start_sweeper(self, interval: float = 1.0) -> None:
        from postbacks.delivery.queue import sweep

        self._sweeping.clear()

        def run() -> None:
            while not self._sweeping.wait(interval):
                try:
                    sweep()
                except DatabaseError as exc:
                    # As the workers' own sweeper does: log, and try again next period.
                    print(f"[bench] sweep failed, retrying: {exc}", file=sys.stderr, flush=True)
                    close_old_connections()
            close_old_connections()
            connection.close()

        self._sweeper = threading.Thread(target=run, name="bench-sweep", daemon=True)
        self._sweeper.start()

    def stop_sweeper(self) -> None:
        self._sweeping.set()
        if self._sweeper is not None:
            self._sweeper.join(30)
            self._sweeper = None

    def settle(self, *, timeout: float = 30.0) -> int:
        """Before an open-loop run: let the workers send what the previous run left, for up to
        `timeout` seconds, then set the rest aside; how many were set aside."""
        deadline = time.monotonic() + timeout
        while (left := open_deliveries()) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not left:
            return 0
        aside = set_aside_open_deliveries()
        self.flush_queue()
        return aside

    def wait_delivered(self, n: int, *, timeout: float) -> tuple[int, int, float | None]:
        """Poll until n deliveries have a finished attempt (or the timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            done, ok, last = delivery_progress()
            if done >= n or time.monotonic() > deadline:
                return done, ok, last
            time.sleep(0.1)


def _wait_http(url: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)
