"""Tracker parsing (docs/spec.md §3): pure functions, no Django.

    tracker := prefix [network_id "_"] values suffix
    values  := value (separator value)*

A tracker arrives as the affiliate's tracker wrote it. It is split on the separator first and each
value is then percent-decoded once, so an encoded separator (``%2D``) is data inside a value and
``%2541`` becomes ``%41``, never ``A``.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

# Positive, without a leading zero (so "0123_" never names affiliate 123: the tracker would not
# start with "123_" and could not be stripped), and short enough to fit a 64-bit column.
_NETWORK_ID = re.compile(r"([1-9][0-9]{0,17})_")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class TrackerError(ValueError):
    """A tracker, or a tracker format, that cannot be used; ``str()`` is for humans.

    ``code`` is short and stable, for machines: ``empty``, ``missing_prefix``, ``missing_suffix``,
    ``bad_network_id``, ``bad_format``. Callers may raise their own codes (``no_network_id``).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TrackerFormat:
    """How one affiliate writes its tracker.

    Raises TrackerError (code ``bad_format``) for a format that could not be read back reliably:
    an empty separator, a separator holding ``%`` or made only of hex digits (it would appear inside
    percent-escapes), whitespace at the outer edge of the prefix or suffix (trackers are stripped
    before matching), or a param name listed twice (its values would overwrite each other).
    """

    prefix: str = "trID_"
    suffix: str = "_trID"
    separator: str = "-"
    params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problem = _format_problem(self)
        if problem:
            raise TrackerError("bad_format", problem)


def _format_problem(fmt: TrackerFormat) -> str:
    if not fmt.separator:
        return "the tracker separator is empty"
    if "%" in fmt.separator:
        return f"the tracker separator {fmt.separator!r} contains '%', which starts encoded values"
    if set(fmt.separator) <= _HEX_DIGITS:
        return (
            f"the tracker separator {fmt.separator!r} is made only of digits and the letters A-F, "
            "which also appear inside encoded values"
        )
    if fmt.prefix != fmt.prefix.lstrip():
        return f"the tracker prefix {fmt.prefix!r} starts with whitespace"
    if fmt.suffix != fmt.suffix.rstrip():
        return f"the tracker suffix {fmt.suffix!r} ends with whitespace"
    seen: set[str] = set()
    for name in fmt.params:
        if name in seen:
            return f"the tracker param {name!r} is listed twice"
        seen.add(name)
    return ""


def _check_network_id(network_id: int) -> None:
    if isinstance(network_id, bool) or network_id <= 0:
        raise TrackerError(
            "bad_network_id", f"a network id must be a positive whole number, not {network_id!r}"
        )


def split_network_id(raw: str, *, prefixes: Iterable[str]) -> tuple[int | None, str]:
    """Return (network id, prefix) read from the start of ``raw``, or (None, "") when there is none.

    Used to find the affiliate before its own format is known: prefixes are tried longest first,
    and the first one that ``raw`` starts with and that is followed by ``<digits>_`` wins.
    """
    text = raw.strip()
    for prefix in sorted(set(prefixes), key=len, reverse=True):
        if not text.startswith(prefix):
            continue
        match = _NETWORK_ID.match(text, len(prefix))
        if match:
            return int(match.group(1)), prefix
    return None, ""


def _decode_once(value: str) -> str:
    """Percent-decode once. A value whose bytes are not UTF-8, or that would decode to a NUL
    (which no database text column stores), is kept exactly as it arrived."""
    try:
        decoded = unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value
    return value if "\x00" in decoded else decoded


def parse_tracker(raw: str, fmt: TrackerFormat, *, network_id: int | None = None) -> dict[str, str]:
    """Map the tracker's values onto ``fmt.params``, in order.

    With ``network_id``, a leading ``"<network_id>_"`` is stripped when present; when absent the
    whole body is values (revshare: the affiliate id travelled outside the tracker). Missing values
    are ""; the last param takes the rest, separators included.
    """
    if network_id is not None:
        _check_network_id(network_id)
    text = raw.strip()
    if not text:
        raise TrackerError("empty", "tracker is empty")
    if not text.startswith(fmt.prefix):
        raise TrackerError("missing_prefix", f"tracker does not start with {fmt.prefix!r}")
    rest = text[len(fmt.prefix) :]
    # Checked on what follows the prefix, so "trID_trID" has no suffix of its own.
    if not rest.endswith(fmt.suffix):
        raise TrackerError("missing_suffix", f"tracker does not end with {fmt.suffix!r}")
    body = rest[: len(rest) - len(fmt.suffix)]
    if network_id is not None and body.startswith(f"{network_id}_"):
        body = body[len(f"{network_id}_") :]
    if not fmt.params:
        return {}
    parts = body.split(fmt.separator, len(fmt.params) - 1)
    parts += [""] * (len(fmt.params) - len(parts))
    return {name: _decode_once(part) for name, part in zip(fmt.params, parts, strict=True)}


def positional(values: Mapping[str, str], params: Sequence[str]) -> dict[str, str]:
    """The positional macros ``p1``..``pN``; a param without a value (added later) is ""."""
    return {f"p{index}": values.get(name, "") for index, name in enumerate(params, start=1)}


def _encode_value(value: str, separator: str) -> str:
    escaped = set(separator) | {"%"}
    return "".join(
        "".join(f"%{byte:02X}" for byte in char.encode("utf-8")) if char in escaped else char
        for char in value
    )


def _head(fmt: TrackerFormat, network_id: int | None) -> str:
    if network_id is None:
        return fmt.prefix
    _check_network_id(network_id)
    return f"{fmt.prefix}{network_id}_"


def build_tracker(
    values: Sequence[str], fmt: TrackerFormat, *, network_id: int | None = None
) -> str:
    """Write a tracker as the affiliate's tracker would, so that parse_tracker reads it back.

    In every value, ``%`` and the separator's characters are percent-encoded; nothing else is.
    """
    body = fmt.separator.join(_encode_value(value, fmt.separator) for value in values)
    return f"{_head(fmt, network_id)}{body}{fmt.suffix}"


def placeholder_tracker(fmt: TrackerFormat, *, network_id: int | None = None) -> str:
    """The tracker with ``#param#`` placeholders, e.g. ``trID_1234567_#affid#-#TransID#_trID``."""
    body = fmt.separator.join(f"#{name}#" for name in fmt.params)
    return f"{_head(fmt, network_id)}{body}{fmt.suffix}"
