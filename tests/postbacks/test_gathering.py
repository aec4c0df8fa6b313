"""Deliveries enqueued one at a time are gathered and sent many to a drain job (docs/spec.md §6):
what the drain jobs take, and how the sweep covers a drain job that was lost."""

import time

import pytest

from postbacks.delivery import queue
from postbacks.delivery.queue import enqueue_ids, gathered_take, get_queue, mark_queue_intact, sweep
from postbacks.delivery.rq_queue import queue_state
from postbacks.delivery.worker import DeliveryWorker
from postbacks.models import Delivery, DeliveryAttempt
from postbacks.services import IngestItem, IngestResult, conversions_ingest
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker_burst() -> None:
    rq_queue = get_queue()
    DeliveryWorker([rq_queue], connection=rq_queue.connection, sweep=False).work(burst=True)


@pytest.fixture(autouse=True)
def _swept_before() -> None:
    """A Redis that has been swept before: nothing in it counts as lost."""
    mark_queue_intact()


@pytest.fixture
def ingest_one(receiver):
    """Ingest one conversion per call, as a single ingest request does; its delivery id."""
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template=receiver.base_url + "/pb?tx={transaction_id}"
    )
    made = iter(range(10_000))

    def ingest(count: int = 1):
        items = [
            IngestItem(
                transaction_id=f"tx-{next(made)}",
                event="signup",
                offer_id=offer.network_offer_id,
                affiliate_id=affiliate.network_id,
            )
            for _ in range(count)
        ]
        results = conversions_ingest(items=items)
        assert all(isinstance(result, IngestResult) for result in results)
        return [pk for result in results for pk in result.delivery_ids]  # type: ignore[union-attr]

    return ingest


def test_deliveries_ingested_one_at_a_time_wait_in_one_job_and_are_all_sent(ingest_one, receiver):
    ids = [pk for _ in range(3) for pk in ingest_one()]
    assert get_queue().count == 1
    run_worker_burst()
    assert sorted(r.path for r in receiver.wait_for(3)) == [
        "/pb?tx=tx-0",
        "/pb?tx=tx-1",
        "/pb?tx=tx-2",
    ]
    assert set(Delivery.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"succeeded"}
    assert set(DeliveryAttempt.objects.values_list("trigger", flat=True)) == {"auto"}


def test_an_id_gathered_once_a_drain_job_has_taken_gets_a_job_of_its_own():
    assert enqueue_ids([1])
    assert enqueue_ids([2])
    assert get_queue().count == 1
    # The drain job starts: what was gathered is its own from now on.
    assert gathered_take() == [1, 2]
    assert enqueue_ids([3])
    assert get_queue().count == 2
    # Gathered while that second job waits: it joins it.
    assert enqueue_ids([4])
    assert get_queue().count == 2
    assert gathered_take() == [3, 4]
    assert gathered_take() == []


def test_a_drain_job_takes_one_chunk_and_queues_the_next_before_it_sends():
    assert enqueue_ids(list(range(1, 451)))
    assert get_queue().count == 1
    assert gathered_take() == list(range(1, 201))
    # Queued already, so that another worker can take the next chunk meanwhile.
    assert get_queue().count == 2
    assert gathered_take() == list(range(201, 401))
    assert get_queue().count == 3
    assert gathered_take() == list(range(401, 451))
    # Nothing left: no job more.
    assert get_queue().count == 3


def test_a_batch_larger_than_a_chunk_is_sent_whole_by_a_chain_of_drain_jobs(ingest_one, receiver):
    ids = ingest_one(450)
    run_worker_burst()
    assert len(receiver.wait_for(450)) == 450
    assert Delivery.objects.filter(pk__in=ids, state=Delivery.State.SUCCEEDED).count() == 450


def test_ids_taken_by_a_worker_that_died_before_claiming_them_age_into_the_sweep(
    ingest_one, receiver, settings
):
    ids = [pk for _ in range(3) for pk in ingest_one()]
    # A worker dequeued the drain job, took the ids and was killed before its claim.
    get_queue().empty()
    assert sorted(gathered_take()) == sorted(ids)
    # Still marked queued, and not stale yet: the sweep leaves them to their job.
    assert sweep().queued == 0
    settings.POSTBACK_REQUEUE_AFTER = 0
    assert sweep().queued == 3
    run_worker_burst()
    assert len(receiver.wait_for(3)) == 3
    assert Delivery.objects.filter(pk__in=ids, state=Delivery.State.SUCCEEDED).count() == 3


def test_a_drain_flag_left_by_a_lost_job_lapses_and_the_sweep_queues_a_drain(
    ingest_one, receiver, monkeypatch
):
    monkeypatch.setattr(queue, "DRAIN_FLAG_SECONDS", 0.3)
    first = ingest_one()
    # The drain job is lost before it starts (its worker was killed right after the dequeue).
    get_queue().empty()
    second = ingest_one()
    # Its flag still says a drain job waits: none is queued for the second delivery.
    assert get_queue().count == 0
    sweep()
    assert get_queue().count == 0
    time.sleep(0.4)
    sweep()
    assert get_queue().count == 1
    run_worker_burst()
    assert len(receiver.wait_for(2)) == 2
    states = Delivery.objects.filter(pk__in=first + second).values_list("state", flat=True)
    assert set(states) == {Delivery.State.SUCCEEDED}


def test_the_queue_depth_counts_gathered_deliveries_not_the_drain_job_waiting_for_them():
    assert enqueue_ids([1])
    assert enqueue_ids([2, 3])
    assert enqueue_ids([4], trigger="manual")
    assert queue_state().depth == 4
    # A worker dequeues the drain job, which takes the gathered ids: the replay's job is left.
    assert get_queue().pop_job_id()
    gathered_take()
    assert queue_state().depth == 1
