"""The account manager's front page in a real browser (issue 7): the dashboard shows at a glance
which endpoint has trouble, its charts are drawn from the project's own static files, and two
clicks (its health page, then replay) send its failed and dead postbacks again."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from postbacks.delivery.rollup import attempts_rollup
from postbacks.delivery.sender import Outcome, Outgoing
from postbacks.models import Delivery, PostbackEndpoint
from tests.e2e.conftest import screenshot
from tests.factories import (
    AffiliateFactory,
    ConversionFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    PostbackEndpointFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

State = Delivery.State


def scene(manager: Any) -> PostbackEndpoint:
    """A day of postbacks for three affiliates; one endpoint disabled by the circuit breaker."""
    now = timezone.now()
    healthy = PostbackEndpointFactory.create(
        affiliate=AffiliateFactory(name="Cam Traffic Ltd", account_manager=manager)
    )
    shaky = PostbackEndpointFactory.create(
        affiliate=AffiliateFactory(name="Dating Leads", account_manager=manager), failure_streak=2
    )
    broken = PostbackEndpointFactory.create(
        affiliate=AffiliateFactory(name="Gone Tracker", account_manager=manager),
        status=PostbackEndpoint.Status.DISABLED,
        disabled_reason="Failed every attempt for 24 h (31 in a row); last: receiver answered 503",
        failure_streak=31,
    )
    plan = [(healthy, 0.97, 60), (shaky, 0.8, 25), (broken, 0.0, 12)]
    outcomes, states = [], []
    for endpoint, success, per_day in plan:
        for n in range(per_day):
            ok = (n % 100) < success * 100
            started = now - timedelta(hours=(n * 24 / per_day) % 24, days=n % 9)
            delivery = DeliveryFactory.create(
                endpoint=endpoint,
                conversion=ConversionFactory(affiliate=endpoint.affiliate),
                state=State.SUCCEEDED if ok else (State.DEAD if n % 3 == 0 else State.FAILED),
                attempts=1,
            )
            attempt = DeliveryAttemptFactory(
                delivery=delivery,
                started_at=started,
                status_code=200 if ok else 503,
                duration_ms=40 + (n * 37) % 400,
                error="" if ok else "receiver answered 503",
            )
            out = Outgoing(
                delivery.pk, uuid.uuid4(), 1, delivery.url, "GET", endpoint_id=endpoint.pk
            )
            outcomes.append(
                Outcome(out, started, attempt.duration_ms, status_code=attempt.status_code)
            )
            states.append(delivery.state)
    # The dashboard reads the hourly rollup the workers keep along with the attempts.
    attempts_rollup(outcomes=outcomes, verdict_states=states)
    ConversionFactory.create_batch(3, affiliate=None, attribution="unattributed")
    return broken


def test_dashboard_shows_trouble_at_a_glance_and_replay_is_two_clicks_away(
    page: Any, live_server: Any, admin_login: Any
) -> None:
    broken = scene(admin_login)
    cache.clear()  # the login landed on the dashboard already: forget its (empty) numbers
    page.goto(f"{live_server.url}/admin/")

    expect(page.locator("#card-troubled .ops-number")).to_have_text("2")
    expect(page.locator("#card-unattributed .ops-number")).to_have_text("3")
    trouble = page.locator(f"tr.troubled-endpoint[data-endpoint='{broken.pk}']")
    expect(trouble).to_contain_text("disabled")
    # The charts are drawn by the vendored Chart.js.
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-hourly')")
    page.wait_for_function("() => Chart.getChart('chart-daily')")
    expect(page.locator("#ops-endpoints tbody tr").first).to_contain_text("Gone Tracker")
    expect(page.locator("#content-main .app-postbacks")).to_be_visible()  # the app list stays
    screenshot(page, "dashboard.png")

    # Click 1: the endpoint's health page.
    trouble.get_by_role("link", name="Health & replay").click()
    expect(page.locator("#card-status")).to_contain_text("Disabled")
    page.wait_for_function("() => Chart.getChart('chart-latency')")
    replayable = Delivery.objects.filter(endpoint=broken, state__in=["failed", "dead"]).count()
    assert replayable > 0
    # Click 2: replay its failed and dead deliveries.
    page.click("#replay-failed-dead")
    expect(page.locator("ul.messagelist")).to_contain_text(
        f"{replayable} deliveries queued for replay."
    )
    assert not Delivery.objects.filter(endpoint=broken, state__in=["failed", "dead"]).exists()
