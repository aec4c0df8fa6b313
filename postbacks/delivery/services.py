"""Delivery state changes (docs/spec.md §6). Every change that can race is one guarded UPDATE."""

import logging
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from postbacks import metrics
from postbacks.delivery import breaker, rollup
from postbacks.delivery.sender import Outcome, Outgoing
from postbacks.endpoint_secrets import endpoint_signing_keys
from postbacks.models import Delivery, DeliveryAttempt, PostbackEndpoint

logger = logging.getLogger(__name__)

State = Delivery.State
RETRYABLE_STATUS = frozenset({408, 429})
# Retry-After is honoured, but a receiver cannot park a delivery for longer than the schedule's end.
MAX_RETRY_AFTER = 24 * 3600


def _claimable(now: datetime) -> Q:
    due = Q(state__in=[State.PENDING, State.FAILED], next_attempt_at__lte=now)
    abandoned = Q(state=State.SENDING, locked_until__lt=now)
    sendable = Q(is_test=True) | Q(endpoint__status=PostbackEndpoint.Status.LIVE)
    # A status postback waits until every earlier postback of its conversion to the same
    # endpoint has started its first attempt: a receiver hears of a sale before its reversal.
    untried_before = Delivery.objects.filter(
        conversion=OuterRef("conversion"),
        endpoint=OuterRef("endpoint"),
        is_test=False,
        attempts=0,
        pk__lt=OuterRef("pk"),
    )
    return (due | abandoned) & sendable & ~Q(Exists(untried_before))


def deliveries_claim(
    *, delivery_ids: Sequence[int], trigger: str = "auto", lease_seconds: int | None = None
) -> list[Outgoing]:
    """Take the due deliveries among `delivery_ids` for one attempt each; others are left alone.

    Two workers handed the same ids never both get a delivery: the UPDATE's WHERE is the guard,
    and the lease token says which rows this call won.
    """
    if not delivery_ids:
        return []
    now = timezone.now()
    token = uuid.uuid4()
    lease = timedelta(seconds=lease_seconds or settings.POSTBACK_LEASE_SECONDS)
    won = Delivery.objects.filter(_claimable(now), pk__in=list(delivery_ids)).update(
        state=State.SENDING,
        lease_token=token,
        locked_until=now + lease,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if not won:
        return []
    claimed = Delivery.objects.filter(pk__in=list(delivery_ids), lease_token=token).values_list(
        "pk",
        "attempts",
        "url",
        "method",
        "endpoint_id",
        "is_test",
        "conversion__event_type__code",
        "endpoint__success_body",
        "endpoint__headers",
    )
    rows: list[Any] = list(claimed)
    keys = endpoint_signing_keys(
        endpoint_ids={row[4] for row in rows if row[3] == PostbackEndpoint.Method.JSON}, now=now
    )
    return [
        Outgoing(
            delivery_id=pk,
            lease_token=token,
            number=n,
            url=url,
            method=method,
            trigger=trigger,
            endpoint_id=endpoint_id,
            is_test=is_test,
            event=event or "",
            success_body=success_body,
            signing_keys=keys.get(endpoint_id, ())
            if method == PostbackEndpoint.Method.JSON
            else (),
            headers=tuple((headers or {}).items()),
        )
        for pk, n, url, method, endpoint_id, is_test, event, success_body, headers in rows
    ]


def retry_delay(*, attempts: int, retry_after: float | None = None) -> float | None:
    """Seconds until the next try after `attempts` tries, or None when the schedule has run out."""
    schedule = settings.POSTBACK_RETRY_SCHEDULE
    if attempts > len(schedule):
        return None
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    base = schedule[attempts - 1]
    jitter = settings.POSTBACK_RETRY_JITTER
    return base * (1 + random.uniform(-jitter, jitter)) if jitter else float(base)  # noqa: S311


@dataclass(frozen=True)
class Verdict:
    state: str
    next_attempt_at: datetime | None
    error: str


def judge(outcome: Outcome, *, now: datetime) -> Verdict:
    """docs/spec.md §6: only 2xx succeeds; errors, timeouts, 408, 429, 5xx retry; other answers end
    it. A 2xx without the endpoint's success text is retried: the receiver did not confirm."""
    code = outcome.status_code
    if outcome.succeeded:
        return Verdict(State.SUCCEEDED, None, "")
    if outcome.refused:
        return Verdict(State.DEAD, None, outcome.error)
    retryable = code is None or code in RETRYABLE_STATUS or code >= 500 or outcome.body_mismatch
    error = outcome.error or f"receiver answered {code}"
    if not retryable:
        return Verdict(State.DEAD, None, f"{error}; not retried")
    delay = retry_delay(attempts=outcome.outgoing.number, retry_after=outcome.retry_after)
    if delay is None:
        return Verdict(State.DEAD, None, f"{error}; retry schedule exhausted")
    return Verdict(State.FAILED, now + timedelta(seconds=delay), error)


def _update_sql() -> str:
    table = Delivery._meta.db_table
    return (
        f"UPDATE {table} SET state = %s, next_attempt_at = %s, last_status_code = %s, "  # noqa: S608
        "last_error = %s, completed_at = %s, updated_at = %s, "
        "lease_token = NULL, locked_until = NULL, enqueued_at = NULL "
        # By primary key: the lease token is set only while a worker sends, so it is the whole
        # guard. (With state = 'sending' here the planner chose the state index and scanned
        # every delivery being sent, 7 ms a row.)
        "WHERE id = %s AND lease_token = %s"
    )


def delivery_outcomes_record(*, outcomes: Iterable[Outcome]) -> int:
    """Log each attempt and move its delivery on, in one transaction for the whole batch.

    A delivery whose lease was lost meanwhile (another worker took it over) keeps the other
    worker's state; its attempt is still logged, since it was made.
    """
    outcomes = list(outcomes)
    if not outcomes:
        return 0
    now = timezone.now()
    lease_field = Delivery._meta.get_field("lease_token")
    attempts = []
    updates = []
    states = []
    for outcome in outcomes:
        out = outcome.outgoing
        verdict = judge(outcome, now=now)
        states.append(verdict.state)
        attempts.append(
            DeliveryAttempt(
                delivery_id=out.delivery_id,
                number=out.number,
                url=out.url,
                started_at=outcome.started_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                response_excerpt=outcome.excerpt.replace("\x00", "\ufffd"),
                error=outcome.error[:500],
                trigger=out.trigger,
            )
        )
        terminal = verdict.state in (State.SUCCEEDED, State.DEAD)
        updates.append(
            (
                verdict.state,
                verdict.next_attempt_at,
                outcome.status_code,
                verdict.error[:500],
                now if terminal else None,
                now,
                out.delivery_id,
                lease_field.get_db_prep_value(out.lease_token, connection),
            )
        )
    # Rows in id order: concurrent writers (other workers, the sweep) lock them in the same
    # order and cannot deadlock.
    updates.sort(key=lambda row: row[6])
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(attempts, ignore_conflicts=True)
        with connection.cursor() as cursor:
            cursor.executemany(_update_sql(), updates)
        breaker.endpoint_streaks_update(outcomes=outcomes)
        rollup.attempts_rollup(outcomes=outcomes, verdict_states=states)
    metrics.attempts_observe(outcomes=outcomes, verdict_states=states)
    return len(outcomes)


def deliveries_release(*, outgoing: Iterable[Outgoing], delay: float) -> int:
    """Give claimed deliveries back without an attempt (their receiver's host was saturated)."""
    now = timezone.now()
    released = 0
    with transaction.atomic():
        for out in sorted(outgoing, key=lambda o: o.delivery_id):
            released += _release_one(out, now=now, delay=delay)
    return released


def _release_one(out: Outgoing, *, now: datetime, delay: float) -> int:
    # The lease token is set only while sending: with the primary key it is the whole guard.
    return Delivery.objects.filter(pk=out.delivery_id, lease_token=out.lease_token).update(
        state=State.PENDING,
        attempts=F("attempts") - 1,
        next_attempt_at=now + timedelta(seconds=delay),
        lease_token=None,
        locked_until=None,
        enqueued_at=None,
        updated_at=now,
    )


def deliveries_reclaim_abandoned(*, limit: int = 5000) -> int:
    """Deliveries whose worker died mid-send go back to pending: at-least-once, same URL.

    Rows a live writer holds are skipped (SKIP LOCKED), the rest locked in id order, so the
    sweep never deadlocks with a worker writing its outcomes."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(state=State.SENDING, locked_until__lt=now)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        return Delivery.objects.filter(
            pk__in=ids, state=State.SENDING, locked_until__lt=now
        ).update(
            state=State.PENDING,
            next_attempt_at=now,
            lease_token=None,
            locked_until=None,
            enqueued_at=None,
            updated_at=now,
        )


def deliveries_due(*, limit: int, queued_before: datetime | None = None) -> list[int]:
    """Ids of deliveries that are due and not (or no longer credibly) sitting in the queue: never
    queued, queued POSTBACK_REQUEUE_AFTER ago, or queued before `queued_before` (a Redis that
    came back empty)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.POSTBACK_REQUEUE_AFTER)
    if queued_before is not None:
        stale = max(stale, queued_before)
    return list(
        Delivery.objects.filter(
            Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale),
            Q(is_test=True) | Q(endpoint__status=PostbackEndpoint.Status.LIVE),
            state__in=[State.PENDING, State.FAILED],
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def deliveries_mark_enqueued(*, delivery_ids: Sequence[int]) -> list[int]:
    """Mark these due deliveries queued now; the ids marked. A row a worker holds locked is
    being claimed by it this moment and is left out: waiting for it, in whatever order the
    plan visits rows, deadlocked with a claim waiting for a row this held (seen in the bench)."""
    with transaction.atomic():
        marked = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(delivery_ids), state__in=[State.PENDING, State.FAILED])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=marked).update(enqueued_at=timezone.now())
    return marked


def deliveries_unmark_enqueued(*, delivery_ids: Sequence[int]) -> int:
    """The queue refused them: let the sweep pick them up as soon as it can."""
    return Delivery.objects.filter(pk__in=list(delivery_ids)).update(enqueued_at=None)
