"""The postbacks queue as Redis holds it: RQ's queue on the shared Redis client, the list where
deliveries enqueued a few at a time are gathered for one job, and how much waits on them and how
many workers listen. Beside it the mail queue, which the same delivery worker serves (sign-in
links: partners/sign_in.py), so that every RQ queue handle lives here.

The floor under delivery/queue.py (which enqueues and sweeps): it imports nothing of the
delivery stack, so the dashboard and the metrics read the queue's state without pulling it in.
"""

import logging
from dataclasses import dataclass

import django_rq
from rq import Queue, Worker
from rq.serializers import JSONSerializer

from config.redis_tools import REDIS_ERRORS, redis_client

logger = logging.getLogger(__name__)

QUEUE_NAME = "postbacks"
MAIL_QUEUE_NAME = "mail"
# The ids of deliveries queued for an automatic attempt wait on this list for the next drain job;
# the flag is set while a drain job waits on RQ's queue and has not started taking ids.
GATHERED_KEY = "postbacks:gathered"
DRAIN_FLAG_KEY = "postbacks:drain-queued"


def get_queue() -> Queue:
    """The postbacks queue (as RQ_QUEUES configures it), on this process's Redis client."""
    return django_rq.get_queue(QUEUE_NAME, serializer=JSONSerializer, connection=redis_client())


def get_mail_queue() -> Queue:
    """The mail queue (as RQ_QUEUES configures it), on this process's Redis client. Its jobs go
    to Redis at once, even inside a transaction (django-rq's default waits for the commit): the
    caller learns there and then whether Redis took the job."""
    return django_rq.get_queue(
        MAIL_QUEUE_NAME, serializer=JSONSerializer, connection=redis_client(), commit_mode="auto"
    )


@dataclass(frozen=True)
class QueueState:
    depth: int | None
    workers: int | None

    @property
    def available(self) -> bool:
        return self.depth is not None


def queue_state() -> QueueState:
    """Jobs waiting on the postbacks queue, and workers listening to it; None when Redis is away.
    A gathered delivery counts as the job of its own it had before deliveries were gathered, and
    the drain job waiting to take them is not counted again. Read live, never cached."""
    try:
        queue = get_queue()
        pipe = queue.connection.pipeline(transaction=False)
        pipe.llen(queue.key)
        pipe.llen(GATHERED_KEY)
        pipe.exists(DRAIN_FLAG_KEY)
        jobs, gathered, drain_waiting = pipe.execute()
        depth = max(0, jobs - drain_waiting) + gathered
        return QueueState(depth=depth, workers=Worker.count(queue=queue))
    except REDIS_ERRORS as exc:
        logger.warning("queue state unavailable: %s", exc)
        return QueueState(depth=None, workers=None)
