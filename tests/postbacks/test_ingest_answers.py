"""The pure rules of the ingest answer (postbacks/ingest_answers.py): what a repeat ignored."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from postbacks.ingest_answers import ConversionFacts, repeat_ignored

amounts = st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False)
moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
facts = st.builds(
    ConversionFacts,
    offer_id=st.integers(min_value=1, max_value=10**6),
    tracker=st.text(max_size=20),
    affiliate_id=st.none() | st.integers(min_value=1, max_value=10**7),
    amount=st.none() | amounts,
    currency=st.sampled_from(["", "USD", "EUR"]),
    occurred_at=st.none() | moments,
)


@given(facts)
def test_a_repeat_that_says_the_same_ignores_nothing(stored: ConversionFacts) -> None:
    assert repeat_ignored(stored=stored, sent=stored) == {}


@given(facts)
def test_a_repeat_that_says_only_the_offer_ignores_nothing(stored: ConversionFacts) -> None:
    sent = ConversionFacts(offer_id=stored.offer_id)
    assert repeat_ignored(stored=stored, sent=sent) == {}


@given(facts, facts)
def test_every_difference_is_named_with_the_stored_value_first(
    stored: ConversionFacts, sent: ConversionFacts
) -> None:
    ignored = repeat_ignored(stored=stored, sent=sent)
    for name, (was, now) in ignored.items():
        assert was != now, name
    said = {
        "offer_id": True,
        "tracker": bool(sent.tracker),
        "affiliate_id": sent.affiliate_id is not None,
        "amount": sent.amount is not None,
        "currency": bool(sent.currency),
        "occurred_at": sent.occurred_at is not None,
    }
    assert all(said[name] for name in ignored)
    if "offer_id" in ignored:
        assert ignored["offer_id"] == [stored.offer_id, sent.offer_id]


def test_amounts_compare_as_numbers_and_times_as_instants() -> None:
    moment = datetime(2025, 1, 31, 12, tzinfo=UTC)
    stored = ConversionFacts(offer_id=1, amount=Decimal("35.0000"), occurred_at=moment)
    same = ConversionFacts(
        offer_id=1,
        amount=Decimal("35"),
        occurred_at=moment.astimezone(timezone(timedelta(hours=2))),
    )
    assert repeat_ignored(stored=stored, sent=same) == {}
    other = ConversionFacts(offer_id=1, amount=Decimal("99.5"), occurred_at=moment + timedelta(1))
    assert repeat_ignored(stored=stored, sent=other) == {
        "amount": ["35.00", "99.50"],
        "occurred_at": ["2025-01-31T12:00:00Z", "2025-02-01T12:00:00Z"],
    }
