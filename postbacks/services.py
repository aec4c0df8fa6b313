"""Writes for conversions: ingest (docs/spec.md §3, §5) and the deliveries it creates (docs/spec.md
§4, §6)."""

import dataclasses
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks import lifecycle, lookups
from postbacks.conversion_postbacks import (
    ConversionFacts,
    FiringEndpoints,
    StoredConversion,
    deliveries_rows,
    signing_keys_for,
)
from postbacks.conversion_writes import conversion_row, conversions_store
from postbacks.delivery.queue import enqueue_ids
from postbacks.delivery_writes import Row, deliveries_insert
from postbacks.ingest_answers import ConversionFacts as RepeatFacts
from postbacks.ingest_answers import (
    IgnoredValue,
    empty_params_warnings,
    quiet_notes,
    repeat_ignored,
)
from postbacks.models import Conversion, Delivery, EventType, PostbackEndpoint
from postbacks.selectors import (
    IngestReads,
    affiliates_by_network_id,
    endpoints_by_affiliate,
    endpoints_firing,
    ingest_reads,
)
from postbacks.tracker import TrackerError, parse_tracker, split_network_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attribution:
    affiliate: Affiliate | None
    values: dict[str, str]
    error: str = ""


class AffiliateBook:
    """Affiliates by network id, loaded once for a whole batch of trackers: by `read` (given the
    network ids the trackers name) when the caller reads more with them, as ingest does."""

    def __init__(
        self,
        *,
        trackers: Sequence[tuple[str, int | None]],
        read: Callable[[set[int]], dict[int, Affiliate]] | None = None,
    ) -> None:
        self._prefixes: list[str] | None = None
        self._fresh = False
        wanted = {network_id for _, network_id in trackers if network_id is not None}
        for tracker, network_id in trackers:
            if network_id is None and tracker.strip():
                found = self.network_id_in(tracker.strip())
                if found is not None:
                    wanted.add(found)
        self.by_network_id = read(wanted) if read else affiliates_by_network_id(network_ids=wanted)

    def network_id_in(self, tracker: str) -> int | None:
        """The leading network id, by the affiliates' prefixes (asked again from the database
        when the cached ones explain nothing: the prefix may be new)."""
        if self._prefixes is None:
            self._prefixes = lookups.tracker_prefixes()
        found, _ = split_network_id(tracker, prefixes=self._prefixes)
        if found is None and not self._fresh:
            self._prefixes, self._fresh = lookups.tracker_prefixes(fresh=True), True
            found, _ = split_network_id(tracker, prefixes=self._prefixes)
        return found

    def attribute(self, *, tracker: str, affiliate_id: int | None) -> Attribution:
        """Find the affiliate and its tracker values (docs/spec.md §3), or the reason it can't be
        done."""
        tracker = tracker.strip()
        network_id = affiliate_id
        if network_id is None:
            network_id = self.network_id_in(tracker)
            if network_id is None:
                reason = (
                    "no affiliate id given and none found in the tracker"
                    if tracker
                    else "no affiliate id and no tracker given"
                )
                return Attribution(None, {}, reason)
        affiliate = self.by_network_id.get(network_id)
        if affiliate is None:
            return Attribution(None, {}, f"unknown affiliate {network_id}")
        if not tracker:
            return Attribution(affiliate, {name: "" for name in affiliate.tracker_params}, "")
        try:
            values = parse_tracker(tracker, affiliate.tracker_format, network_id=network_id)
        except TrackerError as exc:
            return Attribution(None, {}, f"affiliate {network_id}: {exc}")
        return Attribution(affiliate, values)


def conversion_deliveries_create(*, conversion: Conversion, now: datetime) -> list[int]:
    """The deliveries a stored conversion calls for at its current status, chosen and built as
    ingest does, for one attributed after ingest; queued on commit. Call it once per conversion
    (the caller's guarded change decides that; the unique (conversion, endpoint, status)
    constraint backs it)."""
    if conversion.affiliate_id is None:
        return []
    firing = FiringEndpoints(endpoints_by_affiliate(affiliate_ids={conversion.affiliate_id}))
    rows = deliveries_rows(
        facts=ConversionFacts.of(conversion),
        endpoints=firing.of(
            affiliate_id=conversion.affiliate_id,
            offer_id=conversion.offer_id,
            event_type_id=conversion.event_type_id,
        ),
        status=conversion.status,
        reason=conversion.status_reason,
    )
    delivery_ids = deliveries_insert(rows, now=now).get(conversion.pk, [])
    transaction.on_commit(lambda: enqueue_ids(delivery_ids))
    return delivery_ids


def conversion_quiet_notes(*, conversion: Conversion) -> list[str]:
    """Why a stored conversion fires nothing now, in the words of ingest's notes (reads its
    affiliate's live endpoints)."""
    stored = StoredConversion.of(conversion)
    if conversion.affiliate_id is None:
        return _quiet_notes(stored, [])
    endpoints = endpoints_by_affiliate(affiliate_ids={conversion.affiliate_id})
    return _quiet_notes(stored, endpoints.get(conversion.affiliate_id, []))


def _quiet_notes(conversion: StoredConversion, endpoints: Sequence[PostbackEndpoint]) -> list[str]:
    """Why nothing fires for a conversion, given its affiliate's live endpoints (no query)."""
    affiliate = conversion.affiliate
    firing = (
        endpoints_firing(
            endpoints, offer_id=conversion.offer_id, event_type_id=conversion.event_type_id
        )
        if affiliate
        else []
    )
    return quiet_notes(
        event=conversion.event_type.code,
        unattributed_reason=conversion.attribution_error,
        affiliate_id=affiliate.network_id if affiliate else None,
        affiliate_status=affiliate.status if affiliate else "",
        firing_endpoint_ids=[e.pk for e in firing if lifecycle.fires(e.fire_on, conversion.status)],
        status=conversion.status,
        held_endpoint_ids=[
            e.pk for e in firing if not lifecycle.fires(e.fire_on, conversion.status)
        ],
    )


@dataclass(frozen=True)
class IngestItem:
    transaction_id: str
    event: str
    offer_id: int
    tracker: str = ""
    affiliate_id: int | None = None
    amount: Decimal | None = None
    currency: str = ""
    occurred_at: datetime | None = None
    status: str = lifecycle.DEFAULT_STATUS


@dataclass(frozen=True)
class IngestResult:
    conversion: StoredConversion
    created: bool
    delivery_ids: list[int]
    # For a repeat: the fields it sent differently, [stored, sent], all ignored.
    ignored: dict[str, list[IgnoredValue]] = dataclasses.field(default_factory=dict)
    # For a new conversion: why nothing fires (when nothing does), and tracker params left empty.
    notes: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)


def _new_result(
    conversion: StoredConversion, delivery_ids: list[int], endpoints: Sequence[PostbackEndpoint]
) -> IngestResult:
    """A new conversion's answer: its deliveries, with the notes and warnings it calls for. All
    from what ingest has in hand: no query."""
    affiliate = conversion.affiliate
    notes = [] if delivery_ids else _quiet_notes(conversion, endpoints)
    warnings = (
        empty_params_warnings(
            values=conversion.tracker_values or {}, params=affiliate.tracker_params or []
        )
        if affiliate
        else []
    )
    return IngestResult(conversion, True, delivery_ids, notes=notes, warnings=warnings)


def _as_repeat(result: IngestResult, item: IngestItem) -> IngestResult:
    """The stored conversion's answer to a repeat, with what the repeat said differently. Only
    repeats pay for this: the stored conversion is already loaded with its offer and affiliate."""
    stored = result.conversion
    facts = RepeatFacts(
        offer_id=stored.offer.network_offer_id,
        tracker=stored.tracker_raw,
        affiliate_id=stored.affiliate.network_id if stored.affiliate else None,
        amount=stored.amount,
        currency=stored.currency,
        occurred_at=stored.occurred_at,
    )
    sent = RepeatFacts(
        offer_id=item.offer_id,
        tracker=item.tracker,
        affiliate_id=item.affiliate_id,
        amount=item.amount,
        currency=item.currency,
        occurred_at=item.occurred_at,
    )
    return dataclasses.replace(
        result,
        created=False,
        notes=[],
        warnings=[],
        ignored=repeat_ignored(stored=facts, sent=sent),
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    """An item that may be new: its row, and what its answer and its postbacks are made of."""

    index: int
    row: Row
    event_type: EventType
    offer: Offer
    attribution: Attribution
    currency: str
    occurred_at: datetime

    def stored(self, item: IngestItem, pk: int) -> StoredConversion:
        return StoredConversion(
            pk=pk,
            transaction_id=item.transaction_id,
            event_type=self.event_type,
            offer=self.offer,
            affiliate=self.attribution.affiliate,
            tracker_raw=item.tracker,
            tracker_values=self.attribution.values,
            amount=item.amount,
            currency=self.currency,
            occurred_at=self.occurred_at,
            attribution=self.row["attribution"],
            attribution_error=self.row["attribution_error"],
            status=item.status,
        )


def conversions_ingest(*, items: Sequence[IngestItem]) -> list[IngestResult | ValidationError]:
    """Store conversion events and their deliveries, each once, in one transaction.

    One result per item, in order: the stored conversion (`created` False when the same
    (transaction_id, event) was stored before, then nothing new is created and nothing fires
    twice), or the ValidationError saying why the item was refused. Deliveries are handed to
    the queue after commit; a bad item never sinks the others.

    Conversions and deliveries are built as plain rows (conversion_writes, delivery_writes), not
    model instances: for a batch of a thousand that was most of the Python it cost."""
    now = timezone.now()
    event_types = lookups.active_event_types({i.event for i in items})
    offers = lookups.offers_by_network_id({i.offer_id for i in items})
    results: list[IngestResult | ValidationError | None] = [None] * len(items)
    first_of: dict[tuple[str, int], int] = {}
    twins: list[tuple[int, int]] = []
    fresh: list[tuple[int, EventType, Offer]] = []
    for index, item in enumerate(items):
        event_type = event_types.get(item.event)
        if event_type is None:
            results[index] = ValidationError(
                {"event": f"Unknown or inactive event {item.event!r}."}
            )
            continue
        offer = offers.get(item.offer_id)
        if offer is None:
            results[index] = ValidationError({"offer_id": f"Unknown offer {item.offer_id}."})
            continue
        key = (item.transaction_id, event_type.pk)
        if key in first_of:
            twins.append((index, first_of[key]))
            continue
        first_of[key] = index
        fresh.append((index, event_type, offer))
    # The affiliates, their endpoints and the new conversions' ids: one statement.
    reads: list[IngestReads] = []

    def read(network_ids: set[int]) -> dict[int, Affiliate]:
        reads.append(ingest_reads(network_ids=network_ids, new_conversions=len(fresh)))
        return reads[0].affiliates

    book = AffiliateBook(
        trackers=[(items[i].tracker, items[i].affiliate_id) for i, _, _ in fresh], read=read
    )
    (found,) = reads
    candidates: list[_Candidate] = []
    for index, event_type, offer in fresh:
        item = items[index]
        attribution = book.attribute(tracker=item.tracker, affiliate_id=item.affiliate_id)
        affiliate = attribution.affiliate
        currency = (item.currency or offer.currency).upper()
        occurred_at = item.occurred_at or now
        row = conversion_row(
            transaction_id=item.transaction_id,
            event_type_id=event_type.pk,
            offer_id=offer.pk,
            affiliate_id=affiliate.pk if affiliate else None,
            tracker_raw=item.tracker,
            tracker_values=attribution.values,
            amount=item.amount,
            currency=currency,
            occurred_at=occurred_at,
            attribution=(
                Conversion.Attribution.ATTRIBUTED.value
                if affiliate
                else Conversion.Attribution.UNATTRIBUTED.value
            ),
            attribution_error=attribution.error[:500],
            status=item.status,
        )
        candidates.append(
            _Candidate(index, row, event_type, offer, attribution, currency, occurred_at)
        )
    endpoints = found.endpoints
    firing = FiringEndpoints(endpoints)
    signing_keys = signing_keys_for(e for listed in endpoints.values() for e in listed)
    stored: dict[int, StoredConversion] = {}

    def build(position: int) -> list[Row]:
        candidate = candidates[position]
        conversion = stored[position] = candidate.stored(
            items[candidate.index], candidate.row["id"]
        )
        if conversion.affiliate is None:
            return []
        return deliveries_rows(
            facts=ConversionFacts.of(conversion),
            endpoints=firing.of(
                affiliate_id=conversion.affiliate.pk,
                offer_id=conversion.offer.pk,
                event_type_id=conversion.event_type.pk,
            ),
            status=conversion.status,
            signing_keys=signing_keys,
        )

    created = conversions_store(
        [c.row for c in candidates], build=build, now=now, ids=found.conversion_ids
    )
    delivery_ids = sorted(pk for listed in created.values() for pk in listed)
    transaction.on_commit(lambda: enqueue_ids(delivery_ids))
    old: dict[int, _Candidate] = {}
    for position, candidate in enumerate(candidates):
        pk = candidate.row.get("id")
        if pk in created:
            conversion = stored[position]
            results[candidate.index] = _new_result(
                conversion,
                created[pk],
                endpoints.get(conversion.affiliate.pk, []) if conversion.affiliate else [],
            )
        else:
            old[candidate.index] = candidate
    for index, result in _stored(keys=old).items():
        results[index] = _as_repeat(result, items[index])
    for index, first in twins:
        earlier = results[first]
        if isinstance(earlier, IngestResult):
            results[index] = _as_repeat(
                IngestResult(earlier.conversion, False, earlier.delivery_ids), items[index]
            )
        else:
            results[index] = earlier
    if any(r is None for r in results):
        # A conflicting row that is not visible yet: nothing is lost, the caller may retry.
        raise DatabaseError("a conversion could not be read back after ingest; retry")
    return cast("list[IngestResult | ValidationError]", results)


def _stored(*, keys: dict[int, _Candidate]) -> dict[int, IngestResult]:
    """The conversions stored before, for the items that named them again."""
    if not keys:
        return {}
    lookup = Q()
    for candidate in keys.values():
        lookup |= Q(
            transaction_id=candidate.row["transaction_id"], event_type_id=candidate.event_type.pk
        )
    stored = {
        (c.transaction_id, c.event_type_id): c
        for c in Conversion.objects.select_related("event_type", "offer", "affiliate").filter(
            lookup
        )
    }
    ids: dict[int, list[int]] = defaultdict(list)
    for conversion_id, delivery_id in (
        Delivery.objects.filter(conversion__in=list(stored.values()), is_test=False)
        .order_by("pk")
        .values_list("conversion_id", "pk")
    ):
        ids[conversion_id].append(delivery_id)
    return {
        index: IngestResult(StoredConversion.of(found), False, ids[found.pk])
        for index, candidate in keys.items()
        if (found := stored.get((candidate.row["transaction_id"], candidate.event_type.pk)))
    }
