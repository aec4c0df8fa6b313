"""The RQ worker that delivers postbacks: no fork per job, an engine with many sends in flight,
and the periodic sweep in a thread beside it."""

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from config.redis_tools import REDIS_ERRORS, lock_take
from postbacks.delivery import runtime
from postbacks.delivery.queue import sweep
from postbacks.retention import retention_purge

logger = logging.getLogger(__name__)

RETENTION_LOCK_KEY = "postbacks:retention-lock"


class Sweeper(threading.Thread):
    """The periodic work beside the worker: the sweep every few seconds, retention hourly.
    Every worker runs one; Redis locks let one of them act per period."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="postback-sweeper", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()
        self.next_retention = time.monotonic() + settings.POSTBACK_RETENTION_INTERVAL

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            if time.monotonic() >= self.next_retention:
                self.next_retention = time.monotonic() + settings.POSTBACK_RETENTION_INTERVAL
                self._retention()
            try:
                report = sweep(lock_seconds=self.interval * 0.9)
                if report.reclaimed or report.queued:
                    logger.info(
                        "sweep: %d abandoned deliveries reclaimed, %d queued",
                        report.reclaimed,
                        report.queued,
                    )
            except (DatabaseError, *REDIS_ERRORS):
                logger.exception("sweep failed; trying again in %.1f s", self.interval)
                close_old_connections()
        close_old_connections()

    def _retention(self) -> None:
        try:
            if lock_take(RETENTION_LOCK_KEY, seconds=settings.POSTBACK_RETENTION_INTERVAL * 0.9):
                retention_purge()
        except (DatabaseError, *REDIS_ERRORS):
            logger.exception("retention failed; trying again next period")
            close_old_connections()


class DeliveryWorker(SimpleWorker):
    """SimpleWorker (jobs run in this process: a fork per postback ran 15 jobs/s here) whose jobs
    hand their postbacks to the process's engine instead of sending them one by one."""

    def __init__(self, *args: Any, sweep: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", JSONSerializer)
        super().__init__(*args, **kwargs)
        self._sweep_enabled = sweep

    def execute_job(self, job: Any, queue: Any) -> Any:
        # A connection the database dropped since the last job must not fail this one.
        close_old_connections()
        return super().execute_job(job, queue)

    def work(self, *args: Any, **kwargs: Any) -> bool:
        runtime.start_engine()
        sweeper = Sweeper(settings.POSTBACK_SWEEP_INTERVAL) if self._sweep_enabled else None
        if sweeper:
            sweeper.start()
        try:
            return super().work(*args, **kwargs)
        finally:
            if sweeper:
                sweeper.stopped.set()
            # Let the postbacks in flight finish and their outcomes be written.
            runtime.stop_engine(timeout=settings.POSTBACK_TOTAL_TIMEOUT + 5)
            if sweeper:
                sweeper.join(5)
