"""What an ingest answer says besides ids (docs/spec.md §10): the fields a repeat sent differently
and that were ignored, why a new conversion fires nothing (notes), and tracker params it left
empty (warnings). Pure rules: facts in, words out; no database, no clock.

A repeat of (transaction_id, event) changes nothing. Each field the repeat *says* (sends, not
null, not empty) is compared with what is stored; a field it leaves out says nothing, so it is
not reported. Each difference is reported as [stored, sent], in the API's own spelling.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from postbacks import lifecycle
from postbacks.macros import format_amount

IgnoredValue = str | int | None


@dataclass(frozen=True)
class ConversionFacts:
    """The fields of a conversion a repeat can contradict; None or "" where not given."""

    offer_id: int
    tracker: str = ""
    affiliate_id: int | None = None
    amount: Decimal | None = None
    currency: str = ""
    occurred_at: datetime | None = None


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format_amount(value)


def _moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def repeat_ignored(
    *, stored: ConversionFacts, sent: ConversionFacts
) -> dict[str, list[IgnoredValue]]:
    """Field name -> [stored, sent] for each field the repeat sent differently."""
    ignored: dict[str, list[IgnoredValue]] = {}
    if sent.offer_id != stored.offer_id:
        ignored["offer_id"] = [stored.offer_id, sent.offer_id]
    if sent.tracker and sent.tracker != stored.tracker:
        ignored["tracker"] = [stored.tracker, sent.tracker]
    if sent.affiliate_id is not None and sent.affiliate_id != stored.affiliate_id:
        ignored["affiliate_id"] = [stored.affiliate_id, sent.affiliate_id]
    if sent.amount is not None and sent.amount != stored.amount:
        ignored["amount"] = [_amount(stored.amount), _amount(sent.amount)]
    if sent.currency and sent.currency.upper() != stored.currency.upper():
        ignored["currency"] = [stored.currency, sent.currency.upper()]
    if sent.occurred_at is not None and sent.occurred_at != stored.occurred_at:
        ignored["occurred_at"] = [_moment(stored.occurred_at), _moment(sent.occurred_at)]
    return ignored


def quiet_notes(
    *,
    event: str,
    unattributed_reason: str,
    affiliate_id: int | None,
    affiliate_status: str,
    firing_endpoint_ids: Sequence[int],
    status: str = lifecycle.APPROVED,
    held_endpoint_ids: Sequence[int] = (),
) -> list[str]:
    """Why a stored conversion fires nothing: unattributed, its affiliate not active, no live
    endpoint for the event, its endpoints not firing on its status (a pending sale is held until
    approved), or endpoints whose URL cannot be rendered for it. `firing_endpoint_ids` are the
    live endpoints for the event that fire on `status`; `held_endpoint_ids` the ones that do not."""
    if affiliate_id is None:
        return [f"unattributed: {unattributed_reason}" if unattributed_reason else "unattributed"]
    if affiliate_status != "active":
        return [f"affiliate {affiliate_id} is {affiliate_status}"]
    if not firing_endpoint_ids and not held_endpoint_ids:
        return [f"no live endpoint for {event}"]
    notes = []
    if held_endpoint_ids and not firing_endpoint_ids:
        notes.append(
            "held until approved"
            if status == lifecycle.PENDING
            else f"no live endpoint for {event} fires on {status}"
        )
    return notes + [
        f"endpoint #{pk}: its URL cannot be rendered for this conversion"
        for pk in firing_endpoint_ids
    ]


def empty_params_warnings(*, values: Mapping[str, str], params: Sequence[str]) -> list[str]:
    """An attributed conversion whose tracker left some of the affiliate's params empty (fewer
    values than params, or none given): its postbacks carry those params empty."""
    empty = [name for name in params if not values.get(name)]
    if not empty:
        return []
    return [f"tracker params left empty: {', '.join(empty)}"]
