"""Sender errors in plain words (postbacks/plain_errors.py): one case per class of error, with
the raw text the sender really stores."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postbacks.plain_errors import plain_error, status_words

CASES = [
    (
        "ClientConnectorError: Cannot connect to host 127.0.0.1:8009 ssl:default "
        "[Connect call failed ('127.0.0.1', 8009)]",
        None,
        "could not connect to 127.0.0.1:8009 (nothing answered there, or the connection was "
        "blocked)",
    ),
    (
        "ClientConnectorDNSError: Cannot connect to host nx.invalid:80 ssl:default "
        "[Name or service not known]",
        None,
        "could not find host nx.invalid (the name does not resolve)",
    ),
    ("timed out after 15.0 s", None, "timed out after 15 s"),
    ("timed out after 1.5 s", None, "timed out after 1.5 s"),
    (
        "address refused: 10.0.0.1 is a private address; postbacks go to public addresses only",
        None,
        "refused: private address 10.0.0.1 (postbacks go to public addresses only)",
    ),
    (
        "address refused: ::1 is a loopback address; postbacks go to public addresses only",
        None,
        "refused: loopback address ::1 (postbacks go to public addresses only)",
    ),
    (
        "address refused: 2130706433 - is not a canonical IPv4 address",
        None,
        "refused: the host is written as a number that is not a plain IP address",
    ),
    ("", 404, "answered 404 Not Found"),
    ("receiver answered 500", 500, "answered 500 Internal Server Error"),
    (
        "receiver answered 410; not retried",
        410,
        "answered 410 Gone (not retried)",
    ),
    (
        "timed out after 15.0 s; retry schedule exhausted",
        None,
        "timed out after 15 s (gave up: last retry)",
    ),
    (
        "redirect to 'https://example.com/pb' not followed",
        302,
        "answered 302 Found: a redirect to https://example.com/pb, which is not followed",
    ),
    (
        "ClientConnectorSSLError: Cannot connect to host 127.0.0.1:46595 ssl:default "
        "[[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)]",
        None,
        "TLS failure: the secure connection to 127.0.0.1:46595 could not be set up (is it a "
        "plain http receiver?)",
    ),
    (
        "ClientConnectorCertificateError: Cannot connect to host self-signed.example:443 "
        "ssl:True [SSLCertVerificationError: (1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate "
        "verify failed: self-signed certificate (_ssl.c:1006)')]",
        None,
        "TLS failure: the certificate of self-signed.example:443 is not trusted",
    ),
    (
        "ServerDisconnectedError: Server disconnected",
        None,
        "the receiver closed the connection without answering",
    ),
    (
        "ClientOSError: [Errno 104] Connection reset by peer",
        None,
        "the receiver reset the connection before answering",
    ),
    (
        "ClientResponseError: 400, message=\"Bad status line:\\n  Expected HTTP/\", url='x'",
        None,
        "the receiver's answer is not valid HTTP",
    ),
    ("SomethingNew: who knows", None, "the postback could not be sent"),
]


@pytest.mark.parametrize(("raw", "status_code", "plain"), CASES)
def test_each_class_of_sender_error_reads_in_plain_words(
    raw: str, status_code: int | None, plain: str
) -> None:
    assert plain_error(error=raw, status_code=status_code) == plain


@pytest.mark.parametrize("code", [200, 202, 204, None])
def test_an_answered_postback_has_nothing_to_explain(code: int | None) -> None:
    assert plain_error(error="", status_code=code) == ""


def test_an_unnamed_status_code_is_shown_as_it_is() -> None:
    assert status_words(599) == "599"
    assert plain_error(error="", status_code=599) == "answered 599"


@given(st.text(max_size=600), st.one_of(st.none(), st.integers(100, 599)))
def test_any_stored_error_gets_a_sentence_that_does_not_open_with_an_exception_name(
    raw: str, status_code: int | None
) -> None:
    plain = plain_error(error=raw, status_code=status_code)
    assert not re.match(r"[A-Z]\w*Error", plain)
    if raw.strip():
        assert plain
