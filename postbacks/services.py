"""Writes for conversions: ingest (SPEC §3, §5) and the deliveries it creates (SPEC §4, §6)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks.delivery import services as delivery_services
from postbacks.delivery.queue import enqueue_ids
from postbacks.macros import TemplateError, macro_values, render_url
from postbacks.models import Conversion, Delivery, EventType, PostbackEndpoint
from postbacks.selectors import endpoints_for_event
from postbacks.tracker import TrackerError, parse_tracker, split_network_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attribution:
    affiliate: Affiliate | None
    values: dict[str, str]
    error: str = ""


def tracker_attribute(*, tracker: str, affiliate_id: int | None) -> Attribution:
    """Find the affiliate and its tracker values (SPEC §3); the reason when that cannot be done."""
    tracker = tracker.strip()
    network_id = affiliate_id
    if network_id is None:
        prefixes = Affiliate.objects.values_list("tracker_prefix", flat=True).distinct()
        network_id, _prefix = split_network_id(tracker, prefixes=list(prefixes))
        if network_id is None:
            reason = (
                "no affiliate id given and none found in the tracker"
                if tracker
                else ("no affiliate id and no tracker given")
            )
            return Attribution(None, {}, reason)
    affiliate = Affiliate.objects.filter(network_id=network_id).first()
    if affiliate is None:
        return Attribution(None, {}, f"unknown affiliate {network_id}")
    if not tracker:
        return Attribution(affiliate, {name: "" for name in affiliate.tracker_params}, "")
    try:
        values = parse_tracker(tracker, affiliate.tracker_format, network_id=network_id)
    except TrackerError as exc:
        return Attribution(None, {}, f"affiliate {network_id}: {exc}")
    return Attribution(affiliate, values)


def format_amount(amount: Decimal | None) -> str:
    """Money as trackers expect it: at least two decimals, more only when they carry a value
    (35 -> "35.00", 1.2345 -> "1.2345")."""
    if amount is None:
        return ""
    text = format(amount.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def conversion_network_values(conversion: Conversion) -> dict[str, str]:
    occurred = conversion.occurred_at.astimezone(UTC)
    return {
        "transaction_id": conversion.transaction_id,
        "conversion_id": str(conversion.pk),
        "event": conversion.event_type.code,
        "event_name": conversion.event_type.name,
        "offer_id": str(conversion.offer.network_offer_id),
        "offer_name": conversion.offer.name,
        "offer_kind": conversion.offer.kind,
        "affiliate_id": str(conversion.affiliate.network_id) if conversion.affiliate else "",
        "amount": format_amount(conversion.amount),
        "currency": conversion.currency,
        "timestamp": str(int(occurred.timestamp())),
        "datetime": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def endpoint_render(*, endpoint: PostbackEndpoint, conversion: Conversion) -> str:
    params = endpoint.affiliate.tracker_params or []
    values = macro_values(
        network=conversion_network_values(conversion),
        tracker=conversion.tracker_values or {},
        tracker_params=params,
    )
    return render_url(endpoint.url_template, values)


def deliveries_create(*, conversion: Conversion) -> list[Delivery]:
    """Delivery rows for every endpoint that fires for this conversion, in the caller's
    transaction. An endpoint whose template cannot be rendered is logged and skipped."""
    if conversion.affiliate is None:
        return []
    now = timezone.now()
    deliveries = []
    for endpoint in endpoints_for_event(
        affiliate=conversion.affiliate, offer=conversion.offer, event_type=conversion.event_type
    ):
        try:
            url = endpoint_render(endpoint=endpoint, conversion=conversion)
        except TemplateError as exc:
            logger.error(
                "endpoint %s cannot render for conversion %s: %s", endpoint.pk, conversion.pk, exc
            )
            continue
        deliveries.append(
            Delivery(
                conversion=conversion,
                endpoint=endpoint,
                url=url,
                method=endpoint.method,
                next_attempt_at=now,
                enqueued_at=now,
            )
        )
    return Delivery.objects.bulk_create(deliveries)


@dataclass(frozen=True)
class IngestResult:
    conversion: Conversion
    created: bool
    delivery_ids: list[int]


def conversion_ingest(
    *,
    transaction_id: str,
    event: str,
    offer_id: int,
    tracker: str = "",
    affiliate_id: int | None = None,
    amount: Decimal | None = None,
    currency: str = "",
    occurred_at: datetime | None = None,
) -> IngestResult:
    """Store one conversion event and its deliveries, once.

    The same (transaction_id, event) again, even at the same moment from another process, gives
    back the first conversion and creates nothing. Deliveries go to the queue after commit."""
    event_type = EventType.objects.filter(code=event, is_active=True).first()
    if event_type is None:
        raise ValidationError({"event": f"Unknown or inactive event {event!r}."})
    offer = Offer.objects.filter(network_offer_id=offer_id).first()
    if offer is None:
        raise ValidationError({"offer_id": f"Unknown offer {offer_id}."})
    existing = _existing(transaction_id=transaction_id, event_type=event_type)
    if existing is not None:
        return existing
    attribution = tracker_attribute(tracker=tracker, affiliate_id=affiliate_id)
    conversion = Conversion(
        transaction_id=transaction_id,
        event_type=event_type,
        offer=offer,
        affiliate=attribution.affiliate,
        tracker_raw=tracker,
        tracker_values=attribution.values,
        amount=amount,
        currency=(currency or offer.currency).upper(),
        occurred_at=occurred_at or timezone.now(),
        attribution=(
            Conversion.Attribution.ATTRIBUTED
            if attribution.affiliate
            else Conversion.Attribution.UNATTRIBUTED
        ),
        attribution_error=attribution.error[:500],
    )
    try:
        with transaction.atomic():
            conversion.save(force_insert=True)
            delivery_ids = [d.pk for d in deliveries_create(conversion=conversion)]
            transaction.on_commit(lambda: enqueue_ids(delivery_ids))
    except IntegrityError:
        # A twin got in first (the unique constraint is the arbiter); answer with its result.
        existing = _existing(transaction_id=transaction_id, event_type=event_type)
        if existing is None:
            raise
        return existing
    return IngestResult(conversion, True, delivery_ids)


def _existing(*, transaction_id: str, event_type: EventType) -> IngestResult | None:
    conversion = (
        Conversion.objects.select_related("event_type", "offer", "affiliate")
        .filter(transaction_id=transaction_id, event_type=event_type)
        .first()
    )
    if conversion is None:
        return None
    ids = list(
        conversion.deliveries.filter(is_test=False).order_by("pk").values_list("pk", flat=True)
    )
    return IngestResult(conversion, False, ids)


def deliveries_replay(*, delivery_ids: Sequence[int]) -> list[int]:
    """Account managers' replay: due now whatever the state, then queued (SPEC §6)."""
    ids = delivery_services.deliveries_replay(delivery_ids=delivery_ids)
    enqueue_ids(ids, trigger="manual")
    return ids
