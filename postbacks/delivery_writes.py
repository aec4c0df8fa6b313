"""New deliveries as plain rows, and the one statement that inserts them. Ingest (inside its
conversions' statement, postbacks/conversion_writes.py), status changes and a late attribution
all write their deliveries through here, so the columns of a new delivery are spelt once and the
paths cannot drift apart.

A row is a dict of column -> JSON value with what differs between deliveries (conversion,
endpoint, status, URL, method); what every new delivery of one call shares (its state, its
counters, its times) is one base row, built by ``delivery_base``. PostgreSQL fills each row from
the base (``jsonb_populate_recordset(base, rows)``), so a thousand rows do not each carry four
timestamps. A column neither names is NULL: tests/postbacks/test_delivery_writes.py holds a row
written here to one the ORM writes, column by column, so a field added to the model with a
default and not added here fails there.
"""

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from config.db_rows import hot_cursor, table
from postbacks.models import Delivery, PostbackEndpoint

Row = dict[str, Any]


def delivery_base(*, now: datetime) -> Row:
    """What every delivery created at `now` starts with: due now and queued now, no attempt yet
    (the model's defaults; created and updated now, as auto_now_add and auto_now write)."""
    moment = now.isoformat()
    return {
        "state": Delivery.State.PENDING.value,
        "attempts": 0,
        "last_error": "",
        "is_test": False,
        "next_attempt_at": moment,
        "enqueued_at": moment,
        "created_at": moment,
        "updated_at": moment,
    }


def delivery_row(*, conversion_id: int, endpoint: PostbackEndpoint, status: str, url: str) -> Row:
    """The postback telling `endpoint` of the conversion at `status`, sent to `url`."""
    return {
        "conversion_id": conversion_id,
        "endpoint_id": endpoint.pk,
        "status": status,
        "url": url,
        "method": endpoint.method,
    }


@functools.cache
def deliveries_insert_sql(where: str = "") -> str:
    """The INSERT of delivery rows: parameters the base row and the rows, both JSON; `where` may
    filter the rows (``v`` names a row). Ids are given in the rows' order. A conversion that
    already told an endpoint of a status is not told twice: the unique constraint decides, with
    no error. Returns (id, conversion_id) of the deliveries created."""
    quote = connection.ops.quote_name
    fields = [field for field in Delivery._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(str(field.column)) for field in fields)
    return (
        f"INSERT INTO {table(Delivery)} ({columns}) "  # noqa: S608
        f"SELECT {columns} FROM ROWS FROM (jsonb_populate_recordset("
        f"jsonb_populate_record(NULL::{table(Delivery)}, %s::jsonb), %s::jsonb)) "
        f"WITH ORDINALITY AS v {where} ORDER BY v.ordinality "
        "ON CONFLICT (conversion_id, endpoint_id, status) WHERE NOT is_test DO NOTHING "
        "RETURNING id, conversion_id"
    )


def rows_json(rows: object) -> str:
    """Rows as one JSON parameter: a thousand rows are one parameter instead of thousands of
    placeholders for the driver to turn into SQL text (that cost more than the statement)."""
    return json.dumps(rows, ensure_ascii=False)


def deliveries_insert(rows: Sequence[Row], *, now: datetime) -> dict[int, list[int]]:
    """Insert the deliveries not there yet, each once (see deliveries_insert_sql), in one
    statement; the created ids by conversion id, in ascending order."""
    created: dict[int, list[int]] = defaultdict(list)
    if not rows:
        return created
    base = delivery_base(now=now)
    if connection.vendor != "postgresql":
        # `make run`'s SQLite, one writer at a time: the rows already there are left out first.
        told = set(
            Delivery.objects.filter(
                conversion_id__in={row["conversion_id"] for row in rows}, is_test=False
            ).values_list("conversion_id", "endpoint_id", "status")
        )
        for delivery in Delivery.objects.bulk_create(
            Delivery(**base, **row)
            for row in rows
            if (row["conversion_id"], row["endpoint_id"], row["status"]) not in told
        ):
            created[delivery.conversion_id].append(delivery.pk)  # type: ignore[index]
        return created
    with hot_cursor() as cursor:
        cursor.execute(deliveries_insert_sql(), [rows_json(base), rows_json(rows)])
        for pk, conversion_id in sorted(cursor.fetchall()):
            created[conversion_id].append(pk)
    return created
