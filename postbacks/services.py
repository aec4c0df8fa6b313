"""Writes for conversions: ingest (docs/spec.md §3, §5) and the deliveries it creates (docs/spec.md
§4, §6)."""

import dataclasses
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Field, Model, Q
from django.utils import timezone

from affiliates.models import Affiliate
from postbacks import lifecycle, lookups
from postbacks.conversion_postbacks import deliveries_build, signing_keys_for
from postbacks.delivery.queue import enqueue_ids
from postbacks.ingest_answers import (
    ConversionFacts,
    IgnoredValue,
    empty_params_warnings,
    quiet_notes,
    repeat_ignored,
)
from postbacks.models import Conversion, Delivery, PostbackEndpoint
from postbacks.selectors import (
    affiliates_by_network_id,
    endpoints_by_affiliate,
    endpoints_firing,
)
from postbacks.tracker import TrackerError, parse_tracker, split_network_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attribution:
    affiliate: Affiliate | None
    values: dict[str, str]
    error: str = ""


class AffiliateBook:
    """Affiliates by network id, loaded once for a whole batch of trackers."""

    def __init__(self, *, trackers: Sequence[tuple[str, int | None]]) -> None:
        self._prefixes: list[str] | None = None
        self._fresh = False
        wanted = {network_id for _, network_id in trackers if network_id is not None}
        for tracker, network_id in trackers:
            if network_id is None and tracker.strip():
                found = self.network_id_in(tracker.strip())
                if found is not None:
                    wanted.add(found)
        self.by_network_id = affiliates_by_network_id(network_ids=wanted)

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
    endpoints = endpoints_by_affiliate(affiliate_ids={conversion.affiliate_id})
    deliveries = Delivery.objects.bulk_create(
        deliveries_build(
            conversion=conversion,
            endpoints=endpoints.get(conversion.affiliate_id, []),
            status=conversion.status,
            reason=conversion.status_reason,
            now=now,
        )
    )
    delivery_ids = [d.pk for d in deliveries]
    transaction.on_commit(lambda: enqueue_ids(delivery_ids))
    return delivery_ids


def conversion_quiet_notes(*, conversion: Conversion) -> list[str]:
    """Why a stored conversion fires nothing now, in the words of ingest's notes (reads its
    affiliate's live endpoints)."""
    if conversion.affiliate_id is None:
        return _quiet_notes(conversion, [])
    endpoints = endpoints_by_affiliate(affiliate_ids={conversion.affiliate_id})
    return _quiet_notes(conversion, endpoints.get(conversion.affiliate_id, []))


def _quiet_notes(conversion: Conversion, endpoints: Sequence[PostbackEndpoint]) -> list[str]:
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
    conversion: Conversion
    created: bool
    delivery_ids: list[int]
    # For a repeat: the fields it sent differently, [stored, sent], all ignored.
    ignored: dict[str, list[IgnoredValue]] = dataclasses.field(default_factory=dict)
    # For a new conversion: why nothing fires (when nothing does), and tracker params left empty.
    notes: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)


def _new_result(
    conversion: Conversion, delivery_ids: list[int], endpoints: Sequence[PostbackEndpoint]
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
    facts = ConversionFacts(
        offer_id=stored.offer.network_offer_id,
        tracker=stored.tracker_raw,
        affiliate_id=stored.affiliate.network_id if stored.affiliate else None,
        amount=stored.amount,
        currency=stored.currency,
        occurred_at=stored.occurred_at,
    )
    sent = ConversionFacts(
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


_CONVERSION_FIELDS = (
    "id",
    "transaction_id",
    "event_type",
    "offer",
    "affiliate",
    "tracker_raw",
    "tracker_values",
    "amount",
    "currency",
    "occurred_at",
    "received_at",
    "attribution",
    "attribution_error",
    "status",
)
# Conversions per statement (their deliveries ride in the same one).
_INSERT_CHUNK = 1000
# SQLite binds at most 32,766 values a statement: 13 a conversion.
_PORTABLE_CHUNK = 500


def _columns(model: type[Model], names: Sequence[str]) -> list["Field[Any, Any]"]:
    return [cast("Field[Any, Any]", model._meta.get_field(name)) for name in names]


def _json_value(field: "Field[Any, Any]", obj: Model) -> Any:
    """A column's value as JSON for jsonb_populate_recordset, which reads it as the column's type
    (timestamps in ISO 8601 with their microseconds, numerics as text, jsonb as itself)."""
    value = field.pre_save(obj, add=True)
    if value is None or isinstance(value, bool | int | str | dict | list):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _rows_json(objects: Sequence[Model], fields: Sequence["Field[Any, Any]"]) -> str:
    """The rows as one JSON parameter: a thousand conversions are two parameters instead of
    thirty thousand placeholders for the driver to turn into SQL text (it cost more than the
    statement)."""
    return json.dumps(
        [{str(f.column): _json_value(f, obj) for f in fields} for obj in objects],
        ensure_ascii=False,
    )


def _conversion_ids_take(count: int) -> list[int]:
    """Ids for `count` new conversions, from the table's own sequence: the postbacks' URLs carry
    the conversion id, so they are rendered before the row is written. A conversion that turns
    out to be a repeat leaves its id unused (a gap, as any rolled-back insert leaves)."""
    if not count:
        return []
    table = Conversion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


def _conversions_insert(
    conversions: Sequence[Conversion], deliveries: Sequence[Delivery]
) -> dict[int, list[int]]:
    """Store the conversions (ids already taken) and their deliveries in one statement a chunk:
    INSERT ... ON CONFLICT DO NOTHING for the conversions, and, in the same statement, the
    deliveries of exactly the conversions that statement created. A twin that got in first,
    even a moment ago from another process, is simply not created, and neither are the
    deliveries built for it: the unique constraint is the arbiter, with no error. Returns the
    created conversions' ids, each with its delivery ids in order.

    One statement is its own transaction outside an atomic block: a conversion is never
    committed without its deliveries, and the ingest pays one round trip for the write."""
    quote = connection.ops.quote_name
    conversion_fields = _columns(Conversion, _CONVERSION_FIELDS)
    delivery_fields = [
        cast("Field[Any, Any]", f) for f in Delivery._meta.concrete_fields if not f.primary_key
    ]
    by_conversion: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_conversion[cast(int, delivery.conversion_id)].append(delivery)
    created: dict[int, list[int]] = {}
    for start in range(0, len(conversions), _INSERT_CHUNK):
        chunk = conversions[start : start + _INSERT_CHUNK]
        chunk_deliveries = [d for c in chunk for d in by_conversion[cast(int, c.pk)]]
        params: list[Any] = [_rows_json(chunk, conversion_fields)]
        conversion_columns = ", ".join(quote(str(f.column)) for f in conversion_fields)
        delivery_columns = ", ".join(quote(str(f.column)) for f in delivery_fields)
        conversions_table = quote(Conversion._meta.db_table)
        deliveries_table = quote(Delivery._meta.db_table)
        if chunk_deliveries:
            params.append(_rows_json(chunk_deliveries, delivery_fields))
            deliveries_sql = (
                f", d AS (INSERT INTO {deliveries_table} ({delivery_columns}) "  # noqa: S608
                f"SELECT {delivery_columns} FROM "
                f"jsonb_populate_recordset(NULL::{deliveries_table}, %s::jsonb) AS v "
                "WHERE v.conversion_id IN (SELECT id FROM c) "
                "RETURNING id, conversion_id) "
                "SELECT id, NULL FROM c UNION ALL SELECT conversion_id, id FROM d"
            )
        else:
            deliveries_sql = " SELECT id, NULL FROM c"
        sql = (
            f"WITH c AS (INSERT INTO {conversions_table} ({conversion_columns}) "  # noqa: S608
            f"SELECT {conversion_columns} FROM "
            f"jsonb_populate_recordset(NULL::{conversions_table}, %s::jsonb) "
            "ON CONFLICT (transaction_id, event_type_id) DO NOTHING RETURNING id)" + deliveries_sql
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for conversion_id, delivery_id in rows:
            listed = created.setdefault(conversion_id, [])
            if delivery_id is not None:
                listed.append(delivery_id)
    for listed in created.values():
        listed.sort()
    return created


def _conversions_store(
    conversions: Sequence[Conversion], *, build: Callable[[Conversion], list[Delivery]]
) -> dict[int, list[int]]:
    """Store the conversions not stored before, each with the deliveries `build` makes for it;
    the created ones get their pk. Returns the created conversions' ids with their delivery ids.

    On PostgreSQL the ids are taken first, the postbacks rendered, and each chunk written by one
    statement (several commit together). `make run`'s SQLite has no sequence to take ids from:
    there the conversions are inserted first, in one transaction with their deliveries."""
    if connection.vendor == "postgresql":
        for conversion, pk in zip(conversions, _conversion_ids_take(len(conversions)), strict=True):
            conversion.pk = pk
        built = [delivery for conversion in conversions for delivery in build(conversion)]
        with transaction.atomic() if len(conversions) > _INSERT_CHUNK else nullcontext():
            return _conversions_insert(conversions, built)
    with transaction.atomic():
        keys = _conversions_insert_portable(conversions)
        stored = []
        for conversion in conversions:
            conversion.pk = keys.get((conversion.transaction_id, conversion.event_type_id))
            if conversion.pk is not None:
                stored.append(conversion)
        deliveries = Delivery.objects.bulk_create([d for c in stored for d in build(c)])
    created: dict[int, list[int]] = {cast(int, c.pk): [] for c in stored}
    for delivery in deliveries:
        created[cast(int, delivery.conversion_id)].append(delivery.pk)
    return created


def _conversions_insert_portable(conversions: Sequence[Conversion]) -> dict[tuple[str, int], int]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING without the ids (SQLite): the rows this call
    created, by (transaction_id, event_type_id)."""
    fields = _columns(Conversion, _CONVERSION_FIELDS[1:])
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    created: dict[tuple[str, int], int] = {}
    for start in range(0, len(conversions), _PORTABLE_CHUNK):
        chunk = conversions[start : start + _PORTABLE_CHUNK]
        params = [
            field.get_db_prep_save(getattr(conversion, field.attname), connection)
            for conversion in chunk
            for field in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(Conversion._meta.db_table)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([row] * len(chunk))} "
                "ON CONFLICT (transaction_id, event_type_id) DO NOTHING "
                "RETURNING id, transaction_id, event_type_id",
                params,
            )
            for pk, transaction_id, event_type_id in cursor.fetchall():
                created[(transaction_id, event_type_id)] = pk
    return created


def conversions_ingest(*, items: Sequence[IngestItem]) -> list[IngestResult | ValidationError]:
    """Store conversion events and their deliveries, each once, in one transaction.

    One result per item, in order: the stored conversion (`created` False when the same
    (transaction_id, event) was stored before, then nothing new is created and nothing fires
    twice), or the ValidationError saying why the item was refused. Deliveries are handed to
    the queue after commit; a bad item never sinks the others."""
    now = timezone.now()
    event_types = lookups.active_event_types({i.event for i in items})
    offers = lookups.offers_by_network_id({i.offer_id for i in items})
    book = AffiliateBook(trackers=[(i.tracker, i.affiliate_id) for i in items])
    results: list[IngestResult | ValidationError | None] = [None] * len(items)
    first_of: dict[tuple[str, int], int] = {}
    twins: list[tuple[int, int]] = []
    candidates: list[tuple[int, Conversion]] = []
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
        attribution = book.attribute(tracker=item.tracker, affiliate_id=item.affiliate_id)
        candidates.append(
            (
                index,
                Conversion(
                    transaction_id=item.transaction_id,
                    event_type=event_type,
                    offer=offer,
                    affiliate=attribution.affiliate,
                    tracker_raw=item.tracker,
                    tracker_values=attribution.values,
                    amount=item.amount,
                    currency=(item.currency or offer.currency).upper(),
                    occurred_at=item.occurred_at or now,
                    received_at=now,
                    attribution=(
                        Conversion.Attribution.ATTRIBUTED
                        if attribution.affiliate
                        else Conversion.Attribution.UNATTRIBUTED
                    ),
                    attribution_error=attribution.error[:500],
                    status=item.status,
                ),
            )
        )
    endpoints = endpoints_by_affiliate(
        affiliate_ids={c.affiliate_id for _, c in candidates if c.affiliate_id is not None}
    )
    signing_keys = signing_keys_for(e for listed in endpoints.values() for e in listed)

    def build(conversion: Conversion) -> list[Delivery]:
        if conversion.affiliate_id is None:
            return []
        return deliveries_build(
            conversion=conversion,
            endpoints=endpoints.get(conversion.affiliate_id, []),
            status=conversion.status,
            now=now,
            signing_keys=signing_keys,
        )

    created = _conversions_store([c for _, c in candidates], build=build)
    delivery_ids = sorted(pk for listed in created.values() for pk in listed)
    transaction.on_commit(lambda: enqueue_ids(delivery_ids))
    new: list[tuple[int, Conversion]] = []
    old: list[tuple[int, Conversion]] = []
    for index, conversion in candidates:
        if conversion.pk in created:
            new.append((index, conversion))
        else:
            conversion.pk = None
            old.append((index, conversion))
    for index, conversion in new:
        results[index] = _new_result(
            conversion,
            created[conversion.pk],
            endpoints.get(conversion.affiliate_id, []) if conversion.affiliate_id else [],
        )
    for index, result in _stored(keys={i: c for i, c in old}).items():
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


def _stored(*, keys: dict[int, Conversion]) -> dict[int, IngestResult]:
    """The conversions stored before, for the items that named them again."""
    if not keys:
        return {}
    lookup = Q()
    for conversion in keys.values():
        lookup |= Q(
            transaction_id=conversion.transaction_id, event_type_id=conversion.event_type_id
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
        index: IngestResult(found, False, ids[found.pk])
        for index, conversion in keys.items()
        if (found := stored.get((conversion.transaction_id, conversion.event_type_id)))
    }
