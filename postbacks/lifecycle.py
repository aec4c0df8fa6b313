"""The conversion lifecycle's rules: pure functions, no Django.

    pending  -> approved | rejected
    approved -> reversed
    rejected -> approved
    reversed    (final)

A sale is reported `pending` (the network still checks it) or `approved`; the network then
approves or rejects it, and a refund or chargeback reverses an approved one. Asking for the status
a conversion already has is not an error: it changes nothing. Anything else is refused with a
stable code, ``invalid_transition``, and a message naming the current status.
"""

from collections.abc import Mapping
from typing import Final

PENDING: Final = "pending"
APPROVED: Final = "approved"
REJECTED: Final = "rejected"
REVERSED: Final = "reversed"

STATUSES: Final = (PENDING, APPROVED, REJECTED, REVERSED)
# What ingest may report: a sale starts out being checked, or already good.
INGEST_STATUSES: Final = (PENDING, APPROVED)
# A network that never sends statuses sees every sale approved, as before statuses existed.
DEFAULT_STATUS: Final = APPROVED
# Statuses that take the money back: their postbacks carry the amount negated.
NEGATIVE_STATUSES: Final = frozenset({REJECTED, REVERSED})

NEXT: Final[Mapping[str, frozenset[str]]] = {
    PENDING: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset({REVERSED}),
    REJECTED: frozenset({APPROVED}),
    REVERSED: frozenset(),
}


class TransitionError(ValueError):
    """A status change that is not allowed; ``str()`` is for humans.

    ``code`` is short and stable, for machines: ``invalid_transition`` (a known status that cannot
    follow the current one) or ``unknown_status`` (not a status at all). ``current`` is the status
    the conversion has, ``target`` the one asked for.
    """

    def __init__(self, code: str, message: str, *, current: str, target: str) -> None:
        super().__init__(message)
        self.code = code
        self.current = current
        self.target = target


def _check_known(status: str, *, current: str, target: str) -> None:
    if status not in NEXT:
        raise TransitionError(
            "unknown_status",
            f"{status!r} is not a status; use one of {', '.join(STATUSES)}",
            current=current,
            target=target,
        )


def transition(current: str, target: str) -> bool:
    """Whether moving from `current` to `target` is a change: True for an allowed change, False
    for the same status again; raises TransitionError for any other move."""
    _check_known(current, current=current, target=target)
    _check_known(target, current=current, target=target)
    if current == target:
        return False
    if target not in NEXT[current]:
        allowed = sorted(NEXT[current])
        then = f"it can only become {' or '.join(allowed)}" if allowed else "that status is final"
        raise TransitionError(
            "invalid_transition",
            f"the conversion is {current}: it cannot become {target} ({then})",
            current=current,
            target=target,
        )
    return True


def sources(target: str) -> frozenset[str]:
    """The statuses from which `target` can be reached by a change (not counting itself): the
    guard of the UPDATE that makes the change."""
    _check_known(target, current="", target=target)
    return frozenset(status for status, following in NEXT.items() if target in following)
