"""Test postbacks and previews (SPEC §1, §4): a template rendered for a sample conversion built
from the endpoint's test link, and a test postback fired now through the one sending path.

A test postback is a Delivery with ``is_test=True`` and no conversion, claimed, sent and recorded
by the same services as a real delivery (address guard and timeouts included). It is tried once:
the account manager fires another test rather than the worker retrying a test for two days.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks.delivery.sender import send_now
from postbacks.delivery.services import deliveries_claim, delivery_outcomes_record
from postbacks.macros import TemplateError, available_macros, macro_values, render_url
from postbacks.models import Delivery, DeliveryAttempt, EventType, PostbackEndpoint
from postbacks.preview import (
    PREVIEW_TRANSACTION_ID,
    sample_network_values,
    tracker_from_test_link,
)
from postbacks.tracker import TrackerError

logger = logging.getLogger(__name__)

TEST_HISTORY_LIMIT = 20


def _default_event() -> EventType:
    """The event of a sample conversion when none is chosen: a sale."""
    return EventType.objects.filter(code="signup").first() or EventType(code="signup", name="Sale")


# ------------------------------------------------------------------------------
# Sample conversions
# ------------------------------------------------------------------------------
def _test_link_problem(exc: TrackerError) -> str:
    """The reason, to follow "Nothing was sent: " or "Cannot render a sample: "."""
    message = str(exc).rstrip(".")
    message = message[:1].lower() + message[1:]
    return (
        message if "test link" in message else f"the test link's tracker cannot be read: {message}"
    )


def sample_tracker_values(*, affiliate: Affiliate, test_link: str) -> tuple[dict[str, str], str]:
    """The tracker values of the test link, parsed with the affiliate's format, and where they
    came from; without a test link, ``sample_<name>`` for each param. Raises TrackerError."""
    params = list(affiliate.tracker_params or [])
    if not test_link:
        return (
            {name: f"sample_{name}" for name in params},
            "no test link: tracker values are samples",
        )
    # The setup form's check of a test link, so a link is read the same way everywhere.
    link = tracker_from_test_link(
        test_link=test_link, fmt=affiliate.tracker_format, network_id=affiliate.network_id
    )
    return link.values, "tracker values from the test link"


def _sample_url(
    *,
    affiliate: Affiliate,
    url_template: str,
    tracker: dict[str, str],
    offer: Offer | None,
    event_type: EventType,
    transaction_id: str,
    occurred_at: datetime,
) -> str:
    network = sample_network_values(
        network_id=affiliate.network_id,
        offer=offer,
        event=event_type,
        occurred_at=occurred_at,
        transaction_id=transaction_id,
    )
    params = list(affiliate.tracker_params or [])
    values = macro_values(network=network, tracker=tracker, tracker_params=params)
    return render_url(url_template, values)


# ------------------------------------------------------------------------------
# Preview
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventUrl:
    event: str
    event_name: str
    url: str


@dataclass(frozen=True)
class Preview:
    """What a template fires for each event; ``error`` names why it cannot (then no URLs)."""

    urls: list[EventUrl]
    source: str
    error: str
    macros: dict[str, str]


def template_preview(
    *,
    affiliate: Affiliate | None,
    url_template: str,
    test_link: str = "",
    offer: Offer | None = None,
    event_types: Iterable[EventType] = (),
) -> Preview:
    """The URL a template fires for a sample conversion of each event (no event chosen: a sample
    sale), with the test link's tracker values. Unsaved input is fine: nothing is written."""
    if affiliate is None:
        return Preview(
            [], "", "Choose the affiliate to see the URL rendered.", available_macros([])
        )
    macros = available_macros(list(affiliate.tracker_params or []))
    if not url_template.strip():
        return Preview([], "", "Type the postback URL template to see it rendered.", macros)
    try:
        tracker, source = sample_tracker_values(affiliate=affiliate, test_link=test_link)
    except TrackerError as exc:
        return Preview([], "", _test_link_problem(exc), macros)
    now = timezone.now()
    events = sorted(event_types, key=lambda event: event.code) or [_default_event()]
    urls = []
    try:
        for event in events:
            url = _sample_url(
                affiliate=affiliate,
                url_template=url_template,
                tracker=tracker,
                offer=offer,
                event_type=event,
                transaction_id=PREVIEW_TRANSACTION_ID,
                occurred_at=now,
            )
            urls.append(EventUrl(event.code, event.name, url))
    except TemplateError as exc:
        return Preview([], source, str(exc), macros)
    return Preview(urls, source, "", macros)


def endpoint_preview(*, endpoint: PostbackEndpoint) -> Preview:
    """template_preview of a saved endpoint."""
    return template_preview(
        affiliate=endpoint.affiliate,
        url_template=endpoint.url_template,
        test_link=endpoint.test_link,
        offer=endpoint.offer,
        event_types=endpoint.event_types.all(),
    )


# ------------------------------------------------------------------------------
# Test postbacks
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestResult:
    """One test postback: what was sent and what the receiver answered (or why not)."""

    __test__ = False  # not a pytest test class

    url: str
    method: str
    event: str
    source: str
    succeeded: bool
    status_code: int | None
    duration_ms: int | None
    response_excerpt: str
    error: str
    delivery_id: int
    attempt_id: int | None


def _event_for_test(endpoint: PostbackEndpoint, event_code: str | None) -> EventType:
    subscribed = endpoint.event_types.order_by("code")
    if event_code is None:
        return subscribed.first() or _default_event()
    event = subscribed.filter(code=event_code).first()
    if event is None:
        codes = ", ".join(subscribed.values_list("code", flat=True)) or "none"
        raise ValidationError(
            {"event": f"The endpoint does not receive event {event_code!r} (it receives: {codes})."}
        )
    return event


def endpoint_test_url(
    *, endpoint: PostbackEndpoint, event_code: str | None = None, now: datetime | None = None
) -> tuple[str, EventType, str]:
    """The URL a test postback fires, its event and where its tracker values came from.

    Raises ValidationError naming the problem when the test link or template cannot be used.
    """
    now = now or timezone.now()
    event = _event_for_test(endpoint, event_code)
    try:
        tracker, source = sample_tracker_values(
            affiliate=endpoint.affiliate, test_link=endpoint.test_link
        )
    except TrackerError as exc:
        raise ValidationError(
            {"test_link": f"Nothing was sent: {_test_link_problem(exc)}."}
        ) from exc
    try:
        url = _sample_url(
            affiliate=endpoint.affiliate,
            url_template=endpoint.url_template,
            tracker=tracker,
            offer=endpoint.offer,
            event_type=event,
            transaction_id=f"test-{int(now.timestamp())}",
            occurred_at=now,
        )
    except TemplateError as exc:
        raise ValidationError(
            {"url_template": f"Nothing was sent: the template cannot be rendered: {exc}."}
        ) from exc
    return url, event, source


def endpoint_test_fire(
    *, endpoint: PostbackEndpoint, event_code: str | None = None, user: Any = None
) -> TestResult:
    """Fire a test postback at the endpoint now and wait for the answer (at most
    POSTBACK_TOTAL_TIMEOUT). Any status may be tested: a disabled endpoint too, to check a fix.

    Raises ValidationError, with nothing sent, when the template or test link cannot be used.
    """
    now = timezone.now()
    url, event, source = endpoint_test_url(endpoint=endpoint, event_code=event_code, now=now)
    # Marked as queued so the sweep leaves it alone while this request sends it.
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        conversion=None,
        is_test=True,
        url=url,
        method=endpoint.method,
        next_attempt_at=now,
        enqueued_at=now,
    )
    outgoing = deliveries_claim(delivery_ids=[delivery.pk], trigger=DeliveryAttempt.Trigger.MANUAL)
    delivery_outcomes_record(outcomes=send_now(outgoing))
    # One try: a failed test is not retried by the workers; the manager tests again.
    Delivery.objects.filter(
        pk=delivery.pk, state__in=[Delivery.State.FAILED, Delivery.State.PENDING]
    ).update(
        state=Delivery.State.DEAD,
        next_attempt_at=None,
        completed_at=timezone.now(),
        updated_at=timezone.now(),
    )
    delivery.refresh_from_db()
    attempt = delivery.attempt_log.order_by("-number").first()
    logger.info(
        "test postback %s to endpoint %s by %s: %s",
        delivery.pk,
        endpoint.pk,
        getattr(user, "username", None) or "api",
        delivery.state,
    )
    return TestResult(
        url=url,
        method=endpoint.method,
        event=event.code,
        source=source,
        succeeded=delivery.state == Delivery.State.SUCCEEDED,
        status_code=attempt.status_code if attempt else None,
        duration_ms=attempt.duration_ms if attempt else None,
        response_excerpt=attempt.response_excerpt if attempt else "",
        error=(attempt.error if attempt else "")
        or delivery.last_error
        or ("" if attempt else "not sent: the test delivery could not be claimed"),
        delivery_id=delivery.pk,
        attempt_id=attempt.pk if attempt else None,
    )


def endpoint_tests(
    *, endpoint: PostbackEndpoint, limit: int = TEST_HISTORY_LIMIT
) -> list[Delivery]:
    """The endpoint's test postbacks, newest first, with their attempts prefetched."""
    return list(
        Delivery.objects.filter(endpoint=endpoint, is_test=True)
        .order_by("-created_at", "-pk")
        .prefetch_related("attempt_log")[:limit]
    )
