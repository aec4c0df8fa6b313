"""The circuit breaker (docs/spec.md §6): an endpoint that has failed every delivery for a day, at
least 20 times in a row, is disabled with the reason; its account manager is told; its pending
deliveries wait (workers claim only live endpoints' deliveries) until it is live again."""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from postbacks.delivery.sender import Outcome
from postbacks.endpoints import endpoint_disable_live
from postbacks.models import PostbackEndpoint

logger = logging.getLogger(__name__)


def succeeded(outcome: Outcome) -> bool:
    return outcome.succeeded


def _streak_sql() -> str:
    table = PostbackEndpoint._meta.db_table
    # reset=1: the batch saw a success; the streak restarts from the failures after it.
    return (
        f"UPDATE {table} SET "  # noqa: S608
        "failure_streak = CASE WHEN %s = 1 THEN %s ELSE failure_streak + %s END, "
        "failing_since = CASE WHEN %s = 1 THEN %s ELSE COALESCE(failing_since, %s) END "
        "WHERE id = %s AND (%s = 0 OR %s > 0 OR failure_streak > 0)"
    )


def endpoint_streaks_update(*, outcomes: Sequence[Outcome]) -> list[int]:
    """Fold a batch of attempt outcomes into each endpoint's failure streak, in the caller's
    transaction, and trip the breaker where it is due. Returns the endpoints it disabled.

    Endpoint rows are updated in ascending id order, so concurrent batches never deadlock."""
    by_endpoint: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        out = outcome.outgoing
        if out.endpoint_id is not None and not out.is_test:
            by_endpoint[out.endpoint_id].append(outcome)
    if not by_endpoint:
        return []
    rows = []
    failing: list[int] = []
    for endpoint_id in sorted(by_endpoint):
        items = sorted(by_endpoint[endpoint_id], key=lambda o: o.started_at)
        successes = [i for i, o in enumerate(items) if succeeded(o)]
        tail = items[successes[-1] + 1 :] if successes else items
        reset = 1 if successes else 0
        first: datetime | None = tail[0].started_at if tail else None
        k = len(tail)
        rows.append((reset, k, k, reset, first, first, endpoint_id, reset, k))
        if tail:
            failing.append(endpoint_id)
    with connection.cursor() as cursor:
        cursor.executemany(_streak_sql(), rows)
    return _trip(endpoint_ids=failing) if failing else []


def _trip(*, endpoint_ids: Sequence[int]) -> list[int]:
    now = timezone.now()
    window = timedelta(seconds=settings.POSTBACK_BREAKER_WINDOW)
    due = PostbackEndpoint.objects.filter(
        pk__in=list(endpoint_ids),
        status=PostbackEndpoint.Status.LIVE,
        failure_streak__gte=settings.POSTBACK_BREAKER_MIN_FAILURES,
        failing_since__lte=now - window,
    )
    tripped = []
    for endpoint_id, streak, since in due.values_list("pk", "failure_streak", "failing_since"):
        reason = (
            f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC: every postback failed since "
            f"{since:%Y-%m-%d %H:%M} UTC ({streak} attempts in a row). Pending postbacks wait "
            "and are sent once the endpoint is live again."
        )
        if endpoint_disable_live(
            endpoint_id=endpoint_id,
            reason=reason,
            history_reason=f"circuit breaker: {streak} failed attempts in a row since "
            f"{since:%Y-%m-%d %H:%M} UTC",
        ):
            tripped.append(endpoint_id)
            logger.warning("endpoint %s disabled by the circuit breaker: %s", endpoint_id, reason)
    if tripped:
        transaction.on_commit(lambda: endpoints_disabled_notify(endpoint_ids=tripped))
    return tripped


def endpoints_disabled_notify(*, endpoint_ids: Sequence[int]) -> None:
    """E-mail each disabled endpoint's account manager (or the alert list)."""
    endpoints = PostbackEndpoint.objects.filter(pk__in=list(endpoint_ids)).select_related(
        "affiliate__account_manager"
    )
    for endpoint in endpoints:
        manager = endpoint.affiliate.account_manager
        recipients = [manager.email] if manager and manager.email else []
        recipients = recipients or list(settings.POSTBACK_ALERT_EMAILS)
        if not recipients:
            logger.error("nobody to tell that endpoint %s was disabled", endpoint.pk)
            continue
        path = reverse("admin:postbacks_postbackendpoint_change", args=[endpoint.pk])
        try:
            send_mail(
                subject=f"Postbacks disabled for {endpoint.affiliate}",
                message=(
                    f"Postback endpoint #{endpoint.pk} of {endpoint.affiliate} was disabled.\n\n"
                    f"{endpoint.disabled_reason}\n\nURL template: {endpoint.url_template}\n"
                    f"Review it and set it live again in the admin: {path}\n"
                ),
                from_email=None,
                recipient_list=recipients,
            )
        except OSError:
            logger.exception("could not e-mail the breaker alert for endpoint %s", endpoint.pk)
