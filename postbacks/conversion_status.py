"""The one owner of a conversion's status: the API, the admin and any job change it through these
functions, never by writing the field. The rules are postbacks/lifecycle.py's.

A batch costs the same few statements whatever its size, in one transaction:

1. the conversions are locked (``FOR NO KEY UPDATE``, in id order), so the status each change is
   decided from is the one it really starts from, and two batches touching the same conversions
   wait for each other row by row instead of deadlocking;
2. lifecycle.transition decides each change: a change, the same status again (nothing written),
   or a refusal naming the current status;
3. one ``UPDATE ... FROM (VALUES ...)`` writes the changes, each guarded by
   ``WHERE status = <the status it was decided from>``;
4. one INSERT records them in the append-only change log, with who, when, from, to and why;
5. the postbacks the new statuses call for are written, each once (``INSERT ... ON CONFLICT DO
   NOTHING`` on the one-delivery-per-conversion-endpoint-and-status constraint), and queued after
   the commit, as ingest does. An endpoint that fires on approval only held a pending sale's
   postback until now; a rejected sale it never hears of.

The lock does not block ingest: inserting deliveries that refer to a conversion takes a key-share
lock, which a no-key update lock lets through.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.models import Field
from django.utils import timezone

from postbacks import lifecycle, metrics
from postbacks.conversion_postbacks import deliveries_build, signing_keys_for
from postbacks.delivery.queue import enqueue_ids
from postbacks.models import Conversion, ConversionStatusChange, Delivery
from postbacks.selectors import endpoints_by_affiliate

Source = ConversionStatusChange.Source


@dataclass(frozen=True)
class StatusRequest:
    """Asked: make conversion `conversion_id` `status`, because of `reason`."""

    conversion_id: int
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
    ``unknown_status``; ``current_status`` is the conversion's status (empty when not found)."""

    def __init__(
        self, code: str, message: str, *, conversion_id: int, current_status: str = ""
    ) -> None:
        super().__init__(message)
        self.code = code
        self.conversion_id = conversion_id
        self.current_status = current_status


def _lock(conversion_ids: Sequence[int]) -> dict[int, str]:
    """The statuses of these conversions, locked until the transaction ends, in id order."""
    if connection.vendor != "postgresql":
        # SQLite (`make run`'s demo database) has no row locks: one writer at a time, and the
        # UPDATE's guard still refuses a change decided from a status that has moved on.
        found = Conversion.objects.filter(pk__in=set(conversion_ids)).order_by("pk")
        return dict(found.values_list("pk", "status"))
    table = connection.ops.quote_name(Conversion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, status FROM {table} WHERE id = ANY(%s) "  # noqa: S608
            "ORDER BY id FOR NO KEY UPDATE",
            [sorted(set(conversion_ids))],
        )
        return dict(cursor.fetchall())


@dataclass(frozen=True)
class _Change:
    conversion_id: int
    from_status: str
    to_status: str
    reason: str


def _update(changes: Sequence[_Change], *, now: datetime) -> set[int]:
    """One guarded UPDATE for all `changes` (each conversion at most once); the ids it changed."""
    if connection.vendor != "postgresql":
        # The demo database: one guarded UPDATE per change (no casts or VALUES lists in SQLite).
        return {
            change.conversion_id
            for change in changes
            if Conversion.objects.filter(pk=change.conversion_id, status=change.from_status).update(
                status=change.to_status, status_reason=change.reason, status_changed_at=now
            )
        }
    table = connection.ops.quote_name(Conversion._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s::varchar, %s::varchar, %s::varchar)"] * len(changes))
    params: list[Any] = [now]
    for change in changes:
        params += [change.conversion_id, change.from_status, change.to_status, change.reason]
    sql = (
        f"UPDATE {table} AS c SET status = v.to_status, status_reason = v.reason, "  # noqa: S608
        "status_changed_at = %s "
        f"FROM (VALUES {rows}) AS v (id, from_status, to_status, reason) "
        "WHERE c.id = v.id AND c.status = v.from_status RETURNING c.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


_DELIVERY_FIELDS = (
    "conversion",
    "endpoint",
    "status",
    "url",
    "method",
    "state",
    "attempts",
    "is_test",
    "next_attempt_at",
    "enqueued_at",
    "last_error",
    "created_at",
    "updated_at",
)
_INSERT_CHUNK = 500


def _deliveries_insert(deliveries: Sequence[Delivery]) -> dict[int, list[int]]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the deliveries this call created, by
    conversion id. A conversion that already told an endpoint of this status is not told twice:
    the unique constraint decides, with no error."""
    fields = [cast("Field[Any, Any]", Delivery._meta.get_field(n)) for n in _DELIVERY_FIELDS]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    table = connection.ops.quote_name(Delivery._meta.db_table)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    created: dict[int, list[int]] = defaultdict(list)
    for start in range(0, len(deliveries), _INSERT_CHUNK):
        chunk = deliveries[start : start + _INSERT_CHUNK]
        params: list[Any] = []
        for delivery in chunk:
            for field in fields:
                params.append(field.get_db_prep_save(getattr(delivery, field.attname), connection))
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(chunk))} "  # noqa: S608
            "ON CONFLICT (conversion_id, endpoint_id, status) WHERE NOT is_test DO NOTHING "
            "RETURNING id, conversion_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for pk, conversion_id in sorted(cursor.fetchall()):
                created[conversion_id].append(pk)
    return created


def _deliveries_create(changes: Sequence[_Change], *, now: datetime) -> dict[int, list[int]]:
    """The postbacks these changes call for (see the module's step 5), by conversion id."""
    conversions = {
        c.pk: c
        for c in Conversion.objects.select_related("event_type", "offer", "affiliate").filter(
            pk__in=[change.conversion_id for change in changes], affiliate__isnull=False
        )
    }
    if not conversions:
        return {}
    endpoints = endpoints_by_affiliate(
        affiliate_ids={c.affiliate_id for c in conversions.values() if c.affiliate_id}
    )
    signing_keys = signing_keys_for(e for listed in endpoints.values() for e in listed)
    deliveries = [
        delivery
        for change in changes
        if (conversion := conversions.get(change.conversion_id)) is not None
        for delivery in deliveries_build(
            conversion=conversion,
            endpoints=endpoints.get(cast(int, conversion.affiliate_id), []),
            status=change.to_status,
            reason=change.reason,
            now=now,
            signing_keys=signing_keys,
        )
    ]
    for delivery in deliveries:
        delivery.created_at = delivery.updated_at = now
    return _deliveries_insert(deliveries) if deliveries else {}


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
    results: list[StatusOutcome | StatusRefused | None] = [None] * len(requests)
    if not requests:
        return []
    now = timezone.now()
    log: list[ConversionStatusChange] = []
    fired: list[int] = []
    with transaction.atomic():
        current = _lock([r.conversion_id for r in requests])
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
            updated = _update([change for _, change in changes], now=now)
            if len(updated) != len(changes):
                # The rows are locked: a change that did not land means the lock was not held.
                raise DatabaseError("a locked conversion's status changed under the lock")
            created = _deliveries_create([change for _, change in changes], now=now)
            for index, change in changes:
                current[change.conversion_id] = change.to_status
                delivery_ids = tuple(created.get(change.conversion_id, ()))
                fired += delivery_ids
                results[index] = StatusOutcome(
                    change.conversion_id, change.to_status, change.from_status, True, delivery_ids
                )
                log.append(
                    ConversionStatusChange(
                        conversion_id=change.conversion_id,
                        from_status=change.from_status,
                        to_status=change.to_status,
                        reason=change.reason,
                        changed_at=now,
                        changed_by=changed_by,
                        source=source,
                    )
                )
        ConversionStatusChange.objects.bulk_create(log)
        transaction.on_commit(lambda: enqueue_ids(fired))
        counted = [(r.from_status, r.to_status, source) for r in log]
        transaction.on_commit(lambda: metrics.status_changes_count(changes=counted))
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
