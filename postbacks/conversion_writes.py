"""The write of ingest: conversions and their deliveries stored together, each conversion once
(docs/spec.md §5), in as few round trips as the database allows. services.conversions_ingest
decides what to store; this module only stores it."""

import functools
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import connection, transaction
from django.db.models import Field, Model

from config.db_rows import hot_cursor, table
from postbacks.models import Conversion, Delivery

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
    with hot_cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


@dataclass(frozen=True)
class _Write:
    """The columns ingest writes and its two statements (with deliveries and without), built
    once: the same for every request."""

    conversion_fields: list["Field[Any, Any]"]
    delivery_fields: list["Field[Any, Any]"]
    with_deliveries: str
    without_deliveries: str


@functools.cache
def _write() -> _Write:
    quote = connection.ops.quote_name
    conversion_fields = _columns(Conversion, _CONVERSION_FIELDS)
    delivery_fields = [
        cast("Field[Any, Any]", f) for f in Delivery._meta.concrete_fields if not f.primary_key
    ]
    conversion_columns = ", ".join(quote(str(f.column)) for f in conversion_fields)
    delivery_columns = ", ".join(quote(str(f.column)) for f in delivery_fields)
    conversions = (
        f"WITH c AS (INSERT INTO {table(Conversion)} ({conversion_columns}) "  # noqa: S608
        f"SELECT {conversion_columns} FROM "
        f"jsonb_populate_recordset(NULL::{table(Conversion)}, %s::jsonb) "
        "ON CONFLICT (transaction_id, event_type_id) DO NOTHING RETURNING id)"
    )
    deliveries = (
        f", d AS (INSERT INTO {table(Delivery)} ({delivery_columns}) "  # noqa: S608
        f"SELECT {delivery_columns} FROM "
        f"jsonb_populate_recordset(NULL::{table(Delivery)}, %s::jsonb) AS v "
        "WHERE v.conversion_id IN (SELECT id FROM c) "
        "RETURNING id, conversion_id) "
        "SELECT id, NULL FROM c UNION ALL SELECT conversion_id, id FROM d"
    )
    return _Write(
        conversion_fields,
        delivery_fields,
        with_deliveries=conversions + deliveries,
        without_deliveries=conversions + " SELECT id, NULL FROM c",  # noqa: S608
    )


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
    write = _write()
    by_conversion: dict[int, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        by_conversion[cast(int, delivery.conversion_id)].append(delivery)
    created: dict[int, list[int]] = {}
    for start in range(0, len(conversions), _INSERT_CHUNK):
        chunk = conversions[start : start + _INSERT_CHUNK]
        chunk_deliveries = [d for c in chunk for d in by_conversion[cast(int, c.pk)]]
        params: list[Any] = [_rows_json(chunk, write.conversion_fields)]
        sql = write.without_deliveries
        if chunk_deliveries:
            params.append(_rows_json(chunk_deliveries, write.delivery_fields))
            sql = write.with_deliveries
        with hot_cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        for conversion_id, delivery_id in rows:
            listed = created.setdefault(conversion_id, [])
            if delivery_id is not None:
                listed.append(delivery_id)
    for listed in created.values():
        listed.sort()
    return created


def conversions_store(
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
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
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
                f"INSERT INTO {table(Conversion)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([row] * len(chunk))} "
                "ON CONFLICT (transaction_id, event_type_id) DO NOTHING "
                "RETURNING id, transaction_id, event_type_id",
                params,
            )
            for pk, transaction_id, event_type_id in cursor.fetchall():
                created[(transaction_id, event_type_id)] = pk
    return created
