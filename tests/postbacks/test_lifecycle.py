"""The conversion lifecycle's transition rules (postbacks/lifecycle.py)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postbacks.lifecycle import (
    APPROVED,
    DEFAULT_FIRE_ON,
    INGEST_STATUSES,
    NEXT,
    PENDING,
    REJECTED,
    REVERSED,
    STATUSES,
    StatusConfigError,
    TransitionError,
    fire_on_clean,
    fires,
    postback_id,
    signed,
    sources,
    status_values_clean,
    status_word,
    transition,
)

statuses = st.sampled_from(STATUSES)
ALLOWED = {
    (PENDING, APPROVED),
    (PENDING, REJECTED),
    (APPROVED, REVERSED),
    (REJECTED, APPROVED),
}


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_the_four_changes_are_allowed(current: str, target: str) -> None:
    assert transition(current, target) is True


@given(statuses)
def test_the_same_status_again_is_no_change(status: str) -> None:
    assert transition(status, status) is False


@given(statuses, statuses)
def test_every_other_move_is_refused_naming_the_current_status(current: str, target: str) -> None:
    if current == target or (current, target) in ALLOWED:
        return
    with pytest.raises(TransitionError) as caught:
        transition(current, target)

    assert caught.value.code == "invalid_transition"
    assert (caught.value.current, caught.value.target) == (current, target)
    assert f"the conversion is {current}: it cannot become {target}" in str(caught.value)


def test_the_refusal_says_what_the_status_can_become() -> None:
    with pytest.raises(TransitionError, match=r"it can only become approved or rejected"):
        transition(PENDING, REVERSED)
    with pytest.raises(TransitionError, match=r"that status is final"):
        transition(REVERSED, APPROVED)


@given(st.text(max_size=12).filter(lambda s: s not in STATUSES), statuses)
def test_an_unknown_status_is_refused_either_way(unknown: str, known: str) -> None:
    for current, target in [(unknown, known), (known, unknown)]:
        with pytest.raises(TransitionError) as caught:
            transition(current, target)
        assert caught.value.code == "unknown_status"
        assert repr(unknown) in str(caught.value)


@given(statuses, statuses)
def test_sources_is_exactly_where_a_change_to_the_target_comes_from(
    current: str, target: str
) -> None:
    try:
        changes = transition(current, target)
    except TransitionError:
        changes = False
    assert (current in sources(target)) is changes


@given(statuses, st.lists(statuses, max_size=20))
def test_a_sequence_of_requests_only_walks_allowed_edges(start: str, targets: list[str]) -> None:
    """Applying requests one after another, as the service does: each accepted change is an edge
    of the graph, refusals leave the status as it was, and nothing ever goes back to pending."""
    status = start
    for target in targets:
        before = status
        try:
            if transition(status, target):
                status = target
        except TransitionError:
            assert status == before
            continue
        assert status == before or (before, status) in ALLOWED
        if before != PENDING:
            assert status != PENDING


def test_reversed_is_final_and_pending_is_never_reached_again() -> None:
    assert NEXT[REVERSED] == frozenset()
    assert sources(PENDING) == frozenset()


def test_ingest_reports_pending_or_approved_only() -> None:
    assert INGEST_STATUSES == (PENDING, APPROVED)


# ------------------------------------------------------------------------------
# Endpoint settings and status postbacks
# ------------------------------------------------------------------------------


@given(st.lists(statuses, min_size=1, unique=True))
def test_any_set_of_statuses_can_be_fired_on_and_comes_back_in_order(chosen: list[str]) -> None:
    cleaned = fire_on_clean(chosen)

    assert sorted(cleaned) == sorted(chosen)
    assert cleaned == [status for status in STATUSES if status in chosen]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ([], "choose at least one status"),
        ("approved", "choose at least one status"),
        (["approved", "sale"], "'sale' is not a status"),
        (["approved", "approved"], "listed twice"),
        ([1], "1 is not a status"),
    ],
)
def test_a_fire_on_that_cannot_be_used_is_refused(value: object, words: str) -> None:
    with pytest.raises(StatusConfigError, match=words) as caught:
        fire_on_clean(value)
    assert caught.value.code == "bad_fire_on"


def test_the_spec_status_map_is_taken() -> None:
    words = {"approved": "sale", "pending": "lead", "rejected": "rejected", "reversed": "rejected"}

    assert status_values_clean(words) == {
        "pending": "lead",
        "approved": "sale",
        "rejected": "rejected",
        "reversed": "rejected",
    }
    assert status_values_clean({}) == {}


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (["sale"], "give an object"),
        ({"chargeback": "cb"}, "'chargeback' is not a status"),
        ({"approved": ""}, "non-empty text"),
        ({"approved": 1}, "non-empty text"),
        ({"approved": "x" * 65}, "at most 64"),
        ({"approved": "sa\x00le"}, "control, invisible"),
        ({"approved": " sale"}, "edge space"),
    ],
)
def test_a_status_map_that_cannot_be_used_is_refused(value: object, words: str) -> None:
    with pytest.raises(StatusConfigError, match=words) as caught:
        status_values_clean(value)
    assert caught.value.code == "bad_status_values"


@given(statuses, st.dictionaries(statuses, st.text(min_size=1, max_size=8)))
def test_a_status_is_spelled_the_receivers_way_or_passed_through(
    status: str, words: dict[str, str]
) -> None:
    assert status_word(words, status) == words.get(status, status)


def test_an_approved_only_endpoint_holds_pending_and_never_hears_of_rejected() -> None:
    assert [fires(DEFAULT_FIRE_ON, s) for s in STATUSES] == [False, True, False, False]


@given(
    st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False, allow_infinity=False),
    statuses,
)
def test_the_signed_amount_is_negative_exactly_when_money_is_taken_back(
    amount: Decimal, status: str
) -> None:
    result = signed(amount, status)

    assert result is not None
    assert abs(result) == amount
    if amount:
        assert (result < 0) is (status in {REJECTED, REVERSED})
    assert signed(None, status) is None


@given(
    st.integers(min_value=1, max_value=2**63 - 1),
    st.integers(min_value=1, max_value=2**63 - 1),
    statuses,
    st.integers(min_value=1, max_value=2**63 - 1),
    st.integers(min_value=1, max_value=2**63 - 1),
    statuses,
)
def test_postback_ids_differ_exactly_when_the_postbacks_differ(
    c1: int, e1: int, s1: str, c2: int, e2: int, s2: str
) -> None:
    one = postback_id(conversion_id=c1, endpoint_id=e1, status=s1)
    two = postback_id(conversion_id=c2, endpoint_id=e2, status=s2)

    assert (one == two) is ((c1, e1, s1) == (c2, e2, s2))
