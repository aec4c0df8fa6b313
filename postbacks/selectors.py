"""Reads for postbacks."""

import functools
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Prefetch, QuerySet

from affiliates.models import Affiliate
from config.db_rows import RowReader, hot_cursor, table
from postbacks.models import (
    Conversion,
    Delivery,
    DeliveryAttempt,
    PostbackEndpoint,
)

Status = PostbackEndpoint.Status


class _EndpointsRead:
    """The statement endpoints_by_affiliate runs, and the readers of its rows; built on first
    use (the models' tables and columns are known by then)."""

    def __init__(self) -> None:
        self.endpoint = RowReader(PostbackEndpoint)
        self.affiliate = RowReader(Affiliate)
        # The ids of endpoint e's event types, as the last column of a row.
        self.event_type_ids = (
            f"ARRAY(SELECT s.eventtype_id FROM {table(PostbackEndpoint.event_types.through)} s "  # noqa: S608
            "WHERE s.postbackendpoint_id = e.id)"
        )
        self.sql = (
            f"SELECT {self.endpoint.select_list('e')}, {self.affiliate.select_list('a')}, "  # noqa: S608
            f"{self.event_type_ids} "
            f"FROM {table(PostbackEndpoint)} e "
            f"JOIN {table(Affiliate)} a ON a.id = e.affiliate_id "
            "WHERE e.affiliate_id = ANY(%s) AND a.status = %s AND e.status = ANY(%s) "
            "ORDER BY e.id"
        )
        # Where the affiliate's id is in a row of this statement.
        self.affiliate_pk = len(self.endpoint) + self.affiliate.names.index(
            Affiliate._meta.pk.attname
        )

    def endpoint_of(
        self, values: Sequence[Any], affiliate: Affiliate, event_type_ids: Sequence[int]
    ) -> PostbackEndpoint:
        """The endpoint read from its columns, with its affiliate and its event type ids."""
        endpoint = self.endpoint.read(values)
        _AFFILIATE_FIELD.set_cached_value(endpoint, affiliate)
        endpoint.event_type_ids = list(event_type_ids)
        return endpoint


_AFFILIATE_FIELD: Any = PostbackEndpoint._meta.get_field("affiliate")


@functools.cache
def _endpoints_read() -> _EndpointsRead:
    return _EndpointsRead()


def endpoints_by_affiliate(
    *, affiliate_ids: Collection[int], statuses: Iterable[str] = (Status.LIVE,)
) -> dict[int, list[PostbackEndpoint]]:
    """The endpoints (in `statuses`) of active affiliates, each with its affiliate and the ids of
    its event types (`event_type_ids`), in one statement. Ingest reads them for every
    conversion: the statement is built once, where the ORM would compile a join, an array
    subquery and a prefetch on every request."""
    grouped: dict[int, list[PostbackEndpoint]] = defaultdict(list)
    if not affiliate_ids:
        return grouped
    if connection.vendor != "postgresql":
        return _endpoints_by_affiliate_orm(affiliate_ids=affiliate_ids, statuses=statuses)
    read = _endpoints_read()
    with hot_cursor() as cursor:
        cursor.execute(
            read.sql, [list(affiliate_ids), Affiliate.Status.ACTIVE, [str(s) for s in statuses]]
        )
        rows = cursor.fetchall()
    affiliates: dict[int, Affiliate] = {}
    split = len(read.endpoint)
    for row in rows:
        affiliate = affiliates.get(row[read.affiliate_pk])
        if affiliate is None:
            affiliate = affiliates[row[read.affiliate_pk]] = read.affiliate.read(
                row[split : split + len(read.affiliate)]
            )
        endpoint = read.endpoint_of(row[:split], affiliate, row[-1])
        grouped[endpoint.affiliate_id].append(endpoint)
    return grouped


def _endpoints_by_affiliate_orm(
    *, affiliate_ids: Collection[int], statuses: Iterable[str]
) -> dict[int, list[PostbackEndpoint]]:
    """endpoints_by_affiliate on the demo database (`make run`'s SQLite has no arrays)."""
    grouped: dict[int, list[PostbackEndpoint]] = defaultdict(list)
    for endpoint in (
        PostbackEndpoint.objects.filter(
            affiliate_id__in=list(affiliate_ids),
            affiliate__status=Affiliate.Status.ACTIVE,
            status__in=list(statuses),
        )
        .select_related("affiliate")
        .prefetch_related("event_types")
        .order_by("pk")
    ):
        endpoint.event_type_ids = [t.pk for t in endpoint.event_types.all()]
        grouped[endpoint.affiliate_id].append(endpoint)
    return grouped


@functools.cache
def _affiliate_reader() -> RowReader[Affiliate]:
    return RowReader(Affiliate)


@dataclass(frozen=True)
class IngestReads:
    """What ingest reads before it writes: the affiliates its trackers name (by network id), the
    live endpoints of the active ones (by affiliate pk, as endpoints_by_affiliate), and ids for
    its new conversions from the table's sequence (the postbacks' URLs carry the conversion id,
    so they are rendered before the row is written; an id left unused by a repeat is a gap, as
    a rolled-back insert leaves)."""

    affiliates: dict[int, Affiliate]
    endpoints: dict[int, list[PostbackEndpoint]]
    conversion_ids: list[int]


class _IngestRead:
    """The statement ingest_reads runs, built on first use. One row per endpoint (an affiliate
    with none gives one row of NULLs for it, none found one row of NULLs in all); the ids ride
    on one row only (the first row_number() gives: a batch's thousand ids are not repeated on
    every endpoint's row)."""

    def __init__(self) -> None:
        self.endpoints = read = _endpoints_read()
        self.endpoint, self.affiliate = read.endpoint, read.affiliate
        self.sql = (
            "WITH ids AS (SELECT ARRAY(SELECT nextval(pg_get_serial_sequence(%s, 'id')) "  # noqa: S608
            "FROM generate_series(1, %s)) AS ids) "
            "SELECT CASE WHEN row_number() OVER () = 1 THEN ids.ids END, "
            f"{self.affiliate.select_list('a')}, {self.endpoint.select_list('e')}, "
            f"{read.event_type_ids} "
            f"FROM ids LEFT JOIN {table(Affiliate)} a ON a.network_id = ANY(%s) "
            f"LEFT JOIN {table(PostbackEndpoint)} e ON e.affiliate_id = a.id "
            "AND a.status = %s AND e.status = %s"
        )
        # Where the affiliate's and the endpoint's ids are in a row (NULL: none there).
        self.affiliate_pk = 1 + self.affiliate.names.index(Affiliate._meta.pk.attname)
        self.endpoint_pk = (
            1 + len(self.affiliate) + self.endpoint.names.index(PostbackEndpoint._meta.pk.attname)
        )


@functools.cache
def _ingest_read() -> _IngestRead:
    return _IngestRead()


def ingest_reads(*, network_ids: Collection[int], new_conversions: int) -> IngestReads:
    """The affiliates, their live endpoints and `new_conversions` ids, in one statement built
    once: three round trips were a fifth of a single ingest's time in Python."""
    if connection.vendor != "postgresql":
        # The demo database (`make run`'s SQLite): no sequence, no arrays; its write gives ids.
        named = affiliates_by_network_id(network_ids=network_ids)
        active = {a.pk for a in named.values() if a.status == Affiliate.Status.ACTIVE}
        return IngestReads(named, endpoints_by_affiliate(affiliate_ids=active), [])
    if not network_ids and not new_conversions:
        return IngestReads({}, {}, [])
    read = _ingest_read()
    with hot_cursor() as cursor:
        cursor.execute(
            read.sql,
            [
                Conversion._meta.db_table,
                new_conversions,
                list(network_ids),
                Affiliate.Status.ACTIVE,
                Status.LIVE,
            ],
        )
        rows = cursor.fetchall()
    affiliates: dict[int, Affiliate] = {}
    endpoints: dict[int, list[PostbackEndpoint]] = defaultdict(list)
    ids: list[int] = []
    start = 1 + len(read.affiliate)
    stop = start + len(read.endpoint)
    for row in rows:
        if row[0] is not None:
            ids = list(row[0])
        if row[read.affiliate_pk] is None:
            continue
        affiliate = affiliates.get(row[read.affiliate_pk])
        if affiliate is None:
            affiliate = read.affiliate.read(row[1:start])
            affiliates[affiliate.pk] = affiliate
        if row[read.endpoint_pk] is None:
            continue
        endpoints[affiliate.pk].append(
            read.endpoints.endpoint_of(row[start:stop], affiliate, row[-1])
        )
    for listed in endpoints.values():
        listed.sort(key=lambda e: e.pk)
    return IngestReads({a.network_id: a for a in affiliates.values()}, endpoints, ids)


def affiliates_by_network_id(*, network_ids: Collection[int]) -> dict[int, Affiliate]:
    """Affiliates by their network id, in one statement built once (ingest reads them with
    their endpoints: ingest_reads)."""
    if not network_ids:
        return {}
    if connection.vendor != "postgresql":
        # The demo database (`make run`'s SQLite has no arrays).
        return {a.network_id: a for a in Affiliate.objects.filter(network_id__in=network_ids)}
    read = _affiliate_reader()
    with hot_cursor() as cursor:
        cursor.execute(
            f"SELECT {read.select_list('a')} FROM {table(Affiliate)} a "  # noqa: S608
            "WHERE a.network_id = ANY(%s)",
            [list(network_ids)],
        )
        found = [read.read(row) for row in cursor.fetchall()]
    return {affiliate.network_id: affiliate for affiliate in found}


def endpoints_firing(
    endpoints: Sequence[PostbackEndpoint], *, offer_id: int, event_type_id: int
) -> list[PostbackEndpoint]:
    """docs/spec.md §4: of one affiliate's endpoints (read by endpoints_by_affiliate), those
    subscribed to the event; the ones bound to the offer replace the all-offer ones, never both;
    several at one level all fire."""
    subscribed = [e for e in endpoints if event_type_id in e.event_type_ids]
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
