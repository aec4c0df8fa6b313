"""The postbacks a conversion calls for: which endpoints fire for it at a status, and the URL
each one is sent, rendered from the endpoint's template. Ingest, status changes and mending all
build their deliveries here, so a rule about which postbacks go out lives in one place."""

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from postbacks import lifecycle
from postbacks.endpoint_secrets import endpoint_signing_keys
from postbacks.macros import (
    TemplateError,
    format_amount,
    known_amount,
    macro_values,
    network_values,
    render_url,
)
from postbacks.models import Conversion, Delivery, PostbackEndpoint
from postbacks.selectors import endpoints_firing

logger = logging.getLogger(__name__)


SigningKeys = Mapping[int, tuple[bytes, ...]]


def signing_keys_for(endpoints: Iterable[PostbackEndpoint]) -> SigningKeys:
    """The signing keys of those of `endpoints` whose template carries {signature}, read once
    for a whole batch; no query at all when none does."""
    signing = [endpoint.pk for endpoint in endpoints if "{signature}" in endpoint.url_template]
    return endpoint_signing_keys(endpoint_ids=signing) if signing else {}


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
    signing_key = None
    if "{signature}" in endpoint.url_template:
        if signing_keys is None:
            signing_keys = signing_keys_for([endpoint])
        keys = signing_keys.get(endpoint.pk, ())
        signing_key = keys[0] if keys else None
    return network_values(
        transaction_id=conversion.transaction_id,
        conversion_id=conversion.pk,
        event=conversion.event_type.code,
        event_name=conversion.event_type.name,
        offer_id=conversion.offer.network_offer_id,
        offer_name=conversion.offer.name,
        offer_kind=conversion.offer.kind,
        affiliate_id=conversion.affiliate.network_id if conversion.affiliate else None,
        amount=known_amount(
            amount=conversion.amount,
            offer_kind=conversion.offer.kind,
            payout=conversion.offer.payout,
        ),
        currency=conversion.currency,
        occurred_at=conversion.occurred_at,
        status=status,
        status_values=endpoint.status_values or {},
        reason=reason,
        postback_id=lifecycle.postback_id(
            conversion_id=conversion.pk, endpoint_id=endpoint.pk, status=status
        ),
        signing_key=signing_key,
    )


def conversion_amount_notes(conversion: Conversion) -> list[str]:
    """What the ingest answer says of the amount postbacks carry, when it is not as posted."""
    offer = conversion.offer
    if conversion.amount is not None or offer.kind != "pps" or offer.payout is None:
        return []
    payout = format_amount(offer.payout)
    return [
        f"no amount posted: postbacks carry the payout of offer {offer.network_offer_id}, "
        f"{payout} {offer.currency or conversion.currency}".rstrip()
    ]


def endpoint_render(
    *,
    endpoint: PostbackEndpoint,
    conversion: Conversion,
    status: str,
    reason: str = "",
    signing_keys: SigningKeys | None = None,
) -> str:
    params = endpoint.affiliate.tracker_params or []
    values = macro_values(
        network=conversion_network_values(
            conversion, endpoint=endpoint, status=status, reason=reason, signing_keys=signing_keys
        ),
        tracker=conversion.tracker_values or {},
        tracker_params=params,
    )
    return render_url(endpoint.url_template, values)


def deliveries_build(
    *,
    conversion: Conversion,
    endpoints: Sequence[PostbackEndpoint],
    status: str,
    reason: str = "",
    now: datetime,
    signing_keys: SigningKeys | None = None,
) -> list[Delivery]:
    """Delivery rows telling of `conversion` at `status`, for the endpoints that fire for it and
    on that status (an endpoint that fires on approval only holds a pending sale, and never hears
    of a rejected one). An endpoint whose template cannot be rendered is logged and skipped
    (validation makes that rare). A caller building for many conversions passes `signing_keys`
    from `signing_keys_for` so the keys are read once, not once per postback."""
    deliveries = []
    firing = [
        endpoint
        for endpoint in endpoints_firing(
            endpoints, offer_id=conversion.offer_id, event_type_id=conversion.event_type_id
        )
        if lifecycle.fires(endpoint.fire_on, status)
    ]
    if signing_keys is None:
        signing_keys = signing_keys_for(firing)
    for endpoint in firing:
        try:
            url = endpoint_render(
                endpoint=endpoint,
                conversion=conversion,
                status=status,
                reason=reason,
                signing_keys=signing_keys,
            )
        except TemplateError as exc:
            logger.error(
                "endpoint %s cannot render for conversion %s: %s", endpoint.pk, conversion.pk, exc
            )
            continue
        deliveries.append(
            Delivery(
                conversion=conversion,
                endpoint=endpoint,
                status=status,
                url=url,
                method=endpoint.method,
                next_attempt_at=now,
                enqueued_at=now,
            )
        )
    return deliveries
