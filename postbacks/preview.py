"""The one preview engine: the postback URL a template fires for a sample conversion, with the
tracker values of a test link (docs/spec.md §1, §3, §4). Nothing is written.

Its callers: the endpoint page's live preview (template_preview, endpoint_preview), the setup form
and the setup-request review (affiliates.selectors.setup_preview_rows, which takes the tracker
structure as plain arguments since nothing is saved yet), and the test postbacks
(postbacks/probes.py), which send the URL built here.

The test link check here is the one place that decides whether a test link fits a tracker
structure:

- the link holds a tracker between the prefix and the suffix;
- no ``#placeholder#`` is left in it (the affiliate's tracker fills them on a real click);
- a pay-per-sale link (its ``id`` is not the affiliate's network id) carries the affiliate's
  network id first in the tracker; a revshare link may leave it out;
- the tracker has at least one value per param (more is fine: the last param takes the rest).
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from affiliates.models import Affiliate
from offers.models import Offer
from postbacks import lifecycle
from postbacks.macros import (
    TemplateError,
    available_macros,
    macro_values,
    network_values,
    render_url,
)
from postbacks.models import EventType, PostbackEndpoint
from postbacks.receivers import dedupe_warning
from postbacks.tracker import TrackerError, TrackerFormat, parse_tracker

PREVIEW_TRANSACTION_ID = "TEST-TX-1"
SAMPLE_AMOUNT = Decimal("1.00")
SAMPLE_OFFER_ID = 66013
_LINK_ID = re.compile(r"[?&;]id=(\d+)")
_LEADING_ID = re.compile(r"(\d+)_")
_PLACEHOLDER = re.compile(r"#[A-Za-z][A-Za-z0-9_]*#")


@dataclass(frozen=True)
class LinkTracker:
    """What a test link says: its tracker, the link's ``id`` and the tracker's values."""

    tracker: str
    link_id: int | None
    values: dict[str, str]


def _tracker_in(link: str, fmt: TrackerFormat) -> str:
    start = link.find(fmt.prefix)
    if start == -1:
        raise TrackerError(
            "missing_prefix",
            f"The test link holds no tracker: it should contain {fmt.prefix}...{fmt.suffix}, "
            "as your offer links do.",
        )
    end = link.find(fmt.suffix, start + len(fmt.prefix))
    if end == -1:
        raise TrackerError(
            "missing_suffix",
            f"The tracker in the test link starts with {fmt.prefix} but never ends with "
            f"{fmt.suffix}.",
        )
    return link[start : end + len(fmt.suffix)]


def tracker_from_test_link(*, test_link: str, fmt: TrackerFormat, network_id: int) -> LinkTracker:
    """Check the test link against the tracker structure and return its values.

    Raises TrackerError with a message for the affiliate who wrote the link.
    """
    tracker = _tracker_in(test_link, fmt)
    leftover = _PLACEHOLDER.search(tracker)
    if leftover:
        raise TrackerError(
            "placeholder",
            f"The test link still holds the placeholder {leftover.group(0)}: use a link as it "
            "looks after a real click, with your tracker's values filled in.",
        )
    match = _LINK_ID.search(test_link)
    link_id = int(match.group(1)) if match else None
    body = tracker[len(fmt.prefix) : len(tracker) - len(fmt.suffix)]
    leading = _LEADING_ID.match(body)
    pps = link_id is not None and link_id != network_id
    if pps and not body.startswith(f"{network_id}_"):
        found = f" starts with {leading.group(1)}, not" if leading else " does not start with"
        raise TrackerError(
            "bad_network_id",
            f"This is a pay-per-sale link (id={link_id}), so its tracker must start with your "
            f"network id: {fmt.prefix}{network_id}_... The tracker{found} your network id "
            f"{network_id}.",
        )
    if not pps and leading and int(leading.group(1)) != network_id and link_id is None:
        raise TrackerError(
            "bad_network_id",
            f"The tracker in the test link starts with {leading.group(1)}, but your network id "
            f"is {network_id}.",
        )
    if not fmt.params:
        raise TrackerError(
            "no_params", "List the params of your tracker, so the test link can be read."
        )
    values = parse_tracker(tracker, fmt, network_id=network_id)
    if body.startswith(f"{network_id}_"):
        body = body[len(f"{network_id}_") :]
    count = len(body.split(fmt.separator)) if body else 0
    if count < len(fmt.params):
        found_values = ", ".join(repr(v) for v in body.split(fmt.separator)) if body else "none"
        raise TrackerError(
            "too_few_values",
            f"The tracker in the test link has {count} value(s) ({found_values}) separated by "
            f"{fmt.separator!r}, but you listed {len(fmt.params)} params "
            f"({', '.join(fmt.params)}). Check the params, their order and the separator.",
        )
    return LinkTracker(tracker=tracker, link_id=link_id, values=values)


def sample_network_values(
    *,
    network_id: int,
    offer: Offer | None,
    event: EventType,
    occurred_at: datetime,
    transaction_id: str = PREVIEW_TRANSACTION_ID,
    status: str = lifecycle.APPROVED,
    status_values: Mapping[str, str] | None = None,
    is_test: bool = False,
    signing_key: bytes | None = None,
) -> dict[str, str]:
    """The network macros of a sample conversion at `status` (spelt by `status_values`): the
    offer's payout (or 1.00 on a sample offer), so every preview and test postback shows the same
    numbers. Its postback id is the transaction id and the status: a test's own."""
    payout = offer.payout if offer is not None and offer.payout is not None else SAMPLE_AMOUNT
    return network_values(
        transaction_id=transaction_id,
        conversion_id=0,
        event=event.code,
        event_name=event.name,
        offer_id=offer.network_offer_id if offer else SAMPLE_OFFER_ID,
        offer_name=offer.name if offer else "Sample offer",
        offer_kind=offer.kind if offer else Offer.Kind.PPS,
        affiliate_id=network_id,
        amount=payout,
        currency=(offer.currency if offer else "") or "USD",
        occurred_at=occurred_at.replace(microsecond=0),
        status=status,
        status_values=status_values or {},
        reason="",
        postback_id=f"{transaction_id}-{status}",
        is_test=is_test,
        signing_key=signing_key,
    )


def sample_url(
    *,
    url_template: str,
    tracker_params: Sequence[str],
    network_id: int,
    tracker: Mapping[str, str],
    offer: Offer | None,
    event: EventType,
    occurred_at: datetime,
    transaction_id: str = PREVIEW_TRANSACTION_ID,
    status: str = lifecycle.APPROVED,
    status_values: Mapping[str, str] | None = None,
    is_test: bool = False,
    signing_key: bytes | None = None,
) -> str:
    """The URL ``url_template`` fires for a sample conversion of ``event`` at ``status`` with
    these tracker values. Raises TemplateError naming the problem."""
    network = sample_network_values(
        network_id=network_id,
        offer=offer,
        event=event,
        occurred_at=occurred_at,
        transaction_id=transaction_id,
        status=status,
        status_values=status_values,
        is_test=is_test,
        signing_key=signing_key,
    )
    values = macro_values(network=network, tracker=tracker, tracker_params=list(tracker_params))
    return render_url(url_template, values)


# ------------------------------------------------------------------------------
# The sample conversion of a saved affiliate
# ------------------------------------------------------------------------------
def default_event() -> EventType:
    """The event of a sample conversion when none is chosen: a sale."""
    return EventType.objects.filter(code="signup").first() or EventType(code="signup", name="Sale")


def link_problem(exc: TrackerError) -> str:
    """The reason, to follow "Nothing was sent: " or "Cannot render a sample: "."""
    message = str(exc).rstrip(".")
    message = message[:1].lower() + message[1:]
    return (
        message if "test link" in message else f"the test link's tracker cannot be read: {message}"
    )


def sample_offer(*, offer: Offer | None, test_link: str) -> Offer | None:
    """The offer of a sample conversion: the endpoint's; for an all-offers endpoint, the offer
    its test link points at (its ``id``), as the setup form's preview reads it, so the preview
    and the test postback show the same amount."""
    if offer is not None or not test_link:
        return offer
    match = _LINK_ID.search(test_link)
    return Offer.objects.filter(network_offer_id=int(match.group(1))).first() if match else None


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


# ------------------------------------------------------------------------------
# The endpoint page's preview
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventUrl:
    event: str
    event_name: str
    url: str
    status: str = lifecycle.APPROVED


@dataclass(frozen=True)
class Preview:
    """What a template fires for each event; ``error`` names why it cannot (then no URLs)."""

    urls: list[EventUrl]
    source: str
    error: str
    macros: dict[str, str]
    # Said, never refused: e.g. {transaction_id} alone to several events (postbacks/receivers.py).
    warning: str = ""


def template_preview(
    *,
    affiliate: Affiliate | None,
    url_template: str,
    test_link: str = "",
    offer: Offer | None = None,
    event_types: Iterable[EventType] = (),
    fire_on: Sequence[str] = lifecycle.DEFAULT_FIRE_ON,
    status_values: Mapping[str, str] | None = None,
) -> Preview:
    """The URL a template fires for a sample conversion of each event (no event chosen: a sample
    sale) at each status it fires on, with the test link's tracker values. Unsaved input is fine:
    nothing is written."""
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
        return Preview([], "", link_problem(exc), macros)
    now = timezone.now()
    offer = sample_offer(offer=offer, test_link=test_link)
    events = sorted(event_types, key=lambda event: event.code) or [default_event()]
    urls = []
    statuses = [status for status in lifecycle.STATUSES if status in fire_on] or [
        lifecycle.APPROVED
    ]
    try:
        for event in events:
            for status in statuses:
                url = sample_url(
                    url_template=url_template,
                    tracker_params=list(affiliate.tracker_params or []),
                    network_id=affiliate.network_id,
                    tracker=tracker,
                    offer=offer,
                    event=event,
                    occurred_at=now,
                    status=status,
                    status_values=status_values,
                )
                urls.append(EventUrl(event.code, event.name, url, status))
    except TemplateError as exc:
        return Preview([], source, str(exc), macros)
    warning = dedupe_warning(
        url_template=url_template,
        event_codes=[event.code for event in events],
        fire_on=statuses,
    )
    return Preview(urls, source, "", macros, warning)


def endpoint_preview(*, endpoint: PostbackEndpoint) -> Preview:
    """template_preview of a saved endpoint."""
    return template_preview(
        affiliate=endpoint.affiliate,
        url_template=endpoint.url_template,
        test_link=endpoint.test_link,
        offer=endpoint.offer,
        event_types=endpoint.event_types.all(),
        fire_on=endpoint.fire_on or lifecycle.DEFAULT_FIRE_ON,
        status_values=endpoint.status_values,
    )
