"""The postback URL as it would fire for an affiliate's test link (SPEC §1, §3, §4).

Used by the setup form (before anything is saved, so it takes the tracker structure as plain
arguments rather than an Affiliate) and by the setup-request review in the admin. The test link
check here is the one place that decides whether a test link fits a tracker structure:

- the link holds a tracker between the prefix and the suffix;
- no ``#placeholder#`` is left in it (the affiliate's tracker fills them on a real click);
- a pay-per-sale link (its ``id`` is not the affiliate's network id) carries the affiliate's
  network id first in the tracker; a revshare link may leave it out;
- the tracker has at least one value per param (more is fine: the last param takes the rest).
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from offers.models import Offer
from postbacks.macros import (
    TemplateError,
    macro_values,
    network_values,
    render_url,
    validate_template,
)
from postbacks.models import EventType
from postbacks.tracker import TrackerError, TrackerFormat, parse_tracker

__all__ = [
    "PREVIEW_TRANSACTION_ID",
    "LinkTracker",
    "TemplateError",
    "TrackerError",
    "preview_render",
    "tracker_from_test_link",
]

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
) -> dict[str, str]:
    """The network macros of a sample conversion: the offer's payout (or 1.00 on a sample
    offer), so every preview and test postback shows the same numbers."""
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
    )


def preview_render(
    *,
    url_template: str,
    tracker_params: list[str],
    tracker_prefix: str,
    tracker_suffix: str,
    tracker_separator: str,
    network_id: int,
    test_link: str,
    event_code: str,
    offer: Offer | None = None,
) -> str:
    """The URL a test postback for ``event_code`` would be sent to, with the tracker values of
    ``test_link`` and a sample conversion (``offer``'s payout, or 1.00 on a sample offer).

    Raises TemplateError (the template) or TrackerError (the tracker structure or the test link),
    each with a message naming the problem.
    """
    validate_template(url_template, tracker_params)
    fmt = TrackerFormat(
        prefix=tracker_prefix,
        suffix=tracker_suffix,
        separator=tracker_separator,
        params=tuple(tracker_params),
    )
    link = tracker_from_test_link(test_link=test_link, fmt=fmt, network_id=network_id)
    event = EventType.objects.filter(code=event_code).first()
    if event is None:
        raise TemplateError(f"unknown event {event_code!r}")
    network = sample_network_values(
        network_id=network_id, offer=offer, event=event, occurred_at=timezone.now()
    )
    values = macro_values(network=network, tracker=link.values, tracker_params=tracker_params)
    return render_url(url_template, values)
