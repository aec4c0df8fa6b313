"""The shared Redis module: one client per process, a lock one caller wins, a windowed counter."""

import time

from config.redis_tools import counter_add, lock_take, redis_client
from postbacks.delivery.rq_queue import get_queue


def test_every_caller_shares_the_queues_client():
    assert redis_client() is redis_client()
    assert get_queue().connection is redis_client()


def test_the_lock_goes_to_one_caller_until_it_lapses():
    assert lock_take("test:lock", seconds=0.2) is True
    assert lock_take("test:lock", seconds=0.2) is False
    time.sleep(0.3)
    assert lock_take("test:lock", seconds=0.2) is True


def test_the_counter_adds_and_its_window_starts_at_the_first_use():
    assert counter_add("test:counter", ttl=60) == 1
    assert counter_add("test:counter", amount=4, ttl=60) == 5
    ttl = redis_client().ttl("test:counter")
    counter_add("test:counter", ttl=3600)
    assert redis_client().ttl("test:counter") <= ttl <= 60
