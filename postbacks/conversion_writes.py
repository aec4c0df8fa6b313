"""The write of ingest: conversions and their deliveries stored together, each conversion once
(docs/spec.md §5), in as few round trips as the database allows. services.conversions_ingest
decides what to store; this module only stores it."""

import functools
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from config.db_rows import hot_cursor, table
from postbacks.delivery_writes import (
    Row,
    deliveries_insert,
    deliveries_insert_sql,
    delivery_base,
    rows_json,
)
from postbacks.models import Conversion

# Conversions per statement (their deliveries ride in the same one).
_INSERT_CHUNK = 1000
# SQLite binds at most 32,766 values a statement: 15 a conversion.
_PORTABLE_CHUNK = 500


def conversion_row(
    *,
    transaction_id: str,
    event_type_id: int,
    offer_id: int,
    affiliate_id: int | None,
    tracker_raw: str,
    tracker_values: dict[str, str],
    amount: Decimal | None,
    currency: str,
    occurred_at: datetime,
    attribution: str,
    attribution_error: str,
    status: str,
) -> Row:
    """A new conversion as a row of JSON values (its id is given by conversions_store; when it
    was received, by the base row)."""
    return {
        "transaction_id": transaction_id,
        "event_type_id": event_type_id,
        "offer_id": offer_id,
        "affiliate_id": affiliate_id,
        "tracker_raw": tracker_raw,
        "tracker_values": tracker_values,
        # numeric and timestamptz read from JSON text, as jsonb_populate_recordset reads them.
        "amount": None if amount is None else str(amount),
        "currency": currency,
        "occurred_at": occurred_at.isoformat(),
        "attribution": attribution,
        "attribution_error": attribution_error,
        "status": status,
    }


def _conversion_base(*, now: datetime) -> Row:
    """What every conversion received at `now` shares: no status change yet (the model's
    defaults; received now, as auto_now_add writes)."""
    return {"received_at": now.isoformat(), "status_reason": "", "status_changed_at": None}


@dataclass(frozen=True)
class _Write:
    """Ingest's two statements (with deliveries and without), built once: the same for every
    request."""

    with_deliveries: str
    without_deliveries: str


@functools.cache
def _write() -> _Write:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in Conversion._meta.concrete_fields)
    conversions = (
        f"WITH c AS (INSERT INTO {table(Conversion)} ({columns}) "  # noqa: S608
        f"SELECT {columns} FROM jsonb_populate_recordset("
        f"jsonb_populate_record(NULL::{table(Conversion)}, %s::jsonb), %s::jsonb) "
        "ON CONFLICT (transaction_id, event_type_id) DO NOTHING RETURNING id)"
    )
    # The deliveries of exactly the conversions this statement created.
    deliveries = deliveries_insert_sql("WHERE v.conversion_id IN (SELECT id FROM c)")
    return _Write(
        with_deliveries=f"{conversions}, d AS ({deliveries}) "  # noqa: S608
        "SELECT id, NULL FROM c UNION ALL SELECT conversion_id, id FROM d",
        without_deliveries=conversions + " SELECT id, NULL FROM c",  # noqa: S608
    )


def _conversions_insert(
    rows: Sequence[Row], deliveries: Sequence[Sequence[Row]], *, now: datetime
) -> dict[int, list[int]]:
    """Store the conversions (ids already taken) and their deliveries (`deliveries[i]` are
    those of `rows[i]`) in one statement a chunk: INSERT ... ON CONFLICT DO NOTHING for the
    conversions, and, in the same statement, the deliveries of exactly the conversions that
    statement created. A twin that got in first, even a moment ago from another process, is
    simply not created, and neither are the deliveries built for it: the unique constraint is the
    arbiter, with no error. Returns the created conversions' ids, each with its delivery ids in
    order.

    One statement is its own transaction outside an atomic block: a conversion is never
    committed without its deliveries, and the ingest pays one round trip for the write."""
    write = _write()
    conversion_base = rows_json(_conversion_base(now=now))
    created: dict[int, list[int]] = {}
    for start in range(0, len(rows), _INSERT_CHUNK):
        end = start + _INSERT_CHUNK
        chunk_deliveries = [d for listed in deliveries[start:end] for d in listed]
        params: list[Any] = [conversion_base, rows_json(rows[start:end])]
        sql = write.without_deliveries
        if chunk_deliveries:
            params += [rows_json(delivery_base(now=now)), rows_json(chunk_deliveries)]
            sql = write.with_deliveries
        with hot_cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        for conversion_id, delivery_id in found:
            listed_ids = created.setdefault(conversion_id, [])
            if delivery_id is not None:
                listed_ids.append(delivery_id)
    for listed_ids in created.values():
        listed_ids.sort()
    return created


def conversions_store(
    rows: Sequence[Row],
    *,
    build: Callable[[int], list[Row]],
    now: datetime,
    ids: Sequence[int],
) -> dict[int, list[int]]:
    """Store the conversions (rows of conversion_row) not stored before, each with the delivery
    rows `build(i)` makes for `rows[i]` once its id is set (`rows[i]["id"]`). Returns the created
    conversions' ids with their delivery ids.

    On PostgreSQL the ids are given, one a row, taken from the table's sequence beforehand
    (selectors.ingest_reads: the postbacks' URLs carry the conversion id), the postbacks
    rendered, and each chunk written by one statement (several commit together). `make run`'s
    SQLite has no sequence to take ids from (`ids` is empty there): the conversions are inserted
    first, in one transaction with their deliveries."""
    if connection.vendor == "postgresql":
        for row, pk in zip(rows, ids, strict=True):
            row["id"] = pk
        deliveries = [build(position) for position in range(len(rows))]
        with transaction.atomic() if len(rows) > _INSERT_CHUNK else nullcontext():
            return _conversions_insert(rows, deliveries, now=now)
    with transaction.atomic():
        keys = _conversions_insert_portable(rows, now=now)
        created: dict[int, list[int]] = {}
        built: list[Row] = []
        for position, row in enumerate(rows):
            stored = keys.get((row["transaction_id"], row["event_type_id"]))
            if stored is not None:
                row["id"] = stored
                created[stored] = []
                built += build(position)
        for conversion_id, delivery_ids in deliveries_insert(built, now=now).items():
            created[conversion_id] = delivery_ids
    return created


def _conversions_insert_portable(
    rows: Sequence[Row], *, now: datetime
) -> dict[tuple[str, int], int]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING without the ids (SQLite): the rows this call
    created, by (transaction_id, event_type_id). The ORM's fields turn the JSON values into the
    database's."""
    base = _conversion_base(now=now)
    fields = [f for f in Conversion._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    created: dict[tuple[str, int], int] = {}
    for start in range(0, len(rows), _PORTABLE_CHUNK):
        chunk = rows[start : start + _PORTABLE_CHUNK]
        params = [
            field.get_db_prep_save(values[str(field.column)], connection)
            for values in ({**base, **row} for row in chunk)
            for field in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table(Conversion)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([placeholders] * len(chunk))} "
                "ON CONFLICT (transaction_id, event_type_id) DO NOTHING "
                "RETURNING id, transaction_id, event_type_id",
                params,
            )
            for pk, transaction_id, event_type_id in cursor.fetchall():
                created[(transaction_id, event_type_id)] = pk
    return created
