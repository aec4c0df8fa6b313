"""The one owner of a conversion's status: the API, the admin and any job change it through these
functions, never by writing the field. The rules are postbacks/lifecycle.py's.

A batch costs the same few statements whatever its size, in one transaction:

1. the conversions are locked (``FOR NO KEY UPDATE``, in id order), so the status each change is
   decided from is the one it really starts from, and two batches touching the same conversions
   wait for each other row by row instead of deadlocking; the same statement reads what their
   postbacks tell (event, offer, amount, tracker values), and a batch named by
   (transaction_id, event) is looked up by it too;
2. lifecycle.transition decides each change: a change, the same status again (nothing written),
   or a refusal naming the current status;
3. one statement writes the changes, each guarded by ``WHERE status = <the status it was decided
   from>``, and records those it made in the append-only change log, with who, when, from, to
   and why;
4. the postbacks the new statuses call for are written, each once (``INSERT ... ON CONFLICT DO
   NOTHING`` on the one-delivery-per-conversion-endpoint-and-status constraint, by
   postbacks/delivery_writes.py, the statement ingest writes its deliveries with), and queued
   after the commit, as ingest does. An endpoint that fires on approval only held a pending sale's
   postback until now; a rejected sale it never hears of.

The rows of steps 3 and 4 travel as one JSON parameter each (``jsonb_to_recordset``,
``jsonb_populate_recordset``): a thousand rows as placeholders cost more to bind, in the driver,
than the statements take to run.

The lock does not block ingest: inserting deliveries that refer to a conversion takes a key-share
lock, which a no-key update lock lets through.
"""

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from affiliates.models import Affiliate
from config.db_rows import table
from offers.models import Offer
from postbacks import lifecycle, metrics
from postbacks.conversion_postbacks import (
    ConversionFacts,
    FiringEndpoints,
    deliveries_rows,
    signing_keys_for,
)
from postbacks.delivery.queue import enqueue_ids
from postbacks.delivery_writes import Row, deliveries_insert
from postbacks.models import Conversion, ConversionStatusChange, EventType
from postbacks.selectors import conversion_ids_by_key, endpoints_by_affiliate

Source = ConversionStatusChange.Source


@dataclass(frozen=True)
class StatusRequest:
    """Asked: make conversion `conversion_id` `status`, because of `reason`."""

    conversion_id: int
    status: str
    reason: str = ""


@dataclass(frozen=True)
class KeyedStatusRequest:
    """Asked: make the conversion of (`transaction_id`, `event`) `status`, because of `reason`."""

    transaction_id: str
    event: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class StatusOutcome:
    """What became of a request: the conversion's status now and before it; `changed` False when
    it already had that status (then nothing was written and nothing fires)."""

    conversion_id: int
    status: str
    previous_status: str
    changed: bool
    delivery_ids: tuple[int, ...] = ()


class StatusRefused(Exception):
    """A request that changed nothing: ``code`` is ``not_found``, ``invalid_transition`` or
    ``unknown_status``; ``current_status`` is the conversion's status (empty when not found);
    ``conversion_id`` is None for a conversion named by key that does not exist."""

    def __init__(
        self, code: str, message: str, *, conversion_id: int | None, current_status: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.conversion_id = conversion_id
        self.current_status = current_status


@dataclass(frozen=True, slots=True)
class _Locked:
    """A locked conversion: its status, its affiliate (None when unattributed: it fires
    nothing), and what its postbacks tell."""

    status: str
    affiliate_id: int | None
    facts: ConversionFacts


def _lock_sql(source: str, where: str = "") -> str:
    """The locking read, from `source` (which names the conversion `c` and its event type `e`)."""
    return (
        "SELECT c.id, c.status, c.affiliate_id, c.transaction_id, c.event_type_id, e.code, "
        "e.name, c.offer_id, o.network_offer_id, o.name, o.kind, o.payout, a.network_id, "
        "c.tracker_values, c.amount, c.currency, c.occurred_at "
        f"{source} JOIN {table(Offer)} o ON o.id = c.offer_id "
        f"LEFT JOIN {table(Affiliate)} a ON a.id = c.affiliate_id "
        f"{where} ORDER BY c.id FOR NO KEY UPDATE OF c"
    )


def _locked_rows(sql: str, params: Sequence[Any]) -> dict[int, _Locked]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {
        row[0]: _Locked(
            status=row[1],
            affiliate_id=row[2],
            facts=ConversionFacts(
                conversion_id=row[0],
                transaction_id=row[3],
                event_type_id=row[4],
                event=row[5],
                event_name=row[6],
                offer_id=row[7],
                offer_network_id=row[8],
                offer_name=row[9],
                offer_kind=row[10],
                payout=row[11],
                affiliate_network_id=row[12],
                # jsonb reaches Django's cursor as text.
                tracker_values=json.loads(row[13]) if row[13] else {},
                amount=row[14],
                currency=row[15],
                occurred_at=row[16],
            ),
        )
        for row in rows
    }


def _lock(conversion_ids: Sequence[int]) -> dict[int, _Locked]:
    """These conversions, locked until the transaction ends, in id order."""
    if connection.vendor != "postgresql":
        # SQLite (`make run`'s demo database) has no row locks: one writer at a time, and the
        # UPDATE's guard still refuses a change decided from a status that has moved on.
        found = Conversion.objects.select_related("event_type", "offer", "affiliate").filter(
            pk__in=set(conversion_ids)
        )
        return {c.pk: _Locked(c.status, c.affiliate_id, ConversionFacts.of(c)) for c in found}
    source = f"FROM {table(Conversion)} c JOIN {table(EventType)} e ON e.id = c.event_type_id"
    return _locked_rows(
        _lock_sql(source, "WHERE c.id = ANY(%s::bigint[])"), [sorted(set(conversion_ids))]
    )


def _lock_by_key(
    keys: set[tuple[str, str]],
) -> tuple[dict[tuple[str, str], int], dict[int, _Locked]]:
    """The conversions named by (transaction_id, event code), looked up on the unique
    (transaction_id, event_type) index and locked as _lock does: their ids by key, and them."""
    if connection.vendor != "postgresql":
        ids = conversion_ids_by_key(keys=keys)
        return ids, _lock(list(ids.values()))
    source = (
        "FROM jsonb_to_recordset(%s::jsonb) AS k (transaction_id text, event text) "
        f"JOIN {table(EventType)} e ON e.code = k.event "
        f"JOIN {table(Conversion)} c ON c.transaction_id = k.transaction_id "
        "AND c.event_type_id = e.id"
    )
    named = json.dumps([{"transaction_id": tx, "event": event} for tx, event in keys])
    locked = _locked_rows(_lock_sql(source), [named])
    return {(row.facts.transaction_id, row.facts.event): pk for pk, row in locked.items()}, locked


@dataclass(frozen=True)
class _Change:
    conversion_id: int
    from_status: str
    to_status: str
    reason: str


def _write(
    changes: Sequence[_Change], *, now: datetime, changed_by: User | None, source: str
) -> set[int]:
    """One guarded UPDATE for all `changes` (each conversion at most once) and the log's rows for
    those it made, in the order asked; the ids it changed."""
    if connection.vendor != "postgresql":
        # The demo database: one guarded UPDATE per change (no jsonb_to_recordset in SQLite).
        done = [
            change
            for change in changes
            if Conversion.objects.filter(pk=change.conversion_id, status=change.from_status).update(
                status=change.to_status, status_reason=change.reason, status_changed_at=now
            )
        ]
        ConversionStatusChange.objects.bulk_create(
            ConversionStatusChange(
                conversion_id=change.conversion_id,
                from_status=change.from_status,
                to_status=change.to_status,
                reason=change.reason,
                changed_at=now,
                changed_by=changed_by,
                source=source,
            )
            for change in done
        )
        return {change.conversion_id for change in done}
    rows = json.dumps(
        [
            {
                "id": c.conversion_id,
                "from_status": c.from_status,
                "to_status": c.to_status,
                "reason": c.reason,
            }
            for c in changes
        ]
    )
    sql = (
        f"WITH changed AS (UPDATE {table(Conversion)} AS c "  # noqa: S608
        "SET status = v.to_status, status_reason = v.reason, status_changed_at = %s "
        "FROM ROWS FROM (jsonb_to_recordset(%s::jsonb) "
        "AS (id bigint, from_status text, to_status text, reason text)) "
        "WITH ORDINALITY AS v (id, from_status, to_status, reason, n) "
        "WHERE c.id = v.id AND c.status = v.from_status "
        "RETURNING c.id, v.from_status, v.to_status, v.reason, v.n) "
        f"INSERT INTO {table(ConversionStatusChange)} "
        "(conversion_id, from_status, to_status, reason, changed_at, changed_by_id, source) "
        "SELECT id, from_status, to_status, reason, %s, %s, %s FROM changed ORDER BY n "
        "RETURNING conversion_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, rows, now, changed_by.pk if changed_by else None, source])
        return {row[0] for row in cursor.fetchall()}


def _deliveries_create(
    changes: Sequence[_Change], locked: Mapping[int, _Locked], *, now: datetime
) -> dict[int, list[int]]:
    """The postbacks these changes call for (see the module's step 4), by conversion id."""
    told = [
        (change, row, row.affiliate_id)
        for change in changes
        if (row := locked[change.conversion_id]).affiliate_id is not None
    ]
    if not told:
        return {}
    endpoints = endpoints_by_affiliate(affiliate_ids={affiliate for _, _, affiliate in told})
    signing_keys = signing_keys_for(e for listed in endpoints.values() for e in listed)
    firing = FiringEndpoints(endpoints)
    rows: list[Row] = []
    for change, row, affiliate in told:
        rows += deliveries_rows(
            facts=row.facts,
            endpoints=firing.of(
                affiliate_id=affiliate,
                offer_id=row.facts.offer_id,
                event_type_id=row.facts.event_type_id,
            ),
            status=change.to_status,
            reason=change.reason,
            signing_keys=signing_keys,
        )
    return deliveries_insert(rows, now=now)


def _rounds(requests: Sequence[StatusRequest]) -> list[list[int]]:
    """Indexes of `requests` in rounds that name each conversion at most once, in order: a batch
    that approves and then reverses one conversion does both, one after the other."""
    rounds: list[list[int]] = []
    seen: dict[int, int] = defaultdict(int)
    for index, request in enumerate(requests):
        turn = seen[request.conversion_id]
        seen[request.conversion_id] += 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append(index)
    return rounds


def _apply(
    requests: Sequence[StatusRequest],
    locked: dict[int, _Locked],
    *,
    changed_by: User | None,
    source: str,
) -> list[StatusOutcome | StatusRefused]:
    """Decide and write `requests` on the `locked` conversions (inside the caller's
    transaction); one result per request, in order."""
    results: list[StatusOutcome | StatusRefused | None] = [None] * len(requests)
    current = {pk: row.status for pk, row in locked.items()}
    now = timezone.now()
    counted: list[tuple[str, str, str]] = []
    fired: list[int] = []
    for turn in _rounds(requests):
        changes: list[tuple[int, _Change]] = []
        for index in turn:
            request = requests[index]
            status = current.get(request.conversion_id)
            if status is None:
                results[index] = StatusRefused(
                    "not_found",
                    f"No conversion {request.conversion_id}.",
                    conversion_id=request.conversion_id,
                )
                continue
            try:
                changes_status = lifecycle.transition(status, request.status)
            except lifecycle.TransitionError as exc:
                results[index] = StatusRefused(
                    exc.code,
                    str(exc),
                    conversion_id=request.conversion_id,
                    current_status=status,
                )
                continue
            if not changes_status:
                results[index] = StatusOutcome(request.conversion_id, status, status, False)
                continue
            changes.append(
                (index, _Change(request.conversion_id, status, request.status, request.reason))
            )
        if not changes:
            continue
        made = [change for _, change in changes]
        written = _write(made, now=now, changed_by=changed_by, source=source)
        if len(written) != len(changes):
            # The rows are locked: a change that did not land means the lock was not held.
            raise DatabaseError("a locked conversion's status changed under the lock")
        created = _deliveries_create(made, locked, now=now)
        for index, change in changes:
            current[change.conversion_id] = change.to_status
            delivery_ids = tuple(created.get(change.conversion_id, ()))
            fired += delivery_ids
            results[index] = StatusOutcome(
                change.conversion_id, change.to_status, change.from_status, True, delivery_ids
            )
            counted.append((change.from_status, change.to_status, source))
    transaction.on_commit(lambda: enqueue_ids(fired))
    transaction.on_commit(lambda: metrics.status_changes_count(changes=counted))
    return [result for result in results if result is not None]


def conversion_statuses_change(
    *,
    requests: Sequence[StatusRequest],
    changed_by: User | None,
    source: str,
) -> list[StatusOutcome | StatusRefused]:
    """Apply status changes, each once, in one transaction; one result per request, in order.

    Requests are applied in order (a conversion named twice goes through both changes in turn).
    The same change asked many times at once changes the conversion once: the others find it
    done and answer `changed` False."""
    if not requests:
        return []
    with transaction.atomic():
        locked = _lock([r.conversion_id for r in requests])
        return _apply(requests, locked, changed_by=changed_by, source=source)


def conversion_statuses_change_by_key(
    *,
    requests: Sequence[KeyedStatusRequest],
    changed_by: User | None,
    source: str,
) -> list[StatusOutcome | StatusRefused]:
    """conversion_statuses_change for conversions named by (transaction_id, event code); a name
    that matches nothing is refused as ``not_found``."""
    if not requests:
        return []
    results: list[StatusOutcome | StatusRefused | None] = [None] * len(requests)
    with transaction.atomic():
        ids, locked = _lock_by_key({(r.transaction_id, r.event) for r in requests})
        found: list[tuple[int, StatusRequest]] = []
        for index, request in enumerate(requests):
            pk = ids.get((request.transaction_id, request.event))
            if pk is None:
                results[index] = StatusRefused(
                    "not_found",
                    f"No conversion {request.transaction_id!r} for event {request.event!r}.",
                    conversion_id=None,
                )
            else:
                found.append((index, StatusRequest(pk, request.status, request.reason)))
        outcomes = _apply(
            [request for _, request in found], locked, changed_by=changed_by, source=source
        )
    for (index, _), outcome in zip(found, outcomes, strict=True):
        results[index] = outcome
    return [result for result in results if result is not None]


def conversion_status_change(
    *,
    conversion_id: int,
    status: str,
    reason: str = "",
    changed_by: User | None,
    source: str,
) -> StatusOutcome:
    """Change one conversion's status (see conversion_statuses_change); raises StatusRefused."""
    (result,) = conversion_statuses_change(
        requests=[StatusRequest(conversion_id, status, reason)],
        changed_by=changed_by,
        source=source,
    )
    if isinstance(result, StatusRefused):
        raise result
    return result
