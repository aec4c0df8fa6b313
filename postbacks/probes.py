"""Test postbacks: a postback fired now at an endpoint's receiver, for a sample conversion built
from its test link (postbacks/preview.py), so an account manager sees what the receiver answers
before setting the endpoint live (docs/spec.md §1, §4).

A test postback is a Delivery with ``is_test=True`` and no conversion, claimed, sent and recorded
by the same services as a real delivery (address guard and timeouts included). It is tried once:
the account manager fires another test rather than the worker retrying a test for two days.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from postbacks import lifecycle
from postbacks.delivery.sender import send_now
from postbacks.delivery.services import deliveries_claim, delivery_outcomes_record
from postbacks.endpoint_secrets import endpoint_signing_keys
from postbacks.macros import TemplateError
from postbacks.models import Delivery, DeliveryAttempt, EventType, PostbackEndpoint
from postbacks.plain_errors import plain_error
from postbacks.preview import (
    default_event,
    link_problem,
    sample_offer,
    sample_tracker_values,
    sample_url,
)
from postbacks.tracker import TrackerError

logger = logging.getLogger(__name__)

TEST_HISTORY_LIMIT = 20

_last_test_id = 0
_test_id_lock = threading.Lock()


def probe_transaction_id() -> str:
    """A test postback's own transaction id, ``test-<unix time in nanoseconds>``: never two alike
    in a process (two tests in the same nanosecond get consecutive numbers), so a receiver that
    dedupes records every test, and one can tell them apart in its log."""
    global _last_test_id
    with _test_id_lock:
        _last_test_id = max(time.time_ns(), _last_test_id + 1)
        return f"test-{_last_test_id}"


@dataclass(frozen=True)
class ProbeResult:
    """One test postback: what was sent and what the receiver answered (or why not)."""

    url: str
    method: str
    event: str
    source: str
    succeeded: bool
    status_code: int | None
    duration_ms: int | None
    response_excerpt: str
    error: str
    problem: str
    delivery_id: int
    attempt_id: int | None


def _event_for_test(endpoint: PostbackEndpoint, event_code: str | None) -> EventType:
    subscribed = endpoint.event_types.order_by("code")
    if event_code is None:
        return subscribed.first() or default_event()
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
        raise ValidationError({"test_link": f"Nothing was sent: {link_problem(exc)}."}) from exc
    try:
        url = sample_url(
            url_template=endpoint.url_template,
            tracker_params=list(endpoint.affiliate.tracker_params or []),
            network_id=endpoint.affiliate.network_id,
            tracker=tracker,
            offer=sample_offer(offer=endpoint.offer, test_link=endpoint.test_link),
            event=event,
            occurred_at=now,
            transaction_id=probe_transaction_id(),
            # What the receiver hears first: the first status the endpoint fires on.
            status=next(iter(endpoint.fire_on or []), lifecycle.APPROVED),
            status_values=endpoint.status_values,
            is_test=True,
            signing_key=next(
                iter(endpoint_signing_keys(endpoint_ids=[endpoint.pk]).get(endpoint.pk, ())), None
            ),
        )
    except TemplateError as exc:
        raise ValidationError(
            {"url_template": f"Nothing was sent: the template cannot be rendered: {exc}."}
        ) from exc
    return url, event, source


def endpoint_test_fire(
    *, endpoint: PostbackEndpoint, event_code: str | None = None, user: Any = None
) -> ProbeResult:
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
    status_code = attempt.status_code if attempt else None
    error = (
        (attempt.error if attempt else "")
        or delivery.last_error
        or ("" if attempt else "not sent: the test delivery could not be claimed")
    )
    return ProbeResult(
        url=url,
        method=endpoint.method,
        event=event.code,
        source=source,
        succeeded=delivery.state == Delivery.State.SUCCEEDED,
        status_code=status_code,
        duration_ms=attempt.duration_ms if attempt else None,
        response_excerpt=attempt.response_excerpt if attempt else "",
        error=error,
        problem=plain_error(error=error, status_code=status_code),
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
