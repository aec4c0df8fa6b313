"""The status batch's plain input checks (postbacks/status_apis.plain_changes) against the
serializer they stand in for: whatever they take, the serializer takes to the same values; the
rest goes to the serializer, so every 400 is still in its words."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from postbacks.conversion_status import KeyedStatusRequest
from postbacks.status_apis import ConversionStatusBatchApi, plain_changes

# Values a client may send for a text field: good ones, and each way a CharField refuses or
# converts one (blank, padded, too long, NUL, a lone surrogate, not a string at all).
texts = st.one_of(
    st.sampled_from(["tx-1", "signup", "Approved by billing", "é ü 中", "a" * 32, "b" * 128]),
    st.sampled_from(["", " ", " signup ", "\tx\n", "a" * 33, "b" * 129, "r" * 501]),
    st.sampled_from(["nul\x00", "\ud800", "ok\udfff"]),
    st.text(max_size=40),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=1),
)
statuses = st.one_of(
    st.sampled_from(["pending", "approved", "rejected", "reversed"]),
    st.sampled_from(["cancelled", " approved", "APPROVED", ""]),
    texts,
)
absent = object()


@st.composite
def items(draw: st.DrawFn) -> Any:
    """A well-formed change with at most one field drawn from the odd values (or left out), or
    now and then not an object at all: so the checks are tried on each field's edge."""
    if draw(st.integers(0, 19)) == 0:
        return draw(texts)
    item: dict[str, Any] = {
        "transaction_id": "tx-1",
        "event": "signup",
        "status": "approved",
        "reason": "paid",
    }
    field = draw(st.sampled_from([None, *item]))
    if field is not None:
        value = draw(st.one_of(st.just(absent), statuses if field == "status" else texts))
        if value is absent:
            del item[field]
        else:
            item[field] = value
    return item


good_items = st.fixed_dictionaries(
    {
        "transaction_id": st.text(min_size=1, max_size=128).filter(lambda s: "\x00" not in s),
        "event": st.sampled_from(["signup", "sale", "freereg"]),
        "status": st.sampled_from(["pending", "approved", "rejected", "reversed"]),
    },
    optional={"reason": st.text(max_size=500).filter(lambda s: "\x00" not in s)},
).filter(lambda item: not any(0xD800 <= ord(c) <= 0xDFFF for c in item["transaction_id"]))


def serializer_changes(data: Any) -> list[KeyedStatusRequest] | None:
    serializer = ConversionStatusBatchApi.InputSerializer(data=data)
    if not serializer.is_valid():
        return None
    return [
        KeyedStatusRequest(c["transaction_id"], c["event"], c["status"], c["reason"])
        for c in serializer.validated_data["changes"]
    ]


@settings(max_examples=400, deadline=None)
@given(st.lists(items(), min_size=1, max_size=3))
def test_what_the_plain_checks_take_the_serializer_takes_to_the_same_values(
    changes: list[Any],
) -> None:
    taken = plain_changes({"changes": changes})

    if taken is not None:
        assert taken == serializer_changes({"changes": changes})


@settings(max_examples=200, deadline=None)
@given(st.lists(good_items, min_size=1, max_size=5))
def test_well_formed_changes_take_the_plain_path(changes: list[dict[str, str]]) -> None:
    taken = plain_changes({"changes": changes})

    assert taken is not None
    assert taken == serializer_changes({"changes": changes})


def test_a_body_that_is_not_a_batch_is_left_to_the_serializer() -> None:
    one = {"transaction_id": "tx", "event": "signup", "status": "approved"}
    bodies: list[Any] = [
        None,
        [one],
        "changes",
        {},
        {"changes": None},
        {"changes": []},
        {"changes": one},
        {"changes": [one] * 1001},
    ]
    for body in bodies:
        assert plain_changes(body) is None
        assert serializer_changes(body) is None
    assert plain_changes({"changes": [one] * 1000}) is not None
