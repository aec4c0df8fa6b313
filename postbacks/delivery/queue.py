"""Handing deliveries to RQ, and the sweep that makes sure none is forgotten (docs/spec.md §6)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError
from django.utils import timezone
from rq import Queue

from config.redis_tools import REDIS_ERRORS, lock_take, redis_client
from postbacks.delivery import services
from postbacks.delivery.rq_queue import DRAIN_FLAG_KEY, GATHERED_KEY, get_queue

logger = logging.getLogger(__name__)

JOB_CHUNK = 200
SWEEP_LIMIT = 20_000
SWEEP_LOCK_KEY = "postbacks:sweep-lock"
# Set by every sweep, never expiring: when it is missing, Redis lost its queue entries.
KEPT_MARKER_KEY = "postbacks:queue-kept"
SEND_JOB = "postbacks.delivery.jobs.send_deliveries"
DRAIN_JOB = "postbacks.delivery.jobs.drain_deliveries"
# How long the drain flag outlives a drain job that never started (lost with the worker that had
# dequeued it): the ids gathered behind it wait this long, then the next enqueue or sweep
# schedules another. A flag that lapses while its job merely waits costs one job more.
DRAIN_FLAG_SECONDS = 10.0


def enqueue_ids(delivery_ids: Sequence[int], *, trigger: str = "auto") -> bool:
    """Hand these deliveries to the workers. False (and logged) when Redis is away: the
    deliveries are then unmarked, and the sweep queues them once Redis is back.

    Automatic attempts are gathered on a Redis list, and a drain job is put on RQ's queue only
    when none waits there already: deliveries enqueued one at a time (one ingest request each)
    are sent many to a job, and a worker pays RQ's cost per job once for all of them. Manual
    replays (made by people, a few at a time) keep jobs of their own, whose arguments carry
    their trigger."""
    ids = list(delivery_ids)
    if not ids:
        return True
    try:
        if trigger == "auto":
            _gather(ids)
        else:
            get_queue().enqueue_many(
                [
                    Queue.prepare_data(
                        SEND_JOB,
                        args=(ids[start : start + JOB_CHUNK], trigger),
                        result_ttl=0,
                        failure_ttl=24 * 3600,
                    )
                    for start in range(0, len(ids), JOB_CHUNK)
                ]
            )
    except Exception as exc:
        # Called after commit: whatever goes wrong with the queue, the deliveries are stored and
        # the sweep will queue them; the caller's answer must not turn into an error.
        logger.warning("queue unavailable, %d deliveries left to the sweep: %s", len(ids), exc)
        services.deliveries_unmark_enqueued(delivery_ids=ids)
        return False
    return True


def _gather(ids: list[int]) -> None:
    pipe = redis_client().pipeline(transaction=True)
    pipe.rpush(GATHERED_KEY, *ids)
    pipe.set(DRAIN_FLAG_KEY, "1", nx=True, px=int(DRAIN_FLAG_SECONDS * 1000))
    _, flagged = pipe.execute()
    if flagged:
        _enqueue_drain()


def gathered_take() -> list[int]:
    """For the drain job now running: take up to JOB_CHUNK gathered ids.

    The flag is cleared in the same transaction as the pop, so an id gathered after the pop
    schedules a drain job of its own; when more ids are left than one job takes, the next drain
    job is scheduled before this one sends, so that another worker can take it meanwhile. Ids
    taken by a worker that dies before claiming them are still marked queued: the sweep queues
    them again once that mark is POSTBACK_REQUEUE_AFTER old, as it does the ids of a lost job."""
    pipe = redis_client().pipeline(transaction=True)
    pipe.delete(DRAIN_FLAG_KEY)
    pipe.lpop(GATHERED_KEY, JOB_CHUNK)
    pipe.llen(GATHERED_KEY)
    _, taken, left = pipe.execute()
    if left:
        try:
            drain_schedule()
        except REDIS_ERRORS:
            # The ids taken are claimed and sent all the same; the sweep schedules the rest.
            logger.warning("next drain job not scheduled; the sweep will", exc_info=True)
    return [int(delivery_id) for delivery_id in taken or ()]


def drain_schedule() -> bool:
    """Put a drain job on RQ's queue unless one waits there already; whether one was put."""
    if not redis_client().set(DRAIN_FLAG_KEY, "1", nx=True, px=int(DRAIN_FLAG_SECONDS * 1000)):
        return False
    _enqueue_drain()
    return True


def _enqueue_drain() -> None:
    get_queue().enqueue_call(DRAIN_JOB, result_ttl=0, failure_ttl=24 * 3600)


def give_back_to_sweep(delivery_ids: Sequence[int]) -> None:
    """A job for these deliveries was lost with Redis: let the next sweep queue the ones still
    due. Unmarking a delivery that was sent meanwhile changes nothing (only due ones are swept);
    if the database is away too, their queue entries age into the sweep all the same."""
    try:
        services.deliveries_unmark_enqueued(delivery_ids=list(delivery_ids))
    except DatabaseError:
        logger.warning("%d deliveries left to age into the sweep", len(delivery_ids), exc_info=True)


@dataclass(frozen=True)
class SweepReport:
    reclaimed: int
    queued: int
    skipped: bool = False


def sweep(*, limit: int = SWEEP_LIMIT, lock_seconds: float | None = None) -> SweepReport:
    """Re-queue due deliveries that are not queued; give abandoned ones back.

    With `lock_seconds`, only one process sweeps per period (many workers may call this). When
    Redis has lost its data since the last sweep, every queue entry made before counts as lost."""
    if lock_seconds is not None:
        try:
            got = lock_take(SWEEP_LOCK_KEY, seconds=lock_seconds)
        except REDIS_ERRORS:
            # Redis away: sweep without the lock; two sweeps at once do no harm.
            got = True
        if not got:
            return SweepReport(0, 0, skipped=True)
    emptied_at = _redis_emptied_at()
    reclaimed = services.deliveries_reclaim_abandoned()
    due = services.deliveries_due(limit=limit, queued_before=emptied_at)
    if due:
        # Rows a worker is claiming this moment are left out (they are on their way).
        due = services.deliveries_mark_enqueued(delivery_ids=due)
    if due and not enqueue_ids(due):
        return SweepReport(reclaimed, 0)
    try:
        # Gathered ids whose drain job was never queued (its enqueue failed) or was lost before
        # it started (its flag lapsed): a drain job for them now.
        if redis_client().llen(GATHERED_KEY):
            drain_schedule()
    except REDIS_ERRORS:
        logger.warning("gathered deliveries not checked: Redis unavailable")
    if emptied_at is not None:
        mark_queue_intact()
        if due:
            # (A Redis used for the first time looks the same, with nothing to queue again.)
            logger.warning(
                "the queue lost its data (Redis restarted empty?): %d deliveries queued again",
                len(due),
            )
    return SweepReport(reclaimed, len(due))


def _redis_emptied_at() -> datetime | None:
    """Now, when Redis has lost what it held since the last sweep (it restarted without its
    data, or was flushed): the marker a sweep leaves is gone. None while it is there, or when
    Redis does not answer (nothing can be queued then anyway)."""
    try:
        kept = redis_client().exists(KEPT_MARKER_KEY)
    except REDIS_ERRORS:
        return None
    return None if kept else timezone.now()


def mark_queue_intact() -> None:
    """Tell the sweep that Redis holds every queue entry made so far. Sweeps do it; so must
    whoever empties the queue on purpose (the bench), or the next sweep queues again every
    delivery that was queued before."""
    try:
        redis_client().set(KEPT_MARKER_KEY, timezone.now().isoformat())
    except REDIS_ERRORS:
        logger.warning("queue marker not set; the next sweep queues the queued ones again")
