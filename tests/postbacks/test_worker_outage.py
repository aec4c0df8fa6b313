"""What the sweep does for the delivery worker after a Redis outage: queue entries a Redis that
came back empty lost, and deliveries of a job whose bookkeeping the outage cut off."""

import pytest

from postbacks.delivery.queue import give_back_to_sweep, sweep
from postbacks.delivery.rq_queue import get_queue
from postbacks.models import Delivery
from postbacks.services import IngestItem, conversions_ingest
from tests.factories import AffiliateFactory, OfferFactory, PostbackEndpointFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _ingest(count):
    affiliate, offer = AffiliateFactory(), OfferFactory()
    PostbackEndpointFactory(
        affiliate=affiliate, url_template="http://127.0.0.1:9/pb?tx={transaction_id}"
    )
    items = [
        IngestItem(
            transaction_id=f"tx-{n}",
            event="signup",
            offer_id=offer.network_offer_id,
            affiliate_id=affiliate.network_id,
        )
        for n in range(count)
    ]
    return [
        delivery_id
        for result in conversions_ingest(items=items)
        for delivery_id in result.delivery_ids
    ]


def test_sweep_queues_again_what_a_redis_that_came_back_empty_lost():
    ids = _ingest(3)
    sweep()
    # Queued once, and still in Redis: a sweep leaves them alone.
    assert Delivery.objects.filter(pk__in=ids, enqueued_at__isnull=False).count() == 3
    assert sweep().queued == 0
    # Redis restarts without its data: the entries are gone, long before they look stale.
    get_queue().connection.flushdb()
    assert sweep().queued == 3
    assert get_queue().count == 1
    assert sweep().queued == 0


def test_deliveries_of_a_job_cut_off_by_redis_go_back_to_the_next_sweep():
    ids = _ingest(2)
    sweep()
    assert sweep().queued == 0
    give_back_to_sweep(ids[:1])
    assert sweep().queued == 1
