"""Reads for postbacks."""

from collections.abc import Iterable

from django.db.models import Q

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks.models import EventType, PostbackEndpoint

Status = PostbackEndpoint.Status


def endpoints_for_event(
    *,
    affiliate: Affiliate,
    offer: Offer,
    event_type: EventType,
    statuses: Iterable[str] = (Status.LIVE,),
) -> list[PostbackEndpoint]:
    """SPEC §4: the affiliate's endpoints (in `statuses`) subscribed to the event; those bound to
    the offer replace the all-offer ones, never both; several at one level all fire."""
    if affiliate.status != Affiliate.Status.ACTIVE:
        return []
    endpoints = list(
        PostbackEndpoint.objects.filter(
            Q(offer__isnull=True) | Q(offer=offer),
            affiliate=affiliate,
            status__in=list(statuses),
            event_types=event_type,
        ).order_by("pk")
    )
    offer_level = [e for e in endpoints if e.offer_id == offer.pk]
    return offer_level or [e for e in endpoints if e.offer_id is None]
