"""Handing deliveries to RQ, and the sweep that makes sure none is forgotten (SPEC §6)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from rq import Queue

from config.redis_tools import REDIS_ERRORS, lock_take
from postbacks.delivery import services
from postbacks.delivery.rq_queue import get_queue

logger = logging.getLogger(__name__)

JOB_CHUNK = 200
SWEEP_LIMIT = 20_000
SWEEP_LOCK_KEY = "postbacks:sweep-lock"


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


@dataclass(frozen=True)
class SweepReport:
    reclaimed: int
    queued: int
    skipped: bool = False


def sweep(*, limit: int = SWEEP_LIMIT, lock_seconds: float | None = None) -> SweepReport:
    """Re-queue due deliveries that are not queued; give abandoned ones back.

    With `lock_seconds`, only one process sweeps per period (many workers may call this)."""
    if lock_seconds is not None:
        try:
            got = lock_take(SWEEP_LOCK_KEY, seconds=lock_seconds)
        except REDIS_ERRORS:
            # Redis away: sweep without the lock; two sweeps at once do no harm.
            got = True
        if not got:
            return SweepReport(0, 0, skipped=True)
    reclaimed = services.deliveries_reclaim_abandoned()
    due = services.deliveries_due(limit=limit)
    if due:
        services.deliveries_mark_enqueued(delivery_ids=due)
        if not enqueue_ids(due):
            return SweepReport(reclaimed, 0)
    return SweepReport(reclaimed, len(due))
