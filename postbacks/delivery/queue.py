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
from postbacks.delivery.rq_queue import get_queue

logger = logging.getLogger(__name__)

JOB_CHUNK = 200
SWEEP_LIMIT = 20_000
SWEEP_LOCK_KEY = "postbacks:sweep-lock"
# Set by every sweep, never expiring: when it is missing, Redis lost its queue entries.
KEPT_MARKER_KEY = "postbacks:queue-kept"


def enqueue_ids(delivery_ids: Sequence[int], *, trigger: str = "auto") -> bool:
    """Put jobs for these deliveries on the queue. False (and logged) when Redis is away: the
    deliveries are then unmarked, and the sweep queues them once Redis is back."""
    ids = list(delivery_ids)
    if not ids:
        return True
    try:
        queue = get_queue()
        queue.enqueue_many(
            [
                Queue.prepare_data(
                    "postbacks.delivery.jobs.send_deliveries",
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
        services.deliveries_mark_enqueued(delivery_ids=due)
        if not enqueue_ids(due):
            return SweepReport(reclaimed, 0)
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
