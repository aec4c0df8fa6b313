"""The ingest rate limit: conversions per minute per API token, counted in Redis so every web
process shares the count. A batch counts its items. Redis away: ingest is not held up
(docs/spec.md §6 wants ingest to go on then), the limit simply does not apply."""

import logging
import time
from typing import Any

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from config.redis_tools import REDIS_ERRORS, counter_add

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def ingest_rate_take(request: Request, *, cost: int = 1) -> float | None:
    """Count `cost` conversions against the request's token; the seconds to wait when that
    goes over INGEST_RATE_LIMIT, else None."""
    limit = settings.INGEST_RATE_LIMIT
    user = getattr(request, "user", None)
    if not limit or cost <= 0 or user is None or not user.is_authenticated:
        return None
    now = time.time()
    key = f"ingest-rate:{user.pk}:{int(now // WINDOW_SECONDS)}"
    try:
        count = counter_add(key, amount=cost, ttl=WINDOW_SECONDS * 2)
    except REDIS_ERRORS as exc:
        logger.warning("ingest rate limit not applied, Redis unavailable: %s", exc)
        return None
    return None if count <= limit else WINDOW_SECONDS - now % WINDOW_SECONDS


def ingest_rate_charge(request: Request, *, cost: int) -> None:
    """For a view that knows its cost only after parsing (a batch): raise 429 when over."""
    wait = ingest_rate_take(request, cost=cost)
    if wait is not None:
        raise Throttled(wait=wait)


class IngestRateThrottle(BaseThrottle):
    """One conversion per request, before the body is parsed."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        self._wait = ingest_rate_take(request)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
