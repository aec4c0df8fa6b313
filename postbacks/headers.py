"""Custom headers per endpoint (e.g. an API key a receiver asks for): pure rules, no Django.

Written one per line as ``Name: value``. Refused: a name that is not an HTTP token, the headers
the sender owns (Host, Content-Length, Transfer-Encoding, Connection, Content-Type, User-Agent
and the Standard Webhooks ones), and any CR, LF or other control character, which would let a
value start a header of its own.
"""

import re
from collections.abc import Mapping

MAX_HEADERS = 20
MAX_VALUE_LENGTH = 1024
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
RESERVED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "content-type",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


class HeaderError(ValueError):
    """A header that cannot be sent; ``str()`` names it and why."""


def header_check(name: str, value: str) -> None:
    if not _TOKEN.fullmatch(name):
        raise HeaderError(
            f"{name!r} is not a header name: use letters, digits and - only, e.g. X-Api-Key"
        )
    if name.lower() in RESERVED:
        raise HeaderError(f"{name} is set by the portal itself and cannot be given")
    if any(
        char in "\r\n" or (ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value
    ):
        raise HeaderError(f"the value of {name} holds a line break or control character")
    if len(value) > MAX_VALUE_LENGTH:
        raise HeaderError(f"the value of {name} is over {MAX_VALUE_LENGTH} characters")


def headers_parse(text: str) -> dict[str, str]:
    """``Name: value`` lines (blank lines skipped) into a dict, each checked; raises HeaderError."""
    headers: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise HeaderError(f"line {number} is not 'Name: value'")
        name, value = name.strip(), value.strip()
        header_check(name, value)
        if name.lower() in {known.lower() for known in headers}:
            raise HeaderError(f"{name} is given twice")
        headers[name] = value
    if len(headers) > MAX_HEADERS:
        raise HeaderError(f"at most {MAX_HEADERS} headers")
    return headers


def headers_clean(value: object) -> dict[str, str]:
    """A stored or posted mapping of headers, each checked; raises HeaderError."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise HeaderError('headers are a JSON object of names to text, e.g. {"X-Api-Key": "..."}')
    for name, text in value.items():
        header_check(name, text)
    if len(value) > MAX_HEADERS:
        raise HeaderError(f"at most {MAX_HEADERS} headers")
    return dict(value)


def headers_masked(headers: Mapping[str, str]) -> str:
    """What a page may show of saved headers: their names."""
    return ", ".join(f"{name}: ••••" for name in headers) or "none"
