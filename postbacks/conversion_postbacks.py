"""The postbacks a conversion calls for: which endpoints fire for it at a status, and the URL
each one is sent, rendered from the endpoint's template. Ingest, status changes and mending all
build their deliveries here, so a rule about which postbacks go out lives in one place."""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks import lifecycle
from postbacks.delivery_writes import Row, delivery_row
from postbacks.endpoint_secrets import endpoint_signing_keys
from postbacks.macros import (
    TemplateError,
    format_amount,
    known_amount,
    macro_values,
    network_values,
    render_url,
)
from postbacks.models import Conversion, EventType, PostbackEndpoint
from postbacks.selectors import endpoints_firing

logger = logging.getLogger(__name__)


SigningKeys = Mapping[int, tuple[bytes, ...]]


def signing_keys_for(endpoints: Iterable[PostbackEndpoint]) -> SigningKeys:
    """The signing keys of those of `endpoints` whose template carries {signature}, read once
    for a whole batch; no query at all when none does."""
    signing = [endpoint.pk for endpoint in endpoints if "{signature}" in endpoint.url_template]
    return endpoint_signing_keys(endpoint_ids=signing) if signing else {}


@dataclass(frozen=True, slots=True)
class StoredConversion:
    """A conversion as ingest holds it, new or stored before: the row's values with its event
    type, offer and affiliate (objects a whole batch shares), under the model's own names, so a
    batch of a thousand answers builds no model instance."""

    pk: int
    transaction_id: str
    event_type: EventType
    offer: Offer
    affiliate: Affiliate | None
    tracker_raw: str
    tracker_values: Mapping[str, str]
    amount: Decimal | None
    currency: str
    occurred_at: datetime
    attribution: str
    attribution_error: str
    status: str

    @property
    def event_type_id(self) -> int:
        return self.event_type.pk

    @property
    def offer_id(self) -> int:
        return self.offer.pk

    @property
    def affiliate_id(self) -> int | None:
        return self.affiliate.pk if self.affiliate else None

    @classmethod
    def of(cls, conversion: Conversion) -> "StoredConversion":
        """From a stored Conversion (read with its event type, offer and affiliate)."""
        return cls(
            pk=conversion.pk,
            transaction_id=conversion.transaction_id,
            event_type=conversion.event_type,
            offer=conversion.offer,
            affiliate=conversion.affiliate,
            tracker_raw=conversion.tracker_raw,
            tracker_values=conversion.tracker_values or {},
            amount=conversion.amount,
            currency=conversion.currency,
            occurred_at=conversion.occurred_at,
            attribution=conversion.attribution,
            attribution_error=conversion.attribution_error,
            status=conversion.status,
        )


@dataclass(frozen=True, slots=True)
class ConversionFacts:
    """What a conversion's postbacks tell of it, as plain values: taken from a Conversion, or
    from a query's row when a batch renders a thousand postbacks without building models."""

    conversion_id: int
    transaction_id: str
    event_type_id: int
    event: str
    event_name: str
    offer_id: int
    offer_network_id: int
    offer_name: str
    offer_kind: str
    payout: Decimal | None
    affiliate_network_id: int | None
    tracker_values: Mapping[str, str]
    amount: Decimal | None
    currency: str
    occurred_at: datetime

    @classmethod
    def of(cls, conversion: Conversion | StoredConversion) -> "ConversionFacts":
        offer, event_type = conversion.offer, conversion.event_type
        return cls(
            conversion_id=conversion.pk,
            transaction_id=conversion.transaction_id,
            event_type_id=event_type.pk,
            event=event_type.code,
            event_name=event_type.name,
            offer_id=offer.pk,
            offer_network_id=offer.network_offer_id,
            offer_name=offer.name,
            offer_kind=offer.kind,
            payout=offer.payout,
            affiliate_network_id=conversion.affiliate.network_id if conversion.affiliate else None,
            tracker_values=conversion.tracker_values or {},
            amount=conversion.amount,
            currency=conversion.currency,
            occurred_at=conversion.occurred_at,
        )


class FiringEndpoints:
    """Which of the affiliates' live endpoints fire for a conversion of an offer and an event
    type (selectors.endpoints_firing), worked out once per combination: a batch names a few
    affiliates, offers and events a thousand times."""

    def __init__(self, endpoints: Mapping[int, Sequence[PostbackEndpoint]]) -> None:
        self.endpoints = endpoints
        self._firing: dict[tuple[int, int, int], list[PostbackEndpoint]] = {}

    def of(self, *, affiliate_id: int, offer_id: int, event_type_id: int) -> list[PostbackEndpoint]:
        key = (affiliate_id, offer_id, event_type_id)
        firing = self._firing.get(key)
        if firing is None:
            firing = self._firing[key] = endpoints_firing(
                self.endpoints.get(affiliate_id, []), offer_id=offer_id, event_type_id=event_type_id
            )
        return firing


def _network_values(
    facts: ConversionFacts,
    *,
    endpoint: PostbackEndpoint,
    status: str,
    reason: str,
    signing_keys: SigningKeys | None,
) -> dict[str, str]:
    signing_key = None
    if "{signature}" in endpoint.url_template:
        if signing_keys is None:
            signing_keys = signing_keys_for([endpoint])
        keys = signing_keys.get(endpoint.pk, ())
        signing_key = keys[0] if keys else None
    return network_values(
        transaction_id=facts.transaction_id,
        conversion_id=facts.conversion_id,
        event=facts.event,
        event_name=facts.event_name,
        offer_id=facts.offer_network_id,
        offer_name=facts.offer_name,
        offer_kind=facts.offer_kind,
        affiliate_id=facts.affiliate_network_id,
        amount=known_amount(amount=facts.amount, offer_kind=facts.offer_kind, payout=facts.payout),
        currency=facts.currency,
        occurred_at=facts.occurred_at,
        status=status,
        status_values=endpoint.status_values or {},
        reason=reason,
        postback_id=lifecycle.postback_id(
            conversion_id=facts.conversion_id, endpoint_id=endpoint.pk, status=status
        ),
        signing_key=signing_key,
    )


def conversion_network_values(
    conversion: Conversion,
    *,
    endpoint: PostbackEndpoint,
    status: str,
    reason: str,
    signing_keys: SigningKeys | None = None,
) -> dict[str, str]:
    """The network macros of the postback that tells `endpoint` of `conversion` at `status`
    (`signing_keys`: read beforehand for a batch, else read here when the template signs)."""
    return _network_values(
        ConversionFacts.of(conversion),
        endpoint=endpoint,
        status=status,
        reason=reason,
        signing_keys=signing_keys,
    )


def conversion_amount_notes(conversion: Conversion | StoredConversion) -> list[str]:
    """What the ingest answer says of the amount postbacks carry, when it is not as posted."""
    offer = conversion.offer
    if conversion.amount is not None or offer.kind != "pps" or offer.payout is None:
        return []
    payout = format_amount(offer.payout)
    return [
        f"no amount posted: postbacks carry the payout of offer {offer.network_offer_id}, "
        f"{payout} {offer.currency or conversion.currency}".rstrip()
    ]


def _render(
    facts: ConversionFacts,
    *,
    endpoint: PostbackEndpoint,
    status: str,
    reason: str,
    signing_keys: SigningKeys | None,
) -> str:
    values = macro_values(
        network=_network_values(
            facts, endpoint=endpoint, status=status, reason=reason, signing_keys=signing_keys
        ),
        tracker=facts.tracker_values,
        tracker_params=endpoint.affiliate.tracker_params or [],
    )
    return render_url(endpoint.url_template, values)


def endpoint_render(
    *,
    endpoint: PostbackEndpoint,
    conversion: Conversion,
    status: str,
    reason: str = "",
    signing_keys: SigningKeys | None = None,
) -> str:
    return _render(
        ConversionFacts.of(conversion),
        endpoint=endpoint,
        status=status,
        reason=reason,
        signing_keys=signing_keys,
    )


def postbacks_render(
    *,
    facts: ConversionFacts,
    endpoints: Sequence[PostbackEndpoint],
    status: str,
    reason: str = "",
    signing_keys: SigningKeys | None = None,
) -> list[tuple[PostbackEndpoint, str]]:
    """Of `endpoints` (those firing for the conversion, selectors.endpoints_firing), the ones
    that fire on `status`, each with its URL (an endpoint that fires on approval only holds a
    pending sale, and never hears of a rejected one). An endpoint whose template cannot be
    rendered is logged and skipped (validation makes that rare). A caller building for many
    conversions passes `signing_keys` from `signing_keys_for` so the keys are read once, not
    once per postback."""
    firing = [endpoint for endpoint in endpoints if lifecycle.fires(endpoint.fire_on, status)]
    if signing_keys is None:
        signing_keys = signing_keys_for(firing)
    rendered = []
    for endpoint in firing:
        try:
            url = _render(
                facts, endpoint=endpoint, status=status, reason=reason, signing_keys=signing_keys
            )
        except TemplateError as exc:
            logger.error(
                "endpoint %s cannot render for conversion %s: %s",
                endpoint.pk,
                facts.conversion_id,
                exc,
            )
            continue
        rendered.append((endpoint, url))
    return rendered


def deliveries_rows(
    *,
    facts: ConversionFacts,
    endpoints: Sequence[PostbackEndpoint],
    status: str,
    reason: str = "",
    signing_keys: SigningKeys | None = None,
) -> list[Row]:
    """Delivery rows (postbacks/delivery_writes.py) telling of the conversion at `status`, for
    those of `endpoints` (the ones firing for it, FiringEndpoints) that fire on that status (see
    postbacks_render)."""
    return [
        delivery_row(conversion_id=facts.conversion_id, endpoint=endpoint, status=status, url=url)
        for endpoint, url in postbacks_render(
            facts=facts,
            endpoints=endpoints,
            status=status,
            reason=reason,
            signing_keys=signing_keys,
        )
    ]
