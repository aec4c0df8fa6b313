"""Reads for the admin dashboard and the per-endpoint health page (issue 7, items 1-2).

The dashboard's charts and tables read `AttemptHourly` (one row per endpoint, hour and event,
written with the attempts by `postbacks.delivery.rollup`), bounded on its hour index and joined to
endpoints and affiliates only: a million attempts a day are ~10,000 rollup rows. The health page
reads attempts of one endpoint's recent deliveries. Other counts read a small table (endpoints)
or a partial index (unattributed, pending conversions); the lifecycle's numbers read the status
changes of the last 30 days, by their time index. The dashboard's numbers are cached for
DASHBOARD_CACHE_SECONDS.

Charts count delivery ATTEMPTS (not deliveries) by what each attempt did:

- succeeded: the receiver answered 2xx;
- dead: the attempt left its delivery dead (no more automatic tries);
- failed: every other attempt (not 2xx; a retry was scheduled).

Rollup hours are UTC hours; days are grouped in the current time zone, exact for any zone whose
offset is whole hours. Medians on the dashboard are interpolated within latency buckets.

Test postbacks are left out everywhere but the health page's attempt list.
"""

import logging
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from affiliates.models import Affiliate
from postbacks import lifecycle
from postbacks.delivery.rollup import LATENCY_BOUNDS, LATENCY_FIELDS
from postbacks.delivery.rq_queue import queue_state as queue_state  # the page shows it too
from postbacks.models import (
    AttemptHourly,
    Conversion,
    ConversionStatusChange,
    Delivery,
    DeliveryAttempt,
    PostbackEndpoint,
)

logger = logging.getLogger(__name__)

State = Delivery.State
SUCCESS = Q(status_code__gte=200, status_code__lt=300)
HOURS = 24
DAYS = 30
STATS_WINDOW = timedelta(hours=24)
UNATTRIBUTED_WINDOW = timedelta(days=7)
LIFECYCLE_WINDOW = timedelta(days=30)
REVERSAL_ROWS = 10
TABLE_ROWS = 15
TROUBLED_ROWS = 50
RECENT_ATTEMPTS = 100
RECENT_DAYS = timedelta(days=3)
RECENT_DELIVERIES = 5000
CACHE_KEY = "postbacks:dashboard:v2:{manager}"


class Median(Aggregate):
    """PostgreSQL's exact median: percentile_cont(0.5) WITHIN GROUP (ORDER BY ...)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


# ------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutcomeSeries:
    """One chart: bucket labels and, per bucket, attempts by outcome."""

    labels: list[str]
    succeeded: list[int]
    failed: list[int]
    dead: list[int]

    def as_chart(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "dead": self.dead,
        }

    @property
    def total(self) -> int:
        return sum(self.succeeded) + sum(self.failed) + sum(self.dead)

    @property
    def success_percent(self) -> str:
        return f"{sum(self.succeeded) / self.total * 100:.1f}" if self.total else "-"

    @property
    def totals(self) -> dict[str, int]:
        return {
            "succeeded": sum(self.succeeded),
            "failed": sum(self.failed),
            "dead": sum(self.dead),
        }


@dataclass(frozen=True)
class HealthRow:
    """Attempts of one affiliate or endpoint in the stats window."""

    id: int
    label: str
    attempts: int
    succeeded: int
    median_ms: float | None

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.attempts if self.attempts else 1.0

    @property
    def success_percent(self) -> str:
        return f"{self.success_rate * 100:.1f}"


@dataclass(frozen=True)
class TroubledEndpoint:
    id: int
    label: str
    affiliate_id: int
    status: str
    disabled_reason: str
    failure_streak: int
    failing_since: datetime | None
    failed: int
    dead: int
    pending: int


@dataclass(frozen=True)
class Reversals:
    network_id: int
    name: str
    count: int


@dataclass(frozen=True)
class LifecycleNumbers:
    """Sales waiting for the network's decision (their postbacks held from endpoints that fire on
    approval only), the status changes of the window by the status reached, and the affiliates
    with the most reversals in it."""

    pending: int
    changes: dict[str, int]
    reversals: list[Reversals]


@dataclass(frozen=True)
class Dashboard:
    generated_at: datetime
    hourly: OutcomeSeries
    daily: OutcomeSeries
    affiliates: list[HealthRow]
    endpoints: list[HealthRow]
    troubled: list[TroubledEndpoint]
    troubled_total: int
    unattributed: int
    unattributed_since: datetime
    lifecycle: LifecycleNumbers


# ------------------------------------------------------------------------------
# The dashboard
# ------------------------------------------------------------------------------
def dashboard_get(*, manager_id: int | None = None, use_cache: bool = True) -> Dashboard:
    """The dashboard's numbers (all affiliates, or one account manager's), cached briefly."""
    key = CACHE_KEY.format(manager=manager_id or "all")
    if use_cache:
        cached = cache.get(key)
        if isinstance(cached, Dashboard):
            return cached
    dashboard = dashboard_compute(manager_id=manager_id)
    cache.set(key, dashboard, settings.DASHBOARD_CACHE_SECONDS)
    return dashboard


def dashboard_compute(*, manager_id: int | None = None, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    unattributed_since = now - UNATTRIBUTED_WINDOW
    troubled = endpoints_troubled(manager_id=manager_id)
    return Dashboard(
        generated_at=now,
        hourly=attempts_per_hour(now=now, manager_id=manager_id),
        daily=attempts_per_day(now=now, manager_id=manager_id),
        affiliates=health_by_affiliate(now=now, manager_id=manager_id),
        endpoints=health_by_endpoint(now=now, manager_id=manager_id),
        troubled=troubled[:TROUBLED_ROWS],
        troubled_total=len(troubled),
        unattributed=conversions_unattributed_count(since=unattributed_since),
        unattributed_since=unattributed_since,
        lifecycle=lifecycle_numbers(since=now - LIFECYCLE_WINDOW, manager_id=manager_id),
    )


def _rollup(*, since: datetime, manager_id: int | None) -> QuerySet[AttemptHourly]:
    rows = AttemptHourly.objects.filter(hour__gte=since)
    if manager_id is not None:
        rows = rows.filter(endpoint__affiliate__account_manager_id=manager_id)
    return rows.order_by()


def _series(
    rollup: QuerySet[AttemptHourly], trunc: Any, buckets: list[datetime], fmt: str
) -> OutcomeSeries:
    rows = (
        rollup.annotate(bucket=trunc)
        .values("bucket")
        .annotate(succeeded=Sum("succeeded"), failed=Sum("failed"), dead=Sum("dead"))
    )
    by_bucket = {row["bucket"]: row for row in rows}
    succeeded, failed, dead = [], [], []
    for bucket in buckets:
        row = by_bucket.get(bucket, {"succeeded": 0, "failed": 0, "dead": 0})
        succeeded.append(row["succeeded"])
        failed.append(row["failed"])
        dead.append(row["dead"])
    labels = [timezone.localtime(bucket).strftime(fmt) for bucket in buckets]
    return OutcomeSeries(labels, succeeded, failed, dead)


def attempts_per_hour(*, now: datetime, manager_id: int | None = None) -> OutcomeSeries:
    """The last 24 hours, this hour included, one bucket per hour."""
    current = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    buckets = [current - timedelta(hours=n) for n in range(HOURS - 1, -1, -1)]
    rollup = _rollup(since=buckets[0], manager_id=manager_id)
    tz = timezone.get_current_timezone()
    return _series(rollup, TruncHour("hour", tzinfo=tz), buckets, "%H:00")


def attempts_per_day(*, now: datetime, manager_id: int | None = None) -> OutcomeSeries:
    """The last 30 days, today included, one bucket per day."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    buckets = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    rollup = _rollup(since=buckets[0], manager_id=manager_id)
    tz = timezone.get_current_timezone()
    return _series(rollup, TruncDay("hour", tzinfo=tz), buckets, "%m-%d")


def _median(attempts: QuerySet[DeliveryAttempt]) -> float | None:
    if connection.vendor == "postgresql":
        median: float | None = attempts.aggregate(median=Median("duration_ms"))["median"]
        return median
    durations = list(attempts.values_list("duration_ms", flat=True))
    return float(statistics.median(durations)) if durations else None


def median_from_buckets(counts: Sequence[int]) -> float | None:
    """The median of a latency histogram (counts per LATENCY_BUCKETS bucket, then the overflow),
    interpolated linearly within the bucket that holds it, as Prometheus' histogram_quantile
    does; in the overflow bucket, its lower bound."""
    total = sum(counts)
    if not total:
        return None
    rank = total / 2
    below = 0
    lower = 0
    for upper, count in zip(LATENCY_BOUNDS, counts, strict=False):
        if count and below + count >= rank:
            return lower + (upper - lower) * (rank - below) / count
        below += count
        lower = upper
    return float(lower)


def _health(
    *, now: datetime, manager_id: int | None, group: str
) -> list[tuple[int, int, int, float | None]]:
    rows = (
        _rollup(since=now - STATS_WINDOW, manager_id=manager_id)
        .values(group)
        .annotate(
            ok=Sum("succeeded"),
            ko=Sum("failed") + Sum("dead"),
            **{field: Sum(field) for field in LATENCY_FIELDS},
        )
    )
    return [
        (
            row[group],
            row["ok"] + row["ko"],
            row["ok"],
            median_from_buckets([row[field] for field in LATENCY_FIELDS]),
        )
        for row in rows
    ]


def _worst_first(rows: Iterable[HealthRow]) -> list[HealthRow]:
    """Lowest success rate first; among equals the busiest, then the slowest."""
    return sorted(rows, key=lambda r: (r.success_rate, -r.attempts, -(r.median_ms or 0), r.id))[
        :TABLE_ROWS
    ]


def health_by_affiliate(*, now: datetime, manager_id: int | None = None) -> list[HealthRow]:
    rows = _health(now=now, manager_id=manager_id, group="endpoint__affiliate_id")
    names = {
        a.pk: f"{a.network_id} {a.name}"
        for a in Affiliate.objects.filter(pk__in=[r[0] for r in rows])
    }
    return _worst_first(
        HealthRow(pk, names.get(pk, str(pk)), attempts, succeeded, median)
        for pk, attempts, succeeded, median in rows
    )


def health_by_endpoint(*, now: datetime, manager_id: int | None = None) -> list[HealthRow]:
    rows = _health(now=now, manager_id=manager_id, group="endpoint_id")
    names = {
        e.pk: f"#{e.pk} {e.affiliate.network_id} {e.affiliate.name}"
        for e in PostbackEndpoint.objects.filter(pk__in=[r[0] for r in rows]).select_related(
            "affiliate"
        )
    }
    return _worst_first(
        HealthRow(pk, names.get(pk, f"#{pk}"), attempts, succeeded, median)
        for pk, attempts, succeeded, median in rows
    )


def endpoints_troubled(*, manager_id: int | None = None) -> list[TroubledEndpoint]:
    """Endpoints disabled, or failing right now (their last attempts failed), worst first, with
    their failed, dead and pending deliveries."""
    endpoints = PostbackEndpoint.objects.filter(
        Q(status=PostbackEndpoint.Status.DISABLED) | Q(failure_streak__gt=0)
    ).select_related("affiliate")
    if manager_id is not None:
        endpoints = endpoints.filter(affiliate__account_manager_id=manager_id)
    found = list(endpoints.order_by("-failure_streak", "pk"))
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for endpoint_id, state, count in (
        Delivery.objects.filter(
            endpoint__in=[e.pk for e in found],
            is_test=False,
            state__in=[State.FAILED, State.DEAD, State.PENDING],
        )
        .values_list("endpoint_id", "state")
        .annotate(count=Count("id"))
        .order_by()
    ):
        counts[endpoint_id][state] = count
    troubled = [
        TroubledEndpoint(
            id=e.pk,
            label=f"#{e.pk} {e.affiliate.network_id} {e.affiliate.name}",
            affiliate_id=e.affiliate_id,
            status=e.status,
            disabled_reason=e.disabled_reason,
            failure_streak=e.failure_streak,
            failing_since=e.failing_since,
            failed=counts[e.pk].get(State.FAILED, 0),
            dead=counts[e.pk].get(State.DEAD, 0),
            pending=counts[e.pk].get(State.PENDING, 0),
        )
        for e in found
    ]
    disabled_first = PostbackEndpoint.Status.DISABLED
    return sorted(troubled, key=lambda t: t.status != disabled_first)


def conversions_unattributed_count(*, since: datetime) -> int:
    """Unattributed conversions received since then (the partial index answers this)."""
    return Conversion.objects.filter(
        attribution=Conversion.Attribution.UNATTRIBUTED, received_at__gte=since
    ).count()


def lifecycle_numbers(*, since: datetime, manager_id: int | None = None) -> LifecycleNumbers:
    """Three small queries: the pending index, and the status changes since then (their own
    table, by its time index), counted by status and, for reversals, by affiliate."""
    pending = Conversion.objects.filter(
        status=Conversion.Status.PENDING, attribution=Conversion.Attribution.ATTRIBUTED
    )
    changes = ConversionStatusChange.objects.filter(changed_at__gte=since)
    if manager_id is not None:
        pending = pending.filter(affiliate__account_manager_id=manager_id)
        changes = changes.filter(conversion__affiliate__account_manager_id=manager_id)
    by_status = dict(changes.values_list("to_status").annotate(n=Count("id")).order_by())
    reversals = (
        changes.filter(to_status=Conversion.Status.REVERSED, conversion__affiliate__isnull=False)
        .values_list("conversion__affiliate__network_id", "conversion__affiliate__name")
        .annotate(n=Count("id"))
        .order_by("-n", "conversion__affiliate__network_id")[:REVERSAL_ROWS]
    )
    return LifecycleNumbers(
        pending=pending.count(),
        changes={status: by_status.get(status, 0) for status in lifecycle.STATUSES[1:]},
        reversals=[Reversals(network_id, name, n) for network_id, name, n in reversals],
    )


def account_managers() -> list[tuple[int, str]]:
    """Staff users, for the dashboard's account manager filter."""
    users = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
    return [(u.pk, u.get_full_name() or u.get_username()) for u in users]


# ------------------------------------------------------------------------------
# The per-endpoint health page
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class EndpointHealth:
    endpoint: PostbackEndpoint
    attempts: list[DeliveryAttempt]
    states: dict[str, int]
    last_failure: DeliveryAttempt | None
    stats: HealthRow | None
    replayable: int


def _endpoint_recent_delivery_ids(*, endpoint: PostbackEndpoint, now: datetime) -> list[int]:
    """Its real deliveries created within RECENT_DAYS (the whole retry schedule is under two
    days), newest first, at most RECENT_DELIVERIES: read on the (endpoint, -created_at) index.
    Test postbacks are on the endpoint's page: the health page is about real postbacks only.

    Starting from the attempts table instead would walk its started_at index through every
    other endpoint's attempts, seconds on a quiet endpoint among a million attempts."""
    return list(
        Delivery.objects.filter(endpoint=endpoint, is_test=False, created_at__gte=now - RECENT_DAYS)
        .order_by("-created_at")
        .values_list("pk", flat=True)[:RECENT_DELIVERIES]
    )


def endpoint_health(*, endpoint: PostbackEndpoint, now: datetime | None = None) -> EndpointHealth:
    """Its last attempts (newest first) and last failed attempt, among the attempts of its recent
    deliveries; its deliveries by state; the last 24 hours' success rate and median latency; and
    how many deliveries a replay would send."""
    now = now or timezone.now()
    recent = DeliveryAttempt.objects.filter(
        delivery_id__in=_endpoint_recent_delivery_ids(endpoint=endpoint, now=now)
    ).order_by("-started_at", "-pk")
    attempts = list(recent.select_related("delivery")[:RECENT_ATTEMPTS])
    last_failure = recent.exclude(SUCCESS).select_related("delivery").first()
    states = {state: 0 for state in State.values}
    for state, count in (
        Delivery.objects.filter(endpoint=endpoint, is_test=False)
        .values_list("state")
        .annotate(count=Count("id"))
        .order_by()
    ):
        states[state] = count
    window = recent.filter(delivery__is_test=False, started_at__gte=now - STATS_WINDOW).order_by()
    totals = window.aggregate(attempts=Count("id"), succeeded=Count("id", filter=SUCCESS))
    stats = None
    if totals["attempts"]:
        median = _median(window)
        stats = HealthRow(
            endpoint.pk, str(endpoint), totals["attempts"], totals["succeeded"], median
        )
    return EndpointHealth(
        endpoint=endpoint,
        attempts=attempts,
        states=states,
        last_failure=last_failure,
        stats=stats,
        replayable=states[State.FAILED] + states[State.DEAD],
    )


def endpoint_replayable_ids(*, endpoint: PostbackEndpoint) -> list[int]:
    """Its real deliveries in state failed or dead: what the health page's replay sends again."""
    return list(
        Delivery.objects.filter(
            endpoint=endpoint, is_test=False, state__in=[State.FAILED, State.DEAD]
        ).values_list("pk", flat=True)
    )
