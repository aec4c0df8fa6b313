"""Sizes, ports and the environment every process of the bench runs with."""

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

DB_NAME = os.environ.get("BENCH_DB_NAME", "postback_bench")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "9"))
REDIS_BASE = os.environ.get("BENCH_REDIS_BASE", "redis://127.0.0.1:6379")
# Baseline (e)'s Celery broker: a Redis db of its own, emptied before it runs.
CELERY_REDIS_URL = f"{REDIS_BASE}/{int(os.environ.get('BENCH_CELERY_REDIS_DB', '10'))}"
# Baseline (d)'s own database (bench/afternoon/), made and dropped like ours.
AFTERNOON_DB_NAME = f"{DB_NAME}_afternoon"
# Deliveries that hang are given up after this many seconds (production: 15 s; docs/spec.md §6).
TOTAL_TIMEOUT = 5.0


@dataclass(frozen=True)
class Options:
    """How big each scenario is. `quick()` is the smoke run used while developing."""

    quick: bool = False
    repeats: int = 3
    # The longest a delivery run may take before its rate is taken as it stands (time budget).
    run_cap: float = 30.0
    long_repeats: int = 2
    delivery_n: int = 20_000
    worker_counts: tuple[int, ...] = (1, 2, 4)
    default_workers: int = 2
    slow_n: int = 10_000
    slow_ms: int = 200
    isolation_rate: int = 400
    isolation_seconds: float = 10.0
    hang_share: float = 0.2
    ingest_seconds: float = 8.0
    ingest_clients: int = 32
    batch_requests: int = 20
    batch_size: int = 1000
    batch_clients: int = 2
    e2e_rate: int = 200
    e2e_seconds: float = 20.0
    # Offered load, doubling until the API breaks (< 90 % accepted, or p99 over 5 s).
    sweep_rates: tuple[int, ...] = (100, 200, 400, 800, 1600, 3200, 6400)
    sweep_seconds: float = 8.0
    # Deliveries as production makes them: single ingests offered at the backlog figure's rate.
    production_seconds: float = 10.0
    celery_n: int = 2_000
    memory_n: int = 100_000
    rq_n: int = 300
    sequential_n: int = 3_000
    big_tables: bool = True
    # The big affiliate's deliveries (and conversions; 1 % more are unattributed).
    big_deliveries: int = 1_000_000
    big_attempts_per_delivery: int = 3
    admin_requests: int = 5
    receiver_procs: int = 2
    receiver_ports: tuple[int, ...] = tuple(range(28100, 28108))
    receiver_hosts: int = 8
    web_workers: int = field(default_factory=lambda: (os.cpu_count() or 1) + 1)
    web_threads: int = 4
    web_port: int = 28000
    afternoon_port: int = 28001
    write_docs: bool = True

    @classmethod
    def quick_run(cls, **overrides: object) -> "Options":
        sizes: dict[str, object] = {
            "quick": True,
            "repeats": 1,
            "long_repeats": 1,
            "delivery_n": 4_000,
            "slow_n": 3_000,
            "isolation_seconds": 4.0,
            "ingest_seconds": 3.0,
            "batch_requests": 4,
            "e2e_seconds": 6.0,
            "sweep_seconds": 3.0,
            "production_seconds": 4.0,
            "celery_n": 300,
            "memory_n": 10_000,
            "rq_n": 60,
            "sequential_n": 500,
            "big_deliveries": 50_000,
            "admin_requests": 3,
            "write_docs": False,
        }
        sizes.update(overrides)
        return cls(**sizes)  # type: ignore[arg-type]

    @property
    def database_url(self) -> str:
        return f"{PG_URL}/{DB_NAME}"

    @property
    def afternoon_database_url(self) -> str:
        return f"{PG_URL}/{AFTERNOON_DB_NAME}"

    @property
    def redis_url(self) -> str:
        return f"{REDIS_BASE}/{REDIS_DB}"

    def receiver_hosts_list(self) -> list[str]:
        return [f"127.0.0.{i}" for i in range(1, self.receiver_hosts + 1)]


def process_env(
    options: Options, *, settings: str = "config.settings.production"
) -> dict[str, str]:
    """The environment of every process the bench starts (and of the bench itself)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "POSTBACK_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": settings,
            "DJANGO_SECRET_KEY": SECRET_KEY,
            "DJANGO_DEBUG": "False",
            "DJANGO_SECURE_SSL_REDIRECT": "False",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "DJANGO_LOG_LEVEL": "WARNING",
            "DATABASE_URL": options.database_url,
            "REDIS_URL": options.redis_url,
            "POSTBACK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "POSTBACK_TOTAL_TIMEOUT": str(TOTAL_TIMEOUT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


SECRET_KEY = secrets.token_urlsafe(64)
