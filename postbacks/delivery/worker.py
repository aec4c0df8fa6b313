"""The RQ worker that delivers postbacks: no fork per job, an engine with many sends in flight,
and the periodic sweep in a thread beside it.

A Redis outage of any length is ridden out, never fatal: every call RQ's work loop makes to Redis
goes through one of the overrides below, which on a lost connection waits for Redis (capped
exponential backoff, one log line when it goes and one when it is back) and carries on. The
postbacks in flight keep going meanwhile; their outcomes go to PostgreSQL."""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from redis import ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer
from rq.worker import WorkerStatus

from config.redis_tools import REDIS_ERRORS, lock_take
from postbacks.delivery import runtime
from postbacks.delivery.queue import SEND_JOB, give_back_to_sweep, sweep
from postbacks.delivery.rq_queue import get_queue
from postbacks.retention import retention_purge

logger = logging.getLogger(__name__)

RETENTION_LOCK_KEY = "postbacks:retention-lock"
# How often (seconds) a busy worker checks that Redis still has its registration.
REGISTRATION_CHECK_INTERVAL = 5.0


class RedisUnavailable(Exception):
    """Redis could not be reached. Deliberately not a RedisError: RQ's own handlers (which log
    every retry, or quit the work loop) let it pass up to DeliveryWorker's."""


# What a lost or refused connection raises (BusyLoadingError, a Redis still loading its data,
# is a ConnectionError too). Any other Redis error is a bug and is not ridden out.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, RedisUnavailable)


class RedisWatch:
    """Whether this worker's Redis answers, as its threads last saw it.

    It logs once per change of state ("Redis unavailable, retrying", "Redis back after N s"),
    however many times the calls fail or the probe is repeated in between."""

    def __init__(self, probe: Callable[[], object], *, first_wait: float, max_wait: float) -> None:
        self._probe = probe
        self._first_wait = first_wait
        self._max_wait = max_wait
        self._lock = threading.Lock()
        self._down_since: float | None = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def lost(self, exc: BaseException) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                logger.warning("Redis unavailable, retrying: %s", exc)

    def wait(self, stopping: Callable[[], bool]) -> bool:
        """Probe Redis until it answers (True) or the worker is asked to stop (False), the pause
        between probes doubling up to `max_wait`."""
        pause = self._first_wait
        while self.down:
            try:
                self._probe()
            except REDIS_ERRORS:
                deadline = time.monotonic() + pause
                while time.monotonic() < deadline:
                    if stopping():
                        return False
                    time.sleep(min(0.1, pause))
                pause = min(pause * 2, self._max_wait)
            else:
                self._back()
        return not stopping()

    def ensure(self) -> None:
        """Before the worker first talks to Redis: wait for it if it does not answer yet."""
        try:
            self._probe()
        except REDIS_ERRORS as exc:
            self.lost(exc)
            self.wait(lambda: False)

    def _back(self) -> None:
        with self._lock:
            if self._down_since is not None:
                logger.warning("Redis back after %.1f s", time.monotonic() - self._down_since)
                self._down_since = None


def _probe_for(connection: Redis) -> Callable[[], object]:
    """A PING on a client of its own, with no retries and short timeouts: the worker's client
    retries each command for seconds, and its socket timeout outlasts a blocking dequeue."""
    pool = connection.connection_pool
    kwargs = dict(pool.connection_kwargs)
    kwargs.update(socket_timeout=2, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))
    client = Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))
    return client.ping


class Sweeper(threading.Thread):
    """The periodic work beside the worker: the sweep every few seconds, retention hourly.
    Every worker runs one; Redis locks let one of them act per period. While the worker knows
    Redis is away it pauses: nothing could be queued, and every try would log."""

    def __init__(self, interval: float, watch: RedisWatch | None = None) -> None:
        super().__init__(name="postback-sweeper", daemon=True)
        self.interval = interval
        self.watch = watch
        self.stopped = threading.Event()
        self.next_retention = time.monotonic() + settings.POSTBACK_RETENTION_INTERVAL

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            if self.watch is not None and self.watch.down:
                continue
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


class DeliveryQueue(Queue):
    """The worker's view of its queues: a dequeue that loses Redis raises RedisUnavailable, so
    that RQ's dequeue loop (which would log an error every second) hands it to the worker."""

    @classmethod
    def dequeue_any(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().dequeue_any(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise RedisUnavailable(str(exc)) from exc


class DeliveryWorker(SimpleWorker):
    """SimpleWorker (jobs run in this process: a fork per postback ran 15 jobs/s here) whose jobs
    hand their postbacks to the process's engine instead of sending them one by one."""

    queue_class = DeliveryQueue
    # The longest pause between two probes of a Redis that is away: the end of an outage is
    # noticed within this, for the price of one PING.
    max_connection_wait_time = 5.0
    first_connection_wait_time = 0.25

    def __init__(self, queues: Any, *args: Any, sweep: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", JSONSerializer)
        # RQ's dequeue is a class method of the worker's queue class, which its queues must be.
        queues = [
            DeliveryQueue(q.name, connection=q.connection, serializer=q.serializer)
            if isinstance(q, Queue) and not isinstance(q, DeliveryQueue)
            else q
            for q in (queues if isinstance(queues, list | tuple) else [queues])
        ]
        # RQ's constructor already talks to Redis (CLIENT SETNAME): the watch must exist first.
        connection = kwargs.get("connection") or get_queue().connection
        self._watch = RedisWatch(
            _probe_for(connection),
            first_wait=self.first_connection_wait_time,
            max_wait=self.max_connection_wait_time,
        )
        self._registration_checked = time.monotonic()
        super().__init__(queues, *args, **kwargs)
        self._sweep_enabled = sweep

    # -- riding out an outage ---------------------------------------------------------------

    def _ride_out(self, exc: BaseException) -> bool:
        """Wait for Redis after `exc`; False when the worker was asked to stop meanwhile."""
        while True:
            self._watch.lost(exc)
            if not self._watch.wait(lambda: self._stop_requested):
                return False
            try:
                self._register_again_if_forgotten()
            except REDIS_DOWN as again:
                exc = again
            else:
                return True

    def _register_again_if_forgotten(self) -> None:
        """After an outage, and now and then: if Redis came back empty (restarted without its
        data, or this worker's entry expired meanwhile), the worker registers again, so that
        RQ's dashboard and the metrics still count it. (The sweep notices the lost queue
        entries by itself.)"""
        self._registration_checked = time.monotonic()
        if self.connection.hexists(self.key, "birth"):
            return
        # A heartbeat may have recreated the entry with nothing but its time in it.
        self.connection.delete(self.key)
        self.register_birth()
        self.set_state(self._state)
        logger.warning("Redis came back without this worker's entry: registered again")

    def _set_ip_address(self, connection: Redis) -> None:
        self._watch.ensure()
        super()._set_ip_address(connection)

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        self._watch.ensure()
        super().bootstrap(*args, **kwargs)

    def check_for_suspension(self, burst: bool) -> None:
        while True:
            try:
                return super().check_for_suspension(burst)
            except REDIS_DOWN as exc:
                if not self._ride_out(exc):
                    return None

    def run_maintenance_tasks(self) -> None:
        # Not retried here: the maintenance is still due, so the work loop runs it again.
        try:
            super().run_maintenance_tasks()
        except REDIS_DOWN as exc:
            self._ride_out(exc)

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> Any:
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except REDIS_DOWN as exc:
                if not self._ride_out(exc):
                    # The work loop reads None as "stop".
                    return None

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        try:
            super().heartbeat(timeout)
            # A Redis that restarted empty within the client's own retries was never noticed
            # as away: look for this worker's entry now and then all the same.
            if time.monotonic() - self._registration_checked > REGISTRATION_CHECK_INTERVAL:
                self._register_again_if_forgotten()
        except REDIS_DOWN as exc:
            self._ride_out(exc)
        return None

    def execute_job(self, job: Any, queue: Any) -> Any:
        # A connection the database dropped since the last job must not fail this one.
        close_old_connections()
        try:
            return super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            # RQ's bookkeeping of the job failed. What the job claimed is in the engine, and its
            # outcomes go to PostgreSQL; the rest goes back to the sweep at once instead of
            # waiting for its queue entry to be POSTBACK_REQUEUE_AFTER old.
            self.executions.clear()
            # Not busy any more (RQ could not record it): a SIGTERM while Redis is away then
            # stops the worker at once, as it does an idle one.
            self._state = WorkerStatus.IDLE
            if job.func_name == SEND_JOB and job.args:
                give_back_to_sweep(job.args[0])
            self._ride_out(exc)
            return None

    def set_shutdown_requested_date(self) -> None:
        # Called from the SIGTERM handler: the date is for dashboards, the stop must happen.
        try:
            super().set_shutdown_requested_date()
        except REDIS_DOWN:
            logger.info("Redis unavailable: the stop request is not shown in RQ's dashboard")

    def teardown(self) -> None:
        try:
            super().teardown()
        except REDIS_DOWN as exc:
            # The worker's entry in Redis expires by itself (worker_ttl); stopping must not wait.
            logger.warning("Redis unavailable at shutdown, worker not unregistered: %s", exc)
            if self.pubsub_thread:
                self.pubsub_thread.stop()

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        # The command channel reconnects by itself; the work loop reports the outage, once.
        if isinstance(exc, REDIS_DOWN):
            time.sleep(self.max_connection_wait_time)
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    # -- the work loop ----------------------------------------------------------------------

    def work(self, *args: Any, **kwargs: Any) -> bool:
        runtime.start_engine()
        sweeper = (
            Sweeper(settings.POSTBACK_SWEEP_INTERVAL, self._watch) if self._sweep_enabled else None
        )
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
