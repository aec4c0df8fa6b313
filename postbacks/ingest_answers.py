"""What an ingest answer says besides ids (docs/spec.md §10): the fields a repeat sent differently
and that were ignored. Pure rules: facts in, words out; no database, no clock.

A repeat of (transaction_id, event) changes nothing. Each field the repeat *says* (sends, not
null, not empty) is compared with what is stored; a field it leaves out says nothing, so it is
not reported. Each difference is reported as [stored, sent], in the API's own spelling.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

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
