"""Small reference rows that every ingest request needs, kept a few seconds per process.

Event types, offers and the affiliates' tracker prefixes change rarely and are read on every
ingest: caching them saves three database round trips a request. Only what was found is kept
(a miss always asks the database), so a new offer or event type is usable at once; a change
or a deactivation reaches the ingest within INGEST_LOOKUP_SECONDS."""

import threading
import time
from collections.abc import Callable, Collection, Hashable
from typing import Generic, TypeVar

from django.conf import settings

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks.models import EventType

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_ENTRIES = 10_000


class Recent(Generic[K, V]):
    def __init__(self) -> None:
        self._items: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: Collection[K], load: Callable[[set[K]], dict[K, V]]) -> dict[K, V]:
        now = time.monotonic()
        found: dict[K, V] = {}
        missing: set[K] = set()
        for key in keys:
            entry = self._items.get(key)
            if entry is not None and entry[0] > now:
                found[key] = entry[1]
            else:
                missing.add(key)
        if missing:
            loaded = load(missing)
            ttl = settings.INGEST_LOOKUP_SECONDS
            with self._lock:
                if len(self._items) > MAX_ENTRIES:
                    self._items.clear()
                if ttl > 0:
                    self._items.update({k: (now + ttl, v) for k, v in loaded.items()})
            found.update(loaded)
        return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_event_types: Recent[str, EventType] = Recent()
_offers: Recent[int, Offer] = Recent()
_prefixes: Recent[str, list[str]] = Recent()


def active_event_types(codes: Collection[str]) -> dict[str, EventType]:
    return _event_types.get_many(
        codes,
        lambda missing: {
            e.code: e for e in EventType.objects.filter(is_active=True, code__in=missing)
        },
    )


def offers_by_network_id(ids: Collection[int]) -> dict[int, Offer]:
    return _offers.get_many(
        ids,
        lambda missing: {
            o.network_offer_id: o for o in Offer.objects.filter(network_offer_id__in=missing)
        },
    )


def tracker_prefixes(*, fresh: bool = False) -> list[str]:
    """Every affiliate's tracker prefix; `fresh` skips the cache (a tracker that no cached
    prefix explains may carry a prefix added a moment ago)."""
    if fresh:
        _prefixes.clear()
    return _prefixes.get_many(
        ["all"],
        lambda _missing: {
            "all": list(
                Affiliate.objects.order_by().values_list("tracker_prefix", flat=True).distinct()
            )
        },
    )["all"]


def clear() -> None:
    for cache in (_event_types, _offers, _prefixes):
        cache.clear()
