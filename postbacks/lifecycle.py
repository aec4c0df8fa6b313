"""The conversion lifecycle's rules: pure functions, no Django.

    pending  -> approved | rejected
    approved -> reversed
    rejected -> approved
    reversed    (final)

A sale is reported `pending` (the network still checks it) or `approved`; the network then
approves or rejects it, and a refund or chargeback reverses an approved one. Asking for the status
a conversion already has is not an error: it changes nothing. Anything else is refused with a
stable code, ``invalid_transition``, and a message naming the current status.

Below the transitions, what status postbacks need: which statuses make an endpoint fire
(``fire_on``), how its receiver spells each one (``status_values``), the signed amount and the
postback id.
"""

from collections.abc import Collection, Mapping
from decimal import Decimal
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


# ------------------------------------------------------------------------------
# What an endpoint says about statuses: when it fires, how its receiver spells them
# ------------------------------------------------------------------------------

# Today's behaviour: an endpoint hears of approved sales only (a pending one waits for approval).
DEFAULT_FIRE_ON: Final = (APPROVED,)
STATUS_WORD_MAX_LENGTH: Final = 64


class StatusConfigError(ValueError):
    """An endpoint's `fire_on` or `status_values` that cannot be used; ``code`` is
    ``bad_fire_on`` or ``bad_status_values``, ``str()`` names the problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def fire_on_clean(value: object) -> list[str]:
    """The statuses that make an endpoint fire: a non-empty list of statuses, each once; returned
    in the lifecycle's order."""
    if not isinstance(value, list | tuple) or not value:
        raise StatusConfigError(
            "bad_fire_on", f"choose at least one status to fire on, from {', '.join(STATUSES)}"
        )
    unknown = [item for item in value if item not in STATUSES]
    if unknown:
        raise StatusConfigError(
            "bad_fire_on",
            f"{unknown[0]!r} is not a status; fire on any of {', '.join(STATUSES)}",
        )
    if len(set(value)) != len(value):
        raise StatusConfigError("bad_fire_on", "a status is listed twice")
    return [status for status in STATUSES if status in value]


def status_values_clean(value: object) -> dict[str, str]:
    """How the receiver spells each status, e.g. {"approved": "sale", "reversed": "rejected"}:
    keys are statuses, values short visible text; a status left out is sent as it is named."""
    if not isinstance(value, dict):
        raise StatusConfigError(
            "bad_status_values",
            'give an object of status -> the receiver\'s word, e.g. {"approved": "sale"}',
        )
    for status, word in value.items():
        if status not in STATUSES:
            raise StatusConfigError(
                "bad_status_values", f"{status!r} is not a status; use {', '.join(STATUSES)}"
            )
        if not isinstance(word, str) or not word:
            raise StatusConfigError(
                "bad_status_values", f"the word for {status} must be a non-empty text"
            )
        if len(word) > STATUS_WORD_MAX_LENGTH:
            raise StatusConfigError(
                "bad_status_values",
                f"the word for {status} is {len(word)} characters; at most "
                f"{STATUS_WORD_MAX_LENGTH}",
            )
        if not word.isprintable() or word != word.strip():
            raise StatusConfigError(
                "bad_status_values",
                f"the word for {status} holds a control, invisible or edge space character",
            )
    return {status: value[status] for status in STATUSES if status in value}


def fires(fire_on: Collection[str], status: str) -> bool:
    """Whether a conversion in `status` fires an endpoint that fires on `fire_on`. A pending
    conversion is held from an endpoint that fires on approval only; a rejected one then never
    reaches it."""
    return status in fire_on


def status_word(status_values: Mapping[str, str], status: str) -> str:
    """The status as the receiver spells it: its word when the endpoint gives one."""
    return status_values.get(status) or status


def signed(amount: Decimal | None, status: str) -> Decimal | None:
    """The amount as a status postback carries it: negative when the money is taken back
    (rejected, reversed), as trackers that count revenue by sign expect."""
    if not amount or status not in NEGATIVE_STATUSES:
        return amount
    return -abs(amount)


def postback_id(*, conversion_id: int, endpoint_id: int, status: str) -> str:
    """An id for one postback: the same on every retry and replay of it, different for every other
    (a conversion fires an endpoint at most once per status), so a receiver can dedupe on it."""
    return f"{conversion_id}-{endpoint_id}-{status}"
