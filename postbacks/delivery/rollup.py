"""The hourly rollup of attempts (`AttemptHourly`), written by the worker with the attempts it
logs; the dashboard and the health page read it.

Outcomes are counted by the delivery state each attempt's verdict gave: succeeded, dead (no more
automatic tries), failed (a retry was scheduled). Latency is counted per bucket of
`AttemptHourly.LATENCY_BOUNDS`."""

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from postbacks.delivery.sender import Outcome
from postbacks.models import AttemptHourly, Delivery

State = Delivery.State
LATENCY_BOUNDS = AttemptHourly.LATENCY_BOUNDS
LATENCY_FIELDS = [f"le_{bound}ms" for bound in LATENCY_BOUNDS] + [f"over_{LATENCY_BOUNDS[-1]}ms"]
# The rollup's counters, in the order attempts_rollup adds them up.
ROLLUP_COUNTS = ("succeeded", "failed", "dead", "latency_ms_total", *LATENCY_FIELDS)


def _rollup_counts(outcome: Outcome, state: str) -> list[int]:
    counts = [0] * len(ROLLUP_COUNTS)
    if state == State.SUCCEEDED:
        counts[0] = 1
    elif state == State.DEAD:
        counts[2] = 1
    else:
        counts[1] = 1
    counts[3] = outcome.duration_ms
    counts[4 + bisect_left(LATENCY_BOUNDS, outcome.duration_ms)] = 1
    return counts


def attempts_rollup(*, outcomes: Sequence[Outcome], verdict_states: Sequence[str]) -> int:
    """Add a batch of attempts (and the delivery state each one's verdict gave) to the hourly
    rollup; test postbacks are left out. Returns how many rollup rows were written.

    One INSERT ... ON CONFLICT DO UPDATE adds to the rows already there, so concurrent batches
    never lose counts; its rows go in key order, so two batches lock the rows they share in the
    same order and never deadlock. Call it in the transaction that logs the attempts."""
    rows: dict[tuple[int, datetime, str], list[int]] = {}
    for outcome, state in zip(outcomes, verdict_states, strict=True):
        out = outcome.outgoing
        if out.is_test or out.endpoint_id is None:
            continue
        hour = outcome.started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        key = (out.endpoint_id, hour, out.event)
        counts = _rollup_counts(outcome, state)
        if key in rows:
            rows[key] = [a + b for a, b in zip(rows[key], counts, strict=True)]
        else:
            rows[key] = counts
    if not rows:
        return 0
    hour_field = AttemptHourly._meta.get_field("hour")
    params: list[Any] = []
    for (endpoint_id, hour, event), counts in sorted(rows.items()):
        params += [endpoint_id, hour_field.get_db_prep_value(hour, connection), event, *counts]
    columns = ("endpoint_id", "hour", "event", *ROLLUP_COUNTS)
    row = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {AttemptHourly._meta.db_table} AS t ({', '.join(columns)}) "  # noqa: S608
        f"VALUES {', '.join([row] * len(rows))} "
        "ON CONFLICT (endpoint_id, hour, event) DO UPDATE SET "
        + ", ".join(f"{name} = t.{name} + EXCLUDED.{name}" for name in ROLLUP_COUNTS)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(rows)
