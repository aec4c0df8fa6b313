"""The audit trail of endpoints (issue 6): the breaker, set-live and event types are recorded;
the breaker's per-attempt counters are not."""

from datetime import timedelta

import pytest

from postbacks.delivery.breaker import endpoint_streaks_update
from postbacks.endpoint_changes import endpoint_update
from postbacks.endpoints import endpoint_disable_live
from postbacks.models import PostbackEndpoint
from tests.factories import PostbackEndpointFactory
from tests.postbacks.test_admin import endpoint_in_testing, endpoint_view_url
from tests.postbacks.test_breaker import outcome

pytestmark = pytest.mark.django_db

Status = PostbackEndpoint.Status


def test_the_breaker_disabling_an_endpoint_is_recorded_with_its_reason_and_no_user():
    endpoint = PostbackEndpointFactory.create(events=["signup", "rebill"])
    before = endpoint.history.count()
    failures = [outcome(endpoint, 500, ago=timedelta(hours=h)) for h in range(25, 5, -1)]
    assert endpoint_streaks_update(outcomes=failures) == [endpoint.pk]

    assert endpoint.history.count() == before + 1
    latest = endpoint.history.latest()
    assert latest.history_user is None
    assert latest.history_change_reason.startswith("circuit breaker: 20 failed attempts in a row")
    assert latest.status == Status.DISABLED
    assert "20 attempts in a row" in latest.disabled_reason
    # The snapshot keeps the event types: the change is the status, not a lost subscription.
    changed = latest.diff_against(latest.prev_record).changed_fields
    assert sorted(changed) == ["disabled_reason", "status"]


def test_failure_streak_bumps_record_no_history():
    endpoint = PostbackEndpointFactory.create()
    before = endpoint.history.count()
    endpoint_streaks_update(outcomes=[outcome(endpoint, 500, ago=timedelta(minutes=1))] * 5)
    endpoint.refresh_from_db()
    assert endpoint.failure_streak == 5
    assert endpoint.history.count() == before
    assert not hasattr(endpoint.history.model, "failure_streak")


def test_set_live_is_recorded_with_the_manager_who_did_it(admin_client, admin_user, receiver):
    endpoint = endpoint_in_testing(receiver)
    admin_client.post(endpoint_view_url(endpoint, "test"))
    admin_client.post(endpoint_view_url(endpoint, "set_live"))

    latest = endpoint.history.latest()
    assert (latest.status, latest.history_user) == (Status.LIVE, admin_user)
    assert latest.history_change_reason == "set live after a successful test postback"
    page = admin_client.get(endpoint_view_url(endpoint, "history")).content.decode()
    assert "set live after a successful test postback" in page


def test_event_type_changes_are_recorded_and_shown(admin_client):
    # In testing: a live endpoint's change of its events is made a new endpoint (test_live_edit).
    endpoint = PostbackEndpointFactory.create(events=["signup"], status=Status.TESTING)
    before = endpoint.history.latest()
    endpoint_update(endpoint=endpoint, data={"event_types": ["signup", "rebill"]})

    latest = endpoint.history.latest()
    delta = latest.diff_against(before)
    assert delta.changed_fields == ["event_types"]
    assert sorted(t.eventtype.code for t in latest.event_types.all()) == ["rebill", "signup"]
    page = admin_client.get(endpoint_view_url(endpoint, "history")).content.decode()
    assert "<strong>Event types:</strong>" in page and "Rebill (rebill)" in page


def test_a_refused_set_live_records_nothing(admin_client, receiver):
    endpoint = endpoint_in_testing(receiver)
    before = endpoint.history.count()
    admin_client.post(endpoint_view_url(endpoint, "set_live"))  # no successful test yet
    endpoint.refresh_from_db()
    assert endpoint.status == Status.TESTING
    assert endpoint.history.count() == before


def test_disabling_a_live_endpoint_is_one_guarded_change_recorded_once():
    endpoint = PostbackEndpointFactory.create(status=Status.LIVE, failure_streak=7)
    before = endpoint.history.count()
    kwargs = {"endpoint_id": endpoint.pk, "reason": "receiver gone", "history_reason": "by hand"}
    assert endpoint_disable_live(**kwargs)
    assert not endpoint_disable_live(**kwargs)  # no longer live: nothing changes, nothing logged

    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == (Status.DISABLED, "receiver gone")
    assert (endpoint.failure_streak, endpoint.failing_since) == (0, None)
    assert endpoint.history.count() == before + 1
    assert endpoint.history.latest().history_change_reason == "by hand"
