"""What went wrong with a postback, in the words an account manager uses.

The sender stores the technical error as it happened (attempts are append-only, and an engineer
needs the detail); pages and API answers show `plain_error(...)` beside it. The stored forms read
here are written by postbacks/delivery/sender.py and postbacks/delivery/services.py:

    ""                                        the receiver answered (see status_code)
    "timed out after 15.0 s"
    "address refused: 10.0.0.1 is a private address; postbacks go to public addresses only"
    "redirect to 'https://x/' not followed"   with the 3xx status code
    "receiver answered 500"                   a verdict on an answer
    "<ExceptionClass>: <aiohttp's message>"   anything the network or the receiver did
    any of these + "; not retried" or "; retry schedule exhausted"

A pure function: no I/O, no settings; an unknown form gets a general sentence, never a guess.
"""

import re
from http import HTTPStatus

NOT_RETRIED = "; not retried"
EXHAUSTED = "; retry schedule exhausted"

_TIMEOUT = re.compile(r"^timed out after (?P<seconds>\d+(?:\.\d+)?) s$")
_GUARD_KIND = re.compile(r"^(?P<ip>\S+) is an? (?P<kind>[\w-]+) address\b")
_REDIRECT = re.compile(r"^redirect to (?P<location>'.*'|\".*\") not followed$")
_ANSWERED = re.compile(r"^receiver answered (?P<code>\d{3})$")
_EXCEPTION = re.compile(r"^(?P<name>[A-Z]\w*)(?:: (?P<message>.*))?$", re.DOTALL)
_CONNECT = re.compile(
    r"Cannot connect to host (?P<host>\S+) ssl:\S+ \[(?P<reason>.*)\]$", re.DOTALL
)


def status_words(code: int) -> str:
    """`404 Not Found`; a code HTTP does not name is shown as it is."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _seconds(value: str) -> str:
    number = float(value)
    return f"{number:.0f}" if number == int(number) else f"{number:g}"


def _refusal(reason: str) -> str:
    match = _GUARD_KIND.match(reason)
    if match:
        kind, ip = match["kind"], match["ip"]
        return f"refused: {kind} address {ip} (postbacks go to public addresses only)"
    if "canonical" in reason or "not an IP address" in reason:
        return "refused: the host is written as a number that is not a plain IP address"
    return "refused: the address is not allowed"


def _connect_failure(name: str, host: str, reason: str) -> str:
    if name == "ClientConnectorDNSError":
        return f"could not find host {host.rsplit(':', 1)[0]} (the name does not resolve)"
    if name == "ClientConnectorCertificateError":
        return f"TLS failure: the certificate of {host} is not trusted"
    if name == "ClientConnectorSSLError" or reason.startswith("[SSL"):
        hint = " (is it a plain http receiver?)" if "WRONG_VERSION_NUMBER" in reason else ""
        return f"TLS failure: the secure connection to {host} could not be set up{hint}"
    return f"could not connect to {host} (nothing answered there, or the connection was blocked)"


def _network_failure(name: str, message: str) -> str:
    connect = _CONNECT.search(message)
    if connect:
        return _connect_failure(name, connect["host"], connect["reason"])
    if (
        name in ("ClientSSLError", "SSLError", "ClientConnectorCertificateError")
        or "[SSL" in message
    ):
        return "TLS failure: the secure connection could not be set up"
    if name == "ServerDisconnectedError":
        return "the receiver closed the connection without answering"
    if "reset by peer" in message:
        return "the receiver reset the connection before answering"
    if name in (
        "ClientResponseError",
        "ClientPayloadError",
        "BadStatusLine",
        "HttpProcessingError",
    ):
        return "the receiver's answer is not valid HTTP"
    if name == "InvalidURL":
        return "the URL cannot be sent (it is not a valid URL)"
    return "the postback could not be sent"


def plain_error(*, error: str, status_code: int | None = None) -> str:
    """A short sentence saying what went wrong; "" when the receiver answered 2xx."""
    suffix = ""
    for ending, note in ((NOT_RETRIED, " (not retried)"), (EXHAUSTED, " (gave up: last retry)")):
        if error.endswith(ending):
            error, suffix = error[: -len(ending)], note
    error = error.strip()
    if not error:
        if status_code is None or 200 <= status_code < 300:
            return ""
        return f"answered {status_words(status_code)}{suffix}"
    if match := _ANSWERED.match(error):
        return f"answered {status_words(int(match['code']))}{suffix}"
    if match := _TIMEOUT.match(error):
        return f"timed out after {_seconds(match['seconds'])} s{suffix}"
    if error.startswith("address refused:"):
        return _refusal(error.removeprefix("address refused:").strip()) + suffix
    if match := _REDIRECT.match(error):
        code = f"answered {status_words(status_code)}" if status_code else "answered"
        return f"{code}: a redirect to {match['location'][1:-1]}, which is not followed{suffix}"
    if match := _EXCEPTION.match(error):
        return _network_failure(match["name"], match["message"] or "") + suffix
    return "the postback could not be sent" + suffix
