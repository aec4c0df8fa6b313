"""Reads for postbacks."""

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence

from django.db.models import Prefetch, QuerySet

from affiliates.models import Affiliate
from postbacks.models import (
    Conversion,
    Delivery,
    DeliveryAttempt,
    PostbackEndpoint,
)

Status = PostbackEndpoint.Status


def endpoints_by_affiliate(
    *, affiliate_ids: Collection[int], statuses: Iterable[str] = (Status.LIVE,)
) -> dict[int, list[PostbackEndpoint]]:
    """The endpoints (in `statuses`) of active affiliates, with their event type ids, in one go."""
    endpoints = (
        PostbackEndpoint.objects.filter(
            affiliate_id__in=list(affiliate_ids),
            affiliate__status=Affiliate.Status.ACTIVE,
            status__in=list(statuses),
        )
        .select_related("affiliate")
        .prefetch_related("event_types")
        .order_by("pk")
    )
    grouped: dict[int, list[PostbackEndpoint]] = defaultdict(list)
    for endpoint in endpoints:
        grouped[endpoint.affiliate_id].append(endpoint)
    return grouped


def endpoints_firing(
    endpoints: Sequence[PostbackEndpoint], *, offer_id: int, event_type_id: int
) -> list[PostbackEndpoint]:
    """docs/spec.md §4: of one affiliate's endpoints, those subscribed to the event; the ones bound
    to the offer replace the all-offer ones, never both; several at one level all fire."""
    subscribed = [e for e in endpoints if any(t.pk == event_type_id for t in e.event_types.all())]
    offer_level = [e for e in subscribed if e.offer_id == offer_id]
    return offer_level or [e for e in subscribed if e.offer_id is None]


def deliveries_with_attempts() -> QuerySet[Delivery]:
    """Deliveries with their attempts in order, in two queries."""
    return Delivery.objects.order_by("pk").prefetch_related(
        Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("number"))
    )


def conversions_with_deliveries() -> QuerySet[Conversion]:
    """Conversions with their deliveries and each delivery's attempts, in three queries."""
    deliveries = deliveries_with_attempts()
    return Conversion.objects.select_related("event_type", "offer", "affiliate").prefetch_related(
        Prefetch("deliveries", queryset=deliveries)
    )


def endpoint_list(
    *, affiliate_network_id: int | None = None, status: str | None = None
) -> QuerySet[PostbackEndpoint]:
    """Endpoints with what their list shows, optionally of one affiliate or in one status."""
    endpoints = PostbackEndpoint.objects.select_related("affiliate", "offer").prefetch_related(
        "event_types"
    )
    if affiliate_network_id is not None:
        endpoints = endpoints.filter(affiliate__network_id=affiliate_network_id)
    if status is not None:
        endpoints = endpoints.filter(status=status)
    return endpoints


def conversion_ids_by_key(*, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The ids of the conversions named by (transaction_id, event code), in one query on the
    unique (transaction_id, event_type) index; names that match nothing are left out."""
    wanted = set(keys)
    found = Conversion.objects.filter(
        transaction_id__in={transaction_id for transaction_id, _ in wanted}
    ).values_list("transaction_id", "event_type__code", "pk")
    return {(tx, code): pk for tx, code, pk in found if (tx, code) in wanted}
