"""The conversion lifecycle's transition rules (postbacks/lifecycle.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postbacks.lifecycle import (
    APPROVED,
    INGEST_STATUSES,
    NEXT,
    PENDING,
    REJECTED,
    REVERSED,
    STATUSES,
    TransitionError,
    sources,
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
