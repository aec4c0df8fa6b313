"""The admin's front page is the postbacks dashboard (issue 7, item 1): it renders with data and
empty, and its numbers equal counts computed here from a known set of attempts, recorded through
the workers' write path (which keeps the hourly rollup the dashboard reads)."""

import uuid
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median_low
from typing import Any

import pytest
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from postbacks import dashboard
from postbacks.delivery import rollup
from postbacks.delivery.queue import enqueue_ids
from postbacks.delivery.sender import Outcome, Outgoing
from postbacks.delivery.services import delivery_outcomes_record
from postbacks.models import AttemptHourly, Conversion, Delivery, PostbackEndpoint
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

State = Delivery.State
NOW = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


@dataclass(frozen=True)
class Planned:
    """One attempt of the scene: which endpoint, how long ago, what it answered, and whether it
    is the last attempt of a delivery that is dead now."""

    endpoint: str
    ago: timedelta
    status: int | None
    duration_ms: int
    dead: bool = False
    test: bool = False


PLAN = [
    Planned("e1", timedelta(minutes=50), 200, 100),
    Planned("e1", timedelta(hours=2), 500, 300),
    Planned("e1", timedelta(hours=3), 503, 200),
    Planned("e1", timedelta(hours=3, minutes=-5), 404, 50, dead=True),
    Planned("e1", timedelta(minutes=50), 500, 999, test=True),
    Planned("e1", timedelta(days=5), 200, 70),
    Planned("e1", timedelta(days=40), 500, 10),
    Planned("e2", timedelta(minutes=20), 204, 20),
    Planned("e2", timedelta(days=2), None, 5000),
]


def outcome(p: Planned) -> str:
    if p.status is not None and 200 <= p.status < 300:
        return "succeeded"
    return "dead" if p.dead else "failed"


def record(
    delivery: Delivery, *, started_at: datetime, status: int | None, duration_ms: int
) -> Outcome:
    """One attempt of `delivery` through the workers' write path: claimed as deliveries_claim
    does (sending, a fresh lease, one more attempt), then its outcome recorded."""
    token = uuid.uuid4()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=State.SENDING, lease_token=token, attempts=F("attempts") + 1
    )
    delivery.refresh_from_db()
    event = delivery.conversion.event_type.code if delivery.conversion else ""
    result = Outcome(
        outgoing=Outgoing(
            delivery_id=delivery.pk,
            lease_token=token,
            number=delivery.attempts,
            url=delivery.url,
            method=delivery.method,
            endpoint_id=delivery.endpoint_id,
            is_test=delivery.is_test,
            event=event,
        ),
        started_at=started_at,
        duration_ms=duration_ms,
        status_code=status,
        error="" if status else "connection refused",
    )
    delivery_outcomes_record(outcomes=[result])
    return result


def real_delivery(endpoint: PostbackEndpoint) -> Delivery:
    return DeliveryFactory.create(
        endpoint=endpoint, conversion=ConversionFactory(affiliate=endpoint.affiliate)
    )


@pytest.fixture
def scene() -> dict[str, Any]:
    """Two managers, an endpoint each, and the attempts of PLAN at chosen times before NOW."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    endpoints = {
        "e1": PostbackEndpointFactory.create(affiliate=AffiliateFactory(account_manager=alice)),
        "e2": PostbackEndpointFactory.create(affiliate=AffiliateFactory(account_manager=bob)),
    }
    previous: Delivery | None = None
    for p in PLAN:
        endpoint = endpoints[p.endpoint]
        if p.dead:
            # The second attempt of the delivery planned just before; its 404 is not retried.
            assert previous is not None
        elif p.test:
            previous = DeliveryFactory.create(conversion=None, endpoint=endpoint, is_test=True)
        else:
            previous = real_delivery(endpoint)
        record(previous, started_at=NOW - p.ago, status=p.status, duration_ms=p.duration_ms)
    return {"alice": alice, "bob": bob, **endpoints}


def expected_totals(window: timedelta, *, endpoint: str | None = None) -> Counter[str]:
    return Counter(
        outcome(p)
        for p in PLAN
        if p.ago <= window and not p.test and (endpoint is None or p.endpoint == endpoint)
    )


def test_hourly_chart_counts_attempts_by_outcome_in_their_hour(scene):
    series = dashboard.attempts_per_hour(now=NOW)
    assert len(series.labels) == 24
    assert series.labels[-1] == "12:00"
    assert series.totals == {"succeeded": 0, "failed": 0, "dead": 0} | dict(
        expected_totals(timedelta(hours=24))
    )
    by_label: dict[str, Counter[str]] = {}
    for p in PLAN:
        if p.ago <= timedelta(hours=24) and not p.test:
            label = (NOW - p.ago).strftime("%H:00")
            by_label.setdefault(label, Counter())[outcome(p)] += 1
    for index, label in enumerate(series.labels):
        counts = by_label.get(label, Counter())
        assert (series.succeeded[index], series.failed[index], series.dead[index]) == (
            counts["succeeded"],
            counts["failed"],
            counts["dead"],
        ), label


def test_daily_chart_covers_thirty_days_and_leaves_older_attempts_out(scene):
    series = dashboard.attempts_per_day(now=NOW)
    assert len(series.labels) == 30
    assert series.labels[-1] == "03-10"
    assert series.labels[0] == "02-09"
    assert series.totals == {"succeeded": 0, "failed": 0, "dead": 0} | dict(
        expected_totals(timedelta(days=30))
    )
    five_days_ago = series.labels.index("03-05")
    assert series.succeeded[five_days_ago] == 1


def test_test_postbacks_never_count():
    endpoint = PostbackEndpointFactory()
    delivery = DeliveryFactory(conversion=None, endpoint=endpoint, is_test=True)
    record(delivery, started_at=NOW - timedelta(minutes=5), status=200, duration_ms=12)
    assert not AttemptHourly.objects.exists()
    assert dashboard.attempts_per_hour(now=NOW).total == 0
    assert dashboard.health_by_endpoint(now=NOW) == []


def test_two_batches_for_the_same_endpoint_hour_add_up():
    endpoint = PostbackEndpointFactory()
    first = [
        record(
            real_delivery(endpoint), started_at=NOW - timedelta(minutes=m), status=s, duration_ms=d
        )
        for m, s, d in [(5, 200, 20), (10, 503, 700)]
    ]
    again = [
        Outcome(
            outgoing=first[0].outgoing,
            started_at=NOW - timedelta(minutes=m),
            duration_ms=d,
            status_code=200,
        )
        for m, d in [(15, 40), (25, 30000)]
    ]
    rollup.attempts_rollup(outcomes=again, verdict_states=[State.SUCCEEDED] * 2)

    row = AttemptHourly.objects.get()
    assert (row.endpoint_id, row.hour, row.event) == (endpoint.pk, NOW.replace(minute=0), "signup")
    assert (row.succeeded, row.failed, row.dead) == (3, 1, 0)
    assert row.latency_ms_total == 20 + 700 + 40 + 30000
    assert (row.le_25ms, row.le_50ms, row.le_1000ms, row.over_15000ms) == (1, 1, 1, 1)
    series = dashboard.attempts_per_hour(now=NOW)
    assert (series.succeeded[-1], series.failed[-1], series.dead[-1]) == (3, 1, 0)


def test_a_dead_verdict_counts_as_dead_and_a_retry_as_failed():
    endpoint = PostbackEndpointFactory()
    refused = real_delivery(endpoint)
    record(refused, started_at=NOW - timedelta(minutes=5), status=404, duration_ms=10)
    exhausted = real_delivery(endpoint)
    for n in range(1, 4):
        record(exhausted, started_at=NOW - timedelta(minutes=n), status=503, duration_ms=10)
    Delivery.objects.filter(pk=exhausted.pk).update(attempts=7)  # the schedule has 7 retries
    record(exhausted, started_at=NOW, status=503, duration_ms=10)
    assert Delivery.objects.get(pk=refused.pk).state == State.DEAD
    assert Delivery.objects.get(pk=exhausted.pk).state == State.DEAD
    assert dashboard.attempts_per_hour(now=NOW).totals == {"succeeded": 0, "failed": 3, "dead": 2}


def test_median_is_interpolated_within_its_latency_bucket():
    assert dashboard.median_from_buckets([0] * 10) is None
    assert dashboard.median_from_buckets([10] + [0] * 9) == 12.5
    # 4 attempts: the 2nd one in order is in the (50, 100] bucket, the only one there.
    assert dashboard.median_from_buckets([0, 1, 1, 1, 1, 0, 0, 0, 0, 0]) == 100
    assert dashboard.median_from_buckets([0] * 9 + [3]) == 15000


def bucket_bounds(duration_ms: int) -> tuple[int, float]:
    bounds = AttemptHourly.LATENCY_BOUNDS
    index = bisect_left(bounds, duration_ms)
    return (bounds[index - 1] if index else 0, bounds[index] if index < len(bounds) else 15000)


def test_success_rate_and_median_per_endpoint_worst_first(scene):
    rows = dashboard.health_by_endpoint(now=NOW)
    assert [row.id for row in rows] == [scene["e1"].pk, scene["e2"].pk]
    for row, name in zip(rows, ["e1", "e2"], strict=True):
        planned = [
            p for p in PLAN if p.endpoint == name and p.ago <= timedelta(hours=24) and not p.test
        ]
        assert row.attempts == len(planned)
        assert row.succeeded == sum(outcome(p) == "succeeded" for p in planned)
        # From buckets: within the latency bucket of the middle attempt.
        low, high = bucket_bounds(median_low(p.duration_ms for p in planned))
        assert row.median_ms is not None
        assert low <= row.median_ms <= high


def test_success_rate_per_affiliate_and_filter_by_account_manager(scene):
    rows = dashboard.health_by_affiliate(now=NOW)
    assert [row.id for row in rows] == [scene["e1"].affiliate_id, scene["e2"].affiliate_id]
    assert rows[0].success_percent == "25.0"

    only_bob = dashboard.health_by_affiliate(now=NOW, manager_id=scene["bob"].pk)
    assert [row.id for row in only_bob] == [scene["e2"].affiliate_id]
    bobs = dashboard.attempts_per_day(now=NOW, manager_id=scene["bob"].pk)
    assert bobs.totals == {"succeeded": 0, "failed": 0, "dead": 0} | dict(
        expected_totals(timedelta(days=30), endpoint="e2")
    )


def test_disabled_and_failing_endpoints_are_listed_disabled_first_with_their_deliveries():
    healthy = PostbackEndpointFactory()
    failing = PostbackEndpointFactory(failure_streak=3, failing_since=NOW)
    disabled = PostbackEndpointFactory(
        status=PostbackEndpoint.Status.DISABLED, disabled_reason="failed every attempt for 24 h"
    )
    for state, count in [(State.DEAD, 2), (State.FAILED, 1), (State.PENDING, 4)]:
        for _ in range(count):
            DeliveryFactory(
                endpoint=disabled,
                conversion=ConversionFactory(affiliate=disabled.affiliate),
                state=state,
            )
    DeliveryFactory(endpoint=healthy, conversion=ConversionFactory(affiliate=healthy.affiliate))

    troubled = dashboard.endpoints_troubled()
    assert [t.id for t in troubled] == [disabled.pk, failing.pk]
    assert (troubled[0].dead, troubled[0].failed, troubled[0].pending) == (2, 1, 4)
    assert troubled[1].failure_streak == 3


def test_unattributed_conversions_of_the_last_seven_days_are_counted():
    for _ in range(3):
        ConversionFactory(affiliate=None, attribution=Conversion.Attribution.UNATTRIBUTED)
    old = ConversionFactory(affiliate=None, attribution=Conversion.Attribution.UNATTRIBUTED)
    Conversion.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=8))
    ConversionFactory()
    assert dashboard.conversions_unattributed_count(since=timezone.now() - timedelta(days=7)) == 3


def test_queue_depth_and_workers_come_from_rq():
    for ids in ([1], [2], [3]):
        enqueue_ids(ids)
    state = dashboard.queue_state()
    assert (state.depth, state.workers) == (3, 0)


def test_dashboard_renders_above_the_app_list(admin_client, scene):
    failing = PostbackEndpointFactory(failure_streak=5)
    ConversionFactory(affiliate=None, attribution=Conversion.Attribution.UNATTRIBUTED)
    enqueue_ids([1])
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index('id="postbacks-dashboard"') < html.index('id="content-main"')
    assert "app-postbacks" in html  # Django's app list is still there
    context = response.context
    # The scene's endpoints are failing too: the last attempt each recorded failed.
    assert {t.id for t in context["dashboard"].troubled} == {
        failing.pk,
        scene["e1"].pk,
        scene["e2"].pk,
    }
    assert context["dashboard"].unattributed == 1
    assert (context["queue"].depth, context["queue"].workers) == (1, 0)
    health_url = reverse("admin:postbacks_postbackendpoint_health", args=[failing.pk])
    assert health_url in html
    assert 'id="dashboard-data"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    assert "alice" in html and "bob" in html  # the account manager filter


def test_dashboard_renders_empty(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="no-trouble"' in html
    assert "No postback attempts in the last 24 hours." in html
    assert context_number(response, "unattributed") == 0


def context_number(response: Any, name: str) -> Any:
    return getattr(response.context["dashboard"], name)


def test_manager_filter_shows_only_their_affiliates(admin_client, scene):
    now = timezone.now()
    for name in ("e1", "e2"):
        record(
            real_delivery(scene[name]),
            started_at=now - timedelta(minutes=1),
            status=200,
            duration_ms=12,
        )
    response = admin_client.get(reverse("admin:index"), {"manager": scene["alice"].pk})
    rows = response.context["dashboard"].endpoints
    assert [row.id for row in rows] == [scene["e1"].pk]
    html = response.content.decode()
    assert f'<option value="{scene["alice"].pk}" selected>' in html
    assert admin_client.get(reverse("admin:index"), {"manager": "x"}).status_code == 200


def test_links_from_the_dashboard_open_filtered_lists(admin_client):
    disabled = PostbackEndpointFactory(status=PostbackEndpoint.Status.DISABLED)
    other = PostbackEndpointFactory()
    dead = DeliveryFactory(
        endpoint=disabled, conversion=ConversionFactory(affiliate=disabled.affiliate), state="dead"
    )
    DeliveryFactory(
        endpoint=disabled,
        conversion=ConversionFactory(affiliate=disabled.affiliate),
        state="pending",
    )
    DeliveryFactory(
        endpoint=other, conversion=ConversionFactory(affiliate=other.affiliate), state="dead"
    )
    ConversionFactory(affiliate=None, attribution=Conversion.Attribution.UNATTRIBUTED)
    ConversionFactory()

    response = admin_client.get(reverse("admin:index"))
    deliveries_link = (
        reverse("admin:postbacks_delivery_changelist")
        + f"?endpoint={disabled.pk}&amp;state__in=failed,dead"
    )
    html = response.content.decode()
    assert deliveries_link in html
    listed = admin_client.get(deliveries_link.replace("&amp;", "&"))
    assert listed.status_code == 200
    assert [d.pk for d in listed.context["cl"].result_list] == [dead.pk]

    unattributed = admin_client.get(response.context["unattributed_url"])
    assert unattributed.status_code == 200
    assert {c.attribution for c in unattributed.context["cl"].result_list} == {"unattributed"}
    assert len(unattributed.context["cl"].result_list) == 1


def test_dashboard_numbers_are_reused_for_a_few_seconds(admin_client, settings):
    settings.DASHBOARD_CACHE_SECONDS = 30
    admin_client.get(reverse("admin:index"))
    PostbackEndpointFactory(status=PostbackEndpoint.Status.DISABLED)
    cached = admin_client.get(reverse("admin:index"))
    assert cached.context["dashboard"].troubled_total == 0
    cache.clear()
    fresh = admin_client.get(reverse("admin:index"))
    assert fresh.context["dashboard"].troubled_total == 1


def test_dashboard_query_count_does_not_grow_with_the_data(django_assert_max_num_queries, scene):
    with django_assert_max_num_queries(12):
        dashboard.dashboard_compute(now=NOW)


def test_staff_without_postbacks_permission_sees_the_app_list_only(client):
    user = UserFactory(username="clerk")
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert 'id="postbacks-dashboard"' not in response.content.decode()
