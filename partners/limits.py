"""The affiliate pages' rate limits: uses per bucket and key in a window, counted in Redis so every
web process shares them (PARTNER_RATE_LIMIT, PARTNER_RATE_WINDOW).

Without Redis the use is refused (fail closed): these limits are what keeps a sign-in form from
mailing anyone a flood and a receiver from being flooded by tests and replays.
"""

import hashlib
import logging

from django.conf import settings

from config.redis_tools import REDIS_ERRORS, counter_add

logger = logging.getLogger(__name__)

RATE_KEY = "partner:rate:{bucket}:{key}"


class LimitUnavailable(Exception):
    """The uses cannot be counted (Redis is away), so the use is refused."""


def limit_consume(*, bucket: str, key: str) -> bool:
    """Count one use of ``bucket`` by ``key``; False when that use is over the limit.

    The key is hashed: e-mail addresses are not written to Redis as they are.
    """
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]
    try:
        used = counter_add(
            RATE_KEY.format(bucket=bucket, key=digest), ttl=settings.PARTNER_RATE_WINDOW[bucket]
        )
    except REDIS_ERRORS as exc:
        logger.warning("partner rate limit: Redis unavailable, refusing: %s", exc)
        raise LimitUnavailable from exc
    return used <= settings.PARTNER_RATE_LIMIT[bucket]
