"""Baseline (e): one Celery task per postback on a Redis broker, Celery's default worker.

The pattern Django webhook libraries use: each postback is its own task, sent with `requests`,
and each task records what ours records per postback (bench.baselines.send_and_record: one
attempt insert, one delivery update). The worker is `celery worker` as it comes: the prefork pool
with its default concurrency (one process per core), default prefetch and acknowledgement.

    celery -A bench.celery_baseline worker      # what the bench starts (bench/stack.py)
"""

import django
from celery import Celery

from bench.baselines import send_and_record
from bench.config import CELERY_REDIS_URL

django.setup()

app = Celery("bench_baseline", broker=CELERY_REDIS_URL)
app.conf.task_ignore_result = True
app.conf.worker_hijack_root_logger = False


@app.task(name="bench.send_one")
def send_one(delivery_id: int, url: str) -> None:
    send_and_record(None, delivery_id, url)
