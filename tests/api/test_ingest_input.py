"""The ingest API validates a conversion by running ConversionInputSerializer's own fields
without building a serializer (postbacks.ingest_input.conversion_input_validate), and asks the
serializer only when that says no. The two must never disagree on what a valid conversion
holds."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postbacks.ingest_input import ConversionInputSerializer, conversion_input_validate

_NOW = datetime.now(UTC)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet="0123456789.-+eE ", max_size=20),
    st.sampled_from(["", " ", "USD", "usd", "EUR ", "XXX", "12.50", "1e3", "NaN", "0.00001"]),
    st.sampled_from(
        [
            (_NOW - timedelta(hours=1)).isoformat(),
            (_NOW - timedelta(days=4000)).isoformat(),
            "2026-13-01T00:00:00",
            "yesterday",
            _NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_names = [
    "transaction_id",
    "event",
    "offer_id",
    "tracker",
    "affiliate_id",
    "amount",
    "currency",
    "occurred_at",
    "status",
]
_inputs = st.dictionaries(st.sampled_from([*_names, "extra"]), _scalars, max_size=10)
_valid = st.fixed_dictionaries(
    {
        "transaction_id": st.text(min_size=1, max_size=128).filter(lambda t: t.strip()),
        "event": st.sampled_from(["sale", "signup"]),
        "offer_id": st.integers(min_value=1, max_value=2**63 - 1),
    },
    optional={
        "tracker": st.one_of(st.none(), st.text(max_size=60)),
        "affiliate_id": st.one_of(st.none(), st.integers(min_value=1, max_value=2**40)),
        "amount": st.one_of(
            st.none(),
            st.decimals(min_value=0, max_value=10**9, places=2).map(str),
            st.integers(min_value=0, max_value=10**6),
        ),
        "currency": st.sampled_from(["USD", "eur", "JPY", None]),
        "occurred_at": st.sampled_from([None, (_NOW - timedelta(minutes=5)).isoformat()]),
        "status": st.sampled_from(["pending", "approved", None]),
    },
)


def _serializer_view(data):
    serializer = ConversionInputSerializer(data=data)
    return dict(serializer.validated_data) if serializer.is_valid() else None


@settings(max_examples=400, deadline=None)
@given(_inputs)
def test_the_fast_path_accepts_only_what_the_serializer_accepts_and_holds_the_same(data):
    fast = conversion_input_validate(data)
    if fast is not None:
        assert fast == _serializer_view(data)


@settings(max_examples=300, deadline=None)
@given(_valid)
def test_a_well_formed_conversion_takes_the_fast_path(data):
    expected = _serializer_view(data)
    if expected is None:
        # Invisible characters in a generated id: the serializer refuses, so must the fast path.
        assert conversion_input_validate(data) is None
        return
    assert conversion_input_validate(data) == expected


@pytest.mark.parametrize(
    "changed",
    [
        {"event": " sale "},  # trimmed by the field
        {"event": "sale\t"},
        {"transaction_id": " t-1 "},  # kept as sent: the id is never trimmed
        {"transaction_id": "   "},
        {"transaction_id": "t\u200b1"},
        {"transaction_id": "x" * 129},
        {"tracker": "a\tb"},  # invisible, yet a tracker may carry it
        {"tracker": ""},
        {"tracker": None},
        {"currency": "usd"},
        {"currency": "XYZ"},
        {"currency": 840},
        {"offer_id": 2**63},
        {"offer_id": 0},
        {"offer_id": 7.0},
        {"affiliate_id": "12"},
        {"status": "approved "},
        {"status": "rejected"},
        {"status": None},
        {"event": 12},
    ],
)
def test_the_plain_checks_hand_odd_values_to_the_fields(changed):
    """The plain checks vouch only for what a field keeps as it is; every other value is the
    field's to judge, with the serializer's outcome."""
    data = {"transaction_id": "t-1", "event": "sale", "offer_id": 7, **changed}
    assert conversion_input_validate(data) == _serializer_view(data)


def test_amounts_come_out_as_the_serializer_quantizes_them():
    data = {"transaction_id": "t-1", "event": "sale", "offer_id": 7, "amount": "12.5"}

    assert conversion_input_validate(data)["amount"] == Decimal("12.5000")
    assert conversion_input_validate({**data, "amount": "-1"}) is None
    assert conversion_input_validate({**data, "offer_id": True}) is None
    assert conversion_input_validate(["not", "a", "mapping"]) is None
