"""Postback URL templates and their macros (docs/spec.md §4): pure functions, no Django.

A template is an absolute http(s) URL with macros in braces, e.g.
``https://track.example/pb?cid={clickId}&sum={amount}``. Rendering percent-encodes each value once,
for its place in the URL (RFC 3986); the template's own text is sent as written, but for
non-ASCII text after the host, which is percent-encoded as UTF-8 (request lines are ASCII).
"""

import difflib
import functools
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import quote, urlsplit

import idna

from postbacks import lifecycle
from postbacks.signing import postback_signature
from postbacks.tracker import positional

NETWORK_MACROS: dict[str, str] = {
    "transaction_id": "the network's transaction id of the sale",
    "conversion_id": "the portal's id of the conversion",
    "event": "the event code, e.g. signup or freereg",
    "event_name": "the event's name, e.g. Sign-up",
    "offer_id": "the offer's id on the network, e.g. 66013",
    "offer_name": "the offer's name",
    "offer_kind": "revshare or pps",
    "affiliate_id": "your network id, e.g. 1234567",
    "amount": "the amount earned, e.g. 25.00",
    "currency": "the currency of the amount, e.g. EUR",
    "timestamp": "when the event happened, in unix seconds",
    "datetime": "when the event happened, ISO 8601 in UTC, e.g. 2025-01-31T12:00:00Z",
    "status": "the sale's status (pending, approved, rejected, reversed), in your words",
    "reason": "why the status changed, e.g. a chargeback's reference; empty when none was given",
    "signed_amount": "the amount, negative when the sale was rejected or reversed, e.g. -25.00",
    "postback_id": "this postback's own id: the same on every retry, different for every other",
    "is_test": "1 for a test postback, 0 for a real one",
    "signature": "hex HMAC-SHA256 of postback_id.transaction_id.event.status.amount.timestamp "
    "under the endpoint's secret; empty without one",
}

MAX_URL_LENGTH = 2048

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# RFC 3986 pchar minus unreserved (which quote() never encodes): sub-delims, ':' and '@'.
_PATH_SAFE = "!$&'()*+,;=:@"

Place = Literal["path", "query", "fragment"]


class TemplateError(ValueError):
    """A template that cannot be used; ``str()`` names the problem for the person who wrote it."""


@dataclass(frozen=True)
class _Macro:
    name: str
    place: Place


def _tracker_macro_names(tracker_params: Sequence[str]) -> tuple[str, ...]:
    """The params usable by name: fixed meanings (network, p1..pN) win over a param's name."""
    return _macro_names_of(tuple(tracker_params))


# An affiliate's params are asked for with every postback it is sent: worked out once.
@functools.lru_cache(maxsize=4096)
def _macro_names_of(tracker_params: tuple[str, ...]) -> tuple[str, ...]:
    taken = set(NETWORK_MACROS) | {f"p{index}" for index in range(1, len(tracker_params) + 1)}
    return tuple(name for name in tracker_params if _NAME.fullmatch(name) and name not in taken)


def available_macros(tracker_params: Sequence[str]) -> dict[str, str]:
    """Every macro a template may use, name -> one-line description.

    A tracker param named like a network macro (or like ``p2``) keeps its fixed meaning; the
    param's value is then reachable only by its position, ``{pN}``.
    """
    macros = dict(NETWORK_MACROS)
    for name in _tracker_macro_names(tracker_params):
        macros[name] = f"your tracker value {name!r}"
    for index, name in enumerate(tracker_params, start=1):
        macros[f"p{index}"] = f"your tracker value number {index} ({name!r})"
    return macros


def macro_values(
    *, network: Mapping[str, str], tracker: Mapping[str, str], tracker_params: Sequence[str]
) -> dict[str, str]:
    """The values to render with, with the same precedence as available_macros."""
    values = {name: tracker.get(name, "") for name in _tracker_macro_names(tracker_params)}
    values.update(positional(tracker, tracker_params))
    values.update({name: value for name, value in network.items() if name in NETWORK_MACROS})
    return values


def format_amount(amount: Decimal | None) -> str:
    """Money as trackers expect it: at least two decimals, more only when they carry a value
    (35 -> "35.00", 1.2345 -> "1.2345")."""
    if amount is None:
        return ""
    text = format(amount.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def known_amount(
    *, amount: Decimal | None, offer_kind: str, payout: Decimal | None
) -> Decimal | None:
    """The amount a postback carries: as posted; for a pay-per-sale offer posted without one, the
    offer's payout (its fixed price per sale), so ``{amount}`` is never empty for a known sale."""
    if amount is None and offer_kind == "pps":
        return payout
    return amount


def network_values(
    *,
    transaction_id: str,
    conversion_id: int,
    event: str,
    event_name: str,
    offer_id: int,
    offer_name: str,
    offer_kind: str,
    affiliate_id: int | None,
    amount: Decimal | None,
    currency: str,
    occurred_at: datetime,
    status: str,
    status_values: Mapping[str, str],
    reason: str,
    postback_id: str,
    is_test: bool = False,
    signing_key: bytes | None = None,
) -> dict[str, str]:
    """The value of each network macro (the keys of NETWORK_MACROS) for one conversion, real or
    sample, at `status` (a postback tells of one status): the one place these values are spelt."""
    occurred = occurred_at.astimezone(UTC)
    values = {
        "transaction_id": transaction_id,
        "conversion_id": str(conversion_id),
        "event": event,
        "event_name": event_name,
        "offer_id": str(offer_id),
        "offer_name": offer_name,
        "offer_kind": offer_kind,
        "affiliate_id": "" if affiliate_id is None else str(affiliate_id),
        "amount": format_amount(amount),
        "currency": currency,
        "timestamp": str(int(occurred.timestamp())),
        "datetime": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": lifecycle.status_word(status_values, status),
        "reason": reason,
        "signed_amount": format_amount(lifecycle.signed(amount, status)),
        "postback_id": postback_id,
        "is_test": "1" if is_test else "0",
    }
    values["signature"] = postback_signature(signing_key, values) if signing_key else ""
    return values


# Hosts that resolvers read as IPv4 addresses in legacy forms: 2130706433, 0x7f.1, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|\d+)(\.(0x[0-9a-f]*|\d+)){0,3}\.?$", re.IGNORECASE)
_DOTTED_QUAD = re.compile(
    r"^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$"
)


def unprintable_index(text: str) -> int | None:
    """The 1-based position of the first character a reviewer cannot see (controls, bidi and
    zero-width marks, lone surrogates, any space but U+0020), or None."""
    if text.isprintable():
        return None
    return next(index for index, char in enumerate(text, start=1) if not char.isprintable())


def _check_shape(template: str) -> None:
    if len(template) > MAX_URL_LENGTH:
        raise TemplateError(
            f"the URL is {len(template)} characters long; the limit is {MAX_URL_LENGTH}"
        )
    for index, char in enumerate(template, start=1):
        # Not only ASCII controls: C1 controls, bidi and zero-width marks and lone surrogates are
        # invisible where the template is reviewed, and aiohttp drops a lone surrogate, so the
        # URL sent would not be the URL saved.
        if char.isspace() or not char.isprintable():
            raise TemplateError(
                f"the URL contains a space, control or invisible character at character {index}; "
                "remove it, or write a space as %20"
            )
        if char == "\\":
            # Never valid in a URL, and parsers disagree on it: Python reads the host of
            # https://t.example\@evil.example as evil.example, browsers as t.example.
            raise TemplateError(
                f"the URL contains a backslash at character {index}; write / or %5C instead"
            )
    scheme, found, rest = template.partition("://")
    if not found:
        raise TemplateError(
            "the URL must be absolute, starting with http:// or https:// and a fixed host"
        )
    if "{" in scheme or "}" in scheme:
        raise TemplateError("a macro cannot be used in the scheme: write http:// or https://")
    if scheme.lower() not in ("http", "https"):
        raise TemplateError(f"the URL must start with http:// or https://, not {scheme}://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "{" in authority or "}" in authority:
        raise TemplateError(
            f"a macro cannot be used in the host ({authority}): the host must be written out"
        )
    try:
        parts = urlsplit(f"{scheme}://{authority}")
        host = parts.hostname
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        raise TemplateError(f"the host {authority!r} is not a valid host[:port]") from exc
    if not host:
        raise TemplateError("the URL has no host: write it as https://host.example/path")
    if parts.username is not None:
        # The HTTP client would turn them into an Authorization header sent to every receiver.
        raise TemplateError(
            "the URL has a user name or password before its host (user:pass@): remove them; "
            "a key the receiver needs goes in the query, e.g. ?key=..."
        )
    wire_host = _wire_host(host)
    if wire_host != host and _NUMERIC_HOST.match(wire_host):
        raise TemplateError(
            f"the host {host!r} is the address {wire_host} written with non-ASCII characters: "
            "write it in plain digits and dots"
        )
    if _NUMERIC_HOST.match(wire_host) and not _DOTTED_QUAD.match(wire_host):
        raise TemplateError(
            f"the host {host!r} is an IPv4 address in a legacy numeric form (decimal, octal or "
            "hex): write it as a name or as four plain decimal numbers, e.g. 203.0.113.7"
        )


def _wire_host(host: str) -> str:
    """The host as the HTTP client (yarl) puts it on the wire: IDNA 2008 with UTS 46 mapping,
    then IDNA 2003; so fullwidth digits or an ideographic full stop are judged as sent."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except UnicodeError:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise TemplateError(
                f"the host {host!r} is not a valid international domain name"
            ) from exc


# Templates are few and each is rendered for every postback its endpoint sends: checked and split
# once (about 0.1 ms a time), not once per postback. A template that fails raises every time.
@functools.lru_cache(maxsize=4096)
def _parse(template: str) -> tuple[str | _Macro, ...]:
    """Check the URL and its braces; return its literal text and macros, in order."""
    _check_shape(template)
    parts: list[str | _Macro] = []
    place: Place = "path"
    literal_start = index = 0
    while index < len(template):
        char = template[index]
        if char == "}":
            raise TemplateError(f"the '}}' at character {index + 1} has no opening '{{'")
        if char == "{":
            close = template.find("}", index + 1)
            reopen = template.find("{", index + 1)
            if close == -1 or -1 < reopen < close:
                raise TemplateError(f"the '{{' at character {index + 1} is never closed by '}}'")
            name = template[index + 1 : close]
            if not name:
                raise TemplateError(
                    f"empty macro {{}} at character {index + 1}: put a macro name in the braces"
                )
            if not _NAME.fullmatch(name):
                raise TemplateError(
                    f"{{{name}}} is not a valid macro name: a name starts with a letter and "
                    "holds only letters, digits and _"
                )
            parts += [template[literal_start:index], _Macro(name, place)]
            index = literal_start = close + 1
            continue
        if char == "?" and place == "path":
            place = "query"
        elif char == "#":
            place = "fragment"
        index += 1
    parts.append(template[literal_start:])
    return tuple(parts)


def _check_names(parts: Sequence[str | _Macro], known: Collection[str]) -> None:
    for part in parts:
        if isinstance(part, _Macro) and part.name not in known:
            hint = [name for name in known if name.lower() == part.name.lower()]
            hint = hint or difflib.get_close_matches(part.name, list(known), n=1)
            did_you_mean = f" (did you mean {{{hint[0]}}}?)" if hint else ""
            listing = ", ".join(f"{{{name}}}" for name in known) or "none"
            raise TemplateError(
                f"unknown macro {{{part.name}}}{did_you_mean}; available: {listing}"
            )


def validate_template(template: str, tracker_params: Sequence[str]) -> None:
    """Refuse, with a message naming the problem, a template that could not be sent."""
    _check_names(_parse(template), available_macros(tracker_params))


_POSITIONAL = re.compile(r"p([1-9][0-9]*)")


def _tracker_macros_rewritten(
    template: str, tracker_params: Sequence[str], name_at: Callable[[int], str | None]
) -> str | None:
    """The template with each tracker value it names by name written as ``{name_at(position)}``;
    None when name_at has no name for one, or a positional macro names a position the params
    lack. Network macros, positional ones and the literal text stay as written."""
    by_name = {
        name: tracker_params.index(name) + 1 for name in _tracker_macro_names(tracker_params)
    }
    text: list[str] = []
    for part in _parse(template):
        if isinstance(part, str):
            text.append(part)
            continue
        name: str | None = part.name
        if part.name in by_name:
            name = name_at(by_name[part.name])
        elif found := _POSITIONAL.fullmatch(part.name):
            name = part.name if name_at(int(found.group(1))) is not None else None
        if name is None:
            return None
        text.append(f"{{{name}}}")
    return "".join(text)


def template_by_position(template: str, tracker_params: Sequence[str]) -> str:
    """The template with every tracker value it names by name written by position ({clickId} ->
    {p3} when clickId is the third param). Two templates with the same positional form send the
    same URL for the same tracker, whatever the params are called: a param renamed together with
    the templates that use it changes nothing that is sent. Raises TemplateError as _parse."""
    rewritten = _tracker_macros_rewritten(template, tracker_params, lambda index: f"p{index}")
    return template if rewritten is None else rewritten


def template_params_renamed(
    template: str, *, old_params: Sequence[str], new_params: Sequence[str]
) -> str | None:
    """A template written for `old_params`, rewritten for `new_params` position by position, so
    it sends the URL it sent before for the same tracker ({clickId} -> {cid} when the third param
    was renamed; {pN} when the new name is not usable by name). None when it uses a position the
    new params do not have: no template sends for it what it did."""
    usable = set(_tracker_macro_names(new_params))

    def name_at(index: int) -> str | None:
        if index > len(new_params):
            return None
        name = new_params[index - 1]
        return name if name in usable else f"p{index}"

    return _tracker_macros_rewritten(template, old_params, name_at)


# What quote() never encodes, in any place: most values (ids, amounts, codes) are only this.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _encode(value: str, place: Place) -> str:
    if _UNRESERVED.fullmatch(value):
        return value
    # Lone surrogates (possible from JSON) are passed on as their bytes rather than dropped.
    safe = _PATH_SAFE if place == "path" else ""
    return quote(value, safe=safe, encoding="utf-8", errors="surrogatepass")


def render_url(template: str, values: Mapping[str, str]) -> str:
    """Substitute each macro with its value, percent-encoded once for its place in the URL.

    In the path a value is one segment (``/`` is encoded); in the query and fragment everything
    but ``A-Za-z0-9-._~`` is encoded, so ``&``, ``=``, ``+`` and ``%`` in a value stay data.
    """
    parts = _parse(template)
    _check_names(parts, values.keys())
    url = "".join(
        part if isinstance(part, str) else _encode(values[part.name], part.place) for part in parts
    )
    if "{" in url or "}" in url:
        raise TemplateError("the rendered URL still holds a brace; it is not sent")
    return _ascii_after_host(url)


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _ascii_after_host(url: str) -> str:
    """Percent-encode (UTF-8) the non-ASCII text a template wrote after its host, as browsers
    do: HTTP/1.1 request lines are ASCII. Values are ASCII already, so nothing is encoded twice;
    a non-ASCII host is left to the client's IDNA encoding."""
    if url.isascii():
        return url
    scheme, _, rest = url.partition("://")
    cut = re.search(r"[/?#]", rest)
    if cut is None:
        return url
    tail = _NON_ASCII.sub(lambda m: quote(m.group(), safe=""), rest[cut.start() :])
    return f"{scheme}://{rest[: cut.start()]}{tail}"


def form_body(url: str) -> tuple[str, bytes]:
    """Split a rendered URL for a POST endpoint: (URL without query and fragment, form body).

    The body is the query exactly as rendered (already encoded, so nothing is encoded twice), to
    be sent as ``application/x-www-form-urlencoded``.
    """
    base, _, query = url.split("#", 1)[0].partition("?")
    return base, query.encode("utf-8")
