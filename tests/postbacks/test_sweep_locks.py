"""The sweep never waits for a row a worker holds: it marked due deliveries queued in whatever
order its plan visited them, and deadlocked with a worker's claim (seen in `make bench`)."""

import pytest
from django.db import connection, connections

from config.redis_tools import redis_client
from postbacks.delivery.queue import sweep
from postbacks.delivery.rq_queue import GATHERED_KEY
from postbacks.delivery.services import deliveries_mark_enqueued
from postbacks.models import Delivery
from tests.factories import DeliveryFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker_connection():
    other = connections.create_connection("default")
    other.set_autocommit(False)
    yield other
    other.rollback()
    other.close()


def hold(other, delivery: Delivery) -> None:
    with other.cursor() as cursor:
        cursor.execute("SELECT id FROM postbacks_delivery WHERE id = %s FOR UPDATE", [delivery.pk])


@pytest.fixture
def no_waiting():
    """A wait for a lock fails the test at once instead of hanging it."""
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '2s'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


def test_marking_skips_the_rows_a_worker_holds(worker_connection, no_waiting):
    free, held, sent = DeliveryFactory.create_batch(3)
    Delivery.objects.filter(pk=sent.pk).update(state=Delivery.State.SUCCEEDED)
    hold(worker_connection, held)

    marked = deliveries_mark_enqueued(delivery_ids=[held.pk, sent.pk, free.pk])

    assert marked == [free.pk]
    enqueued = dict(Delivery.objects.values_list("pk", "enqueued_at"))
    assert enqueued[free.pk] is not None
    assert enqueued[held.pk] is None
    assert enqueued[sent.pk] is None


def test_the_sweep_queues_what_it_marked_and_leaves_a_held_row_for_later(
    worker_connection, no_waiting
):
    redis_client().delete(GATHERED_KEY)
    free, held = DeliveryFactory.create_batch(2)
    hold(worker_connection, held)

    report = sweep()

    assert report.queued == 1
    assert [int(i) for i in redis_client().lrange(GATHERED_KEY, 0, -1)] == [free.pk]
    worker_connection.rollback()  # the worker let it go without claiming it
    assert sweep().queued == 1
    assert [int(i) for i in redis_client().lrange(GATHERED_KEY, 0, -1)] == [free.pk, held.pk]
