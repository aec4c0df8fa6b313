"""The setup form's rate limit: uses per client address and bucket (previews, submissions)
in a window of SETUP_RATE_WINDOW seconds, counted in Redis so every web process shares it.

Without Redis the form's posts are refused (fail closed), not let through uncounted: the form is
public, so an outage must not be the moment it can be flooded. Counting in PostgreSQL instead
would write a row for every post (the live preview posts on each change) to the database that
carries ingest, just while it is likely to be busy catching up.
"""

import logging

from django.conf import settings

from config.redis_tools import REDIS_ERRORS, counter_add

logger = logging.getLogger(__name__)

RATE_KEY = "setup:rate:{bucket}:{client}"


class RateLimitUnavailable(Exception):
    """The uses cannot be counted (Redis is away), so the use is refused."""


def rate_limit_consume(*, bucket: str, client: str) -> bool:
    """Count one use of ``bucket`` by ``client``; False when that use is over the limit.

    INCR is atomic, so concurrent requests cannot all slip under the limit; the window starts at
    the first use (EXPIRE NX, in the same MULTI). Raises RateLimitUnavailable (logged) when
    Redis does not answer.
    """
    key = RATE_KEY.format(bucket=bucket, client=client)
    try:
        used = counter_add(key, ttl=settings.SETUP_RATE_WINDOW)
    except REDIS_ERRORS as exc:
        logger.warning("setup rate limit: Redis unavailable, refusing the post: %s", exc)
        raise RateLimitUnavailable from exc
    return used <= settings.SETUP_RATE_LIMIT[bucket]
