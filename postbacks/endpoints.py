"""Writes to postback endpoints, validated as the admin validates them (SPEC §2, §4).

The API names an endpoint's affiliate by its network id, its offer by the network offer id (none:
all offers) and its event types by their codes; these are resolved here.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from affiliates.models import Affiliate
from config.services import delete_or_refuse
from offers.models import Offer
from postbacks.models import EventType, PostbackEndpoint

ENDPOINT_FIELDS = (
    "affiliate_id",
    "offer_id",
    "event_types",
    "url_template",
    "method",
    "status",
    "disabled_reason",
    "test_link",
)


def _affiliate(network_id: int) -> Affiliate:
    affiliate = Affiliate.objects.filter(network_id=network_id).first()
    if affiliate is None:
        raise ValidationError({"affiliate_id": f"Unknown affiliate {network_id}."})
    return affiliate


def _offer(network_offer_id: int | None) -> Offer | None:
    if network_offer_id is None:
        return None
    offer = Offer.objects.filter(network_offer_id=network_offer_id).first()
    if offer is None:
        raise ValidationError({"offer_id": f"Unknown offer {network_offer_id}."})
    return offer


def _event_types(codes: Sequence[str]) -> list[EventType]:
    if not codes:
        raise ValidationError({"event_types": "Choose at least one event type."})
    found = list(EventType.objects.filter(code__in=list(codes)))
    unknown = sorted(set(codes) - {event_type.code for event_type in found})
    if unknown:
        listing = ", ".join(repr(code) for code in unknown)
        raise ValidationError({"event_types": f"Unknown event type {listing}."})
    return found


def _endpoint_save(endpoint: PostbackEndpoint, event_types: list[EventType] | None) -> None:
    endpoint.full_clean()
    with transaction.atomic():
        endpoint.save()
        if event_types is not None:
            endpoint.event_types.set(event_types)


def endpoint_create(
    *,
    affiliate_id: int,
    event_types: Sequence[str],
    url_template: str,
    offer_id: int | None = None,
    method: str = PostbackEndpoint.Method.GET,
    status: str = PostbackEndpoint.Status.DRAFT,
    disabled_reason: str = "",
    test_link: str = "",
) -> PostbackEndpoint:
    """A new endpoint; its template is checked against the affiliate's tracker params."""
    endpoint = PostbackEndpoint(
        affiliate=_affiliate(affiliate_id),
        offer=_offer(offer_id),
        url_template=url_template,
        method=method,
        status=status,
        disabled_reason=disabled_reason,
        test_link=test_link,
    )
    _endpoint_save(endpoint, _event_types(event_types))
    return endpoint


def endpoint_update(*, endpoint: PostbackEndpoint, data: Mapping[str, Any]) -> PostbackEndpoint:
    """Change the given fields (names from ENDPOINT_FIELDS, ids as in endpoint_create)."""
    unknown = set(data) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ValueError(f"not endpoint fields: {sorted(unknown)}")
    if "affiliate_id" in data:
        endpoint.affiliate = _affiliate(data["affiliate_id"])
    if "offer_id" in data:
        endpoint.offer = _offer(data["offer_id"])
    event_types = _event_types(data["event_types"]) if "event_types" in data else None
    for name in ("url_template", "method", "status", "disabled_reason", "test_link"):
        if name in data:
            setattr(endpoint, name, data[name])
    _endpoint_save(endpoint, event_types)
    return endpoint


def endpoint_delete(*, endpoint: PostbackEndpoint) -> None:
    """Delete an endpoint that never had a delivery; one with deliveries keeps its history."""
    delete_or_refuse(
        endpoint,
        refusal=f"Postback endpoint #{endpoint.pk} has deliveries and cannot be deleted; "
        "disable it instead.",
    )
