"""The per-endpoint health page (issue 7, item 2): recent attempts, latency, last error, deliveries
by state, and the replay of its failed and dead deliveries in one click."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from affiliates.models import Affiliate
from postbacks.delivery.queue import get_queue
from postbacks.models import Delivery, DeliveryAttempt, PostbackEndpoint
from tests.factories import (
    ConversionFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

State = Delivery.State


def health_url(endpoint: PostbackEndpoint) -> str:
    return reverse("admin:postbacks_postbackendpoint_health", args=[endpoint.pk])


def replay_url(endpoint: PostbackEndpoint) -> str:
    return reverse("admin:postbacks_postbackendpoint_health_replay", args=[endpoint.pk])


def delivery(endpoint: PostbackEndpoint, state: str = State.SUCCEEDED, **kwargs) -> Delivery:
    return DeliveryFactory.create(
        endpoint=endpoint,
        conversion=ConversionFactory(affiliate=endpoint.affiliate),
        state=state,
        **kwargs,
    )


def test_health_page_renders_empty(admin_client):
    endpoint = PostbackEndpointFactory()
    response = admin_client.get(health_url(endpoint))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="no-attempts"' in html
    assert "No failed attempt on record." in html
    assert response.context["health"].replayable == 0
    assert 'id="replay-failed-dead" disabled' in html


def test_health_page_counts_deliveries_by_state_and_shows_recent_attempts(admin_client):
    endpoint = PostbackEndpointFactory()
    other = PostbackEndpointFactory()
    planned = {State.SUCCEEDED: 3, State.FAILED: 2, State.DEAD: 1, State.PENDING: 4}
    for state, count in planned.items():
        for _ in range(count):
            delivery(endpoint, state)
    delivery(other, State.DEAD)
    DeliveryFactory(conversion=None, endpoint=endpoint, is_test=True, state=State.DEAD)
    now = timezone.now()
    target = delivery(endpoint)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=target,
            number=n,
            started_at=now - timedelta(minutes=n),
            duration_ms=10 + n,
            status_code=200,
        )
        for n in range(1, 106)
    )

    response = admin_client.get(health_url(endpoint))
    assert response.status_code == 200
    health = response.context["health"]
    expected = {state: 0 for state in State.values} | planned
    expected[State.SUCCEEDED] += 1  # the delivery that carries the attempts
    assert health.states == expected
    assert health.replayable == planned[State.FAILED] + planned[State.DEAD]
    assert len(health.attempts) == 100
    assert [a.number for a in health.attempts[:3]] == [1, 2, 3]  # newest first
    assert health.stats.attempts == 105
    assert health.stats.median_ms == 10 + 53
    assert len(response.context["chart"]["points"]) == 100
    assert 'id="health-data"' in response.content.decode()


def test_last_error_is_the_newest_failed_attempt_and_is_escaped(admin_client):
    endpoint = PostbackEndpointFactory()
    now = timezone.now()
    failed = delivery(endpoint, State.FAILED)
    DeliveryAttemptFactory(
        delivery=failed,
        started_at=now - timedelta(hours=2),
        status_code=500,
        response_excerpt="older",
    )
    DeliveryAttemptFactory(
        delivery=failed,
        number=2,
        started_at=now - timedelta(hours=1),
        status_code=503,
        response_excerpt="<script>alert(1)</script>",
    )
    DeliveryAttemptFactory(delivery=delivery(endpoint), started_at=now, status_code=200)
    response = admin_client.get(health_url(endpoint))
    assert response.context["health"].last_failure.status_code == 503
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


def test_replay_sends_failed_and_dead_deliveries_of_this_endpoint_only(admin_client):
    endpoint = PostbackEndpointFactory()
    failed, dead = delivery(endpoint, State.FAILED), delivery(endpoint, State.DEAD)
    succeeded = delivery(endpoint, State.SUCCEEDED)
    elsewhere = delivery(PostbackEndpointFactory(), State.DEAD)

    response = admin_client.post(replay_url(endpoint), follow=True)
    assert response.redirect_chain[-1][0] == health_url(endpoint)
    assert "2 deliveries queued for replay." in response.content.decode()
    states = dict(Delivery.objects.values_list("pk", "state"))
    assert states[failed.pk] == states[dead.pk] == State.PENDING
    assert states[succeeded.pk] == State.SUCCEEDED
    assert states[elsewhere.pk] == State.DEAD
    (job,) = get_queue().get_jobs()
    assert sorted(job.args[0]) == sorted([failed.pk, dead.pk])
    assert job.args[1] == "manual"


def test_replay_on_a_disabled_endpoint_says_they_wait(admin_client):
    endpoint = PostbackEndpointFactory(status=PostbackEndpoint.Status.DISABLED)
    delivery(endpoint, State.DEAD)
    response = admin_client.post(replay_url(endpoint), follow=True)
    assert "sent once it is live again" in response.content.decode()


def test_replay_needs_post_csrf_and_permission(admin_user):
    endpoint = PostbackEndpointFactory()
    dead = delivery(endpoint, State.DEAD)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get(replay_url(endpoint)).status_code == 405
    assert client.post(replay_url(endpoint)).status_code == 403  # no CSRF token

    viewer = UserFactory(username="viewer")
    # The viewer's own affiliate: the permission is what refuses, not the row's owner.
    Affiliate.objects.filter(pk=endpoint.affiliate_id).update(account_manager=viewer)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_postbackendpoint", "view_delivery"])
    )
    client = Client()
    client.force_login(viewer)
    assert client.get(health_url(endpoint)).status_code == 200
    assert client.post(replay_url(endpoint)).status_code == 403
    assert Delivery.objects.get(pk=dead.pk).state == State.DEAD


def test_endpoint_page_links_to_its_health_page(admin_client):
    endpoint = PostbackEndpointFactory()
    change = reverse("admin:postbacks_postbackendpoint_change", args=[endpoint.pk])
    assert health_url(endpoint) in admin_client.get(change).content.decode()


def test_unknown_endpoint_is_404(admin_client):
    assert (
        admin_client.get(
            reverse("admin:postbacks_postbackendpoint_health", args=[999999])
        ).status_code
        == 404
    )


def test_health_page_leaves_test_postbacks_to_the_endpoint_page(admin_client):
    endpoint = PostbackEndpointFactory()
    real = DeliveryAttemptFactory(delivery=delivery(endpoint), status_code=200)
    test = DeliveryFactory(conversion=None, endpoint=endpoint, is_test=True, state=State.DEAD)
    DeliveryAttemptFactory(delivery=test, status_code=500, error="receiver answered 500")
    health = admin_client.get(health_url(endpoint)).context["health"]
    assert [a.pk for a in health.attempts] == [real.pk]
    assert health.last_failure is None


def test_a_connection_that_failed_draws_no_latency_point(admin_client):
    endpoint = PostbackEndpointFactory()
    now = timezone.now()
    failed = delivery(endpoint, State.FAILED)
    DeliveryAttemptFactory(
        delivery=failed,
        started_at=now - timedelta(minutes=1),
        status_code=None,
        duration_ms=15000,
        error="timed out after 15.0 s",
    )
    DeliveryAttemptFactory(delivery=failed, number=2, started_at=now, status_code=503)
    points = admin_client.get(health_url(endpoint)).context["chart"]["points"]
    assert [(p["ms"], p["ok"]) for p in points] == [(None, False), (12, False)]
