"""The setup form's rate limit: uses per client address and bucket (previews, submissions)
in a window of SETUP_RATE_WINDOW seconds, counted in Redis so every web process shares it."""

import logging

from django.conf import settings

from config.redis_tools import REDIS_ERRORS, counter_add

logger = logging.getLogger(__name__)

RATE_KEY = "setup:rate:{bucket}:{client}"


def rate_limit_consume(*, bucket: str, client: str) -> bool:
    """Count one use of ``bucket`` by ``client``; False when that use is over the limit.

    INCR is atomic, so concurrent requests cannot all slip under the limit; the window starts at
    the first use (EXPIRE NX, in the same MULTI). Without Redis the form works unlimited (logged)
    rather than not at all.
    """
    key = RATE_KEY.format(bucket=bucket, client=client)
    try:
        used = counter_add(key, ttl=settings.SETUP_RATE_WINDOW)
    except REDIS_ERRORS:
        logger.warning("setup rate limit: Redis unavailable, not limiting")
        return True
    return used <= settings.SETUP_RATE_LIMIT[bucket]
