"""What an affiliate may do from its own page: test its endpoint and replay its failed postbacks.

Both go through the services the account managers use (the same sender, the same address guard,
the same replay), each behind a per-affiliate limit so the page cannot be used to flood a
receiver: PARTNER_RATE_LIMIT's "test" and "replay", and at most PARTNER_REPLAY_MAX postbacks per
replay.
"""

import logging
from datetime import datetime

from django.conf import settings

from affiliates.models import Affiliate
from partners.limits import limit_consume
from partners.selectors import partner_failed_since
from postbacks.mending import Replay, deliveries_replay
from postbacks.models import PostbackEndpoint
from postbacks.probes import ProbeResult, endpoint_test_fire

logger = logging.getLogger(__name__)


class LimitReached(Exception):
    """The affiliate used this action as often as the window allows."""


def _consume(bucket: str, affiliate: Affiliate) -> None:
    if not limit_consume(bucket=bucket, key=f"affiliate:{affiliate.pk}"):
        raise LimitReached


def partner_endpoint_test(
    *, affiliate: Affiliate, endpoint: PostbackEndpoint, who: str
) -> ProbeResult:
    """Fire a test postback at one of the affiliate's endpoints. Raises LimitReached, or
    ValidationError (nothing sent) when the test link or template cannot be used."""
    if endpoint.affiliate_id != affiliate.pk:
        raise PostbackEndpoint.DoesNotExist
    _consume("test", affiliate)
    result = endpoint_test_fire(endpoint=endpoint)
    logger.info(
        "partner test postback %s to endpoint %s by %s: %s",
        result.delivery_id,
        endpoint.pk,
        who,
        "succeeded" if result.succeeded else "failed",
    )
    return result


def partner_replay_failed(*, affiliate: Affiliate, since: datetime, who: str) -> Replay:
    """Send again the affiliate's failed postbacks created since ``since`` (at most
    PARTNER_REPLAY_MAX, oldest first); their attempts are logged as manual. Raises LimitReached."""
    _consume("replay", affiliate)
    ids = partner_failed_since(affiliate=affiliate, since=since, limit=settings.PARTNER_REPLAY_MAX)
    replay = deliveries_replay(delivery_ids=ids)
    logger.info(
        "partner replay of %d postbacks of affiliate %s since %s by %s",
        len(replay.delivery_ids),
        affiliate.network_id,
        since.isoformat(),
        who,
    )
    return replay
